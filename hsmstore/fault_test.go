//go:build cgo

package hsmstore_test

import (
	"bytes"
	"context"
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/miekg/pkcs11"

	"github.com/secretstores/secretstores/hsmstore"
	"github.com/secretstores/secretstores/internal/softhsmtest"
	"github.com/secretstores/secretstores/secrets"
)

// faultTestLimit bounds each fault test (see watchdog); they take seconds.
const faultTestLimit = 3 * time.Minute

func mixed(k *keys) func(ctx context.Context, g, i int) (bool, error) {
	return func(ctx context.Context, g, i int) (bool, error) {
		if g%2 == 0 {
			return k.mac(ctx, i)
		}
		return k.sign(ctx, i)
	}
}

// TestFaultForeignLogout: another component of the process calls C_Logout five times while
// 8 goroutines compute HMACs and RSA signatures with Secrets obtained before. Every logout
// makes the token refuse the next calls (CKR_USER_NOT_LOGGED_IN, and searches that find
// nothing); hsmstore logs in again once per logout for all callers and retries, so callers
// see no failure and no wrong result. A lookup right after a logout is not "not found".
func TestFaultForeignLogout(t *testing.T) {
	watchdog(t, faultTestLimit)
	ctx := context.Background()
	tok := softhsmtest.New(t, "logout")
	s := open(t, tok)
	k := makeKeys(t, s)
	in := newInjector(t, tok.Module, tok.Label)

	// Without traffic: the silent empty search after a logout.
	in.Logout()
	if e, err := s.Entry(ctx, "hmac"); err != nil || e.Kind() != secrets.KindSecret {
		t.Fatalf("lookup after a foreign logout: %v", err)
	}
	in.Logout()
	if e, err := s.Entry(ctx, "rsa"); err != nil || e.Kind() != secrets.KindRSA {
		t.Fatalf("lookup of a key entry after a foreign logout: %v (entry %v)", err, e)
	}
	in.Logout()
	if as, err := s.Aliases(ctx); err != nil || !slices.Contains(as, "hmac") || !slices.Contains(as, "rsa") {
		t.Fatalf("aliases after a foreign logout: %v %v", as, err)
	}
	before := s.Stats()
	if before.Relogins != 3 || before.Faults < 3 {
		t.Fatalf("three logouts, want three re-logins: %s", statsLine(before))
	}

	l := startLoad(8, mixed(k))
	const logouts = 5
	for i := 0; i < logouts; i++ {
		time.Sleep(300 * time.Millisecond)
		r := s.Stats().Recoveries
		in.Logout()
		awaitRecovery(t, s, r, l) // one logout at a time, however slow the machine
	}
	time.Sleep(300 * time.Millisecond)
	l.stop()
	l.check(t)
	st := s.Stats()
	t.Logf("calls=%d failed=%d; %s", l.calls.Load(), l.fails.Load(), statsLine(st))
	faults := st.Faults - before.Faults
	recov := st.Recoveries - before.Recoveries
	if faults < logouts || recov < logouts {
		t.Errorf("%d logouts under traffic: %d faults seen, %d recoveries (want each at least %d)", logouts, faults, recov, logouts)
	}
	if recov > logouts {
		t.Errorf("%d recoveries for %d logouts: concurrent callers must share one", recov, logouts)
	}
	if n := l.fails.Load(); n > 0 {
		t.Errorf("%d calls failed; a lost login must be recovered transparently (first: %v)", n, l.failSample)
	}
	if err := s.Ping(ctx); err != nil {
		t.Fatal(err)
	}
}

