package softhsmtest_test

import (
	"os"
	"os/exec"
	"strings"
	"testing"

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
