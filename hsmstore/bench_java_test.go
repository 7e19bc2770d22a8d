//go:build cgo && unix

package hsmstore_test

import (
	"bufio"
	"context"
	"crypto"
	"crypto/hmac"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	mathrand "math/rand/v2"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/secretstores/secretstores/hsmstore"
	"github.com/secretstores/secretstores/internal/softhsmtest"
	"github.com/secretstores/secretstores/internal/testenv"
	"github.com/secretstores/secretstores/secrets"
)

// digestInfoSHA256 is the DER prefix of a SHA-256 DigestInfo: what CKM_RSA_PKCS signs for
// SHA256withRSA.
var digestInfoSHA256 = []byte{0x30, 0x31, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x01, 0x05, 0x00, 0x04, 0x20}

// javaBench is a running testdata/JavaBench.java (SunPKCS11 on a token, through a config
// file): one JVM, warmed up, that runs operations on command.
type javaBench struct {
	cmd *exec.Cmd
	in  io.WriteCloser
	out *bufio.Scanner
}

// startJavaBench compiles testdata/JavaBench.java into tb's temp dir and starts it on the
// token with the HMAC key hmacAlias and the RSA key rsaAlias; the JVM ends with tb.
func startJavaBench(tb testing.TB, tok *softhsmtest.Token, hmacAlias, rsaAlias string) *javaBench {
	tb.Helper()
	javac := testenv.LookPath(tb, testenv.Java, "javac")
	java := testenv.LookPath(tb, testenv.Java, "java")
	dir := tb.TempDir()
	src, _ := filepath.Abs("testdata/JavaBench.java")
	if out, err := exec.Command(javac, "-d", dir, src).CombinedOutput(); err != nil {
		tb.Fatalf("javac JavaBench.java: %v\n%s", err, out)
	}
	conf := tok.WriteSunPKCS11Config(tb, "bench")
	d := sha256.Sum256(msg64)
	cmd := exec.Command(java, "-cp", dir, "JavaBench", conf, tok.PIN, hmacAlias, rsaAlias,
		hex.EncodeToString(msg64), hex.EncodeToString(append(append([]byte(nil), digestInfoSHA256...), d[:]...)))
	var stderr strings.Builder
	cmd.Stderr = &stderr
	in, err := cmd.StdinPipe()
	if err != nil {
		tb.Fatal(err)
	}
	out, err := cmd.StdoutPipe()
	if err != nil {
		tb.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		tb.Fatal(err)
	}
	j := &javaBench{cmd: cmd, in: in, out: bufio.NewScanner(out)}
	j.out.Buffer(make([]byte, 4096), 1<<20)
	tb.Cleanup(func() {
		in.Close()
		if err := cmd.Wait(); err != nil {
			tb.Errorf("JavaBench: %v\n%s", err, stderr.String())
		}
	})
	if !j.out.Scan() || j.out.Text() != "ready" {
		in.Close()
		cmd.Wait()
		tb.Fatalf("JavaBench did not start: %q\n%s", j.out.Text(), stderr.String())
	}
	return j
}

// call sends one command and returns the fields of the answer.
func (j *javaBench) call(tb testing.TB, line string) []string {
	tb.Helper()
	if _, err := fmt.Fprintln(j.in, line); err != nil {
		tb.Fatalf("JavaBench %s: %v", line, err)
	}
	if !j.out.Scan() {
		tb.Fatalf("JavaBench %s: no answer: %v", line, j.out.Err())
	}
	return strings.Fields(j.out.Text())
}

// check returns Java's HMAC-SHA256 of msg64 and its RSA signature of SHA-256(msg64).
func (j *javaBench) check(tb testing.TB) (tag, sig []byte) {
	tb.Helper()
	f := j.call(tb, "check")
	if len(f) != 3 || f[0] != "check" {
		tb.Fatalf("JavaBench check: %q", f)
	}
	tag, _ = hex.DecodeString(f[1])
	sig, _ = hex.DecodeString(f[2])
	return tag, sig
}

// run has Java do n operations op ("hmac", "rsa") over threads threads and returns the
// wall-clock nanoseconds it measured and the JVM's CPU nanoseconds (user+system, all threads).
func (j *javaBench) run(tb testing.TB, op string, threads, n int) (ns, cpu float64) {
	tb.Helper()
	f := j.call(tb, fmt.Sprintf("%s %d %d", op, threads, n))
	if len(f) != 5 || f[0] != op {
		tb.Fatalf("JavaBench %s: %q", op, f)
	}
	ns, err := strconv.ParseFloat(f[3], 64)
	if err != nil {
		tb.Fatal(err)
	}
	cpu, err = strconv.ParseFloat(f[4], 64)
	if err != nil {
		tb.Fatal(err)
	}
	return ns, cpu
}

