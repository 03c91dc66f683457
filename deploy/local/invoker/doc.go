// Package invoker is the OpenWhisk-compatible invoker of fnmgr's local stack.
//
// It does what a stock OpenWhisk invoker (InvokerReactive + ContainerProxy,
// non-scheduler mode as the Helm chart deploys it) does, and nothing more:
//
//   - consumes ActivationMessages from the topic invoker<ID> with the consumer
//     group id invoker<ID>, committing an offset only once every message up
//     to it has been handled;
//   - reads the action at the message's revision from <prefix>whisks (code
//     from the "mem:" name or the CouchDB attachment, through package
//     whiskdb), caching it by document id and revision;
//   - runs it in an actionrt worker pool, which confines it to its memory
//     limit and makes it wait while the pool is full (OpenWhisk's waitTime);
//   - builds the activation exactly as ContainerProxy.constructWhiskActivation
//     does, stores it in <prefix>activations, publishes an Activation user
//     event on "events" (when enabled), and acknowledges it on
//     completed<controller> with a CombinedCompletionAndResultMessage, shrunk
//     to the activation id for non-blocking activations;
//   - sends a health ping on "health" every PingInterval.
//
// Failure shapes follow OpenWhisk: an action that is missing when the message
// arrives gives an application error ("Action could not be found or may have
// been deleted."), a fault while reading it a whisk internal error; blackbox
// actions (Docker images) are answered with a developer error, since the local
// stack has no Docker. Sequences never reach an invoker.
//
// The package knows nothing of fnmgr. Parameters, results and API keys are
// never logged.
//
// An Invoker's methods are safe for concurrent use; Start and Stop are each
// meant to be called once.
package invoker
