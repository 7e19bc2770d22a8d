package hsmstore

import (
	"encoding/binary"
	"strconv"
)

// ulongBytes encodes v as a CK_ULONG (native byte order and size).
func ulongBytes(v uint) []byte {
	b := make([]byte, strconv.IntSize/8)
	if len(b) == 8 {
		binary.NativeEndian.PutUint64(b, uint64(v))
	} else {
		binary.NativeEndian.PutUint32(b, uint32(v))
	}
	return b
}

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