// TestFaultSessionsClosed: another component calls C_CloseAllSessions (ending every session
// of the process on the token, and so the login) five times under traffic (between two
// calls: see load.pause). hsmstore drops
// its dead sessions, opens new ones, logs in again and retries: no failure, no wrong
// result, and no session left behind (sessions counted on the token).
func TestFaultSessionsClosed(t *testing.T) {
	watchdog(t, faultTestLimit)
	tok := softhsmtest.New(t, "closeall")
	s := open(t, tok)
	k := makeKeys(t, s)
	in := newInjector(t, tok.Module, tok.Label)

	l := startLoad(8, mixed(k))
	const faults = 5
	for i := 0; i < faults; i++ {
		time.Sleep(300 * time.Millisecond)
		l.pause(in.CloseAll)
	}
	time.Sleep(300 * time.Millisecond)
	l.stop()
	l.check(t)
	st := s.Stats()
	t.Logf("calls=%d failed=%d; %s", l.calls.Load(), l.fails.Load(), statsLine(st))
	if st.Recoveries < faults || st.Recoveries > faults {
		t.Errorf("%d recoveries for %d C_CloseAllSessions (want one each, shared)", st.Recoveries, faults)
	}
	if n := l.fails.Load(); n > 0 {
		t.Errorf("%d calls failed (first: %v)", n, l.failSample)
	}
	// The pool's sessions are all there are.
	if n := in.Sessions(); n != st.Sessions {
		t.Errorf("%d sessions on the token, the pool accounts for %d", n, st.Sessions)
	}
	if st.Sessions > st.MaxSessions {
		t.Errorf("%d sessions, more than MaxSessions %d", st.Sessions, st.MaxSessions)
	}
}

// TestFaultP11KitRestart: the store reaches its token over p11-kit's RPC (a real socket, a
// real server process). The server's whole process group is killed while 8 goroutines
// sign, and restarted 1.5 s later. During the outage calls fail with ErrUnavailable, most
// of them at once (no call waits for a dead server), reconnect attempts follow the bounded
// backoff, and after the restart everything works again through the same Store and the
// same Secrets, without reopening anything.
func TestFaultP11KitRestart(t *testing.T) {
	watchdog(t, faultTestLimit)
	ctx := context.Background()
	tok := softhsmtest.New(t, "p11kit")
	k11 := softhsmtest.StartP11Kit(t, tok)
	const backoffMin, backoffMax = 50 * time.Millisecond, 400 * time.Millisecond
	s, err := hsmstore.Open(ctx, hsmstore.Config{Library: k11.Module, TokenLabel: tok.Label, PIN: tok.PIN,
		ReconnectBackoff: backoffMin, ReconnectBackoffMax: backoffMax, MaxSessions: 8})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	k := makeKeys(t, s)

	l := startLoad(8, func(ctx context.Context, g, i int) (bool, error) { return k.sign(ctx, i) })
	time.Sleep(time.Second)
	killed := time.Now()
	k11.Kill()
	const outage = 1500 * time.Millisecond
	time.Sleep(outage / 2)
	if err := s.Ping(ctx); !errors.Is(err, hsmstore.ErrUnavailable) || !errors.Is(err, secrets.ErrUnavailable) {
		t.Errorf("Ping during the outage: %v (want hsmstore.ErrUnavailable, which is secrets.ErrUnavailable)", err)
	}
	if st := s.Stats(); st.Up || st.DownSince.IsZero() {
		t.Errorf("stats during the outage: %s", statsLine(st))
	}
	time.Sleep(outage - time.Since(killed))
	if err := k11.Start(); err != nil {
		t.Fatal(err)
	}
	// The token is back when the server accepts connections: starting the server process
	// (which on a loaded machine takes a while) is not part of the recovery measured below.
	restarted := time.Now()
	took := waitOK(t, 5*time.Second, func() error { _, err := k.sign(ctx, 0); return err })
	time.Sleep(time.Second)
	l.stop()
	l.check(t)
	st := s.Stats()
	t.Logf("calls=%d failed=%d (%v..%v after the kill); recovered %v after the restart; %s",
		l.calls.Load(), l.fails.Load(), l.firstFail.Sub(killed).Round(time.Millisecond), l.lastFail.Sub(killed).Round(time.Millisecond), took.Round(time.Millisecond), statsLine(st))
	if l.fails.Load() == 0 {
		t.Fatal("no call failed while the server was down")
	}
	if !l.lastFail.Before(restarted.Add(backoffMax + 500*time.Millisecond)) {
		t.Errorf("calls still failed %v after the restart", l.lastFail.Sub(restarted))
	}
	if took > backoffMax+time.Second {
		t.Errorf("recovery took %v after the restart", took)
	}
	if st.FailedFast == 0 {
		t.Error("no call failed fast while the token was away")
	}
	// Calls that reached the dead server (rather than failing fast): about one per
	// goroutine per reconnect attempt.
	if reached := st.Errors - st.FailedFast; reached > 8*(st.FailedRecoveries+2) {
		t.Errorf("%d failed calls reached the dead server (%d reconnect attempts)", reached, st.FailedRecoveries)
	}
	// Reconnect attempts are paced by the backoff, not by the callers' rate.
	if maxAttempts := uint64(outage/backoffMin) + 3; st.FailedRecoveries > maxAttempts {
		t.Errorf("%d failed reconnect attempts in a %v outage (at most %d with the backoff)", st.FailedRecoveries, outage, maxAttempts)
	}
	if st.Recoveries == 0 || !st.Up {
		t.Errorf("not recovered: %s", statsLine(st))
	}
	if e, err := s.Entry(ctx, "hmac"); err != nil || e.Kind() != secrets.KindSecret {
		t.Errorf("lookup after recovery: %v", err)
	}
	if wrong, err := k.mac(ctx, 1); wrong || err != nil {
		t.Errorf("HMAC after recovery: wrong=%v %v", wrong, err)
	}
	if err := s.Ping(ctx); err != nil {
		t.Errorf("Ping after recovery: %v", err)
	}
}

