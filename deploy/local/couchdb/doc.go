// Package couchdb runs pouchdb-server, the CouchDB-protocol server of fnmgr's
// local stack, as a child process.
//
// The npm package lives next to this file: package.json and package-lock.json
// pin pouchdb-server 4.2.0, and `make deps` installs it into node_modules with
// `npm ci`. Its LevelDB backend (leveldown) ships prebuilt native binaries, so
// no compiler is needed; .npmrc turns install scripts off so that an install
// never reaches for the network beyond the npm registry.
//
// A Server keeps everything it writes under Options.Dir:
//
//	Dir/config.json  pouchdb-server's /_config store
//	Dir/log.txt      pouchdb-server's own log
//	Dir/data/        one LevelDB directory per database
//
// so a Server started again on the same Dir sees the same databases.
//
// pouchdb-server differs from Apache CouchDB 3 in ways clients must allow for
// (see package github.com/fnmgr/fnmgr/couch): it gzips responses when the
// client accepts gzip, which holds a continuous _changes feed back until the
// response ends, and its update sequences are integers where CouchDB's are
// opaque strings.
//
// Start, Stop and Kill are safe for concurrent use.
package couchdb
