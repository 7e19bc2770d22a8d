//go:build !linux

package softhsmtest

import "syscall"

// serverProcAttr puts the p11-kit server in a session of its own (see the Linux variant,
// which also ends it with the test binary).
func serverProcAttr() *syscall.SysProcAttr { return &syscall.SysProcAttr{Setsid: true} }
