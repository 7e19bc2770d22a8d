package clilog

import (
	"log/slog"
	"strings"
	"testing"
)

// TestSetVerbose: without verbose an Info line of the default slog logger is dropped and a
// Warn line still printed; with verbose both, and Debug too.
func TestSetVerbose(t *testing.T) {
	for _, tc := range []struct {
		verbose bool
		want    []string
		not     []string
	}{
		{false, []string{"WARN the warning"}, []string{"the info", "the debug"}},
		{true, []string{"WARN the warning", "INFO the info", "DEBUG the debug"}, nil},
	} {
		buf := Capture(t)
		SetVerbose(tc.verbose)
		slog.Debug("the debug")
		slog.Info("the info")
		slog.Warn("the warning")
		out := buf.String()
		for _, w := range tc.want {
			if !strings.Contains(out, w) {
				t.Errorf("verbose=%v: output lacks %q:\n%s", tc.verbose, w, out)
			}
		}
		for _, n := range tc.not {
			if strings.Contains(out, n) {
				t.Errorf("verbose=%v: output has %q:\n%s", tc.verbose, n, out)
			}
		}
	}
}
