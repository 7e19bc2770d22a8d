package secrets_test

import (
	"os"
	"strings"
	"testing"

	"github.com/secretstores/secretstores/secrets"
)

func FuzzExpand(f *testing.F) {
	for _, s := range []string{"plain", "&{a}", "&{a|b}", "&{a|&{b|c}}", "x&{&{n}}y", "&{", "&{a|}", "}&{", "&{loop}", "&{a|b|c}", strings.Repeat("&{", 50)} {
		f.Add(s)
	}
	props := secrets.MapProperties(map[string]string{"a": "A", "n": "a", "loop": "&{loop}", "pw": "&{a}&{a}&{a}&{a}"})
	f.Fuzz(func(t *testing.T, s string) {
		out, err := secrets.Expand(s, props)
		if err == nil && !strings.Contains(s, "&{") && out != s {
			t.Fatalf("text without expressions changed: %q → %q", s, out)
		}
	})
}

func FuzzParseConfig(f *testing.F) {
	for _, name := range []string{"testdata/secrets-default.json", "testdata/secrets-hsm.json"} {
		b, err := os.ReadFile(name)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Add([]byte(`{"stores":[{"name":"a","class":"c","config":{"x":{"$int":"&{p|1}"},"mappings":[{"secretId":"s","types":["SIGN"],"aliases":["&{a}"]}]}}]}`))
	f.Add([]byte(`{"stores":[]}`))
	f.Add([]byte(`[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]`))
	props := secrets.MapProperties(map[string]string{"a": "alias", "p": "2"})
	f.Fuzz(func(t *testing.T, data []byte) {
		cfg, err := secrets.ParseConfig(data, props)
		if err != nil {
			return
		}
		for _, s := range cfg.Stores {
			if s.Name == "" || s.Class == "" {
				t.Fatal("a store without name or class was accepted")
			}
			for _, m := range s.Mappings {
				if m.Store != s.Name || m.SecretID == "" || len(m.Types) == 0 {
					t.Fatalf("bad mapping accepted: %+v", m)
				}
			}
		}
	})
}
