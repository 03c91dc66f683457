package couchdb

import "syscall"

// sysProcAttr puts the child in its own process group, so that signals reach
// everything it starts, and has the kernel send it SIGTERM should this
// process die first. (The kernel ties Pdeathsig to the thread that forked;
// Go ends a thread only when a goroutine exits while locked to it, so do not
// call Start from a goroutine that has called runtime.LockOSThread.)
func sysProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGTERM}
}
