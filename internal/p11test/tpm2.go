package p11test

import (
	"bufio"
	"fmt"
	"net"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/secretstores/secretstores/internal/testenv"
)

// tpmState is the software TPM of this test binary: swtpm, a private D-Bus session bus and
// tpm2-abrmd on it, and a tpm2-pkcs11 store directory.
type tpmState struct {
	mod   *Module
	ptool string
	env   []string // for tpm2_ptool and tpm2-tools

	mu     sync.Mutex
	labels int
	keys   map[string]bool // "label/alias" made by AddKey
}

var tpm struct {
	once
	st *tpmState
}

// NewTPM2Token adds a token to this binary's software TPM (started on first use: swtpm on
// a free loopback port, a private dbus-daemon, tpm2-abrmd --session --allow-root,
// dictionary-attack lockout off, tpm2_ptool init) with tpm2_ptool addtoken, labelled label
// plus a unique suffix ("" means "tpm"), with PIN and SOPIN. Every tpm2-pkcs11 token has
// serial 0000000000000000. Adding a token takes seconds: share tokens between tests where
// you can. tpm2-pkcs11 reads its token list when it is initialised: add tokens before a test
// opens the module.
func NewTPM2Token(tb testing.TB, label string) *Token {
	tb.Helper()
	tpm.do(tb, testenv.TPM2, func() (string, error) {
		st, miss, err := tpmUp()
		tpm.st = st
		return miss, err
	})
	st := tpm.st
	if label == "" {
		label = "tpm"
	}
	st.mu.Lock()
	st.labels++
	label = label + "-" + strconv.Itoa(st.labels)
	st.mu.Unlock()
	if len(label) > 32 {
		tb.Fatalf("p11test: token label %q longer than 32 bytes", label)
	}
	if _, err := run(st.env, "", st.ptool, "addtoken", "--pid=1", "--label="+label, "--userpin="+PIN, "--sopin="+SOPIN); err != nil {
		tb.Fatalf("p11test: tpm2_ptool: %v", err)
	}
	out, err := run(st.env, "", st.ptool, "listtokens", "--pid=1")
	if err != nil {
		tb.Fatalf("p11test: tpm2_ptool: %v", err)
	}
	id, err := tpmTokenSlot(string(out), label)
	if err != nil {
		tb.Fatalf("p11test: %v", err)
	}
	return &Token{Module: st.mod, Label: label, Serial: "0000000000000000", Model: "SW   TPM", SlotID: id, PIN: PIN, SOPIN: SOPIN, tpm: st}
}

// tpmTokenSlot finds the slot ID of the token labelled label in tpm2_ptool listtokens'
// YAML ("- id: N" then "  label: L"): tpm2-pkcs11 numbers slots by token id.
func tpmTokenSlot(out, label string) (uint, error) {
	id := -1
	sc := bufio.NewScanner(strings.NewReader(out))
	for sc.Scan() {
		line := strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(sc.Text()), "- "))
		k, v, ok := strings.Cut(line, ":")
		if !ok {
			continue
		}
		v = strings.TrimSpace(v)
		switch k {
		case "id":
			id, _ = strconv.Atoi(v)
		case "label":
			if v == label && id >= 0 {
				return uint(id), nil
			}
		}
	}
	return 0, fmt.Errorf("tpm2_ptool listtokens does not list %q: %s", label, out)
}

// TPM2 key algorithms of AddKey (tpm2_ptool addkey --algorithm).
const (
	TPMRSA2048    = "rsa2048"
	TPMECP256     = "ecc256"
	TPMAES256     = "aes256"
	TPMHMACSHA256 = "hmac:sha256"
)

// AddKey creates a key in the TPM token with tpm2_ptool addkey, labelled alias with CKA_ID
// alias (keytool's layout for a key pair is CKA_ID = alias; a secret key is found by
// label), once per test binary: a second call with the same alias does nothing. algorithm
// is one of the TPM* constants (or another tpm2_ptool algorithm). tpm2-pkcs11 cannot
// generate secret keys through PKCS#11 (no C_GenerateKey), so this is how a TPM token gets
// them. The module reads the objects at login: add keys before a test opens it.
func (t *Token) AddKey(tb testing.TB, alias, algorithm string) {
	tb.Helper()
	if t.tpm == nil {
		tb.Fatalf("p11test: AddKey is for tpm2 tokens, not %s", t)
	}
	st := t.tpm
	st.mu.Lock()
	defer st.mu.Unlock()
	k := t.Label + "/" + alias
	if st.keys[k] {
		return
	}
	if _, err := run(st.env, "", st.ptool, "addkey", "--label="+t.Label, "--key-label="+alias, "--id="+alias, "--userpin="+t.PIN, "--algorithm="+algorithm); err != nil {
		tb.Fatalf("p11test: tpm2_ptool: %v", err)
	}
	st.keys[k] = true
}

