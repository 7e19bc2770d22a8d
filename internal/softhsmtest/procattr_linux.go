package softhsmtest

import "syscall"

// DaemonProcAttr puts a daemon started by a test (the p11-kit server, the module daemons
// of internal/p11test) in a session (and process group) of its own, so that it can be
// ended with every child it forks, and has the kernel SIGKILL it when the test binary dies
// (a killed or crashed test leaves no daemon behind). Pdeathsig follows the thread that
// started the daemon; Go ends a thread only when a goroutine locked to it exits, which the
// callers do not do.
func DaemonProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setsid: true, Pdeathsig: syscall.SIGKILL}
}
