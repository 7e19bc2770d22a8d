package filestore

import (
	"bytes"
	"encoding/asn1"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestBERToDER converts hand-made BER (indefinite lengths, constructed OCTET STRINGs,
// long-form lengths) and checks the DER against encoding/asn1's own encoding of the same
// value, and refuses what BER does not allow.
func TestBERToDER(t *testing.T) {
	want, _ := asn1.Marshal(struct {
		A []byte
		B int
	}{[]byte("hello world"), 5})
	for name, ber := range map[string]string{
		"indefinite sequence":        "3080" + "040b68656c6c6f20776f726c64" + "020105" + "0000",
		"constructed octet string":   "3080" + "2480" + "040568656c6c6f" + "040620776f726c64" + "0000" + "020105" + "0000",
		"nested constructed strings": "3080" + "2480" + "2480" + "040568656c6c6f" + "0000" + "040620776f726c64" + "0000" + "020105" + "0000",
		"long-form lengths":          "308200" + "13" + "04810b68656c6c6f20776f726c64" + "02820001" + "05",
		"definite constructed":       "3014" + "240f" + "040568656c6c6f" + "040620776f726c64" + "020105",
	} {
		t.Run(name, func(t *testing.T) {
			got, err := berToDER(unhex(t, ber))
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(got, want) {
				t.Errorf("DER %x, want %x", got, want)
			}
		})
	}
	for name, ber := range map[string]string{
		"missing end of contents":     "3080020105",
		"indefinite primitive":        "0480" + "00" + "0000",
		"length beyond data":          "3005020105",
		"trailing bytes":              "300302010500",
		"segment of another type":     "2480" + "0c0161" + "0000",
		"constructed BIT STRING":      "2380" + "03020061" + "0000",
		"five-byte length":            "3085" + "0000000001" + "00",
		"truncated header":            "30",
		"high tag number too long":    "1fffffffff7f00",
		"nested beyond maxBERDepth":   strings.Repeat("3080", maxBERDepth+2) + strings.Repeat("0000", maxBERDepth+2),
		"end of contents in definite": "3002" + "0000",
	} {
		t.Run("refuses "+name, func(t *testing.T) {
			if out, err := berToDER(unhex(t, ber)); err == nil {
				t.Errorf("converted to %x", out)
			}
		})
	}
}

func unhex(t testing.TB, s string) []byte {
	t.Helper()
	b := make([]byte, len(s)/2)
	for i := range b {
		var v byte
		for _, c := range s[2*i : 2*i+2] {
			v <<= 4
			switch {
			case c >= '0' && c <= '9':
				v |= byte(c - '0')
			case c >= 'a' && c <= 'f':
				v |= byte(c - 'a' + 10)
			default:
				t.Fatalf("bad hex %q", s)
			}
		}
		b[i] = v
	}
	return b
}

// FuzzBERToDER: the converter never panics, never outgrows MaxFileSize, and its output is
// DER that converts to itself. Seeds: the BER files of the corpus (NSS, Bouncy Castle).
func FuzzBERToDER(f *testing.F) {
	for _, name := range []string{"nss-default.p12", "nss-ec.p12", "bc-ber.p12", "bc-3des.p12"} {
		if b, err := os.ReadFile(filepath.Join("testdata/corpus/files", name)); err == nil {
			f.Add(b)
		}
	}
	f.Add([]byte{0x30, 0x80, 0x24, 0x80, 0x04, 0x01, 0x61, 0x00, 0x00, 0x00, 0x00})
	f.Fuzz(func(t *testing.T, in []byte) {
		out, err := berToDER(in)
		if err != nil {
			return
		}
		if len(out) > MaxFileSize {
			t.Fatalf("output of %d bytes", len(out))
		}
		again, err := berToDER(out)
		if err != nil || !bytes.Equal(again, out) {
			t.Fatalf("DER output does not convert to itself: %v", err)
		}
		var rv asn1.RawValue
		if rest, err := asn1.Unmarshal(out, &rv); err == nil && len(rest) != 0 {
			t.Fatalf("trailing bytes after conversion")
		}
	})
}
