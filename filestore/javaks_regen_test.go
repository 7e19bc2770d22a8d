package filestore

import (
	"context"
	"encoding/hex"
	"maps"
	"os/exec"
	"path/filepath"
	"slices"
	"testing"

	"github.com/secretstores/secretstores/internal/testenv"
	"github.com/secretstores/secretstores/secrets"
)

// TestRegenerateFixtures runs testdata/gen-fixtures.sh (JDK keytool + Dump.java) into a
// temporary directory and checks that this package still reads what Java reads from the fresh
// files: the JCEKS and JKS readers byte for byte (checkJavaFixture), and every file, PKCS12
// included, through the public Open. The checked-in fixtures are never rewritten.
func TestRegenerateFixtures(t *testing.T) {
	testenv.LookPath(t, testenv.Java, "keytool")
	testenv.LookPath(t, testenv.Java, "java")
	bash := testenv.LookPath(t, testenv.Java, "bash")
	if testing.Short() {
		t.Skip("runs keytool about 25 times")
	}
	dir := t.TempDir()
	script, err := filepath.Abs("testdata/gen-fixtures.sh")
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bash, script, dir)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("gen-fixtures.sh: %v\n%s", err, out)
	}
	all := readJavaFixtures(t, dir)
	committed := readJavaFixtures(t, "testdata")
	if !slices.Equal(slices.Sorted(maps.Keys(all)), slices.Sorted(maps.Keys(committed))) {
		t.Errorf("the script makes %v, testdata holds %v", slices.Sorted(maps.Keys(all)), slices.Sorted(maps.Keys(committed)))
	}
	for _, f := range slices.Sorted(maps.Keys(all)) {
		fx := all[f]
		t.Run(f, func(t *testing.T) {
			if fx.Type == "JCEKS" || fx.Type == "JKS" {
				checkJavaFixture(t, dir, f, fx)
			}
			checkOpenAgainstJava(t, filepath.Join(dir, f), fx)
		})
	}
}

// TestOpenJavaFixtures reads every checked-in fixture through the public Open.
func TestOpenJavaFixtures(t *testing.T) {
	all := readJavaFixtures(t, "testdata")
	for _, f := range slices.Sorted(maps.Keys(all)) {
		t.Run(f, func(t *testing.T) { checkOpenAgainstJava(t, filepath.Join("testdata", f), all[f]) })
	}
}

// checkOpenAgainstJava opens path with Open and compares aliases, kinds, secret bytes and
// certificate chains with Java's dump.
func checkOpenAgainstJava(t *testing.T, path string, fx javaFixture) {
	t.Helper()
	ctx := context.Background()
	s, err := Open(ctx, path, Config{Password: fx.StorePassword, KeyPassword: fx.KeyPassword})
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	defer s.Close()
	aliases, err := s.Aliases(ctx)
	if err != nil {
		t.Fatal(err)
	}
	slices.Sort(aliases)
	if want := slices.Sorted(maps.Keys(fx.Entries)); !slices.Equal(aliases, want) {
		t.Fatalf("Open lists %v, Java %v", aliases, want)
	}
	for _, a := range aliases {
		w := fx.Entries[a]
		e, err := s.Entry(ctx, a)
		if err != nil {
			t.Errorf("%s: %v", a, err)
			continue
		}
		if e.Kind() != javaKindNames[w.Kind] {
			t.Errorf("%s: kind %v, Java says %s", a, e.Kind(), w.Kind)
		}
		if e.Kind().Symmetric() {
			k, err := e.(secrets.EntryExporter).Export(ctx)
			if err != nil || hex.EncodeToString(k) != w.SecretHex {
				t.Errorf("%s: secret bytes differ from Java's (%v)", a, err)
			}
		}
		var sums []string
		for _, c := range e.Chain() {
			sums = append(sums, javaSum(c.Raw))
		}
		if !slices.Equal(sums, w.ChainSHA256) {
			t.Errorf("%s: chain differs from Java's", a)
		}
	}
}
