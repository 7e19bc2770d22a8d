package secrets_test

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/secretstores/secretstores/secrets"
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