// TestFaultP11KitKilledUnderLoad: the p11-kit server is killed and restarted 20 times
// while 8 goroutines sign, compute HMACs and look keys up over it. p11-kit-client.so hangs
// forever when its connection breaks with several threads waiting for replies (see
// serialModule in module.go); hsmstore makes one call at a time into it, so every kill is
// an outage the calls come through: only documented errors, no wrong result, and the
// store works after each restart.
func TestFaultP11KitKilledUnderLoad(t *testing.T) {
	watchdog(t, faultTestLimit)
	ctx := context.Background()
	tok := softhsmtest.New(t, "p11kitkill")
	k11 := softhsmtest.StartP11Kit(t, tok)
	s, err := hsmstore.Open(ctx, hsmstore.Config{Library: k11.Module, TokenLabel: tok.Label, PIN: tok.PIN,
		ReconnectBackoff: 20 * time.Millisecond, ReconnectBackoffMax: 100 * time.Millisecond, MaxSessions: 12})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	k := makeKeys(t, s)
	l := startLoad(8, func(ctx context.Context, g, i int) (bool, error) {
		switch (g + i) % 4 {
		case 0:
			return k.mac(ctx, i)
		case 1, 2:
			return k.sign(ctx, i)
		}
		e, err := s.Entry(ctx, "rsa")
		if err != nil {
			return errors.Is(err, secrets.ErrNotFound), err
		}
		return e.Kind() != secrets.KindRSA, nil
	})
	const kills = 20
	for i := 0; i < kills; i++ {
		time.Sleep(300 * time.Millisecond)
		k11.Kill()
		time.Sleep(100 * time.Millisecond)
		if err := k11.Start(); err != nil {
			t.Fatal(err)
		}
		waitOK(t, 5*time.Second, func() error { _, err := k.sign(ctx, i); return err })
	}
	l.stop()
	l.check(t)
	st := s.Stats()
	t.Logf("calls=%d failed=%d; %s", l.calls.Load(), l.fails.Load(), statsLine(st))
	if st.Recoveries < kills/2 || !st.Up {
		t.Errorf("%d kills: %s", kills, statsLine(st))
	}
}

