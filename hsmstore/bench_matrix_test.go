//go:build cgo

package hsmstore_test

import (
	"context"
	"crypto"
	"crypto/sha256"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/miekg/pkcs11"

	"github.com/secretstores/secretstores/hsmstore"
	"github.com/secretstores/secretstores/internal/p11test"
	"github.com/secretstores/secretstores/secrets"
)

// matrixBench is the per-module twin of benchFixture: one shared token of a module of the
// p11test matrix with an HMAC and an RSA-2048 key, through hsmstore + a Provider and through
// raw miekg/pkcs11 on the same, already initialised, module.
type matrixBench struct {
	st   *hsmstore.Store
	prov *secrets.Provider
	p11  *pkcs11.Ctx
	slot uint
	pin  string
}

func matrixFixture(b *testing.B, tok *p11test.Token) *matrixBench {
	b.Helper()
	ctx := context.Background()
	f := &matrixBench{}
	if tok.Module.Name == p11test.TPM2 {
		tok.AddKey(b, "bench-hmac", p11test.TPMHMACSHA256)
		tok.AddKey(b, "bench-rsa", p11test.TPMRSA2048)
	}
	f.st = openToken(b, tok)
	var err error
	for alias, kind := range map[string]secrets.Kind{"bench-hmac": secrets.KindSecret, "bench-rsa": secrets.KindRSA} {
		if _, err := f.st.Entry(ctx, alias); err != nil {
			if _, err := f.st.Generate(ctx, alias, secrets.KeySpec{Kind: kind}, false); err != nil {
				b.Fatalf("%v: %s: %v", tok, alias, err)
			}
		}
	}
	if f.prov, err = secrets.NewProvider([]secrets.Store{f.st}, []secrets.Mapping{
		{SecretID: "hmac", Types: []secrets.Purpose{secrets.Sign}, Aliases: []string{"bench-hmac"}},
		{SecretID: "rsa", Types: []secrets.Purpose{secrets.Sign}, Aliases: []string{"bench-rsa"}},
	}, secrets.ProviderOptions{}); err != nil {
		b.Fatal(err)
	}
	f.p11 = pkcs11.New(tok.Module.Path)
	_ = f.p11.Initialize() // already initialised by the Store: CKR_CRYPTOKI_ALREADY_INITIALIZED
	f.slot, f.pin = tok.SlotID, tok.PIN
	return f
}

// rawFind opens a session and finds the secret key labelled alias, or the private key with
// CKA_ID alias.
func (f *matrixBench) rawFind(b *testing.B, cls uint, alias string) (pkcs11.SessionHandle, pkcs11.ObjectHandle) {
	sh, err := f.p11.OpenSession(f.slot, pkcs11.CKF_SERIAL_SESSION|pkcs11.CKF_RW_SESSION)
	if err != nil {
		b.Fatal(err)
	}
	// Through p11-kit-client.so the raw handle's sessions are not the Store's application:
	// log in (CKR_USER_ALREADY_LOGGED_IN elsewhere).
	if err := f.p11.Login(sh, pkcs11.CKU_USER, f.pin); err != nil && !errors.Is(err, pkcs11.Error(pkcs11.CKR_USER_ALREADY_LOGGED_IN)) {
		b.Fatal(err)
	}
	attr := uint(pkcs11.CKA_LABEL)
	if cls == pkcs11.CKO_PRIVATE_KEY {
		attr = pkcs11.CKA_ID
	}
	if err := f.p11.FindObjectsInit(sh, []*pkcs11.Attribute{pkcs11.NewAttribute(pkcs11.CKA_CLASS, cls), pkcs11.NewAttribute(attr, []byte(alias))}); err != nil {
		b.Fatal(err)
	}
	hs, _, err := f.p11.FindObjects(sh, 2)
	f.p11.FindObjectsFinal(sh)
	if err != nil || len(hs) != 1 {
		b.Fatalf("find %s: %v %d", alias, err, len(hs))
	}
	return sh, hs[0]
}

