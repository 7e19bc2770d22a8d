//go:build cgo

package p11test_test

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"runtime"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/miekg/pkcs11"

	"github.com/secretstores/secretstores/internal/p11test"
)

func TestMain(m *testing.M) { p11test.Main(m) }

// checkToken loads tok's module, finds tok's slot by what C_GetTokenInfo reports (label,
// serial, model), logs in with tok.PIN and counts the objects it sees.
func checkToken(t *testing.T, p *pkcs11.Ctx, tok *p11test.Token) (objects int) {
	t.Helper()
	ids, err := p.GetSlotList(true)
	if err != nil {
		t.Fatal(err)
	}
	var found bool
	for _, id := range ids {
		ti, err := p.GetTokenInfo(id)
		if err != nil {
			t.Fatal(err)
		}
		if id != tok.SlotID {
			continue
		}
		found = true
		got := [3]string{strings.TrimRight(ti.Label, " "), strings.TrimRight(ti.SerialNumber, " "), strings.TrimRight(ti.Model, " \x00")}
		if want := [3]string{tok.Label, tok.Serial, tok.Model}; got != want {
			t.Fatalf("slot %d: (label, serial, model) = %q, want %q", id, got, want)
		}
	}
	if !found {
		t.Fatalf("%s: slot %d not in C_GetSlotList %v", tok, tok.SlotID, ids)
	}
	sh, err := p.OpenSession(tok.SlotID, pkcs11.CKF_SERIAL_SESSION|pkcs11.CKF_RW_SESSION)
	if err != nil {
		t.Fatal(err)
	}
	defer p.CloseSession(sh)
	if tok.PIN != "" {
		if err := p.Login(sh, pkcs11.CKU_USER, tok.PIN); err != nil {
			t.Fatalf("%s: C_Login: %v", tok, err)
		}
		defer p.Logout(sh)
	}
	if err := p.FindObjectsInit(sh, nil); err != nil {
		t.Fatal(err)
	}
	objs, _, err := p.FindObjects(sh, 1000)
	p.FindObjectsFinal(sh)
	if err != nil {
		t.Fatal(err)
	}
	return len(objs)
}

// TestModules: each module comes up, its token is where the harness says, and logs in.
// opencryptoki is checked in TestOpenCryptokiFresh (in child processes, which take its
// machine-wide lock one after the other).
func TestModules(t *testing.T) {
	t.Run(p11test.SoftHSM, func(t *testing.T) {
		a, b := p11test.NewSoftHSM(t, "a"), p11test.NewSoftHSM(t, "b")
		p := a.Module.Load(t)
		checkToken(t, p, a)
		checkToken(t, p, b)
	})
	t.Run(p11test.TPM2, func(t *testing.T) {
		a, b := p11test.NewTPM2Token(t, "a"), p11test.NewTPM2Token(t, "b")
		if a.Serial != b.Serial || a.SlotID == b.SlotID {
			t.Fatalf("want two tpm2 tokens with one serial in two slots: %v %v", a, b)
		}
		a.AddKey(t, "hmac-a", p11test.TPMHMACSHA256)
		a.AddKey(t, "hmac-a", p11test.TPMHMACSHA256) // once per run: no second key
		p := a.Module.Load(t)
		if n := checkToken(t, p, a); n != 1 {
			t.Fatalf("tpm2 token a: %d objects after one AddKey, want 1", n)
		}
		if n := checkToken(t, p, b); n != 0 {
			t.Fatalf("tpm2 token b: %d objects, want 0", n)
		}
	})
	t.Run(p11test.NSS, func(t *testing.T) {
		db, cs := p11test.NSSToken(t), p11test.NSSCryptoToken(t)
		if db.Module != cs.Module || db.Serial != cs.Serial {
			t.Fatalf("want NSS's two slots on one module with one serial: %v %v", db, cs)
		}
		// Without its init arguments softokn refuses to start.
		p := pkcs11.New(db.Module.Path)
		err := p.Initialize()
		if !errors.Is(err, pkcs11.Error(pkcs11.CKR_ARGUMENTS_BAD)) {
			if err == nil {
				p.Finalize()
			}
			t.Fatalf("NSS C_Initialize without init args: %v, want CKR_ARGUMENTS_BAD", err)
		}
		p.Destroy()
		p = db.Module.Load(t)
		checkToken(t, p, db)
		checkToken(t, p, cs)
	})
	t.Run(p11test.NSSP11Kit, func(t *testing.T) {
		tok := p11test.NSSP11KitToken(t)
		if tok.Module.InitArgs != "" {
			t.Fatal("p11-kit-client.so takes no init arguments; the server passes softokn's")
		}
		checkToken(t, tok.Module.Load(t), tok)
	})
}

const childEnv = "P11TEST_CHILD"

// child runs this test binary's test named test in a child process with P11TEST_CHILD=mode.
func child(test, mode string) *exec.Cmd {
	cmd := exec.Command(os.Args[0], "-test.run=^"+test+"$", "-test.v", "-test.count=1")
	cmd.Env = append(os.Environ(), childEnv+"="+mode)
	return cmd
}

