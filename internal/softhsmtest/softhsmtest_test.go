package softhsmtest_test

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"os/exec"
	"runtime"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/secretstores/secretstores/internal/softhsmtest"
	"github.com/secretstores/secretstores/internal/testenv"
)

func TestMain(m *testing.M) { softhsmtest.Main(m) }

func TestNew(t *testing.T) {
	a := softhsmtest.New(t, "a")
	b := softhsmtest.New(t, "a")
	if a.Label == b.Label || a.Serial == "" || a.Serial == b.Serial || a.SlotID == b.SlotID {
		t.Fatalf("tokens not distinct: %+v %+v", a, b)
	}
	if os.Getenv("SOFTHSM2_CONF") != a.Conf {
		t.Fatalf("SOFTHSM2_CONF = %q, want %q", os.Getenv("SOFTHSM2_CONF"), a.Conf)
	}
	tool := testenv.LookPath(t, testenv.OpenSC, "pkcs11-tool")
	out, err := exec.Command(tool, "--module", a.Module, "--token-label", a.Label, "--login", "--pin", a.PIN, "--list-objects").CombinedOutput()
	if err != nil {
		t.Fatalf("pkcs11-tool: %v\n%s", err, out)
	}
	if !strings.Contains(a.SunPKCS11Config("x"), "slot = ") {
		t.Fatal("config lacks slot")
	}
}

func TestP11KitAndDir(t *testing.T) {
	tok := softhsmtest.New(t, "k")
	dir, err := tok.Dir()
	if err != nil {
		t.Fatal(err)
	}
	restore := tok.RemoveDir(t)
	if _, err := os.Stat(dir); !os.IsNotExist(err) {
		t.Fatalf("token directory still there: %v", err)
	}
	restore()
	if _, err := os.Stat(dir); err != nil {
		t.Fatal(err)
	}
	tool := testenv.LookPath(t, testenv.OpenSC, "pkcs11-tool")
	k := softhsmtest.StartP11Kit(t, tok)
	list := func() (string, error) {
		out, err := exec.Command(tool, "--module", k.Module, "-L").CombinedOutput()
		return string(out), err
	}
	if out, err := list(); err != nil || !strings.Contains(out, tok.Label) {
		t.Fatalf("token not listed over p11-kit: %v\n%s", err, out)
	}
	k.Kill()
	if out, _ := list(); strings.Contains(out, tok.Label) {
		t.Fatalf("token listed with the server killed:\n%s", out)
	}
	if err := k.Start(); err != nil {
		t.Fatal(err)
	}
	if out, err := list(); err != nil || !strings.Contains(out, tok.Label) {
		t.Fatalf("token not listed after restart: %v\n%s", err, out)
	}
}

// TestP11KitDiesWithTest: a test binary killed with SIGKILL (a hung test ended by the
// timeout, an impatient Ctrl-C) leaves no p11-kit server running. The test runs itself as a
// child that starts a server and waits to be killed.
func TestP11KitDiesWithTest(t *testing.T) {
	if os.Getenv("SOFTHSMTEST_P11KIT_CHILD") == "1" {
		tok := softhsmtest.New(t, "orphan")
		k := softhsmtest.StartP11Kit(t, tok)
		fmt.Println("server pid", k.Pid())
		time.Sleep(time.Minute)
		return
	}
	if runtime.GOOS != "linux" {
		t.Skip("the parent-death signal is Linux's")
	}
	testenv.LookPath(t, testenv.P11Kit, "p11-kit")
	cmd := exec.Command(os.Args[0], "-test.run=^TestP11KitDiesWithTest$", "-test.v")
	cmd.Env = append(os.Environ(), "SOFTHSMTEST_P11KIT_CHILD=1")
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Wait()
	defer cmd.Process.Kill()
	pid := 0
	sc := bufio.NewScanner(out)
	for pid == 0 && sc.Scan() {
		fmt.Sscanf(sc.Text(), "server pid %d", &pid)
	}
	if pid <= 0 {
		t.Fatalf("the child started no server (%v)", sc.Err())
	}
	go io.Copy(io.Discard, out)
	if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for alive(pid) {
		if time.Now().After(deadline) {
			syscall.Kill(-pid, syscall.SIGKILL)
			t.Fatalf("the p11-kit server (pid %d) outlived the killed test binary", pid)
		}
		time.Sleep(20 * time.Millisecond)
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
