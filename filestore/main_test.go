package filestore

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/secretstores/secretstores/internal/testenv"
)

// TestMain collects every keystore file this package's tests write (through savedHook) and,
// after the tests, has JDK 17 load them all in one JVM run (testdata/jdkload/LoadAll.java:
// KeyStore.getInstance(File, password) and getKey of every key entry). A file Java refuses
// fails the test binary. Without java the check is skipped with a message, and fails when
// SECRETSTORES_REQUIRE names java.
func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "filestore-written")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	var mu sync.Mutex
	n := 0
	var manifest strings.Builder
	savedHook = func(data []byte, password, keyPassword string) {
		mu.Lock()
		defer mu.Unlock()
		if strings.ContainsAny(password+keyPassword, "\t\n") {
			return
		}
		n++
		name := "w" + strconv.Itoa(n) + ".p12"
		if os.WriteFile(filepath.Join(dir, name), data, 0o600) == nil {
			fmt.Fprintf(&manifest, "%s\t%s\t%s\n", name, password, keyPassword)
		}
	}
	code := m.Run()
	savedHook = nil
	if n > 0 {
		if c := javaLoadAll(dir, manifest.String(), n); c != 0 {
			code = c
		}
	}
	os.RemoveAll(dir)
	os.Exit(code)
}

func javaLoadAll(dir, manifest string, n int) int {
	javac, err1 := exec.LookPath("javac")
	java, err2 := exec.LookPath("java")
	if err1 != nil || err2 != nil {
		if testenv.Required(testenv.Java) {
			fmt.Fprintf(os.Stderr, "FAIL: java is required (SECRETSTORES_REQUIRE) to load the %d keystores the tests wrote, but javac/java are not on PATH\n", n)
			return 1
		}
		fmt.Printf("filestore: java not found: the %d keystores the tests wrote were not loaded by Java (set SECRETSTORES_REQUIRE=java to make this a failure)\n", n)
		return 0
	}
	if err := os.WriteFile(filepath.Join(dir, "manifest.tsv"), []byte(manifest), 0o600); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	src, _ := filepath.Abs("testdata/jdkload/LoadAll.java")
	if out, err := exec.Command(javac, "-d", dir, src).CombinedOutput(); err != nil {
		fmt.Fprintf(os.Stderr, "FAIL: javac LoadAll.java: %v\n%s", err, out)
		return 1
	}
	out, err := exec.Command(java, "-cp", dir, "LoadAll", dir).CombinedOutput()
	fmt.Printf("%s", out)
	if err != nil {
		fmt.Fprintf(os.Stderr, "FAIL: JDK refuses keystores this package wrote: %v\n", err)
		return 1
	}
	return 0
}
