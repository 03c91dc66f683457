package routes

import "github.com/fnmgr/fnmgr/couch/feed"

func changeOf(id string, doc []byte, deleted bool) feed.Change {
	return feed.Change{ID: id, Doc: doc, Deleted: deleted}
}