// TestFaultWrongPINOnRelogin: the user PIN is changed behind the store's back and the
// session logged out. The re-login costs exactly one C_Login (counted by OpenSC's
// pkcs11-spy in front of SoftHSM); the call fails with ErrWrongPIN (and ErrUnavailable),
// and every later call fails at once, without another C_Login that could lock the token.
// The PIN appears in no log line.
func TestFaultWrongPINOnRelogin(t *testing.T) {
	watchdog(t, faultTestLimit)
	spy := requireSpy(t)
	ctx := context.Background()
	tok := softhsmtest.New(t, "pinchg")
	logf := filepath.Join(t.TempDir(), "spy.log")
	t.Setenv("PKCS11SPY", tok.Module)
	t.Setenv("PKCS11SPY_OUTPUT", logf)
	logins := func() int {
		b, _ := os.ReadFile(logf)
		return len(loginRE.FindAll(b, -1))
	}
	var logBuf syncBuffer
	logger := slog.New(slog.NewTextHandler(&logBuf, &slog.HandlerOptions{Level: slog.LevelDebug}))
	s, err := hsmstore.Open(ctx, hsmstore.Config{Library: spy, TokenLabel: tok.Label, PIN: tok.PIN, Logger: logger})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	k := makeKeys(t, s)
	if n := logins(); n != 1 {
		t.Fatalf("%d C_Login calls after open, want 1", n)
	}
	const newPIN = "86420975"
	in := newInjector(t, tok.Module, tok.Label)
	sh, err := in.p.OpenSession(in.slot, pkcs11.CKF_SERIAL_SESSION|pkcs11.CKF_RW_SESSION)
	if err != nil {
		t.Fatal(err)
	}
	if err := in.p.SetPIN(sh, tok.PIN, newPIN); err != nil {
		t.Fatal(err)
	}
	_ = in.p.Logout(sh)
	_ = in.p.CloseSession(sh)

	_, err = k.mac(ctx, 0)
	if !errors.Is(err, secrets.ErrWrongPIN) || !errors.Is(err, hsmstore.ErrUnavailable) {
		t.Fatalf("call after the PIN changed: %v", err)
	}
	if n := logins(); n != 2 {
		t.Fatalf("%d C_Login calls, want 2 (the open and one re-login)", n)
	}
	for i := 0; i < 20; i++ {
		_, err1 := k.sign(ctx, i)
		_, err2 := s.Entry(ctx, "hmac")
		err3 := s.Ping(ctx)
		for _, err := range []error{err1, err2, err3} {
			if !errors.Is(err, secrets.ErrWrongPIN) {
				t.Fatalf("later call: %v", err)
			}
		}
	}
	if n := logins(); n != 2 {
		t.Fatalf("%d C_Login calls after 60 more calls, want still 2", n)
	}
	if st := s.Stats(); st.Up || st.FailedFast < 60 {
		t.Errorf("stats: %s", statsLine(st))
	}
	out := logBuf.String()
	if !strings.Contains(out, "rejected the PIN") {
		t.Errorf("no log event for the rejected PIN:\n%s", out)
	}
	for _, pin := range []string{newPIN, "pin=" + tok.PIN, "PIN=" + tok.PIN} {
		if strings.Contains(out, pin) {
			t.Errorf("the log holds a PIN (%q):\n%s", pin, out)
		}
	}
	// Put the PIN back for the token's other users (none here).
	_ = newInjector
}

// TestFaultTokenDirRemoved: the token's directory disappears from SoftHSM's token store
// (the HSM loses the token) while 8 goroutines sign and MAC, and comes back 1.5 s later.
// SoftHSM answers with invalid handles and empty searches while the session still says
// "logged in": hsmstore sees the token is gone (C_GetTokenInfo fails), re-initialises the
// module, finds no token and fails calls with ErrUnavailable until a reconnect attempt
// finds it again, then re-resolves the entries' handles.
func TestFaultTokenDirRemoved(t *testing.T) {
	watchdog(t, faultTestLimit)
	ctx := context.Background()
	tok := softhsmtest.New(t, "tokdir")
	const backoffMin, backoffMax = 50 * time.Millisecond, 400 * time.Millisecond
	s, err := hsmstore.Open(ctx, hsmstore.Config{Library: tok.Module, TokenLabel: tok.Label, PIN: tok.PIN,
		ReconnectBackoff: backoffMin, ReconnectBackoffMax: backoffMax})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	k := makeKeys(t, s)

	l := startLoad(8, mixed(k))
	time.Sleep(800 * time.Millisecond)
	removed := time.Now()
	restore := tok.RemoveDir(t)
	time.Sleep(750 * time.Millisecond)
	if err := s.Ping(ctx); !errors.Is(err, hsmstore.ErrUnavailable) {
		t.Errorf("Ping with the token gone: %v", err)
	}
	if _, err := s.Entry(ctx, "hmac"); errors.Is(err, secrets.ErrNotFound) || !errors.Is(err, hsmstore.ErrUnavailable) {
		t.Errorf("lookup with the token gone: %v (want ErrUnavailable, never ErrNotFound)", err)
	}
	time.Sleep(750 * time.Millisecond)
	restored := time.Now()
	restore()
	took := waitOK(t, 5*time.Second, func() error { _, err := k.mac(ctx, 0); return err })
	time.Sleep(time.Second)
	l.stop()
	l.check(t)
	st := s.Stats()
	t.Logf("calls=%d failed=%d (%v..%v after removal); recovered %v after the restore; %s",
		l.calls.Load(), l.fails.Load(), l.firstFail.Sub(removed).Round(time.Millisecond), l.lastFail.Sub(removed).Round(time.Millisecond), took.Round(time.Millisecond), statsLine(st))
	if l.fails.Load() == 0 {
		t.Fatal("no call failed while the token was gone")
	}
	if !l.lastFail.Before(restored.Add(backoffMax + 500*time.Millisecond)) {
		t.Errorf("calls still failed %v after the restore", l.lastFail.Sub(restored))
	}
	if maxAttempts := uint64(1500*time.Millisecond/backoffMin) + 3; st.FailedRecoveries > maxAttempts {
		t.Errorf("%d failed reconnect attempts (at most %d with the backoff)", st.FailedRecoveries, maxAttempts)
	}
	if err := s.Ping(ctx); err != nil {
		t.Errorf("Ping after the restore: %v", err)
	}
	if _, err := s.Entry(ctx, "rsa"); err != nil {
		t.Errorf("lookup after the restore: %v", err)
	}
}

