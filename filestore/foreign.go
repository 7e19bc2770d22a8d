package filestore

import (
	"bytes"
	"encoding/binary"
	"fmt"
)

// foreignFormat recognises keystore and key file formats this package does not read, by
// their first bytes, and returns the error that names the format and the command that
// converts it; nil when data looks like none of them.
func foreignFormat(path string, data []byte) error {
	name, srctype := "", ""
	switch {
	case isBCFKS(data):
		name, srctype = "a Bouncy Castle BCFKS keystore", "BCFKS"
	case isBKS(data):
		name, srctype = "a Bouncy Castle BKS keystore", "BKS"
	case isUBER(data):
		name, srctype = "a Bouncy Castle UBER keystore", "UBER"
	case bytes.HasPrefix(bytes.TrimLeft(data, " \t\r\n"), []byte("-----BEGIN ")):
		return fmt.Errorf("filestore: %s is a PEM file, not a keystore: make a PKCS12 keystore of the key and its certificates with "+
			"`openssl pkcs12 -export -inkey key.pem -in cert.pem -name ALIAS -out keystore.p12` (or, for certificates only, "+
			"`keytool -importcert -file cert.pem -alias ALIAS -keystore truststore.p12 -storetype PKCS12`), or convert a keystore with "+
			"`keytool -importkeystore -srckeystore FILE -destkeystore keystore.p12 -deststoretype PKCS12`", path)
	case bytes.HasPrefix(data, []byte("MII")):
		return fmt.Errorf("filestore: %s is base64 text, not a keystore: decode it first (base64 -d %s > keystore.p12); "+
			"other formats convert with `keytool -importkeystore -srckeystore FILE -destkeystore keystore.p12 -deststoretype PKCS12`", path, path)
	default:
		return nil
	}
	return fmt.Errorf("filestore: %s is %s, which this package does not read (nor does Java without the Bouncy Castle provider): convert it with "+
		"`keytool -importkeystore -srckeystore %s -srcstoretype %s -srcprovidername BC -providerpath bcprov.jar "+
		"-destkeystore keystore.p12 -deststoretype PKCS12` and set storetype PKCS12", path, name, path, srctype)
}

// isBCFKS reports whether data is a DER SEQUENCE whose first element is a SEQUENCE of a
// SEQUENCE (Bouncy Castle's ObjectStore: EncryptedObjectStoreData or ObjectStoreData
// first), where a PKCS#12 PFX has its INTEGER version.
func isBCFKS(data []byte) bool {
	skip := func(b []byte) ([]byte, bool) { // the contents of a SEQUENCE header at b
		if len(b) < 2 || b[0] != 0x30 {
			return nil, false
		}
		l := int(b[1])
		switch {
		case l < 0x80:
			return b[2:], true
		case l == 0x81 && len(b) > 3:
			return b[3:], true
		case l == 0x82 && len(b) > 4:
			return b[4:], true
		case l == 0x83 && len(b) > 5:
			return b[5:], true
		}
		return nil, false
	}
	b, ok := skip(data)
	if !ok {
		return false
	}
	if b, ok = skip(b); !ok {
		return false
	}
	_, ok = skip(b)
	return ok
}

// bcHeader parses the header of BKS and UBER: u32 version, u32 salt length, salt, u32
// iteration count; it returns the rest.
func bcHeader(data []byte) (version uint32, rest []byte, ok bool) {
	if len(data) < 12 {
		return 0, nil, false
	}
	version = binary.BigEndian.Uint32(data)
	n := binary.BigEndian.Uint32(data[4:])
	if version < 1 || version > 2 || n == 0 || n > 1024 || int(n)+12 > len(data) {
		return 0, nil, false
	}
	iter := binary.BigEndian.Uint32(data[8+n:])
	if iter == 0 || iter > 1<<24 {
		return 0, nil, false
	}
	return version, data[12+n:], true
}

// isBKS: after the header, entries start with a type byte (1 certificate, 2 key, 3 secret,
// 4 sealed) and end with 0, followed by a 20-byte HMAC-SHA1.
func isBKS(data []byte) bool {
	_, rest, ok := bcHeader(data)
	return ok && len(rest) >= 21 && rest[0] <= 4 && (rest[0] != 0 || len(rest) == 21)
}

// isUBER: version 1, then ciphertext.
func isUBER(data []byte) bool {
	v, rest, ok := bcHeader(data)
	return ok && v == 1 && len(rest) >= 16 && !isBKS(data)
}