// BenchmarkMatrix: HMAC-SHA256 of 64 bytes and RSA-2048 PKCS#1 v1.5 signatures through a
// Provider + hsmstore ("hsm") and through raw miekg/pkcs11 ("floor": C_SignInit + C_Sign on a
// session of its own, the same call shape), 1 and 2 goroutines, on every module of the
// matrix a Store opens, in one run: BenchmarkMatrix/<module>/<op>/g<n>/{hsm,floor}.
//
// Each module runs in a child process of its own (this test binary,
// SECRETSTORES_MATRIX_MODULE=name, the parent's -test.benchtime and -test.benchmem), as
// TestMatrix does: opencryptoki 3.8 and tpm2-pkcs11 1.9 both export object_create, and in
// one process tpm2's C_CreateObject binds to opencryptoki's and stores nothing (see
// eachStoreModule). The parent reports each child's results under its own names (the
// iteration count it prints is the testing package's, not the child's) and prints a table
// of the throughput of hsm as a fraction of its floor (floor ns/op over hsm ns/op; goal ≥
// 0.90), per run and the median. With -count n the children run n rounds (each round every
// module, in new processes), so hsm and floor runs interleave. scripts/bench matrix runs it
// and prints the medians.
func BenchmarkMatrix(b *testing.B) {
	if name := os.Getenv("SECRETSTORES_MATRIX_MODULE"); name != "" {
		benchMatrixModule(b, name)
		return
	}
	// -test.count repeats each leaf benchmark, not this parent: the parent runs the children
	// count times itself (round by round, every module per round) and each repetition of a
	// leaf reports the next round's result.
	rounds := 1
	if fl := flag.Lookup("test.count"); fl != nil {
		if n, err := strconv.Atoi(fl.Value.String()); err == nil && n > 1 {
			rounds = n
		}
	}
	res := map[string][][]benchResult{} // module -> round -> results
	skipped := map[string]string{}
	for r := 0; r < rounds; r++ {
		for _, name := range storeModules {
			if _, ok := skipped[name]; ok {
				continue
			}
			rr, skip, err := runBenchChild(name)
			switch {
			case err != nil:
				b.Fatal(err)
			case skip != "":
				skipped[name] = skip
			default:
				res[name] = append(res[name], rr)
			}
		}
	}
	var table strings.Builder
	fmt.Fprintf(&table, "throughput of hsmstore + Provider as a fraction of raw miekg/pkcs11 (floor ns/op / hsm ns/op), per run and median:\n| module | op | goroutines | fractions | median |\n|---|---|---|---|---|\n")
	for _, name := range storeModules {
		b.Run(name, func(b *testing.B) {
			if why, ok := skipped[name]; ok {
				b.Skip(why)
			}
			runs := res[name]
			for _, r := range runs[0] {
				round := 0
				b.Run(r.name, func(b *testing.B) {
					if b.N == 1 { // each repetition starts with one iteration
						round++
					}
					if round < 1 || round > len(runs) {
						b.Fatalf("repetition %d of %d", round, len(runs))
					}
					for _, x := range runs[round-1] {
						if x.name == r.name {
							for u, v := range x.metrics {
								b.ReportMetric(v, u)
							}
						}
					}
				})
			}
			for _, r := range runs[0] {
				rest, ok := strings.CutSuffix(r.name, "/hsm")
				if !ok {
					continue
				}
				var fr []float64
				for _, run := range runs {
					var hsm, floor float64
					for _, x := range run {
						switch x.name {
						case rest + "/hsm":
							hsm = x.metrics["ns/op"]
						case rest + "/floor":
							floor = x.metrics["ns/op"]
						}
					}
					if hsm > 0 && floor > 0 {
						fr = append(fr, floor/hsm)
					}
				}
				op, g, _ := strings.Cut(rest, "/")
				var strs []string
				for _, f := range fr {
					strs = append(strs, fmt.Sprintf("%.2f", f))
				}
				fmt.Fprintf(&table, "| %s | %s | %s | %s | %.2f |\n", name, op, strings.TrimPrefix(g, "g"), strings.Join(strs, " "), median(fr))
			}
		})
	}
	// Printed, not logged: the testing package shows no log of a benchmark with sub-benchmarks.
	fmt.Printf("%s(machine: %d CPUs, load %s)\n", table.String(), runtime.NumCPU(), loadAvg())
}

