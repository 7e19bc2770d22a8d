//go:build !linux

package softhsmtest

import "syscall"

// DaemonProcAttr puts a daemon started by a test in a session of its own (see the Linux
// variant, which also ends it with the test binary).
func DaemonProcAttr() *syscall.SysProcAttr { return &syscall.SysProcAttr{Setsid: true} }