func tpmUp() (*tpmState, string, error) {
	lib, err := findLib("TPM2_PKCS11_MODULE", "pkcs11/libtpm2_pkcs11.so", "libtpm2_pkcs11.so.1", "libtpm2_pkcs11.so")
	if err != nil {
		return nil, err.Error(), nil
	}
	progs := map[string]string{}
	for _, p := range []string{"swtpm", "dbus-daemon", "tpm2-abrmd", "tpm2_ptool", "tpm2_dictionarylockout"} {
		path, err := lookPath(p)
		if err != nil {
			return nil, err.Error(), nil
		}
		progs[p] = path
	}
	dir, err := tempDir("p11test-tpm-")
	if err != nil {
		return nil, "", err
	}
	// swtpm: a TPM 2.0 on loopback. The swtpm TCTI sends control commands to port+1.
	var port int
	var sw *daemon
	for attempt := 0; ; attempt++ {
		port, err = freePortPair()
		if err != nil {
			return nil, "", err
		}
		sw, err = startDaemon("swtpm", nil, nil, progs["swtpm"], "socket", "--tpm2",
			"--tpmstate", "dir="+dir,
			"--server", "type=tcp,bindaddr=127.0.0.1,port="+strconv.Itoa(port),
			"--ctrl", "type=tcp,bindaddr=127.0.0.1,port="+strconv.Itoa(port+1),
			"--flags", "not-need-init,startup-clear")
		if err != nil {
			return nil, "", err
		}
		err = sw.waitFor(10*time.Second, func() error {
			c, err := net.Dial("tcp", "127.0.0.1:"+strconv.Itoa(port))
			if err == nil {
				c.Close()
			}
			return err
		})
		if err == nil {
			break
		}
		sw.stop()
		if attempt == 2 { // the port was taken between freePortPair and swtpm's bind
			return nil, "", err
		}
	}
	// A private session bus for tpm2-abrmd, the resource manager (swtpm alone has 3
	// transient object slots: too few for tpm2_ptool).
	bus := "unix:path=" + filepath.Join(dir, "bus")
	db, err := startDaemon("dbus-daemon", nil, nil, progs["dbus-daemon"], "--session", "--nofork", "--nopidfile", "--address="+bus)
	if err != nil {
		return nil, "", err
	}
	if err := db.waitFor(10*time.Second, func() error {
		c, err := net.Dial("unix", filepath.Join(dir, "bus"))
		if err == nil {
			c.Close()
		}
		return err
	}); err != nil {
		return nil, "", err
	}
	busEnv := []string{"DBUS_SESSION_BUS_ADDRESS=" + bus}
	ab, err := startDaemon("tpm2-abrmd", busEnv, nil, progs["tpm2-abrmd"], "--session", "--allow-root", "--tcti=swtpm:host=127.0.0.1,port="+strconv.Itoa(port))
	if err != nil {
		return nil, "", err
	}
	store := filepath.Join(dir, "store")
	if err := mkdir(store); err != nil {
		return nil, "", err
	}
	const tcti = "tabrmd:bus_type=session"
	modEnv := append(busEnv, "TPM2_PKCS11_STORE="+store, "TPM2_PKCS11_TCTI="+tcti, "TPM2_PKCS11_LOG_LEVEL=0")
	toolEnv := append(append([]string(nil), modEnv...), "TPM2TOOLS_TCTI="+tcti)
	// Dictionary-attack lockout off: every wrong user PIN would count, three lock the TPM
	// for 1000 s. This is also the wait for tpm2-abrmd to own its bus name.
	if err := ab.waitFor(15*time.Second, func() error {
		_, err := run(toolEnv, "", progs["tpm2_dictionarylockout"], "--setup-parameters", "--clear-lockout", "--max-tries=1000", "--recovery-time=1", "--lockout-recovery-time=1")
		return err
	}); err != nil {
		return nil, "", err
	}
	if _, err := run(toolEnv, "", progs["tpm2_ptool"], "init"); err != nil {
		return nil, "", err
	}
	setenv(modEnv)
	mod := &Module{Name: TPM2, Tool: testenv.TPM2, Path: lib, Env: modEnv}
	return &tpmState{mod: mod, ptool: progs["tpm2_ptool"], env: toolEnv, keys: map[string]bool{}}, "", nil
}

// freePortPair returns a loopback TCP port p such that p and p+1 were both free.
func freePortPair() (int, error) {
	for i := 0; i < 50; i++ {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return 0, err
		}
		p := l.Addr().(*net.TCPAddr).Port
		l2, err := net.Listen("tcp", "127.0.0.1:"+strconv.Itoa(p+1))
		l.Close()
		if err == nil {
			l2.Close()
			return p, nil
		}
	}
	return 0, fmt.Errorf("no two adjacent free loopback ports")
}

// TPMLockoutCounter returns the software TPM's dictionary-attack counter
// (TPM2_PT_LOCKOUT_COUNTER, from tpm2_getcap properties-variable): the authorisation
// failures it has counted, among them every wrong user PIN given to a tpm2 token. (The
// harness sets the lockout threshold to 1000, so tests do not lock the TPM; the counter
// still counts.)
func (t *Token) TPMLockoutCounter(tb testing.TB) int {
	tb.Helper()
	if t.tpm == nil {
		tb.Fatalf("p11test: TPMLockoutCounter is for tpm2 tokens, not %s", t)
	}
	getcap, err := lookPath("tpm2_getcap")
	if err != nil {
		tb.Fatalf("p11test: %v", err)
	}
	out, err := run(t.tpm.env, "", getcap, "properties-variable")
	if err != nil {
		tb.Fatalf("p11test: %v", err)
	}
	for _, line := range strings.Split(string(out), "\n") {
		if v, ok := strings.CutPrefix(strings.TrimSpace(line), "TPM2_PT_LOCKOUT_COUNTER:"); ok {
			n, err := strconv.ParseInt(strings.TrimSpace(v), 0, 32)
			if err != nil {
				tb.Fatalf("p11test: tpm2_getcap: %q: %v", line, err)
			}
			return int(n)
		}
	}
	tb.Fatalf("p11test: tpm2_getcap properties-variable printed no TPM2_PT_LOCKOUT_COUNTER:\n%s", out)
	return 0
}
