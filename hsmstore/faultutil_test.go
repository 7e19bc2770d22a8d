//go:build cgo

package hsmstore_test

import (
	"context"
	"crypto"
	"crypto/hmac"
	"crypto/rsa"
	"crypto/sha256"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/miekg/pkcs11"

	"github.com/secretstores/secretstores/hsmstore"
	"github.com/secretstores/secretstores/internal/softhsmtest"
	"github.com/secretstores/secretstores/secrets"
)

// An injector is a second handle on a PKCS#11 library already loaded by the store under
// test: the same module instance (dlopen returns the same library), hence the same
// application for the token, as another component of the service would be. Its C_Logout
// logs the store out; its C_CloseAllSessions closes the store's sessions.
type injector struct {
	t    testing.TB
	p    *pkcs11.Ctx
	slot uint
}

func newInjector(t testing.TB, lib, label string) *injector {
	t.Helper()
	p := pkcs11.New(lib)
	if p == nil {
		t.Fatalf("load %s", lib)
	}
	if err := p.Initialize(); err == nil {
		t.Fatal("the module was not initialised: open the store first")
	}
	slots, err := p.GetSlotList(true)
	if err != nil {
		t.Fatal(err)
	}
	in := &injector{t: t, p: p}
	found := false
	for _, s := range slots {
		if ti, err := p.GetTokenInfo(s); err == nil && ti.Label == label {
			in.slot, found = s, true
		}
	}
	if !found {
		t.Fatalf("token %s not found", label)
	}
	t.Cleanup(p.Destroy) // dlclose only: never C_Finalize the store's module
	return in
}

// Logout logs the application out, as another component calling C_Logout would.
func (in *injector) Logout() {
	sh, err := in.p.OpenSession(in.slot, pkcs11.CKF_SERIAL_SESSION)
	if err != nil {
		in.t.Errorf("injector: open session: %v", err)
		return
	}
	if err := in.p.Logout(sh); err != nil && !errors.Is(err, pkcs11.Error(pkcs11.CKR_USER_NOT_LOGGED_IN)) {
		in.t.Errorf("injector: C_Logout: %v", err)
	}
	_ = in.p.CloseSession(sh)
}

// CloseAll closes every session of the application on the token.
func (in *injector) CloseAll() {
	if err := in.p.CloseAllSessions(in.slot); err != nil {
		in.t.Errorf("injector: C_CloseAllSessions: %v", err)
	}
}

// Sessions counts the application's open sessions on the token by asking the token about
// every handle up to 1024 (SoftHSM reports no session count in C_GetTokenInfo).
func (in *injector) Sessions() int { return countSessions(in.p, in.slot) }

func countSessions(p *pkcs11.Ctx, slot uint) int {
	n := 0
	for h := pkcs11.SessionHandle(1); h <= 1024; h++ {
		if info, err := p.GetSessionInfo(h); err == nil && info.SlotID == slot {
			n++
		}
	}
	return n
}

// fixtureKeys generates an extractable HMAC key and an RSA key and returns Secrets for them
// with what checks their results.
type keys struct {
	hmac    *secrets.Secret
	hmacKey []byte
	rsa     *secrets.Secret
	rsaPub  *rsa.PublicKey
}

func makeKeys(t testing.TB, s *hsmstore.Store) *keys {
	t.Helper()
	ctx := context.Background()
	gen(t, s, "hmac", secrets.KeySpec{Kind: secrets.KindSecret, Extractable: true})
	gen(t, s, "rsa", secrets.KeySpec{Kind: secrets.KindRSA})
	k := &keys{hmac: secretOf(t, s, "hmac"), rsa: secretOf(t, s, "rsa")}
	var err error
	if k.hmacKey, err = k.hmac.Export(ctx); err != nil {
		t.Fatal(err)
	}
	k.rsaPub = k.rsa.Public().(*rsa.PublicKey)
	return k
}

