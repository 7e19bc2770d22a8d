package softhsmtest

import "syscall"

// serverProcAttr puts the p11-kit server in a session (and process group) of its own, so
// that Kill can end it with every p11-kit-remote it forks, and has the kernel SIGKILL it
// when the test binary dies (a killed or crashed test leaves no server behind; its
// p11-kit-remote children exit when their client's socket closes). Pdeathsig follows the
// thread that started the server; Go ends a thread only when a goroutine locked to it
// exits, which StartP11Kit's callers do not do.
func serverProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setsid: true, Pdeathsig: syscall.SIGKILL}
}
