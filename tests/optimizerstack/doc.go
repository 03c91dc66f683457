// Package optimizerstack holds the optimizer's tests against the real local
// stack (tests/stackenv; bin/localstack as a child process): real nodejs
// actions under real cgroup memory limits, probed through the OpenWhisk
// REST API. They are skipped with -short and where the stack cannot run.
package optimizerstack