// checkJava fails unless Java's HMAC equals hsmstore's (and crypto/hmac's when the key is
// extractable), and Java's signature verifies and equals hsmstore's (PKCS#1 v1.5 is
// deterministic): Java works on the same keys and message as the Go benchmarks.
func checkJava(tb testing.TB, j *javaBench, st *hsmstore.Store, hmacAlias, rsaAlias string) {
	tb.Helper()
	ctx := context.Background()
	jtag, jsig := j.check(tb)
	e, err := st.Entry(ctx, hmacAlias)
	if err != nil {
		tb.Fatal(err)
	}
	tag, err := e.(secrets.EntryMAC).MAC(ctx, crypto.SHA256, msg64)
	if err != nil {
		tb.Fatal(err)
	}
	if !hmac.Equal(tag, jtag) {
		tb.Fatalf("Java's HMAC %x differs from hsmstore's %x", jtag, tag)
	}
	if key, err := e.(secrets.EntryExporter).Export(ctx); err == nil {
		m := hmac.New(sha256.New, key)
		m.Write(msg64)
		if !hmac.Equal(m.Sum(nil), jtag) {
			tb.Fatal("Java's HMAC differs from crypto/hmac's")
		}
	}
	r, err := st.Entry(ctx, rsaAlias)
	if err != nil {
		tb.Fatal(err)
	}
	d := sha256.Sum256(msg64)
	if err := rsa.VerifyPKCS1v15(r.Public().(*rsa.PublicKey), crypto.SHA256, d[:], jsig); err != nil {
		tb.Fatalf("Java's signature does not verify: %v", err)
	}
	sig, err := r.(secrets.EntrySigner).Sign(ctx, d[:], crypto.SHA256)
	if err != nil {
		tb.Fatal(err)
	}
	if hex.EncodeToString(sig) != hex.EncodeToString(jsig) {
		tb.Fatal("Java's signature differs from hsmstore's")
	}
}

// TestJavaBenchHarness runs the harness of BenchmarkJavaSunPKCS11 briefly, so that CI
// compiles and exercises it: same keys, same message, same results as hsmstore.
func TestJavaBenchHarness(t *testing.T) {
	testenv.LookPath(t, testenv.Java, "javac")
	ctx := context.Background()
	tok := softhsmtest.New(t, "javabench")
	st, err := hsmstore.Open(ctx, hsmstore.Config{Library: tok.Module, TokenLabel: tok.Label, PIN: tok.PIN})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	if _, err := st.Generate(ctx, "hmac", secrets.KeySpec{Kind: secrets.KindSecret, Extractable: true}, false); err != nil {
		t.Fatal(err)
	}
	if _, err := st.Generate(ctx, "rsa", secrets.KeySpec{Kind: secrets.KindRSA}, false); err != nil {
		t.Fatal(err)
	}
	j := startJavaBench(t, tok, "hmac", "rsa")
	checkJava(t, j, st, "hmac", "rsa")
	for _, op := range []string{"hmac", "rsa"} {
		for _, th := range []int{1, 2} {
			if ns, _ := j.run(t, op, th, 20); ns <= 0 {
				t.Fatalf("%s/%d: %v ns", op, th, ns)
			}
		}
	}
}

// BenchmarkJavaSunPKCS11 measures Java 17's SunPKCS11 on the token, keys and message of
// BenchmarkHMACSHA256 and BenchmarkRSA2048Sign (same process run, JIT warmed up): ns/op
// and ops/s as measured inside the JVM, with 1 and 2 threads. The call shape per operation
// is hsmstore's: C_SignInit + C_SignUpdate + C_SignFinal for HMAC (SunPKCS11's P11Mac),
// C_SignInit + C_Sign of CKM_RSA_PKCS for RSA.
func BenchmarkJavaSunPKCS11(b *testing.B) {
	f := fixture(b)
	j := startJavaBench(b, f.tok, "hmac", "rsa")
	checkJava(b, j, f.st, "hmac", "rsa")
	for _, c := range []struct{ name, op string }{{"HMACSHA256", "hmac"}, {"RSA2048Sign", "rsa"}} {
		for _, th := range []int{1, 2} {
			b.Run(fmt.Sprintf("%s/g%d", c.name, th), func(b *testing.B) {
				ns, cpu := j.run(b, c.op, th, b.N)
				b.ReportMetric(ns/float64(b.N), "ns/op")
				b.ReportMetric(float64(b.N)/(ns/1e9), "ops/s")
				b.ReportMetric(cpu/float64(b.N), "cpu-ns/op")
			})
		}
	}
}

