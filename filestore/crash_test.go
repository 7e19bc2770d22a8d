package filestore

import (
	"bytes"
	"context"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/secretstores/secretstores/secrets"
)

const crashEnv = "FILESTORE_CRASH_WRITER"

// crashKey is the key a writer stores under alias "k" in generation n: a reader can tell a
// consistent file from a torn one.
func crashKey(n int) []byte { return bytes.Repeat([]byte{byte(n)}, 32) }

// TestStoreCrashSafety kills a writer process (SIGKILL) at random points while it saves in
// a loop; after every kill the file opens, its MAC verifies, and it holds a complete
// generation: the old keystore or the new one, never a torn one.
func TestStoreCrashSafety(t *testing.T) {
	if path := os.Getenv(crashEnv); path != "" {
		crashWriter(path)
		return
	}
	if testing.Short() {
		t.Skip("spawns and kills writer processes")
	}
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "crash.p12")
	s, err := Open(ctx, path, Config{Password: "pw", Create: true, Iterations: 1})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Import(ctx, "k", secrets.KeyMaterial{Kind: secrets.KindSecret, Secret: crashKey(0)}, false); err != nil {
		t.Fatal(err)
	}
	s.Close()
	last := 0
	for round := 0; round < 12; round++ {
		before, err := os.Stat(path)
		if err != nil {
			t.Fatal(err)
		}
		cmd := exec.Command(os.Args[0], "-test.run=^TestStoreCrashSafety$", "-test.count=1")
		cmd.Env = append(os.Environ(), crashEnv+"="+path)
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		// Kill at a random point once the writer has saved at least once: however slow
		// the machine is to start it, every round kills a writer in its loop.
		for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(time.Millisecond) {
			if fi, err := os.Stat(path); err == nil && !fi.ModTime().Equal(before.ModTime()) {
				break
			}
			if time.Now().After(deadline) {
				cmd.Process.Kill()
				cmd.Wait()
				t.Fatalf("round %d: the writer saved nothing in 30 s", round)
			}
		}
		time.Sleep(time.Duration(rand.IntN(250)) * time.Millisecond)
		cmd.Process.Kill()
		cmd.Wait()
		s, err := Open(ctx, path, Config{Password: "pw"})
		if err != nil {
			t.Fatalf("round %d: the keystore does not open after the writer was killed: %v", round, err)
		}
		e, err := s.Entry(ctx, "k")
		if err != nil {
			t.Fatalf("round %d: %v", round, err)
		}
		got, _ := e.(secrets.EntryExporter).Export(ctx)
		gen := int(got[0])
		if !bytes.Equal(got, crashKey(gen)) {
			t.Fatalf("round %d: torn key", round)
		}
		// The marker lags k by at most one save.
		if m, err := s.Entry(ctx, "gen"); err == nil {
			b, _ := m.(secrets.EntryExporter).Export(ctx)
			n, _ := strconv.Atoi(string(bytes.SplitN(b, []byte("-"), 2)[0]))
			if n%256 != gen && (n+1)%256 != gen {
				t.Fatalf("round %d: marker generation %d with key generation %d", round, n, gen)
			}
		} else if gen > 1 {
			t.Fatalf("round %d: marker missing at generation %d", round, gen)
		}
		last = gen
		s.Close()
	}
	t.Logf("last generation seen %d", last)
	// The next write, under the lock, removes the temporary files killed writers left.
	s, err = Open(ctx, path, Config{Password: "pw", Iterations: 1})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if err := s.Delete(ctx, "gen"); err != nil {
		t.Fatal(err)
	}
	if m, _ := filepath.Glob(filepath.Join(filepath.Dir(path), ".crash.p12.tmp*")); len(m) != 0 {
		t.Fatalf("stale temporary files remain: %v", m)
	}
}

// crashWriter rewrites the keystore at path forever: each save bumps key "k" and writes
// a marker entry with the same generation.
func crashWriter(path string) {
	ctx := context.Background()
	s, err := Open(ctx, path, Config{Password: "pw", Iterations: 1})
	if err != nil {
		os.Exit(3)
	}
	e, _ := s.Entry(ctx, "k")
	b, _ := e.(secrets.EntryExporter).Export(ctx)
	for n := int(b[0]); ; n++ { // first completes the generation a killed writer left half done
		if _, err := s.Import(ctx, "k", secrets.KeyMaterial{Kind: secrets.KindSecret, Secret: crashKey(n % 256)}, true); err != nil {
			os.Exit(4)
		}
		if _, err := s.Import(ctx, "gen", secrets.KeyMaterial{Kind: secrets.KindSecret, Secret: []byte(strconv.Itoa(n) + "-padding-padding-padding-padding")}, true); err != nil {
			os.Exit(5)
		}
	}
}
