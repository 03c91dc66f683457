// Package leader elects one leader among fnmgr's replicas and fences the
// others off from writing.
//
// The election uses a coordination primitive every fnmgr deployment already
// runs: CouchDB's revision check on one lease document (DocID) in fnmgr's
// registry database. Only CouchDB's documented document API is used (GET
// and PUT of a document with its _rev; a stale _rev is refused with 409), so
// it works on Apache CouchDB 2.3 and 3.x and on pouchdb-server alike.
//
// The lease holds the holder's replica id, its admin URL, an epoch that
// grows by one with every acquisition, and its TTL. The holder renews it
// every Renew interval; each renewal is a PUT with the _rev it last wrote,
// so a holder whose lease was taken meanwhile fails with a conflict and
// knows at once that it lost the lead.
//
// Expiry never compares clocks of two machines: a follower judges a lease
// expired once it has seen the same _rev for TTL by its own monotonic
// clock, counted from when it first read that _rev. The leader counts its
// own deadline from the moment it sent the renewal that succeeded: since a
// follower can only read that _rev after it was written, the follower's
// count starts later than the leader's, and the leader stops writing a
// further Skew earlier (Skew bounds the clocks' difference in rate and the
// time between the fencing check and the write it guards).
//
// Fencing: every write a replica makes to CouchDB (the registry, OpenWhisk's
// whisks database, the artifacts), every cache invalidation on Kafka and
// every call the leader makes to a controller first asks Check, which
// fails unless this replica holds the lease and its deadline has not passed
// on the monotonic clock. A leader paused (SIGSTOP, a long GC pause, a
// partition) past its deadline therefore finds Check failing the moment it
// resumes, before its next write, while its lease is being (or has been)
// taken. What is left is the window between Check and the write's bytes
// leaving the process, which Skew covers.
//
// A renewal that fails (CouchDB slow or unreachable) is tried again on
// every tick; past the deadline Check refuses every write, and a renewal
// that lands later without a conflict (nobody took the lease meanwhile)
// makes the replica lead again. Only a conflict ends the lead: a replica
// that lost it does not try to wind its leader work down: Run returns
// ErrLost and the process stops (as Kubernetes' own controller
// manager does when it loses its lease), to be restarted as a follower; the
// new leader finishes the old one's transitions from their intents.
//
// An Elector is safe for concurrent use.
package leader
