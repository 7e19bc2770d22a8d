package jwtsession_test

import (
	"crypto/sha256"
	"fmt"
	"math/rand"
	"sync"
	"testing"

	"github.com/secretstores/secretstores/jwtsession"
)

// scaleManagers holds, per session count, a Manager and the tokens it issued, made once
// per test binary (100,000 Issues take tens of seconds).
var (
	scaleMu       sync.Mutex
	scaleManagers = map[int]*scaleFixture{}
)

type scaleFixture struct {
	m      *jwtsession.Manager
	tokens []string
}

func scaleFixtureFor(b *testing.B, n int) *scaleFixture {
	scaleMu.Lock()
	defer scaleMu.Unlock()
	if f, ok := scaleManagers[n]; ok {
		return f
	}
	e := newEnv(b)
	f := &scaleFixture{m: e.manager(jwtsession.Config{}), tokens: make([]string, n)}
	for i := range f.tokens {
		tok, err := f.m.Issue(ctx, jwtsession.Claims{Principal: fmt.Sprintf("user.%07d", i), Context: map[string]any{
			"id": fmt.Sprint(i), "component": "managed/user", "moduleId": "MANAGED_USER",
			"roles": []any{"internal/role/openidm-authorized"}}})
		if err != nil {
			b.Fatal(err)
		}
		f.tokens[i] = tok
	}
	scaleManagers[n] = f
	return f
}

// BenchmarkScaleValidate: Validate of the token of a session picked by a Zipf (s = 1.1)
// or uniform law among n sessions the Manager issued (Issue cached each), beside the
// floor: the same SHA-256 of the token, a Go map lookup among n sessions and the copy of
// the Session Validate returns. hit% is the Manager's cache hit rate over the run
// (100: Issue warmed every token). -short keeps the smallest size.
func BenchmarkScaleValidate(b *testing.B) {
	sizes := []int{1_000, 10_000, 100_000}
	if testing.Short() {
		sizes = sizes[:1]
	}
	for _, n := range sizes {
		f := scaleFixtureFor(b, n)
		for _, law := range []string{"zipf", "uniform"} {
			pick := func(r *rand.Rand) func() int {
				if law == "zipf" {
					z := rand.NewZipf(r, 1.1, 1, uint64(n-1))
					return func() int { return int(z.Uint64()) }
				}
				return func() int { return r.Intn(n) }
			}
			b.Run(fmt.Sprintf("sessions=%d/%s/jwtsession", n, law), func(b *testing.B) {
				next := pick(rand.New(rand.NewSource(1)))
				h0, m0, _ := f.m.CacheCounters()
				b.ReportAllocs()
				for b.Loop() {
					if _, err := f.m.Validate(ctx, f.tokens[next()]); err != nil {
						b.Fatal(err)
					}
				}
				h1, m1, _ := f.m.CacheCounters()
				b.ReportMetric(100*float64(h1-h0)/float64(max(1, h1-h0+m1-m0)), "hit%")
			})
			b.Run(fmt.Sprintf("sessions=%d/%s/floor", n, law), func(b *testing.B) {
				m := make(map[[32]byte]*jwtsession.Session, n)
				for _, tok := range f.tokens {
					m[sha256.Sum256([]byte(tok))] = &jwtsession.Session{}
				}
				next := pick(rand.New(rand.NewSource(1)))
				var sink *jwtsession.Session
				b.ReportAllocs()
				for b.Loop() {
					tok := f.tokens[next()]
					s, ok := m[sha256.Sum256([]byte(tok))]
					if !ok {
						b.Fatal("missing")
					}
					c := *s
					c.Token = tok
					sink = &c
				}
				_ = sink
			})
		}
	}
}
