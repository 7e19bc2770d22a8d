package secrets_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/secretstores/secretstores/secrets"
	"github.com/secretstores/secretstores/secrets/secretstest"
)

func TestExpand(t *testing.T) {
	t.Setenv("OPENIDM_KEYSTORE_PASSWORD", "from-env")
	t.Setenv("IDM_INSTALL_DIR", "/opt/idm")
	dir := t.TempDir()
	boot := filepath.Join(dir, "boot.properties")
	require.NoError(t, os.WriteFile(boot, []byte(`# IDM boot.properties
openidm.keystore.type=PKCS12
openidm.keystore.password = from-file
openidm.https.keystore.cert.alias : openidm-localhost
multi=a\
  b
unicode=caf\u00e9
a.b=&{c.d}
c.d=&{a.b}
self=&{self}
nested.name=keystore
alias.keystore=picked
`), 0o600))
	file, err := secrets.ReadPropertiesFile(boot)
	require.NoError(t, err)
	props := secrets.Layered(secrets.EnvProperties(), file, secrets.MapProperties(map[string]string{"openidm.keystore.type": "ignored"}))

	for _, tc := range []struct{ in, want string }{
		{"plain", "plain"},
		{"&{openidm.keystore.password}", "from-env"}, // env beats the file
		{"&{openidm.keystore.type|JCEKS}", "PKCS12"}, // file beats the default, and the later map
		{"&{openidm.keystore.location|&{idm.install.dir}/security/keystore.jceks}", "/opt/idm/security/keystore.jceks"}, // nested default
		{"https://&{host|localhost}:&{port|8443}/", "https://localhost:8443/"},                                          // literals around
		{"&{alias.&{nested.name}}", "picked"},                                                                           // nested name
		{"&{multi}", "ab"},
		{"&{unicode}", "café"},
		{"&{undefined|}", ""},
		{"&{x|a|b}", "a|b"}, // the first '|' splits
	} {
		got, err := secrets.Expand(tc.in, props)
		require.NoError(t, err, tc.in)
		assert.Equal(t, tc.want, got, tc.in)
	}
	for _, tc := range []struct{ in, want string }{
		{"&{undefined.prop}", `property "undefined.prop": undefined`},
		{"&{a.b}", "refers to itself through a.b → c.d → a.b"},
		{"&{self}", "refers to itself"},
		{"&{open", "unterminated"},
		{strings.Repeat("&{", 40) + "x" + strings.Repeat("}", 40), "nest"},
	} {
		_, err := secrets.Expand(tc.in, props)
		require.Error(t, err, tc.in)
		assert.Contains(t, err.Error(), tc.want, tc.in)
		var ee *secrets.ExprError
		assert.ErrorAs(t, err, &ee)
	}
	_, err = secrets.ParseProperties(strings.NewReader("a=1\na=2\n"))
	require.ErrorContains(t, err, "defined twice")
}

func memoryOpeners(t *testing.T, keys map[string]map[string]secrets.Kind, seen *[]secrets.StoreConfig) secrets.Openers {
	op := func(ctx context.Context, sc *secrets.StoreConfig) (secrets.Store, error) {
		*seen = append(*seen, *sc)
		return newStore(t, sc.Name, keys[sc.Name]), nil
	}
	return secrets.Openers{secrets.ClassFileBased: op, secrets.ClassKeyStore: op, secrets.ClassHSM: op}
}

var idmDefaults = map[string]secrets.Kind{
	"openidm-sym-default":        secrets.KindAES,
	"openidm-selfservice-key":    secrets.KindAES,
	"openidm-jwtsessionhmac-key": secrets.KindSecret,
	"openidm-localhost":          secrets.KindRSA,
	"selfservice":                secrets.KindRSA,
}