// mac computes an HMAC in the token and checks it against crypto/hmac.
func (k *keys) mac(ctx context.Context, i int) (wrong bool, err error) {
	msg := []byte("message " + strconv.Itoa(i))
	tag, err := k.hmac.MAC(ctx, crypto.SHA256, msg)
	if err != nil {
		return false, err
	}
	m := hmac.New(sha256.New, k.hmacKey)
	m.Write(msg)
	return !hmac.Equal(tag, m.Sum(nil)), nil
}

// sign signs in the token and verifies with the certificate's key.
func (k *keys) sign(ctx context.Context, i int) (wrong bool, err error) {
	d := sha256.Sum256([]byte("message " + strconv.Itoa(i)))
	sig, err := k.rsa.Sign(ctx, d[:], crypto.SHA256)
	if err != nil {
		return false, err
	}
	return rsa.VerifyPKCS1v15(k.rsaPub, crypto.SHA256, d[:], sig) != nil, nil
}

// watchdog ends the test binary with a report of the hang when the test still runs after
// limit, instead of letting it hang until go test's -timeout: a test whose goroutine is
// stuck in a call cannot fail on its own.
func watchdog(t testing.TB, limit time.Duration) {
	name := t.Name()
	tm := time.AfterFunc(limit, func() { hung(fmt.Sprintf("%s still running after %v", name, limit)) })
	t.Cleanup(func() { tm.Stop() })
}

// stallLimit is how long a load may go without finishing a call before it is a hang: an
// outage makes calls fail fast, and a call waits at most PoolWaitTimeout (30 s) for a
// session.
const stallLimit = 60 * time.Second

// hung prints every goroutine's stack and, where gdb is installed, every thread's native
// stack (a hang inside a PKCS#11 module shows only there: Go shows the cgo call, not the
// lock it waits for), then panics, which fails the test binary. It writes to stderr:
// output given to t.Log is lost when the binary dies.
func hung(what string) {
	buf := make([]byte, 16<<20)
	buf = buf[:runtime.Stack(buf, true)]
	fmt.Fprintf(os.Stderr, "\n=== WATCHDOG: %s: a hang\n\n=== goroutines:\n%s\n", what, buf)
	if gdb, err := exec.LookPath("gdb"); err == nil {
		// gdb needs the right to ptrace this process (root, or kernel.yama.ptrace_scope=0).
		cmd := exec.Command(gdb, "-p", strconv.Itoa(os.Getpid()), "-batch", "-nx", "-ex", "thread apply all bt")
		out := make(chan []byte, 1)
		go func() { b, _ := cmd.CombinedOutput(); out <- b }()
		select {
		case b := <-out:
			fmt.Fprintf(os.Stderr, "=== native stacks (gdb):\n%s\n", b)
		case <-time.After(90 * time.Second):
			fmt.Fprintln(os.Stderr, "=== gdb did not finish within 90s")
		}
	}
	panic("watchdog: " + what)
}

// A load runs operations from n goroutines until stopped and records what happened. When
// no call finishes for stallLimit while it runs, it reports a hang (see hung).
type load struct {
	calls, fails, wrong atomic.Int64
	mu                  sync.Mutex
	undocumented        []error
	firstFail, lastFail time.Time
	lastOK              time.Time
	failSample          error
	wg                  sync.WaitGroup
	cancel              context.CancelFunc
	// gate is held for reading by every call; pause takes it for writing.
	gate sync.RWMutex
}

// pause runs f while no call is inside the token. SoftHSM 2.6 is not safe against
// C_CloseAllSessions while another thread runs a call on one of those sessions (a
// use-after-free: the process crashes), so that fault is injected between calls: the
// traffic goes on, and the next calls find their sessions gone.
func (l *load) pause(f func()) {
	l.gate.Lock()
	defer l.gate.Unlock()
	f()
}

// documented reports whether err is an error the package documents for an outage.
func documented(err error) bool {
	return errors.Is(err, hsmstore.ErrUnavailable)
}

