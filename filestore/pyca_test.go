package filestore

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/secretstores/secretstores/internal/testenv"
)

// TestPycaVectors opens pyca/cryptography's PKCS#12 test vectors (Debian's
// python3-cryptography-vectors, found at run time; none is committed here) and compares each
// with what pyca itself reads from it (testdata/corpus/pyca_truth.py, run now): the file
// opens with the password pyca used, with as many private keys, and every certificate this
// package serves is one pyca lists.
func TestPycaVectors(t *testing.T) {
	py, err := exec.LookPath("/usr/bin/python3")
	if err != nil {
		py = testenv.LookPath(t, testenv.Pyca, "python3")
	}
	out, err := exec.Command(py, "-c", "import cryptography_vectors, os; print(os.path.dirname(cryptography_vectors.__file__))").Output()
	if err != nil {
		testenv.Missing(t, testenv.Pyca, "python3 module cryptography_vectors (Debian python3-cryptography-vectors) not found")
	}
	root := strings.TrimSpace(string(out))
	var dirs []string
	for _, d := range []string{"pkcs12", "x509/PKITS_data/pkcs12"} {
		if st, err := os.Stat(filepath.Join(root, d)); err == nil && st.IsDir() {
			dirs = append(dirs, filepath.Join(root, d))
		}
	}
	if len(dirs) == 0 {
		t.Fatalf("no pkcs12 vectors under %s", root)
	}
	cmd := exec.Command(py, append([]string{"-W", "ignore", "testdata/corpus/pyca_truth.py"}, dirs...)...)
	cmd.Stderr = os.Stderr
	js, err := cmd.Output()
	if err != nil {
		testenv.Missing(t, testenv.Pyca, "pyca_truth.py: "+err.Error())
	}
	var truth map[string]struct {
		Error    string   `json:"error"`
		Password string   `json:"password"`
		Keys     int      `json:"keys"`
		Certs    []string `json:"certs"`
	}
	if err := json.Unmarshal(js, &truth); err != nil {
		t.Fatal(err)
	}
	if len(truth) < 30 {
		t.Fatalf("only %d vectors", len(truth))
	}
	ctx := context.Background()
	opened := 0
	for path, tr := range truth {
		name := strings.TrimPrefix(path, root+"/")
		if tr.Error != "" {
			t.Logf("%s: pyca refuses it (%s): not compared", name, tr.Error)
			continue
		}
		cfg := Config{Password: tr.Password, Type: PKCS12}
		s, err := Open(ctx, path, cfg)
		if err != nil && strings.Contains(err.Error(), "AllowNoMAC") {
			cfg.AllowNoMAC = true
			s, err = Open(ctx, path, cfg)
		}
		if err != nil {
			t.Errorf("%s: %v (pyca opens it)", name, err)
			continue
		}
		opened++
		aliases, err := s.Aliases(ctx)
		if err != nil {
			t.Fatal(err)
		}
		keys := 0
		for _, a := range aliases {
			km, err := s.KeyMaterial(ctx, a)
			if err != nil {
				if !errors.Is(err, errors.ErrUnsupported) {
					t.Errorf("%s: %s: %v", name, a, err)
				}
				// A key Go cannot use (DSA) or whose certificate Go cannot parse is still a key.
				if _, fe := s.st.lookup(a); fe != nil && fe.d.key != nil {
					keys++
				}
				continue
			}
			if km.Kind.Private() {
				keys++
			}
			for _, c := range km.Chain {
				if !slices.Contains(tr.Certs, sha256Hex(c.Raw)) {
					t.Errorf("%s: %s: certificate %s is not one pyca reads", name, a, sha256Hex(c.Raw)[:16])
				}
			}
		}
		if keys != tr.Keys {
			t.Errorf("%s: %d private keys, pyca reads %d", name, keys, tr.Keys)
		}
		s.Close()
	}
	t.Logf("%d of %d pyca vectors opened and compared", opened, len(truth))
}