// TestOpenCryptokiFresh: opencryptoki's token is machine-wide, so the harness wipes and
// re-initialises it under a lock. Two test binaries run at once; each finds an empty
// token with the harness's PINs, then leaves an object behind and changes the user PIN.
// With the lock they take turns (each sees its own single object throughout); without
// it one would wipe the other's token under it.
func TestOpenCryptokiFresh(t *testing.T) {
	if os.Getenv(childEnv) == "ock" {
		tok := p11test.OpenCryptokiToken(t)
		p := tok.Module.Load(t)
		if n := countOck(t, p, tok, tok.PIN); n != 0 {
			t.Fatalf("fresh token has %d objects", n)
		}
		sh, err := p.OpenSession(tok.SlotID, pkcs11.CKF_SERIAL_SESSION|pkcs11.CKF_RW_SESSION)
		if err != nil {
			t.Fatal(err)
		}
		if err := p.Login(sh, pkcs11.CKU_USER, tok.PIN); err != nil {
			t.Fatal(err)
		}
		if _, err := p.CreateObject(sh, []*pkcs11.Attribute{
			pkcs11.NewAttribute(pkcs11.CKA_CLASS, pkcs11.CKO_DATA),
			pkcs11.NewAttribute(pkcs11.CKA_TOKEN, true),
			pkcs11.NewAttribute(pkcs11.CKA_LABEL, "stale"),
			pkcs11.NewAttribute(pkcs11.CKA_VALUE, []byte("x")),
		}); err != nil {
			t.Fatal(err)
		}
		if err := p.SetPIN(sh, tok.PIN, "9999"); err != nil {
			t.Fatal(err)
		}
		p.Logout(sh)
		p.CloseSession(sh)
		time.Sleep(300 * time.Millisecond) // the other binary, unlocked, would wipe now
		if n := countOck(t, p, tok, "9999"); n != 1 {
			t.Fatalf("token has %d objects, want the 1 this process made", n)
		}
		return
	}
	var wg sync.WaitGroup
	outs := make([][]byte, 2)
	errs := make([]error, 2)
	for i := range outs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			outs[i], errs[i] = child("TestOpenCryptokiFresh", "ock").CombinedOutput()
		}()
	}
	wg.Wait()
	for i := range outs {
		if errs[i] != nil || !strings.Contains(string(outs[i]), "--- PASS") {
			t.Errorf("child %d: %v\n%s", i, errs[i], outs[i])
		}
	}
}

func countOck(t *testing.T, p *pkcs11.Ctx, tok *p11test.Token, pin string) int {
	t.Helper()
	c := *tok
	c.PIN = pin
	return checkToken(t, p, &c)
}

// TestDaemonsStopped: the daemons of a test binary stop when it ends, by Shutdown when it
// exits and by the kernel (parent-death signal) when it is killed.
func TestDaemonsStopped(t *testing.T) {
	if mode := os.Getenv(childEnv); mode == "exit" || mode == "kill" {
		if mode == "kill" { // the TPM's daemons take seconds to start: once is enough
			p11test.NewTPM2Token(t, "d")
		}
		p11test.NSSP11KitToken(t)
		b, _ := json.Marshal(p11test.Daemons())
		fmt.Printf("daemons %s\n", b)
		if mode == "kill" {
			time.Sleep(time.Minute)
		}
		return
	}
	if runtime.GOOS != "linux" {
		t.Skip("the parent-death signal is Linux's")
	}
	// Skips or fails here as the child would, when the programs are missing.
	p11test.SharedToken(t, p11test.NSSP11Kit)
	for _, mode := range []string{"exit", "kill"} {
		t.Run(mode, func(t *testing.T) {
			cmd := child("TestDaemonsStopped", mode)
			out, err := cmd.StdoutPipe()
			if err != nil {
				t.Fatal(err)
			}
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			defer cmd.Wait()
			defer cmd.Process.Kill()
			var pids map[string]int
			sc := bufio.NewScanner(out)
			var lines []string
			for pids == nil && sc.Scan() {
				lines = append(lines, sc.Text())
				if js, ok := strings.CutPrefix(sc.Text(), "daemons "); ok {
					if err := json.Unmarshal([]byte(js), &pids); err != nil {
						t.Fatal(err)
					}
				}
			}
			if want := map[string]int{"exit": 1, "kill": 4}[mode]; len(pids) != want {
				t.Fatalf("want %d daemons (the p11-kit server; with kill also swtpm, dbus-daemon and tpm2-abrmd), got %v\n%s", want, pids, strings.Join(lines, "\n"))
			}
			go io.Copy(io.Discard, out)
			if mode == "kill" {
				if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
					t.Fatal(err)
				}
			}
			deadline := time.Now().Add(10 * time.Second)
			for name, pid := range pids {
				for alive(pid) {
					if time.Now().After(deadline) {
						syscall.Kill(-pid, syscall.SIGKILL)
						t.Fatalf("%s (pid %d) outlived the test binary (%s)", name, pid, mode)
					}
					time.Sleep(20 * time.Millisecond)
				}
			}
		})
	}
}

// alive reports whether pid runs (a zombie does not).
func alive(pid int) bool {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return false
	}
	_, rest, _ := strings.Cut(string(b), ") ")
	return !strings.HasPrefix(rest, "Z")
}
