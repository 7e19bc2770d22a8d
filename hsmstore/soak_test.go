//go:build cgo && longtest

package hsmstore_test

import (
	"context"
	"errors"
	"os"
	"runtime"
	"testing"
	"time"

	"github.com/secretstores/secretstores/hsmstore"
	"github.com/secretstores/secretstores/internal/softhsmtest"
	"github.com/secretstores/secretstores/secrets"
)

// TestLongSoak runs 8 goroutines mixing HMAC, RSA signing and lookups on two tokens, one
// loaded directly (SoftHSM in the process) and one over p11-kit's RPC, for 60 s
// (SECRETSTORES_SOAK, a Go duration, overrides), injecting a fault every 3 s in turn: a
// foreign C_Logout, C_CloseAllSessions, the p11-kit server group killed for 1 s, the
// direct token's directory removed for 1 s. It asserts zero wrong results, only
// documented errors, recovery after each fault, and no goroutine or session leak.
func TestLongSoak(t *testing.T) {
	dur := 60 * time.Second
	if v := os.Getenv("SECRETSTORES_SOAK"); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil {
			t.Fatal(err)
		}
		dur = d
	}
	// The soak lasts dur; setting up, the checks and the cleanup take well under 3 minutes.
	watchdog(t, dur+3*time.Minute)
	ctx := context.Background()
	tokD := softhsmtest.New(t, "soak-direct")
	tokK := softhsmtest.New(t, "soak-p11kit")
	k11 := softhsmtest.StartP11Kit(t, tokK)
	cfg := func(lib string, tok *softhsmtest.Token) hsmstore.Config {
		return hsmstore.Config{Library: lib, TokenLabel: tok.Label, PIN: tok.PIN,
			ReconnectBackoff: 50 * time.Millisecond, ReconnectBackoffMax: 500 * time.Millisecond, MaxSessions: 12}
	}
	sD, err := hsmstore.Open(ctx, cfg(tokD.Module, tokD))
	if err != nil {
		t.Fatal(err)
	}
	defer sD.Close()
	sK, err := hsmstore.Open(ctx, cfg(k11.Module, tokK))
	if err != nil {
		t.Fatal(err)
	}
	defer sK.Close()
	kD, kK := makeKeys(t, sD), makeKeys(t, sK)
	in := newInjector(t, tokD.Module, tokD.Label)
	stores := []*hsmstore.Store{sD, sK}
	lookup := func(ctx context.Context, s *hsmstore.Store, alias string, kind secrets.Kind) (bool, error) {
		e, err := s.Entry(ctx, alias)
		if err != nil {
			// "Not found" for a key that is there is a wrong answer, not an outage.
			return errors.Is(err, secrets.ErrNotFound), err
		}
		return e.Kind() != kind, nil
	}
	op := func(ctx context.Context, g, i int) (bool, error) {
		k, s := kD, sD
		if (g+i)%2 == 1 {
			k, s = kK, sK
		}
		switch i % 5 {
		case 0, 1:
			return k.mac(ctx, i)
		case 2, 3:
			return k.sign(ctx, i)
		}
		if i%3 == 0 {
			return lookup(ctx, s, "rsa", secrets.KindRSA)
		}
		return lookup(ctx, s, "hmac", secrets.KindSecret)
	}
	// Warm up so that the pools hold their sessions, then take the baselines.
	warm := startLoad(8, op)
	time.Sleep(300 * time.Millisecond)
	warm.stop()
	warm.check(t)
	time.Sleep(100 * time.Millisecond)
	g0 := runtime.NumGoroutine()
	sess0, pool0 := in.Sessions(), sD.Stats().Sessions

	l := startLoad(8, op)
	start := time.Now()
	faults := map[string]int{}
	for n := 0; time.Since(start) < dur-3*time.Second; n++ {
		time.Sleep(3 * time.Second)
		switch n % 4 {
		case 0:
			in.Logout()
			faults["logout"]++
		case 1:
			l.pause(in.CloseAll)
			faults["close-all-sessions"]++
		case 2:
			k11.Kill()
			time.Sleep(time.Second)
			if err := k11.Start(); err != nil {
				t.Fatal(err)
			}
			faults["p11-kit-killed"]++
		case 3:
			restore := tokD.RemoveDir(t)
			time.Sleep(time.Second)
			restore()
			faults["token-dir-removed"]++
		}
	}
	time.Sleep(3 * time.Second)
	for _, s := range stores {
		waitOK(t, 5*time.Second, func() error { return s.Ping(ctx) })
	}
	l.stop()
	l.check(t)
	for _, s := range stores {
		if wrong, err := op(ctx, 0, 0); wrong || err != nil {
			t.Errorf("after the soak: wrong=%v %v", wrong, err)
		}
		st := s.Stats()
		t.Logf("%s: %s", s.Name(), statsLine(st))
		if !st.Up || st.Recoveries == 0 {
			t.Errorf("%s did not recover", s.Name())
		}
	}
	t.Logf("%v: %d calls, %d failed (all ErrUnavailable), %d wrong; faults %v", time.Since(start).Round(time.Second), l.calls.Load(), l.fails.Load(), l.wrong.Load(), faults)

	time.Sleep(200 * time.Millisecond)
	if g := runtime.NumGoroutine(); g > g0+2 {
		buf := make([]byte, 1<<20)
		t.Errorf("%d goroutines after the soak, %d before:\n%s", g, g0, buf[:runtime.Stack(buf, true)])
	}
	// Sessions on the token: the pool's (one more is tolerated, for a session being opened).
	st := sD.Stats()
	sess1 := in.Sessions()
	t.Logf("direct token sessions: %d before (pool %d), %d after (pool %d, max %d)", sess0, pool0, sess1, st.Sessions, st.MaxSessions)
	if sess1 < st.Sessions || sess1 > st.Sessions+1 || sess1 > st.MaxSessions+1 {
		t.Errorf("%d sessions on the token, the pool accounts for %d (max %d): a leak", sess1, st.Sessions, st.MaxSessions)
	}
}