func TestIDMSecretsJSON(t *testing.T) {
	ctx := context.Background()
	for _, tc := range []struct {
		file, class, storetype string
		populate               bool
	}{
		{"secrets-default.json", secrets.ClassFileBased, "JCEKS", true},
		{"secrets-hsm.json", secrets.ClassHSM, "PKCS11", false},
	} {
		t.Run(tc.file, func(t *testing.T) {
			props := secrets.MapProperties(map[string]string{"idm.install.dir": "/opt/idm"})
			cfg, err := secrets.LoadConfig(filepath.Join("testdata", tc.file), props)
			require.NoError(t, err)
			require.Len(t, cfg.Stores, 2)
			assert.Equal(t, tc.populate, cfg.PopulateDefaults)
			ks := cfg.Stores[0]
			assert.Equal(t, "mainKeyStore", ks.Name)
			assert.Equal(t, tc.class, ks.Class)
			st, _ := ks.String("storetype")
			assert.Equal(t, tc.storetype, st)
			pw, _ := ks.String("storePassword")
			assert.Equal(t, "changeit", pw)
			assert.True(t, filepath.IsAbs(ks.Dir))
			require.Len(t, ks.Mappings, 7)
			assert.Empty(t, cfg.Stores[1].Mappings)
			if tc.class == secrets.ClassFileBased {
				f, _ := ks.String("file")
				assert.Equal(t, "/opt/idm/security/keystore.jceks", f)
			}

			var seen []secrets.StoreConfig
			p, err := secrets.Open(ctx, cfg, memoryOpeners(t, map[string]map[string]secrets.Kind{"mainKeyStore": idmDefaults}, &seen), secrets.ProviderOptions{})
			require.NoError(t, err)
			defer p.Close()
			require.Len(t, seen, 2)
			for id, want := range map[string]string{
				"idm.default":                       "openidm-sym-default",
				"idm.config.encryption":             "openidm-sym-default",
				"idm.password.encryption":           "openidm-sym-default",
				"idm.jwt.session.module.encryption": "openidm-localhost",
				"idm.selfservice.encryption":        "selfservice",
			} {
				s, err := p.Active(ctx, id, secrets.Encrypt)
				require.NoError(t, err, id)
				assert.Equal(t, want, s.Alias(), id)
				assert.Equal(t, "mainKeyStore", s.Store())
			}
			s, err := p.Active(ctx, "idm.jwt.session.module.signing", secrets.Sign)
			require.NoError(t, err)
			assert.Equal(t, "openidm-jwtsessionhmac-key", s.Alias())
			_, err = p.Active(ctx, "idm.jwt.session.module.signing", secrets.Encrypt)
			require.ErrorIs(t, err, secrets.ErrNoMapping)
		})
	}
	// Properties choose the aliases, as IDM's boot.properties do.
	cfg, err := secrets.LoadConfig("testdata/secrets-hsm.json", secrets.MapProperties(map[string]string{
		"openidm.config.crypto.alias": "sym-2026", "openidm.keystore.password": "1234"}))
	require.NoError(t, err)
	assert.Equal(t, []string{"sym-2026"}, cfg.Stores[0].Mappings[0].Aliases)
	pw, _ := cfg.Stores[0].String("storePassword")
	assert.Equal(t, "1234", pw)
}

func TestOpenFailures(t *testing.T) {
	ctx := context.Background()
	cfg, err := secrets.LoadConfig("testdata/secrets-hsm.json", secrets.MapProperties(nil))
	require.NoError(t, err)
	_, err = secrets.Open(ctx, cfg, secrets.Openers{}, secrets.ProviderOptions{})
	require.ErrorContains(t, err, "no opener for class "+secrets.ClassHSM)

	// A failing second store closes the first.
	first := secretstest.NewMemoryStore("mainKeyStore")
	calls := 0
	_, err = secrets.Open(ctx, cfg, secrets.Openers{secrets.ClassHSM: func(ctx context.Context, sc *secrets.StoreConfig) (secrets.Store, error) {
		calls++
		if calls == 1 {
			return first, nil
		}
		return nil, secrets.ErrWrongPIN
	}}, secrets.ProviderOptions{})

	require.ErrorIs(t, err, secrets.ErrWrongPIN)
	_, err = first.Aliases(ctx)
	require.ErrorIs(t, err, secrets.ErrClosed, "the store opened before the failure is closed")
}

