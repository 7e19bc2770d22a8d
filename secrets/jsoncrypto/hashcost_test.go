package jsoncrypto

import (
	"errors"
	"strings"
	"testing"
	"time"
)

// A stored bcrypt value with a cost above the limit is refused before any bcrypt work:
// a hostile value cannot make VerifyHash run for seconds (cost 16, the former default
// limit, takes about four seconds).
func TestBcryptCostBound(t *testing.T) {
	v, err := Hash("pw", HashOptions{Cost: 4})
	if err != nil {
		t.Fatal(err)
	}
	for _, cost := range []string{"15", "16", "31"} {
		hostile := []byte(strings.Replace(string(v), "$04$", "$"+cost+"$", 1))
		if string(hostile) == string(v) {
			t.Fatalf("no $04$ in %s", v)
		}
		start := time.Now()
		err := VerifyHash(hostile, "pw", VerifyHashOptions{})
		if !errors.Is(err, errors.ErrUnsupported) || !strings.Contains(err.Error(), "exceeds the limit 14") {
			t.Fatalf("cost %s: %v", cost, err)
		}
		if d := time.Since(start); d > 100*time.Millisecond {
			t.Errorf("cost %s refused after %v: the cost must be checked before any bcrypt work", cost, d)
		}
	}
	// The limit is an option: a value at cost 5 is refused under a limit of 4 and verifies
	// under the default.
	v5, err := Hash("pw", HashOptions{Cost: 5})
	if err != nil {
		t.Fatal(err)
	}
	if err := VerifyHash(v5, "pw", VerifyHashOptions{MaxBcryptCost: 4}); !errors.Is(err, errors.ErrUnsupported) {
		t.Fatalf("cost 5 under MaxBcryptCost 4: %v", err)
	}
	if err := VerifyHash(v5, "pw", VerifyHashOptions{}); err != nil {
		t.Fatalf("cost 5 under the default limit: %v", err)
	}
}