// TestCloseInFlight: Close is idempotent, lets operations in flight finish (they succeed or
// fail with ErrClosed, nothing else), and a closed store's entries fail with ErrClosed.
func TestCloseInFlight(t *testing.T) {
	watchdog(t, faultTestLimit)
	ctx := context.Background()
	tok := softhsmtest.New(t, "close")
	s1 := open(t, tok)
	k := makeKeys(t, s1)
	s2, err := hsmstore.Open(ctx, hsmstore.Config{Library: tok.Module, TokenLabel: tok.Label, PIN: tok.PIN})
	if err != nil {
		t.Fatal(err)
	}
	k2 := &keys{hmac: secretOf(t, s2, "hmac"), hmacKey: k.hmacKey, rsa: secretOf(t, s2, "rsa"), rsaPub: k.rsaPub}
	g0 := runtime.NumGoroutine()
	var wg sync.WaitGroup
	var mu sync.Mutex
	var bad []error
	stop := make(chan struct{})
	for g := 0; g < 8; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				wrong, err := mixed(k2)(ctx, g, i)
				if wrong || (err != nil && !errors.Is(err, secrets.ErrClosed)) {
					mu.Lock()
					bad = append(bad, err)
					mu.Unlock()
				}
			}
		}()
	}
	time.Sleep(200 * time.Millisecond)
	if err := s1.Close(); err != nil { // not the last reference: s2 goes on
		t.Fatal(err)
	}
	if err := s1.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := k.mac(ctx, 0); !errors.Is(err, secrets.ErrClosed) {
		t.Fatalf("entry of a closed store: %v", err)
	}
	time.Sleep(200 * time.Millisecond)
	if err := s2.Close(); err != nil { // the last: waits for the calls in flight
		t.Fatal(err)
	}
	if err := s2.Close(); err != nil {
		t.Fatal(err)
	}
	close(stop)
	wg.Wait()
	if len(bad) > 0 {
		t.Fatalf("%d bad results, first: %v", len(bad), bad[0])
	}
	if err := s2.Ping(ctx); !errors.Is(err, secrets.ErrClosed) {
		t.Fatalf("Ping after Close: %v", err)
	}
	time.Sleep(100 * time.Millisecond)
	if g := runtime.NumGoroutine(); g > g0+2 {
		t.Errorf("%d goroutines after close, %d before", g, g0)
	}
}

// syncBuffer is a bytes.Buffer safe for a concurrent slog handler.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

var _ = crypto.SHA256

