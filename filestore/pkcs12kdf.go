package filestore

import (
	"crypto/sha1"
	"crypto/sha256"
	"crypto/sha512"
	"hash"
	"unicode/utf16"
)

// bmpPassword returns password as PKCS#12 wants it for its own KDF (RFC 7292 App. B.1): a
// BMPString, UTF-16BE with a two-byte zero terminator. The empty password is the terminator.
func bmpPassword(password string) []byte {
	u := utf16.Encode([]rune(password))
	b := make([]byte, 0, 2*len(u)+2)
	for _, c := range u {
		b = append(b, byte(c>>8), byte(c))
	}
	return append(b, 0, 0)
}

// kdfHash describes a hash usable with the PKCS#12 KDF: u is its output size, v its block size.
type kdfHash struct {
	new  func() hash.Hash
	u, v int
}

var (
	kdfSHA1   = kdfHash{sha1.New, 20, 64}
	kdfSHA224 = kdfHash{sha256.New224, 28, 64}
	kdfSHA256 = kdfHash{sha256.New, 32, 64}
	kdfSHA384 = kdfHash{sha512.New384, 48, 128}
	kdfSHA512 = kdfHash{sha512.New, 64, 128}
)

// PKCS#12 KDF purposes (RFC 7292 App. B.3).
const (
	kdfKey byte = 1
	kdfIV  byte = 2
	kdfMAC byte = 3
)

// pkcs12KDF derives n bytes from the BMP password and salt as RFC 7292 App. B.2 specifies.
// The caller bounds iterations, n and the salt and password sizes.
func pkcs12KDF(h kdfHash, bmpPW, salt []byte, id byte, iterations, n int) []byte {
	u, v := h.u, h.v
	fill := func(src []byte) []byte {
		if len(src) == 0 {
			return nil
		}
		out := make([]byte, v*((len(src)+v-1)/v))
		for i := range out {
			out[i] = src[i%len(src)]
		}
		return out
	}
	I := append(fill(salt), fill(bmpPW)...)
	D := make([]byte, v)
	for i := range D {
		D[i] = id
	}
	out := make([]byte, 0, n+u)
	B := make([]byte, v)
	hh := h.new()
	for len(out) < n {
		hh.Reset()
		hh.Write(D)
		hh.Write(I)
		A := hh.Sum(nil)
		for r := 1; r < iterations; r++ {
			hh.Reset()
			hh.Write(A)
			A = hh.Sum(A[:0])
		}
		out = append(out, A...)
		if len(out) >= n {
			break
		}
		for i := range B {
			B[i] = A[i%u]
		}
		// I_j = (I_j + B + 1) mod 2^(8v) for every v-byte block I_j of I.
		for j := 0; j < len(I); j += v {
			carry := uint16(1)
			blk := I[j : j+v]
			for k := v - 1; k >= 0; k-- {
				s := uint16(blk[k]) + uint16(B[k]) + carry
				blk[k] = byte(s)
				carry = s >> 8
			}
		}
	}
	return out[:n]
}
