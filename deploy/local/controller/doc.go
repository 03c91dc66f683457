// Package controller is the OpenWhisk-compatible controller of fnmgr's local
// stack: the REST API under /api/v1 that wsk, openwhisk-client-go and the
// openwhisk npm client talk to, backed by CouchDB documents in OpenWhisk's own
// schema and by OpenWhisk's Kafka topics.
//
// It behaves like a stock controller running the ShardingContainerPoolBalancer
// (the Helm layout): activations go to invoker{N}, acknowledgements come back
// on completed{ID}, entity writes are announced on cacheInvalidation, and user
// events go to events. It knows nothing of fnmgr.
//
// What it writes:
//
//   - entities (actions with their code attachments, packages, triggers,
//     rules) in <prefix>whisks, exactly as OpenWhisk's controller does;
//   - activation records only where OpenWhisk's controller writes them:
//     sequences and trigger fires. Action activations are written by the
//     invoker.
//
// Caches: entities read from CouchDB are cached by document id and expire 5
// minutes after their last use; every put or delete drops the local copy and
// publishes {"key":{"mainId":docid},"instanceId":"controller<ID>"} on
// cacheInvalidation, and a message from any other instance drops the named
// document. A process that writes CouchDB directly must publish that message,
// as with a real OpenWhisk. Identities are cached for Options.IdentityTTL.
//
// Lists use the views the seed installs (_design/whisks.v2.1.0 in the whisks
// and activations databases). An activation list filtered by name is
// filtered here, by the filter view's own rule, over the namespace view:
// OpenWhisk's _design/whisks-filters.v2.1.1 assigns an undeclared variable,
// which pouchdb-server's strict-mode view engine rejects, so that view emits
// nothing on the local stack. pouchdb-server indexes a view on the query
// after a write: about 1.4 ms per new document, then milliseconds.
//
// Not implemented: rate throttling (a namespace limits document with
// invocationsPerMinute or concurrentInvocations 0 still blocks the
// namespace), compositions (conductor actions), the API gateway routes, and
// parameter encryption.
//
// Secrets (API keys, action parameters) are never logged.
//
// A Controller is safe for concurrent use once started.
package controller
