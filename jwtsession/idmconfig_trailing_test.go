package jwtsession_test

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/secretstores/secretstores/jwtsession"
	"github.com/secretstores/secretstores/secrets"
)

// TestParseIDMConfigTrailingData: authentication.json, read through secrets.ResolveJSON, is
// refused with data after its top-level object, as secrets.json is (TestSecurity12TrailingData).
func TestParseIDMConfigTrailingData(t *testing.T) {
	const ok = `{"serverAuthContext":{"sessionModule":{"name":"JWT_SESSION","properties":{"maxTokenLifeMinutes":60}}}}`
	_, err := jwtsession.ParseIDMConfig([]byte(ok+"\n"), secrets.MapProperties(nil))
	require.NoError(t, err)
	for _, tail := range []string{"}", "]", " {}", " x", ","} {
		_, err := jwtsession.ParseIDMConfig([]byte(ok+tail), secrets.MapProperties(nil))
		require.Error(t, err, tail)
		assert.Contains(t, err.Error(), "data after the top-level value", tail)
		_, err = secrets.ResolveJSON([]byte(ok+tail), nil)
		assert.Error(t, err, tail)
	}
}
