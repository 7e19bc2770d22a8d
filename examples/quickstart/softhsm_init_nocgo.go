//go:build !cgo

package main

import (
	"errors"
	"fmt"
)

func initToken(module, label, soPIN, userPIN string) error {
	return fmt.Errorf("initialising a SoftHSM token needs a cgo build: %w", errors.ErrUnsupported)
}
