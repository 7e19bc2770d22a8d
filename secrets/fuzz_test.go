package secrets_test

import (
	"errors"
	"fmt"
	"os"
	"strings"
	"testing"

	"github.com/secretstores/secretstores/secrets"
)

// FuzzExpand runs Expand with an expansion budget in reach: properties that fan out ten
// times per level (&{f8} would be 10^8 expressions), a literal secret source, cycles. Every
// failure is an *ExprError, no error shows a property's value, the output stays within
// 1 MiB, and text without expressions is returned unchanged.
func FuzzExpand(f *testing.F) {
	for _, s := range []string{"plain", "&{a}", "&{a|b}", "&{a|&{b|c}}", "x&{&{n}}y", "&{", "&{a|}", "}&{", "&{loop}", "&{a|b|c}", strings.Repeat("&{", 50),
		"&{f8}", "&{f3}&{f2}", "&{x|&{f4}}", "&{secret}", "&{&{secret}}", "&{big}&{big}", "&{f&{n}}"} {
		f.Add(s)
	}
	m := map[string]string{"a": "A", "n": "a", "loop": "&{loop}", "pw": "&{a}&{a}&{a}&{a}", "f0": "", "fa": "1", "big": strings.Repeat("b", 600<<10)}
	for i := 1; i <= 8; i++ {
		m[fmt.Sprintf("f%d", i)] = strings.Repeat(fmt.Sprintf("&{f%d}", i-1), 10)
	}
	const secret = "S3CR3T&{a}"
	props := secrets.Layered(secrets.Literal(secrets.MapProperties(map[string]string{"secret": secret})), secrets.MapProperties(m))
	f.Fuzz(func(t *testing.T, s string) {
		out, err := secrets.Expand(s, props)
		if err != nil {
			var ee *secrets.ExprError
			if !errors.As(err, &ee) {
				t.Fatalf("error %T is not an *ExprError: %v", err, err)
			}
			if strings.Contains(err.Error(), "S3CR3T") && !strings.Contains(s, "S3CR3T") {
				t.Fatalf("error shows a property value: %v", err)
			}
			return
		}
		if len(out) > 1<<20+len(s) {
			t.Fatalf("output of %d bytes", len(out))
		}
		if !strings.Contains(s, "&{") && out != s {
			t.Fatalf("text without expressions changed: %q → %q", s, out)
		}
		if s == "&{secret}" && out != secret {
			t.Fatalf("literal value expanded: %q", out)
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
