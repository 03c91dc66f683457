//go:build unix && !linux

package couchdb

import "syscall"

// sysProcAttr puts the child in its own process group, so that signals reach
// everything it starts.
func sysProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true}
}
