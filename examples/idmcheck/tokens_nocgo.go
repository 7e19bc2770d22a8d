//go:build !cgo

package main

import (
	"errors"

	"github.com/secretstores/secretstores/pkcs11conf"
)

func matchingTokens(pc *pkcs11conf.Config) ([]string, int, error) {
	return nil, 0, errors.New("built without cgo: PKCS#11 tokens cannot be listed")
}
