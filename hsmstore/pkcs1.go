//go:build cgo

package hsmstore

import (
	"crypto/subtle"
	"fmt"

	"github.com/secretstores/secretstores/secrets"
)

// errDecrypt is the error of every failed RSA decryption: bad PKCS#1 v1.5 padding, bad OAEP,
// a ciphertext of the wrong size or not below the modulus. One value, so that neither its
// text nor an allocation tells one failure from another.
var errDecrypt = fmt.Errorf("hsmstore: RSA decryption failed: %w", secrets.ErrVerification)

// unpadPKCS1v15 checks, in time that depends only on len(em), that em (at least 11 bytes) is
// an RSAES-PKCS1-v1_5 encoded message, 0x00 ‖ 0x02 ‖ PS ‖ 0x00 ‖ M with PS at least 8
// non-zero bytes (RFC 8017 §7.2.2 step 3). It returns valid = 1 and the index of M, or
// valid = 0 and index 0. Modelled on crypto/rsa's decryptPKCS1v15: no branch and no memory
// access depends on em's bytes.
func unpadPKCS1v15(em []byte) (valid, index int) {
	firstByteIsZero := subtle.ConstantTimeByteEq(em[0], 0)
	secondByteIsTwo := subtle.ConstantTimeByteEq(em[1], 2)
	// lookingForIndex is 1 until the first zero byte after the first two; index is its
	// offset.
	lookingForIndex := 1
	for i := 2; i < len(em); i++ {
		equals0 := subtle.ConstantTimeByteEq(em[i], 0)
		index = subtle.ConstantTimeSelect(lookingForIndex&equals0, i, index)
		lookingForIndex = subtle.ConstantTimeSelect(equals0, 0, lookingForIndex)
	}
	// PS starts at offset 2 and needs at least 8 bytes.
	validPS := subtle.ConstantTimeLessOrEq(2+8, index)
	valid = firstByteIsZero & secondByteIsTwo & (^lookingForIndex & 1) & validPS
	index = subtle.ConstantTimeSelect(valid, index+1, 0)
	return valid, index
}

// sessionKeyPKCS1v15 is DecryptPKCS1v15SessionKey's last step: it copies M into key when em
// is valid and M has exactly len(key) bytes, and leaves key (random) alone otherwise, in
// constant time. len(em) >= len(key)+11.
func sessionKeyPKCS1v15(em, key []byte) {
	valid, index := unpadPKCS1v15(em)
	valid &= subtle.ConstantTimeEq(int32(len(em)-index), int32(len(key)))
	subtle.ConstantTimeCopy(valid, key, em[len(em)-len(key):])
}
