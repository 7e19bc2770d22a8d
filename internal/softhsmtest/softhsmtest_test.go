package softhsmtest_test

import (
	"os"
	"os/exec"
	"strings"
	"testing"

	"github.com/secretstores/secretstores/internal/softhsmtest"
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
	tool, err := exec.LookPath("pkcs11-tool")
	if err != nil {
		t.Skip("pkcs11-tool not installed")
	}
	out, err := exec.Command(tool, "--module", a.Module, "--token-label", a.Label, "--login", "--pin", a.PIN, "--list-objects").CombinedOutput()
	if err != nil {
		t.Fatalf("pkcs11-tool: %v\n%s", err, out)
	}
	if !strings.Contains(a.SunPKCS11Config("x"), "slot = ") {
		t.Fatal("config lacks slot")
	}
}
