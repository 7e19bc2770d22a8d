package secrets_test

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/secretstores/secretstores/secrets"
	"github.com/secretstores/secretstores/secrets/secretstest"
)

// Properties whose values each refer ten times to the next: expanding &{p6} takes 10^6
// expressions (0.4 s before the budget; &{p8} took a minute), all of empty output, so the
// output limit never stops it. The budget does, at once.
func TestSecurity7ExpansionBudget(t *testing.T) {
	m := map[string]string{"p0": ""}
	for i := 1; i <= 8; i++ {
		m[fmt.Sprintf("p%d", i)] = strings.Repeat(fmt.Sprintf("&{p%d}", i-1), 10)
	}
	props := secrets.MapProperties(m)
	for _, in := range []string{"&{p6}", "&{p8}", "&{nope|&{p8}}", "&{&{p8}}"} {
		start := time.Now()
		_, err := secrets.Expand(in, props)
		require.Error(t, err, in)
		assert.ErrorIs(t, err, secrets.ErrTooManyExpansions, in)
		var ee *secrets.ExprError
		assert.ErrorAs(t, err, &ee)
		assert.Less(t, time.Since(start), 2*time.Second, in)
	}
	// &{p2} is 100 expressions, &{p3} 1000 + 110: the budget is per call, and counts them all.
	out, err := secrets.Expand("&{p2}", props)
	require.NoError(t, err)
	assert.Equal(t, "", out)
	_, err = secrets.Expand("&{p3}", props)
	assert.ErrorIs(t, err, secrets.ErrTooManyExpansions)
	// in secrets.json the error names the JSON path
	_, err = secrets.ParseConfig([]byte(`{"stores":[{"name":"a","class":"c","config":{"storePassword":"&{p8}"}}]}`), props)
	require.ErrorIs(t, err, secrets.ErrTooManyExpansions)
	assert.Contains(t, err.Error(), "/stores/0/config/storePassword")
}

// A password that contains "&{" in a secret source (the environment, or any Literal
// Properties) is used as it is; values from a properties file are still expanded.
func TestSecurity7PasswordContainingExpression(t *testing.T) {
	const pw = "pa&{ss|w}&{0rd"
	t.Setenv("OPENIDM_KEYSTORE_PASSWORD", pw)
	t.Setenv("OPENIDM_TRUSTSTORE_PASSWORD", "&{openidm.keystore.password}")
	file := secrets.MapProperties(map[string]string{
		"idm.install.dir":           "/opt/idm",
		"openidm.keystore.location": "&{idm.install.dir}/security/keystore.jceks",
		"vault.pin":                 "ignored",
	})
	vault := secrets.Literal(secrets.MapProperties(map[string]string{"vault.pin": "&{idm.install.dir}", "vault.empty": ""}))
	props := secrets.Layered(secrets.EnvProperties(), vault, file)
	for _, tc := range []struct{ in, want string }{
		{"&{openidm.keystore.password}", pw},
		{"x&{openidm.keystore.password|d}y", "x" + pw + "y"},
		{"&{openidm.truststore.password}", "&{openidm.keystore.password}"}, // not expanded again
		{"&{vault.pin}", "&{idm.install.dir}"},
		{"&{vault.empty|default}", ""},
		{"&{openidm.keystore.location}", "/opt/idm/security/keystore.jceks"}, // a file value is expanded
	} {
		got, err := secrets.Expand(tc.in, props)
		require.NoError(t, err, tc.in)
		assert.Equal(t, tc.want, got, tc.in)
	}
	// ParseConfig's default Properties are the environment.
	cfg, err := secrets.ParseConfig([]byte(`{"stores":[{"name":"a","class":"c","config":{"storePassword":"&{openidm.keystore.password}"}}]}`), nil)
	require.NoError(t, err)
	assert.Equal(t, pw, cfg.Stores[0].Settings["storePassword"])
	// Literal(nil) defines nothing
	_, err = secrets.Expand("&{a}", secrets.Literal(nil))
	assert.ErrorIs(t, err, secrets.ErrUndefinedProperty)
}

