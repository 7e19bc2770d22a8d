package secrets_test

import (
	"fmt"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/secretstores/secretstores/secrets"
)

// TestExpansionBudgetPerFile: the budget of each string (MaxExpansions, 1 MiB of output) did
// not bound a file: every string of a 4 MiB file had its own. A property that expands to
// 500 KB within the budget, named by 8,000 strings (56 KB of JSON), made 4 GB; 100 of them
// (here) made 50 MB. And 20 strings of 1,000 expressions each ran 20,000. A file's strings
// now share a budget: 10 × MaxExpansions expressions and MaxConfigSize bytes of output.
func TestExpansionBudgetPerFile(t *testing.T) {
	big := secrets.MapProperties(map[string]string{
		"b": strings.Repeat("x", 1000),
		"a": strings.Repeat("&{b}", 500), // 501 expressions, 500,000 bytes (counted twice: 1 MB)
	})
	// each string on its own is within the budget of a string
	out, err := secrets.Expand("&{a}", big)
	require.NoError(t, err)
	require.Len(t, out, 500000)
	doc := "[" + strings.Repeat(`"&{a}",`, 99) + `"&{a}"]`
	for name, parse := range map[string]func([]byte, secrets.Properties) error{
		"ResolveJSON": func(d []byte, p secrets.Properties) error { _, err := secrets.ResolveJSON(d, p); return err },
		"ParseConfig": func(d []byte, p secrets.Properties) error {
			_, err := secrets.ParseConfig([]byte(`{"stores":[],"x":`+string(d)+`}`), p)
			return err
		},
	} {
		err := parse([]byte(doc), big)
		require.Error(t, err, name)
		var ee *secrets.ExprError
		assert.ErrorAs(t, err, &ee, name)
		assert.Contains(t, err.Error(), "in all", name)

		empty := secrets.MapProperties(map[string]string{"e": "", "a": strings.Repeat("&{e}", 999)})
		doc := "[" + strings.Repeat(`"&{a}",`, 19) + `"&{a}"]`
		err = parse([]byte(doc), empty)
		require.Error(t, err, name)
		assert.ErrorIs(t, err, secrets.ErrTooManyExpansions, name)
		assert.Contains(t, err.Error(), fmt.Sprint(10*secrets.MaxExpansions), name)
	}
}
