package secrets_test

import (
	"context"
	"errors"
	"testing"

	"github.com/secretstores/secretstores/secrets"
	"github.com/secretstores/secretstores/secrets/secretstest"
)

// Named matches an alias without regard to case when exactly one valid key's alias does
// (Java reports PKCS#12 aliases in lower case, while values and tokens carry the alias as it
// was written); an exact match wins, and two keys differing only in case are never guessed
// between. Warm (cached) and cold (no cache) paths alike.
func TestNamedAliasCase(t *testing.T) {
	ctx := context.Background()
	st := secretstest.NewMemoryStore("ks")
	t.Cleanup(func() { st.Close() })
	for _, a := range []string{"mykey", "older", "ab", "AB"} {
		if _, err := st.Import(ctx, a, secrets.KeyMaterial{Kind: secrets.KindSecret, Secret: []byte("0123456789abcdef0123456789abcdef" + a), Extractable: true}, false); err != nil {
			t.Fatal(err)
		}
	}
	maps := []secrets.Mapping{
		{SecretID: "one", Types: []secrets.Purpose{secrets.Verify}, Aliases: []string{"mykey", "older"}},
		{SecretID: "two", Types: []secrets.Purpose{secrets.Verify}, Aliases: []string{"ab", "AB"}},
	}
	for _, lease := range []struct {
		name string
		d    int
	}{{"cached", 0}, {"uncached", -1}} {
		t.Run(lease.name, func(t *testing.T) {
			opts := secrets.ProviderOptions{}
			if lease.d < 0 {
				opts.Lease = -1
			}
			p, err := secrets.NewProvider([]secrets.Store{st}, maps, opts)
			if err != nil {
				t.Fatal(err)
			}
			defer p.Close()
			for _, a := range []string{"MyKey", "MYKEY", "mykey"} {
				for range 2 { // cold, then warm
					s, err := p.Named(ctx, "one", secrets.Verify, a)
					if err != nil || s.Alias() != "mykey" {
						t.Fatalf("Named(%q): %v %v", a, s, err)
					}
				}
			}
			if s, err := p.Named(ctx, "one", secrets.Verify, "OLDER"); err != nil || s.Alias() != "older" {
				t.Fatalf("Named(OLDER): %v %v", s, err)
			}
			for _, a := range []string{"ab", "AB"} {
				if s, err := p.Named(ctx, "two", secrets.Verify, a); err != nil || s.Alias() != a {
					t.Fatalf("exact %q: %v %v", a, s, err)
				}
			}
			if s, err := p.Named(ctx, "two", secrets.Verify, "Ab"); !errors.Is(err, secrets.ErrNotFound) {
				t.Fatalf("Ab matches two keys without regard to case: want ErrNotFound, got %v %v", s, err)
			}
		})
	}
}