// median returns the median of xs (0 for none).
func median(xs []float64) float64 {
	if len(xs) == 0 {
		return 0
	}
	s := append([]float64(nil), xs...)
	sort.Float64s(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

type benchResult struct {
	name    string             // <op>/g<n>/<hsm|floor>
	metrics map[string]float64 // unit -> value
}

// runBenchChild runs BenchmarkMatrix on module name in a child process and returns its
// results, in the child's order, or why it skipped.
func runBenchChild(name string) (res []benchResult, skip string, err error) {
	args := []string{"-test.run=^$", "-test.bench=^BenchmarkMatrix$", "-test.count=1"}
	for _, f := range []string{"test.benchtime", "test.benchmem", "test.timeout"} {
		if fl := flag.Lookup(f); fl != nil {
			args = append(args, "-"+f+"="+fl.Value.String())
		}
	}
	cmd := exec.Command(os.Args[0], args...)
	cmd.Env = append(os.Environ(), "SECRETSTORES_MATRIX_MODULE="+name)
	out, err := cmd.CombinedOutput()
	if err == nil && strings.Contains(string(out), "--- SKIP") && !strings.Contains(string(out), "BenchmarkMatrix/") {
		return nil, fmt.Sprintf("BenchmarkMatrix skipped on %s:\n%s", name, out), nil
	}
	if err != nil {
		return nil, "", fmt.Errorf("BenchmarkMatrix on %s (child process): %v\n%s", name, err, out)
	}
	for _, line := range strings.Split(string(out), "\n") {
		f := strings.Fields(line)
		if len(f) < 4 || !strings.HasPrefix(f[0], "BenchmarkMatrix/") {
			continue
		}
		n := strings.TrimPrefix(f[0], "BenchmarkMatrix/")
		if i := strings.LastIndex(n, "-"); i > 0 {
			n = n[:i] // the GOMAXPROCS suffix
		}
		r := benchResult{name: n, metrics: map[string]float64{}}
		for i := 2; i+1 < len(f); i += 2 {
			if v, err := strconv.ParseFloat(f[i], 64); err == nil {
				r.metrics[f[i+1]] = v
			}
		}
		res = append(res, r)
	}
	if len(res) == 0 {
		return nil, "", fmt.Errorf("BenchmarkMatrix on %s: the child process reported no result:\n%s", name, out)
	}
	return res, "", nil
}

// loadAvg returns the 1, 5 and 15 minute load averages, or "?".
func loadAvg() string {
	b, err := os.ReadFile("/proc/loadavg")
	if f := strings.Fields(string(b)); err == nil && len(f) >= 3 {
		return strings.Join(f[:3], " ")
	}
	return "?"
}

// benchMatrixModule runs the benchmarks of one module (in BenchmarkMatrix's child process):
// per operation and goroutine count, hsm then floor, so that they interleave.
func benchMatrixModule(b *testing.B, name string) {
	ctx := context.Background()
	d := sha256.Sum256(msg64)
	tok := p11test.SharedToken(b, name)
	f := matrixFixture(b, tok)
	pair(b, "hmac", func(b *testing.B) func() error {
		return func() error {
			s, err := f.prov.Active(ctx, "hmac", secrets.Sign)
			if err != nil {
				return err
			}
			_, err = s.MAC(ctx, crypto.SHA256, msg64)
			return err
		}
	}, func(b *testing.B) func() error {
		sh, h := f.rawFind(b, pkcs11.CKO_SECRET_KEY, "bench-hmac")
		mech := []*pkcs11.Mechanism{pkcs11.NewMechanism(pkcs11.CKM_SHA256_HMAC, nil)}
		return func() error {
			if err := f.p11.SignInit(sh, mech, h); err != nil {
				return err
			}
			_, err := f.p11.Sign(sh, msg64)
			return err
		}
	})
	pair(b, "rsa", func(b *testing.B) func() error {
		return func() error {
			s, err := f.prov.Active(ctx, "rsa", secrets.Sign)
			if err != nil {
				return err
			}
			_, err = s.Sign(ctx, d[:], crypto.SHA256)
			return err
		}
	}, func(b *testing.B) func() error {
		sh, h := f.rawFind(b, pkcs11.CKO_PRIVATE_KEY, "bench-rsa")
		mech := []*pkcs11.Mechanism{pkcs11.NewMechanism(pkcs11.CKM_RSA_PKCS, nil)}
		in := append([]byte{0x30, 0x31, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x01, 0x05, 0x00, 0x04, 0x20}, d[:]...)
		return func() error {
			if err := f.p11.SignInit(sh, mech, h); err != nil {
				return err
			}
			_, err := f.p11.Sign(sh, in)
			return err
		}
	})
}

// pair runs op/g1/hsm, op/g1/floor, op/g2/hsm, op/g2/floor: with 1 goroutine, and with 2
// goroutines each with its own setup (a raw session of its own).
func pair(b *testing.B, op string, hsm, floor func(b *testing.B) func() error) {
	for _, g := range []int{1, 2} {
		for _, side := range []struct {
			name  string
			setup func(b *testing.B) func() error
		}{{"hsm", hsm}, {"floor", floor}} {
			b.Run(fmt.Sprintf("%s/g%d/%s", op, g, side.name), func(b *testing.B) {
				if g == 1 {
					run := side.setup(b)
					b.ResetTimer()
					for i := 0; i < b.N; i++ {
						if err := run(); err != nil {
							b.Fatal(err)
						}
					}
					return
				}
				var mu sync.Mutex
				b.SetParallelism((g + gomaxprocs() - 1) / gomaxprocs())
				b.ResetTimer()
				b.RunParallel(func(pb *testing.PB) {
					mu.Lock()
					run := side.setup(b)
					mu.Unlock()
					for pb.Next() {
						if err := run(); err != nil {
							b.Error(err)
							return
						}
					}
				})
			})
		}
	}
}
