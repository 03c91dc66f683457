// Package stack starts fnmgr's local stack (SPEC.md section 1), the thing
// `make run` runs: on 127.0.0.1 only, in order, each waited on until ready,
//
//  1. pouchdb-server, persistent in <Dir>/couchdb (package couchdb);
//  2. the kfake Kafka broker with OpenWhisk's topics, persistent in
//     <Dir>/kafka (package broker), so that it keeps its topics, records
//     and consumer group offsets across StopBroker/StartBroker and runs;
//  3. the seed: databases, design documents and the guest subject
//     (package seed, prefix whisk_local_);
//  4. the invoker(s) (package invoker);
//  5. the controller(s) (package controller), on consecutive ports from
//     the API host port;
//  6. fnmgr itself, as a child process (`fnmgr serve`) in its own process
//     group, configured through FNMGR_* variables, waited on until its
//     /healthz answers; its output goes to <Dir>/fnmgr.log and, prefixed,
//     to the console.
//
// Then it writes <Dir>/endpoints.json atomically. Each part registers its
// teardown as it starts; Stop removes endpoints.json and stops the parts in
// reverse, and a failed Start unwinds what it started. Stopping leaves no
// process and no cgroup behind.
//
// Every port is checked before anything starts, so a taken port is an error
// naming the port and its flag, never a hang. Port 0 picks a free port.
//
// Fault tests restart parts through KillFnmgr/StartFnmgr,
// StopController/StartController, KillCouchDB/StartCouchDB and
// StopBroker/StartBroker.
//
// The OpenWhisk-compatible parts know nothing of fnmgr; only this package,
// which launches everything, does.
package stack