func TestParseConfigErrors(t *testing.T) {
	const secret = "S3cr3t-Passw0rd"
	props := secrets.MapProperties(map[string]string{"pw": secret, "loop": "&{loop}" + secret})
	for _, tc := range []struct{ json, want string }{
		{`[]`, `must be an object with "stores"`},
		{`{"stores": {}}`, "/stores"},
		{`{"stores": [], "extra": 1}`, "/extra: unknown key"},
		{`{"stores": [{"name": "a"}]}`, "needs a name and a class"},
		{`{"stores": [{"name": "a", "class": "c"}, {"name": "a", "class": "c"}]}`, "two stores"},
		{`{"stores": [{"name": "a", "class": "c", "config": {"storePassword": "&{nope}"}}]}`, `at /stores/0/config/storePassword: property "nope": undefined`},
		{`{"stores": [{"name": "a", "class": "c", "config": {"mappings": [{"secretId": "x", "types": ["SIGNING"], "aliases": ["a"]}]}}]}`, `/stores/0/config/mappings/0/types/0: "SIGNING" is not a purpose`},
		{`{"stores": [{"name": "a", "class": "c", "config": {"mappings": [{"secretId": "x", "types": ["SIGN"], "aliases": ["a", "a"]}]}}]}`, "listed twice"},
		{`{"stores": [{"name": "a", "class": "c", "config": {"n": {"$int": "&{pw}"}}}]}`, "/stores/0/config/n/$int: not an integer"},
		{`{"stores": [{"name": "a", "class": "c", "config": {"n": {"$bool": "&{pw}"}}}]}`, "not true or false"},
		{`{"stores": [{"name": "a", "class": "c", "config": {"n": {"$base64:decode": "&{pw}"}}}]}`, "not valid base64"},
		{`{"stores": [{"name": "a", "class": "c", "config": {"n": "&{loop}"}}]}`, "refers to itself"},
		{`{"stores": [{"name": "a", "class": "c", "config": {"n": "&{pw"}}]}`, "unterminated"},
		{`{"stores": [], "populateDefaults": "yes"}`, "/populateDefaults"},
		{`{"stores": []} {}`, "after the top-level value"},
	} {
		_, err := secrets.ParseConfig([]byte(tc.json), props)
		require.Error(t, err, tc.json)
		assert.Contains(t, err.Error(), tc.want, tc.json)
		assert.NotContains(t, err.Error(), secret, "an error never shows a property's value")
	}
	cfg, err := secrets.ParseConfig([]byte(`{"stores": [{"name": "a", "class": "c", "config": {
		"port": {"$int": "&{port|8443}"}, "on": {"$bool": "true"}, "l": {"$list": "a, b"}, "b": {"$base64:encode": "hi"}}}]}`), props)
	require.NoError(t, err)
	s := cfg.Stores[0].Settings
	assert.Equal(t, int64(8443), s["port"])
	assert.Equal(t, true, s["on"])
	assert.Equal(t, []any{"a", "b"}, s["l"])
	assert.Equal(t, "aGk=", s["b"])
}

// TestExpandErrorsHideComputedNames: a property name computed from another property's value
// is named in errors by its expression, so the value (a password, say) stays out.
func TestExpandErrorsHideComputedNames(t *testing.T) {
	props := secrets.MapProperties(map[string]string{"pw": "hunter2", "loop": "&{x.&{pw}}", "x.hunter2": "&{loop}"})
	for _, in := range []string{"&{&{pw}}", "&{x.&{pw}|&{&{pw}}}", "&{loop}"} {
		_, err := secrets.Expand(in, props)
		require.Error(t, err, in)
		assert.NotContains(t, err.Error(), "hunter2", in)
		var ee *secrets.ExprError
		require.ErrorAs(t, err, &ee, in)
		assert.NotContains(t, ee.Property, "hunter2", in)
	}
	_, err := secrets.Expand("&{&{pw}}", props)
	assert.ErrorContains(t, err, `property "&{pw}": undefined`)
	_, err = secrets.Expand("&{loop}", props)
	assert.ErrorContains(t, err, "refers to itself through loop → x.&{pw} → loop")
}

// IDMMappings agrees with IDM's shipped secrets.json at its defaults.
func TestIDMMappingsMatchSecretsJSON(t *testing.T) {
	cfg, err := secrets.LoadConfig("testdata/secrets-default.json", secrets.MapProperties(map[string]string{"idm.install.dir": "/idm"}))
	require.NoError(t, err)
	want := map[string]secrets.Mapping{}
	for _, m := range cfg.Stores[0].Mappings {
		want[m.SecretID] = m
	}
	got := secrets.IDMMappings("mainKeyStore")
	for _, m := range got {
		if w, ok := want[m.SecretID]; ok {
			assert.Equal(t, w, m, m.SecretID)
			delete(want, m.SecretID)
		} else {
			assert.Equal(t, "idm.assignment.attribute.encryption", m.SecretID, "only IDM 8's addition is absent from the 7.x file")
		}
	}
	assert.Empty(t, want, "every mapping of the shipped file is among IDMMappings")
}
