package javaprops

import (
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
)

func TestParse(t *testing.T) {
	in := "# comment\n! also\n  a = 1\r\nb:2\rc 3\nd=x\\\n   y\\\\\ne\\ f=\\u00e9\\t\\q\ng=\\u12\nh\n\\\nk=caf\xe9\nlast=\\"
	got := Parse([]byte(in))
	want := []Property{
		{Key: "a", Value: "1", Line: 3},
		{Key: "b", Value: "2", Line: 4},
		{Key: "c", Value: "3", Line: 5},
		{Key: "d", Value: `xy\`, Line: 6},
		{Key: "e f", Value: "é\tq", Line: 8},
		{Key: "g", Value: "u12", Line: 9},
		{Key: "h", Value: "", Line: 10},
		{Key: "k", Value: "café", Line: 11}, // a lone "\\" continues onto the next line; ISO-8859-1 bytes
		{Key: "last", Value: "", Line: 13},
	}
	assert.Equal(t, want, got)
}

func FuzzParse(f *testing.F) {
	for _, s := range []string{"a=b", "a\\\n b", "\\u00", "k\\", "#x\n!y\nz", "a:b c", "\r\r\n\n"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		for _, p := range Parse(data) {
			if p.Line < 1 {
				t.Fatalf("line %d", p.Line)
			}
		}
	})
}

func TestParseSurrogatePair(t *testing.T) {
	// Java's Properties.load builds UTF-16: an escaped surrogate pair is one code point.
	got := Parse([]byte(`k=\uD83D\uDE00x \uD83Dy`))
	assert.Equal(t, []Property{{Key: "k", Value: "\U0001F600x \uFFFDy", Line: 1}}, got)
}

// TestParseContinuationLinear: a properties file of continued lines (1 MiB, the callers'
// limit) parses in time linear in its size; repeated concatenation took ~20 s. Linearity is
// checked as a ratio (8 times the lines must cost well under 64 times the time), the best of
// three runs each, so a loaded machine does not fail it.
func TestParseContinuationLinear(t *testing.T) {
	const n = (1 << 20) / 3
	parse := func(lines int) time.Duration {
		data := []byte("k=" + strings.Repeat("a\\\n", lines))
		best := time.Duration(1<<63 - 1)
		for range 3 {
			start := time.Now()
			got := Parse(data)
			best = min(best, time.Since(start))
			if assert.Len(t, got, 1) {
				assert.Equal(t, lines, len(got[0].Value))
			}
		}
		return best
	}
	small, large := parse(n/8), parse(n)
	ratio := float64(large) / float64(max(small, time.Microsecond))
	t.Logf("%d lines: %v; %d lines: %v; ratio %.1f", n/8, small, n, large, ratio)
	assert.Less(t, ratio, 24.0, "8x the continued lines took %.1fx the time: not linear", ratio)
}
