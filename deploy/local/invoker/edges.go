package invoker

import (
	"context"
	"encoding/json"

	"github.com/go-kivik/kivik/v4"

	"github.com/fnmgr/fnmgr/couch/entity"
	"github.com/fnmgr/fnmgr/deploy/local/actionrt"
)

// The invoker's edges: small interfaces over the outside systems, so the
// handling of an activation can be tested without any of them.

// actionSource reads actions and their code. *whiskdb.Store implements it;
// a missing document is reported with whiskdb.ErrNotFound in the chain.
type actionSource interface {
	GetAction(ctx context.Context, docid, rev string) (entity.Action, error)
	ActionCode(ctx context.Context, a entity.Action) ([]byte, error)
}

// docWriter creates documents. *kivik.DB implements it; errors carry the
// HTTP status that kivik.HTTPStatus reads.
type docWriter interface {
	Put(ctx context.Context, docID string, doc any, options ...kivik.Option) (string, error)
}

// runner runs action code. *actionrt.Pool implements it: Run waits while the
// pool is full and reports everything the action did wrong in the Result; its
// error is for internal failures only.
type runner interface {
	Run(ctx context.Context, a actionrt.Action, params json.RawMessage) (actionrt.Result, error)
	Close(ctx context.Context) error
}

// publisher sends one message value (UTF-8 JSON, null key) on a topic and
// returns once the broker has it.
type publisher interface {
	Publish(ctx context.Context, topic string, value []byte) error
}
