// Package actionrt is the container pool of the local OpenWhisk-compatible
// invoker: it runs nodejs and python actions in warm worker processes
// confined by cgroups, the way OpenWhisk's Docker container factory runs
// action containers.
//
// A worker is a long-lived interpreter running a small action proxy
// (proxy/node.js, proxy/python.py, embedded and written to a scratch dir
// by New). The pool talks to it over two extra pipes, never a socket:
// newline-delimited JSON requests on the proxy's fd 3 and responses on
// its fd 4. Its stdout and stderr are plain pipes that become the
// activation's logs; after each run the proxy prints OpenWhisk's sentinel
// XXX_THE_END_OF_A_WHISK_ACTIVATION_XXX on both, which marks where that
// activation's logs end.
//
// Confinement: each worker gets a child cgroup "<CgroupName>/w<N>" under
// the memory and cpu controllers (cgroup v1, or v2 when it carries the
// memory controller) with a memory limit of the action's memory and no
// swap. The process is moved into it right after it starts and before it
// is sent any code. The CPU quota (UserCPUs * memory / UserMemoryMB, at
// least 0.01 CPU) is applied only once the proxy reports ready, so the
// interpreter's own boot is not throttled. Processes run in their own
// process group; killing a worker kills the group and every task left in
// its cgroup. Without usable cgroups the pool logs one warning and runs
// actions without limits.
//
// One activation runs at a time per worker. A worker is reused only for
// an equal Action.Key. The sum of the memory of live workers never
// exceeds UserMemoryMB: when full, idle workers are evicted least
// recently used first, otherwise Run waits. Any developer error (status
// 2) destroys the worker, as OpenWhisk destroys the container.
//
// Environment values (Action.Env) are secrets: they are passed to the
// proxy per run and never logged. Workers do not inherit the sidecar's
// environment.
package actionrt
