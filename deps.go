//go:build tools

package tools

import (
	_ "github.com/ThalesGroup/crypto11"
	_ "github.com/go-jose/go-jose/v4"
	_ "github.com/miekg/pkcs11"
	_ "github.com/stretchr/testify/require"
	_ "golang.org/x/crypto/cryptobyte"
)
