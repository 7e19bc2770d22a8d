package hsmstore

import "encoding/binary"

// bytesUlong decodes a CK_ULONG of up to 8 bytes.
func bytesUlong(b []byte) uint {
	switch len(b) {
	case 8:
		return uint(binary.NativeEndian.Uint64(b))
	case 4:
		return uint(binary.NativeEndian.Uint32(b))
	}
	var v uint
	for i := len(b) - 1; i >= 0; i-- { // little-endian fallback
		v = v<<8 | uint(b[i])
	}
	return v
}
