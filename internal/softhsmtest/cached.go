//go:build cgo

package softhsmtest

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/miekg/pkcs11"

	"github.com/secretstores/secretstores/internal/testenv"
)

// EnvCache names the environment variable that sets where Cached keeps built tokens: the
// default is a directory in os.TempDir(). scripts/bench points it (and TMPDIR) at a tmpfs:
// SoftHSM's file store writes each object through several small writes and a file lock,
// which a tmpfs makes about 20× faster than the build machine's disk.
const EnvCache = "SECRETSTORES_TOKEN_CACHE"

// Cached returns a token labelled label (unique in the process, at most 32 bytes) whose
// objects fill made, built once and kept in a cache directory under the name key (put a
// version in it: change the key when fill changes) and copied into this process's token
// directory (Main or Setup must have run). fill runs on a logged-in R/W user session of a
// fresh token, in a SoftHSM configured for the cache, so it can make thousands of objects
// without the process's other tokens; it runs at most once per key on the machine (until
// the cache is removed), and a partial build is never used.
//
// Like New, call it before this process initialises the module: building switches
// SOFTHSM2_CONF and initialises the module itself, and fails if it is already initialised.
func Cached(tb testing.TB, key, label string, fill func(p *pkcs11.Ctx, sh pkcs11.SessionHandle) error) *Token {
	tb.Helper()
	mod, err := Module()
	if err != nil {
		testenv.Missing(tb, testenv.SoftHSM, err.Error())
	}
	util, err := exec.LookPath("softhsm2-util")
	if err != nil {
		testenv.Missing(tb, testenv.SoftHSM, "softhsm2-util not found on PATH")
	}
	if len(label) > 32 || label == "" {
		tb.Fatalf("softhsmtest: token label %q: want 1 to 32 bytes", label)
	}
	if !regexp.MustCompile(`^[A-Za-z0-9._-]+$`).MatchString(key) {
		tb.Fatalf("softhsmtest: cache key %q: want letters, digits, '.', '_' or '-'", key)
	}
	state.mu.Lock()
	defer state.mu.Unlock()
	if state.dir == "" {
		tb.Fatal("softhsmtest: call softhsmtest.Main(m) (or Setup) from TestMain: SOFTHSM2_CONF is per process")
	}
	root := os.Getenv(EnvCache)
	if root == "" {
		root = filepath.Join(os.TempDir(), "secretstores-tokens")
	}
	if err := os.MkdirAll(root, 0o700); err != nil {
		tb.Fatalf("softhsmtest: token cache: %v", err)
	}
	done := filepath.Join(root, key)
	if _, err := os.Stat(done); err != nil {
		if err := build(mod, root, done, label, fill); err != nil {
			tb.Fatalf("softhsmtest: building cached token %s: %v", key, err)
		}
	}
	// The cache holds one token directory (named by SoftHSM) under done/tokens.
	ents, err := os.ReadDir(filepath.Join(done, "tokens"))
	if err != nil || len(ents) != 1 || !ents[0].IsDir() {
		tb.Fatalf("softhsmtest: cached token %s in %s is not one token directory (%v): remove it", key, done, err)
	}
	dst := filepath.Join(state.dir, "tokens", ents[0].Name())
	if _, err := os.Stat(dst); err == nil {
		tb.Fatalf("softhsmtest: cached token %s is already in this process", key)
	}
	if err := copyDir(filepath.Join(done, "tokens", ents[0].Name()), dst); err != nil {
		tb.Fatalf("softhsmtest: copying cached token %s: %v", key, err)
	}
	slot, serial, err := slotOf(util, label)
	if err != nil {
		tb.Fatalf("softhsmtest: %v", err)
	}
	return &Token{Module: mod, Label: label, Serial: serial, SlotID: slot, PIN: PIN, SOPIN: SOPIN, Conf: state.conf}
}

