package jsoncrypto

import (
	"bytes"
	"crypto/hkdf"
	"crypto/sha256"
	"fmt"
	"math/rand/v2"
	"testing"
)

// deriveKeys returns the PRK and the MAC key with crypto/hkdf: the reference for kdfState.
func deriveKeys(raw, salt []byte) (prk, macKey []byte, err error) {
	if len(salt) == 0 {
		salt = make([]byte, sha256.Size)
	}
	if prk, err = hkdf.Extract(sha256.New, raw, salt); err != nil {
		return nil, nil, err
	}
	if macKey, err = derive(prk, macInfo, macKeySize); err != nil {
		return nil, nil, err
	}
	return prk, macKey, nil
}

// derive returns HKDF-Expand(prk, info, n) with crypto/hkdf.
func derive(prk []byte, info string, n int) ([]byte, error) {
	return hkdf.Expand(sha256.New, prk, info, n)
}

// TestKDFState checks the package's HKDF (one block of Expand, the MAC key first, then the AES
// key on the same HMAC) against crypto/hkdf.
func TestKDFState(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	for _, saltLen := range []int{0, 1, 16, 32, 64, 65, 200} {
		for _, rawLen := range []int{16, 32, 100} {
			for _, info := range []string{"AES", "HmacSHA256", "", string(make([]byte, 700))} {
				for _, n := range []int{16, 24, 32} {
					salt, raw := make([]byte, saltLen), make([]byte, rawLen)
					for i := range salt {
						salt[i] = byte(r.Uint32())
					}
					for i := range raw {
						raw[i] = byte(r.Uint32())
					}
					prk, macKey, err := deriveKeys(raw, salt)
					if err != nil {
						t.Fatal(err)
					}
					encKey, _ := derive(prk, info, n)
					st := new(kdfState)
					st.extract(raw, salt)
					st.expand(macInfo, st.macKey[:])
					st.expand(info, st.encKey[:n])
					name := fmt.Sprintf("salt %d raw %d info %d n %d", saltLen, rawLen, len(info), n)
					if !bytes.Equal(st.prk[:], prk) || !bytes.Equal(st.macKey[:], macKey) || !bytes.Equal(st.encKey[:n], encKey) {
						t.Fatalf("%s: differs from crypto/hkdf", name)
					}
					st.clear()
					if *st != (kdfState{}) {
						t.Fatalf("%s: clear left state", name)
					}
				}
			}
		}
	}
	if err := new(kdfState).expand("AES", make([]byte, 33)); err == nil {
		t.Fatal("expand of 33 bytes")
	}
}

// TestPlainRun checks the eight-bytes-at-a-time scan against the byte loop it replaces.
func TestPlainRun(t *testing.T) {
	naive := func(s []byte) int {
		for i, c := range s {
			if c < 0x20 || c == '"' || c == '\\' {
				return i
			}
		}
		return len(s)
	}
	r := rand.New(rand.NewPCG(1, 2))
	special := []byte{0, 0x1f, 0x20, 0x21, '"', '#', '\\', 0x5b, 0x5d, 0x7f, 0x80, 0xa2, 0xdc, 0xff}
	for n := 0; n < 40000; n++ {
		s := make([]byte, r.IntN(40))
		for i := range s {
			if r.IntN(4) == 0 {
				s[i] = special[r.IntN(len(special))]
			} else {
				s[i] = byte(0x20 + r.IntN(0xe0))
				if s[i] == '"' || s[i] == '\\' {
					s[i] = 'a'
				}
			}
		}
		if got, want := plainRun(s), naive(s); got != want {
			t.Fatalf("plainRun(%q) = %d, want %d", s, got, want)
		}
		if got, want := plainRun(string(s)), naive(s); got != want {
			t.Fatalf("plainRun(string %q) = %d, want %d", s, got, want)
		}
		if got, want := jsonStringLen(string(s)), len(appendJSONString(nil, string(s))); got != want {
			t.Fatalf("jsonStringLen(%q) = %d, want %d", s, got, want)
		}
	}
}