// TestFaultOneTokenAway: two tokens on one module (library). The first one's directory is
// removed: its calls fail with ErrUnavailable, and its reconnect attempts re-initialise the
// module for both, while the second token keeps answering, without a failed call; the
// first recovers when its directory is back.
func TestFaultOneTokenAway(t *testing.T) {
	watchdog(t, faultTestLimit)
	ctx := context.Background()
	tokA := softhsmtest.New(t, "away-a")
	tokB := softhsmtest.New(t, "away-b")
	cfg := func(tok *softhsmtest.Token) hsmstore.Config {
		return hsmstore.Config{Library: tok.Module, TokenLabel: tok.Label, PIN: tok.PIN,
			ReconnectBackoff: 100 * time.Millisecond, ReconnectBackoffMax: 200 * time.Millisecond}
	}
	sA, err := hsmstore.Open(ctx, cfg(tokA))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { sA.Close() })
	sB, err := hsmstore.Open(ctx, cfg(tokB))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { sB.Close() })
	kA, kB := makeKeys(t, sA), makeKeys(t, sB)
	lA, lB := startLoad(4, mixed(kA)), startLoad(4, mixed(kB))
	time.Sleep(300 * time.Millisecond)
	restore := tokA.RemoveDir(t)
	time.Sleep(1500 * time.Millisecond)
	if st := sA.Stats(); st.Up {
		t.Errorf("token A up while away: %s", statsLine(st))
	}
	if st := sB.Stats(); !st.Up {
		t.Errorf("token B down while only A is away: %s", statsLine(st))
	}
	restore()
	took := waitOK(t, 5*time.Second, func() error { _, err := kA.mac(ctx, 0); return err })
	time.Sleep(300 * time.Millisecond)
	lA.stop()
	lB.stop()
	lA.check(t)
	lB.check(t)
	stA, stB := sA.Stats(), sB.Stats()
	t.Logf("A: calls=%d failed=%d, recovered %v after the restore; %s", lA.calls.Load(), lA.fails.Load(), took.Round(time.Millisecond), statsLine(stA))
	t.Logf("B: calls=%d failed=%d; %s", lB.calls.Load(), lB.fails.Load(), statsLine(stB))
	if lA.fails.Load() == 0 {
		t.Error("no call on token A failed while it was away")
	}
	if n := lB.fails.Load(); n != 0 {
		t.Errorf("%d calls on token B failed (first: %v)", n, lB.failSample)
	}
	if stB.Reinits == 0 {
		t.Error("token B was not re-initialised with the module")
	}
}

// TestFaultLogoutDecrypt: AES-GCM Open and RSA decryption of valid ciphertexts under
// foreign logouts. A token says CKR_GENERAL_ERROR both for a bad tag and for a login lost
// in the middle of the call: a valid ciphertext must never be reported as failing
// verification.
func TestFaultLogoutDecrypt(t *testing.T) {
	watchdog(t, faultTestLimit)
	ctx := context.Background()
	tok := softhsmtest.New(t, "logout-dec")
	s := open(t, tok)
	k := makeKeys(t, s)
	gen(t, s, "aes", secrets.KeySpec{Kind: secrets.KindAES})
	aesS := secretOf(t, s, "aes")
	pt := []byte("attack at dawn")
	sealed, err := aesS.Seal(ctx, pt, nil)
	if err != nil {
		t.Fatal(err)
	}
	ct, err := rsa.EncryptPKCS1v15(rand.Reader, k.rsaPub, pt)
	if err != nil {
		t.Fatal(err)
	}
	in := newInjector(t, tok.Module, tok.Label)
	l := startLoad(8, func(ctx context.Context, g, i int) (bool, error) {
		var out []byte
		var err error
		if g%2 == 0 {
			out, err = aesS.Open(ctx, sealed, nil)
		} else {
			out, err = k.rsa.Decrypt(ctx, ct, nil)
		}
		if errors.Is(err, secrets.ErrVerification) {
			return true, err
		}
		return err == nil && !bytes.Equal(out, pt), err
	})
	for i := 0; i < 5; i++ {
		time.Sleep(250 * time.Millisecond)
		r := s.Stats().Recoveries
		in.Logout()
		awaitRecovery(t, s, r, l) // one logout at a time, however slow the machine
	}
	time.Sleep(250 * time.Millisecond)
	l.stop()
	l.check(t)
	st := s.Stats()
	t.Logf("calls=%d failed=%d; %s", l.calls.Load(), l.fails.Load(), statsLine(st))
	if n := l.fails.Load(); n != 0 {
		t.Errorf("%d calls failed (first: %v)", n, l.failSample)
	}
	if st.Recoveries < 5 {
		t.Errorf("%d recoveries for 5 logouts", st.Recoveries)
	}
}