// build makes the token in a fresh directory under root, then renames it to done.
func build(mod, root, done, label string, fill func(p *pkcs11.Ctx, sh pkcs11.SessionHandle) error) (err error) {
	tmp, err := os.MkdirTemp(root, "build-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp) // after a successful rename, nothing is left to remove
	tokdir := filepath.Join(tmp, "tokens")
	if err := os.Mkdir(tokdir, 0o700); err != nil {
		return err
	}
	conf := filepath.Join(tmp, "softhsm2.conf")
	if err := os.WriteFile(conf, []byte("directories.tokendir = "+tokdir+"\nobjectstore.backend = file\nlog.level = ERROR\nslots.removable = false\n"), 0o600); err != nil {
		return err
	}
	old, had := os.LookupEnv("SOFTHSM2_CONF")
	os.Setenv("SOFTHSM2_CONF", conf)
	defer func() {
		if had {
			os.Setenv("SOFTHSM2_CONF", old)
		} else {
			os.Unsetenv("SOFTHSM2_CONF")
		}
	}()
	p := pkcs11.New(mod)
	if p == nil {
		return fmt.Errorf("cannot load %s", mod)
	}
	defer p.Destroy()
	if err := p.Initialize(); err != nil {
		if errors.Is(err, pkcs11.Error(pkcs11.CKR_CRYPTOKI_ALREADY_INITIALIZED)) {
			return errors.New("the module is already initialised in this process: build cached tokens first (run the benchmark alone)")
		}
		return fmt.Errorf("C_Initialize: %w", err)
	}
	defer p.Finalize()
	slots, err := p.GetSlotList(true)
	if err != nil || len(slots) == 0 {
		return fmt.Errorf("no free slot: %v", err)
	}
	if err := p.InitToken(slots[0], SOPIN, label); err != nil {
		return fmt.Errorf("C_InitToken: %w", err)
	}
	// SoftHSM renumbers the slot of an initialised token.
	if slots, err = p.GetSlotList(true); err != nil {
		return err
	}
	slot, found := uint(0), false
	for _, s := range slots {
		if ti, err := p.GetTokenInfo(s); err == nil && ti.Label == label {
			slot, found = s, true
		}
	}
	if !found {
		return errors.New("the initialised token is not listed")
	}
	sh, err := p.OpenSession(slot, pkcs11.CKF_SERIAL_SESSION|pkcs11.CKF_RW_SESSION)
	if err != nil {
		return err
	}
	if err := p.Login(sh, pkcs11.CKU_SO, SOPIN); err != nil {
		return fmt.Errorf("C_Login SO: %w", err)
	}
	if err := p.InitPIN(sh, PIN); err != nil {
		return fmt.Errorf("C_InitPIN: %w", err)
	}
	if err := p.Logout(sh); err != nil {
		return err
	}
	if err := p.Login(sh, pkcs11.CKU_USER, PIN); err != nil {
		return fmt.Errorf("C_Login: %w", err)
	}
	if err := fill(p, sh); err != nil {
		return err
	}
	if err := p.CloseSession(sh); err != nil {
		return err
	}
	os.Remove(conf)
	if err := os.Rename(tmp, done); err != nil {
		if _, serr := os.Stat(done); serr == nil {
			return nil // another process built it meanwhile
		}
		return err
	}
	return nil
}

func copyDir(src, dst string) error {
	return filepath.WalkDir(src, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, path)
		to := filepath.Join(dst, rel)
		if d.IsDir() {
			return os.MkdirAll(to, 0o700)
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		return os.WriteFile(to, b, 0o600)
	})
}

// slotOf reads the slot and serial of the token labelled label from softhsm2-util --show-slots.
func slotOf(util, label string) (uint, string, error) {
	out, err := exec.Command(util, "--show-slots").CombinedOutput()
	if err != nil {
		return 0, "", fmt.Errorf("softhsm2-util --show-slots: %v: %s", err, out)
	}
	var slot uint
	var serial string
	for _, line := range strings.Split(string(out), "\n") {
		line = strings.TrimSpace(line)
		switch {
		case strings.HasPrefix(line, "Slot "):
			n, _ := strconv.ParseUint(strings.TrimSpace(strings.TrimPrefix(line, "Slot ")), 10, 64)
			slot = uint(n)
		case strings.HasPrefix(line, "Serial number:"):
			serial = strings.TrimSpace(strings.TrimPrefix(line, "Serial number:"))
		case strings.HasPrefix(line, "Label:"):
			if strings.TrimSpace(strings.TrimPrefix(line, "Label:")) == label {
				return slot, serial, nil
			}
		}
	}
	return 0, "", errors.New("token " + label + " not listed by softhsm2-util --show-slots")
}