func TestSecurity12TrailingData(t *testing.T) {
	for _, in := range []string{`{"stores":[]}}`, `{"stores":[]}]`, `{"stores":[]} {}`, `{"stores":[]} x`, `{"stores":[]},`, `{"stores":[]}"`} {
		_, err := secrets.ParseConfig([]byte(in), secrets.MapProperties(nil))
		require.Error(t, err, in)
		assert.Contains(t, err.Error(), "data after the top-level value", in)
	}
	for _, in := range []string{`{"stores":[]}`, " \n{\"stores\":[]}\r\n\t ", `{"stores":[]}` + "\n"} {
		_, err := secrets.ParseConfig([]byte(in), secrets.MapProperties(nil))
		assert.NoError(t, err, "%q", in)
	}
}

// quietStore is a MemoryStore that does not tell the Provider about changes (a keystore file
// edited by another process, a key deleted on the HSM by another application).
type quietStore struct{ m *secretstest.MemoryStore }

func (q quietStore) Name() string { return q.m.Name() }
func (q quietStore) Entry(ctx context.Context, alias string) (secrets.Entry, error) {
	return q.m.Entry(ctx, alias)
}
func (q quietStore) Aliases(ctx context.Context) ([]string, error) { return q.m.Aliases(ctx) }
func (q quietStore) Close() error                                  { return nil }

// An entry looked up at 0 s with a one-minute lease is not served after 60 s, whichever of
// Active, Valid and Named first used it and when: a key deleted at 59 s was still served at
// 109 s, because the second call cached it for a lease from its own time.
func TestSecurity6NothingServedPastLease(t *testing.T) {
	ctx := context.Background()
	for _, order := range []string{"active-then-valid", "valid-then-active", "active-then-named"} {
		t.Run(order, func(t *testing.T) {
			now := time.Unix(1_700_000_000, 0)
			var mu sync.Mutex
			clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
			advance := func(d time.Duration) { mu.Lock(); now = now.Add(d); mu.Unlock() }
			m := secretstest.NewMemoryStore("ks")
			_, err := m.Generate(ctx, "k", secrets.KeySpec{Kind: secrets.KindSecret}, false)
			require.NoError(t, err)
			p, err := secrets.NewProvider([]secrets.Store{quietStore{m}}, []secrets.Mapping{
				{SecretID: "id", Types: []secrets.Purpose{secrets.Sign, secrets.Verify}, Aliases: []string{"k"}},
			}, secrets.ProviderOptions{Lease: time.Minute, Now: clock})

			require.NoError(t, err)
			defer p.Close()
			assert.Equal(t, time.Minute, p.Lease())

			active := func() error { _, err := p.Active(ctx, "id", secrets.Sign); return err }
			valid := func() error { _, err := p.Valid(ctx, "id", secrets.Verify); return err }
			named := func() error { _, err := p.Named(ctx, "id", secrets.Verify, "k"); return err }
			first, second := active, valid
			switch order {
			case "valid-then-active":
				first, second = valid, active
			case "active-then-named":
				second = named
			}
			require.NoError(t, first())
			advance(59 * time.Second)
			require.NoError(t, second()) // served from the entry cached at 0 s
			require.NoError(t, m.Delete(ctx, "k"))
			advance(2 * time.Second) // 61 s: the lease of the lookup at 0 s is over
			for name, call := range map[string]func() error{"Active": active, "Valid": valid, "Named": named} {
				assert.ErrorIs(t, call(), secrets.ErrNotFound, "%s at 61 s", name)
			}
		})
	}
	p, err := secrets.NewProvider(nil, nil, secrets.ProviderOptions{Lease: -1})
	require.NoError(t, err)
	assert.Equal(t, time.Duration(0), p.Lease(), "a Provider that does not cache")
	p, err = secrets.NewProvider(nil, nil, secrets.ProviderOptions{})
	require.NoError(t, err)
	assert.Equal(t, secrets.DefaultLease, p.Lease())
}
