package main

import (
	"bufio"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"unsafe"
)

// readSecretTTY prints prompt on the controlling terminal and reads a line with echo off,
// using the terminal ioctls directly (the standard library has no term package).
func readSecretTTY(prompt string) (string, error) {
	tty, err := os.OpenFile("/dev/tty", os.O_RDWR, 0)
	if err != nil {
		return "", errors.New("no terminal to ask for the secret on: use the -...-env or -...-file flag")
	}
	defer tty.Close()
	fd := tty.Fd()
	var old syscall.Termios
	if _, _, e := syscall.Syscall(syscall.SYS_IOCTL, fd, syscall.TCGETS, uintptr(unsafe.Pointer(&old))); e != 0 {
		return "", fmt.Errorf("/dev/tty is not a terminal (%v): use the -...-env or -...-file flag", e)
	}
	quiet := old
	quiet.Lflag &^= syscall.ECHO
	if _, _, e := syscall.Syscall(syscall.SYS_IOCTL, fd, syscall.TCSETS, uintptr(unsafe.Pointer(&quiet))); e != 0 {
		return "", fmt.Errorf("cannot turn terminal echo off: %v", e)
	}
	restore := func() { syscall.Syscall(syscall.SYS_IOCTL, fd, syscall.TCSETS, uintptr(unsafe.Pointer(&old))) }
	// An interrupt while echo is off must not leave the terminal silent.
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, os.Interrupt, syscall.SIGTERM)
	done := make(chan struct{})
	defer func() { signal.Stop(sig); close(done) }()
	go func() {
		select {
		case <-sig:
			restore()
			fmt.Fprintln(tty)
			os.Exit(130)
		case <-done:
		}
	}()
	defer restore()
	fmt.Fprint(tty, prompt)
	line, err := bufio.NewReader(tty).ReadString('\n')
	fmt.Fprintln(tty)
	if err != nil && line == "" {
		return "", fmt.Errorf("reading from the terminal: %w", err)
	}
	return strings.TrimRight(line, "\r\n"), nil
}
