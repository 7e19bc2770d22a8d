package testenv

import "testing"

func TestRequired(t *testing.T) {
	for _, tc := range []struct {
		env, tool string
		want      bool
	}{
		{"", SoftHSM, false},
		{"all", Chromium, true},
		{"softhsm,java", Java, true},
		{"softhsm, java", Java, true},
		{"softhsm java", P11Kit, false},
		{"javax", Java, false},
	} {
		t.Setenv("SECRETSTORES_REQUIRE", tc.env)
		if got := Required(tc.tool); got != tc.want {
			t.Errorf("SECRETSTORES_REQUIRE=%q Required(%q) = %v, want %v", tc.env, tc.tool, got, tc.want)
		}
	}
}