func startLoad(n int, op func(ctx context.Context, g, i int) (bool, error)) *load {
	ctx, cancel := context.WithCancel(context.Background())
	l := &load{cancel: cancel}
	go func() {
		tick := time.NewTicker(time.Second)
		defer tick.Stop()
		last, since := int64(-1), time.Now()
		for {
			select {
			case <-ctx.Done():
				return
			case <-tick.C:
			}
			if n := l.calls.Load(); n != last {
				last, since = n, time.Now()
			} else if time.Since(since) > stallLimit {
				hung(fmt.Sprintf("no call of the load finished for %v (%d calls before)", stallLimit, n))
			}
		}
	}()
	for g := 0; g < n; g++ {
		l.wg.Add(1)
		go func() {
			defer l.wg.Done()
			for i := 0; ctx.Err() == nil; i++ {
				l.gate.RLock()
				wrong, err := op(ctx, g, i)
				l.gate.RUnlock()
				if ctx.Err() != nil && errors.Is(err, context.Canceled) {
					return
				}
				l.calls.Add(1)
				now := time.Now()
				switch {
				case wrong:
					l.wrong.Add(1)
					l.mu.Lock()
					if len(l.undocumented) < 10 {
						l.undocumented = append(l.undocumented, fmt.Errorf("WRONG result (goroutine %d, call %d): %v", g, i, err))
					}
					l.mu.Unlock()
				case err != nil:
					l.fails.Add(1)
					l.mu.Lock()
					if l.firstFail.IsZero() {
						l.firstFail = now
					}
					l.lastFail = now
					if l.failSample == nil {
						l.failSample = err
					}
					if !documented(err) && len(l.undocumented) < 10 {
						l.undocumented = append(l.undocumented, err)
					}
					l.mu.Unlock()
					time.Sleep(5 * time.Millisecond) // a caller's pause, not a spin
				default:
					l.mu.Lock()
					l.lastOK = now
					l.mu.Unlock()
				}
			}
		}()
	}
	return l
}

func (l *load) stop() {
	l.cancel()
	l.wg.Wait()
}

// check asserts no wrong answer and only documented errors.
func (l *load) check(t *testing.T) {
	t.Helper()
	if n := l.wrong.Load(); n != 0 {
		t.Errorf("%d wrong results", n)
	}
	for _, err := range l.undocumented {
		t.Errorf("wrong result or undocumented error (want one wrapping hsmstore.ErrUnavailable): %v", err)
	}
	if l.calls.Load() == 0 {
		t.Error("no calls made")
	}
}

// waitOK waits until op succeeds, returning how long it took.
func waitOK(t *testing.T, limit time.Duration, op func() error) time.Duration {
	t.Helper()
	start := time.Now()
	var err error
	for time.Since(start) < limit {
		if err = op(); err == nil {
			return time.Since(start)
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatalf("no success within %v: %v", limit, err)
	return 0
}

func statsLine(st hsmstore.Stats) string {
	return fmt.Sprintf("ops=%d errors=%d faults=%d recoveries=%d failed_recoveries=%d relogins=%d reinits=%d retries=%d failed_fast=%d pool_waits=%d sessions=%d up=%v",
		st.Operations, st.Errors, st.Faults, st.Recoveries, st.FailedRecoveries, st.Relogins, st.Reinits, st.Retries, st.FailedFast, st.PoolWaits, st.Sessions, st.Up)
}

var _ = softhsmtest.PIN

// awaitRecovery waits until the store has recovered once more than before and the load has
// made a few calls since, so that the next injected fault meets a recovered token: on a
// loaded machine two faults 250 ms apart could otherwise land before any call noticed the
// first (one recovery for two faults, or a call retried into the second fault).
func awaitRecovery(t *testing.T, s *hsmstore.Store, before uint64, l *load) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for s.Stats().Recoveries <= before {
		if time.Now().After(deadline) {
			t.Fatalf("no recovery within 30 s of the fault (%s)", statsLine(s.Stats()))
		}
		time.Sleep(5 * time.Millisecond)
	}
	calls := l.calls.Load()
	for l.calls.Load() < calls+8 && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
}
