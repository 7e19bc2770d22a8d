package jwtsession

import (
	"encoding/json"
	"testing"
)

// TestParseObjectEndOfInput: a JWT header or claims set is exactly one JSON object, then only
// white space; encoding/json (json.Valid) decides which of these inputs are one JSON value.
func TestParseObjectEndOfInput(t *testing.T) {
	for _, in := range []string{
		`{"a":1}`, "{\"a\":1}\r\n\t ", ` {"a":1}`,
		`{"a":1}}`, `{"a":1}]`, `{"a":1} {}`, `{"a":1}x`, `{"a":1},`, "{\"a\":1}\x00", `{"a":1}null`,
		`{"a":1`, `{"a":`, `{"a"`, `{`, ``, ` `, `{"a":1,}`, `{"a":"x`,
	} {
		_, err := parseObject([]byte(in))
		if want := json.Valid([]byte(in)); (err == nil) != want {
			t.Errorf("parseObject(%q) = %v; encoding/json says valid=%v", in, err, want)
		}
	}
	for in, want := range map[string]string{
		`{"a":1}}`: "data after the JSON object", `{"a":1,"a":2}`: `duplicate member "a"`,
		`{"a":`: "bad JSON", `[1]`: "not a JSON object", `12`: "not a JSON object", `x`: "not JSON",
	} {
		if _, err := parseObject([]byte(in)); err == nil || err.Error() != want {
			t.Errorf("parseObject(%q) = %v, want %q", in, err, want)
		}
	}
}