// An ilVariant is one contender of an interleaved benchmark: setup returns the operation
// of one goroutine (Go), or java names the harness's op.
type ilVariant struct {
	name  string
	setup func(b *testing.B) func() error
	java  string
}

// interleaved runs the variants in turn (in a shuffled order), blk operations at a time each over th goroutines
// (or Java threads), until each has done about b.N, and reports per variant the wall-clock
// ns/op and the CPU ns/op (user+system time of the whole process during its blocks: the Go
// test process, or the JVM). Alternating blocks of a few milliseconds puts every variant under
// the same background load, which separate benchmarks on a shared machine do not.
func interleaved(b *testing.B, j *javaBench, th, blk int, vs []ilVariant) {
	ops := make([][]func() error, len(vs))
	for i, v := range vs {
		for t := 0; t < th && v.setup != nil; t++ {
			ops[i] = append(ops[i], v.setup(b))
		}
	}
	wall := make([]float64, len(vs))
	cpu := make([]float64, len(vs))
	rounds := (b.N + blk - 1) / blk
	b.ResetTimer()
	rng := mathrand.New(mathrand.NewPCG(1, 2))
	for r := 0; r < rounds; r++ {
		// A new order each round: a block runs slower after some others (after the JVM's,
		// say), and no variant should always be the one that follows it.
		for _, i := range rng.Perm(len(vs)) {
			v := vs[i]
			if v.java != "" {
				ns, c := j.run(b, v.java, th, blk)
				wall[i] += ns
				cpu[i] += c
				continue
			}
			c0 := cpuTime()
			start := time.Now()
			var wg sync.WaitGroup
			for t := 0; t < th; t++ {
				n := blk/th + btoi(t < blk%th)
				wg.Add(1)
				go func(op func() error) {
					defer wg.Done()
					for k := 0; k < n; k++ {
						if err := op(); err != nil {
							b.Error(err)
							return
						}
					}
				}(ops[i][t])
			}
			wg.Wait()
			wall[i] += float64(time.Since(start).Nanoseconds())
			cpu[i] += float64(cpuTime() - c0)
		}
	}
	n := float64(rounds * blk)
	for i, v := range vs {
		b.ReportMetric(wall[i]/n, v.name+"-ns/op")
		b.ReportMetric(cpu[i]/n, v.name+"-cpu-ns/op")
	}
}

func btoi(v bool) int {
	if v {
		return 1
	}
	return 0
}

// cpuTime is the process's user+system CPU time in nanoseconds.
func cpuTime() int64 {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return ru.Utime.Nano() + ru.Stime.Nano()
}

// BenchmarkInterleaved compares hsmstore (Provider.Active + Secret), raw miekg/pkcs11,
// crypto11 and Java's SunPKCS11 on one token, key and message, in alternating blocks (see
// interleaved): the comparison to trust on a loaded machine. Metrics are per variant;
// the framework's own ns/op is the cost of one operation of every variant together.
func BenchmarkInterleaved(b *testing.B) {
	f := fixture(b)
	j := startJavaBench(b, f.tok, "hmac", "rsa")
	checkJava(b, j, f.st, "hmac", "rsa")
	hHSM, hRaw, hC11 := f.hmacSetups()
	hmacVs := []ilVariant{{name: "hsmstore", setup: hHSM}, {name: "raw", setup: hRaw}, {name: "crypto11", setup: hC11}, {name: "java", java: "hmac"}}
	rHSM, rRaw, rC11 := f.rsaSetups()
	rsaVs := []ilVariant{{name: "hsmstore", setup: rHSM}, {name: "raw", setup: rRaw}, {name: "crypto11", setup: rC11}, {name: "java", java: "rsa"}}
	for _, th := range []int{1, 2} {
		b.Run(fmt.Sprintf("HMACSHA256/g%d", th), func(b *testing.B) { interleaved(b, j, th, 1000, hmacVs) })
		b.Run(fmt.Sprintf("RSA2048Sign/g%d", th), func(b *testing.B) { interleaved(b, j, th, 20, rsaVs) })
	}
}
