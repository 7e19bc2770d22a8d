package pkcs11conf

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"testing"
)

// FuzzParse checks that Parse never panics, returns exactly one of a Config and an error,
// that every error is a *ParseError with a sentinel and a sane position, and that Template
// and the String methods work on whatever it accepts. The seed corpus (testdata/valid and the
// invalid table) runs in plain go test.
func FuzzParse(f *testing.F) {
	files, _ := filepath.Glob("testdata/valid/*.cfg")
	for _, p := range files {
		data, err := os.ReadFile(p)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
	}
	for _, c := range invalidCases {
		f.Add([]byte(c.in))
	}
	f.Add([]byte("name = \"a\\\nb\\777\\"))
	f.Add([]byte("#secretstores: tokenLabel = x\r\nname = x\rlibrary = /${/}${{x}}\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		c, err := Parse(bytes.NewReader(data))
		if (c == nil) == (err == nil) {
			t.Fatalf("Parse returned config %v and error %v", c, err)
		}
		if err != nil {
			var pe *ParseError
			if !errors.As(err, &pe) {
				t.Fatalf("error %T is not a *ParseError: %v", err, err)
			}
			if pe.Err == nil || pe.Line < 0 || pe.Column < 0 || pe.Line > bytes.Count(data, []byte{'\n'})+bytes.Count(data, []byte{'\r'})+1 {
				t.Fatalf("bad ParseError %+v", pe)
			}
			_ = err.Error()
			return
		}
		for _, r := range c.Attributes {
			_ = r.String()
			for _, a := range c.Template(r.Operation, r.Class, r.KeyType) {
				if a.Kind == Null {
					t.Fatalf("Template returned a null attribute")
				}
			}
		}
		for _, w := range c.Warnings {
			_ = w.Error()
		}
		if c.SlotID < -1 || c.SlotListIndex < -1 {
			t.Fatalf("negative slot %d %d", c.SlotID, c.SlotListIndex)
		}
	})
}

func BenchmarkParse(b *testing.B) {
	data, err := os.ReadFile("testdata/valid/idm-softhsm.cfg")
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Parse(bytes.NewReader(data)); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkTemplate(b *testing.B) {
	c, err := ParseFile("testdata/valid/compat.cfg")
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		_ = c.Template(OpGenerate, 4, 0x10)
	}
}
