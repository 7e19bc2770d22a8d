//go:build !linux

package main

import "errors"

// readSecretTTY is only implemented on Linux (without golang.org/x/term).
func readSecretTTY(prompt string) (string, error) {
	return "", errors.New("cannot prompt for secrets on this system: use the -...-env or -...-file flag")
}
