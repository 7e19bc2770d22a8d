package jwtsession

import (
	"fmt"
	"runtime"
	"sync"
	"testing"
	"time"

	"github.com/secretstores/secretstores/secrets"
)

// Scale benchmarks of the validated-token cache, in the cache's own terms (see
// cachesim_test.go). Sizes are sub-benchmarks; -short keeps the smallest (the CI smoke).

var scaleSessions = []int{1_000, 10_000, 100_000}

func scaleSizes(b *testing.B, sizes []int) []int {
	if testing.Short() {
		return sizes[:1]
	}
	return sizes
}

// hit rates of one simulated run per workload, shared by -count repetitions.
var (
	simMu      sync.Mutex
	simResults = map[string]simResult{}
)

func simOnce(name string, f func() simResult) simResult {
	simMu.Lock()
	defer simMu.Unlock()
	if r, ok := simResults[name]; ok {
		return r
	}
	r := f()
	simResults[name] = r
	return r
}

// mapFloor is the floor: an unbounded Go map doing the same lookups and insertions.
type mapFloor map[[32]byte]time.Time

func (m mapFloor) get(k [32]byte, now time.Time) bool {
	u, ok := m[k]
	return ok && now.Before(u)
}
func (m mapFloor) put(k [32]byte, until time.Time) { m[k] = until }

// BenchmarkScaleSessionCache: n active sessions making requests with IDM's refresh rule
// (a new token per session per minute; Issue and refresh cache the new token), against
// the default-size cache. ns/op is one request's cache work (lookup, insertion after a
// miss, insertion of a refreshed token) plus the simulation's own (picking a session,
// making a random key): the floor sub-benchmark does the same with a plain Go map.
// Reported: hit% of the cache and lru-hit% of an exact global LRU of the same size on
// the same simulated 10 minutes (6 warm, 4 measured).
func BenchmarkScaleSessionCache(b *testing.B) {
	for _, n := range scaleSizes(b, scaleSessions) {
		for _, zipf := range []bool{true, false} {
			law := map[bool]string{true: "zipf", false: "uniform"}[zipf]
			name := fmt.Sprintf("sessions=%d/%s", n, law)
			b.Run(name+"/cache", func(b *testing.B) {
				res := simOnce(name, func() simResult {
					w := newWorkload(n, zipf, secrets.DefaultLease, 1)
					return simulate(w, []simCache{managerCache{c: newTokenCache(DefaultCacheSize), s: &Session{}}, newRefLRU(DefaultCacheSize)}, 6*time.Minute, 4*time.Minute)
				})
				w := newWorkload(n, zipf, secrets.DefaultLease, 2)
				c := []simCache{managerCache{c: newTokenCache(DefaultCacheSize), s: &Session{}}}
				hit := make([]bool, 1)
				for range 2 * n { // every session active
					w.step(c, hit)
				}
				b.ReportAllocs()
				b.ResetTimer()
				for b.Loop() {
					w.step(c, hit)
				}
				b.ReportMetric(res.hitRate[0], "hit%")
				b.ReportMetric(res.hitRate[1], "lru-hit%")
			})
			b.Run(name+"/floor", func(b *testing.B) {
				w := newWorkload(n, zipf, secrets.DefaultLease, 2)
				c := []simCache{mapFloor{}}
				hit := make([]bool, 1)
				for range 2 * n {
					w.step(c, hit)
				}
				b.ReportAllocs()
				b.ResetTimer()
				for b.Loop() {
					w.step(c, hit)
				}
			})
		}
	}
}

// idmSession is a session as IDM makes one for a managed user, parsed from its claims as
// Validate does (so its memory is what the cache holds).
func idmSession(b *testing.B, i int) *Session {
	s := &Session{Claims: Claims{Principal: fmt.Sprintf("user.%07d", i), Context: map[string]any{
		"id": fmt.Sprintf("3f1c0a52-%04x-4c4e-9a8b-0c1d2e3f4a5b", i%65536), "component": "managed/user",
		"moduleId": "MANAGED_USER", "roles": []any{"internal/role/openidm-authorized"},
		"ipAddress": "192.0.2.17",
	}}}
	var err error
	if s.ID, err = newUUID(); err != nil {
		b.Fatal(err)
	}
	if s.SessionID, err = newUUID(); err != nil {
		b.Fatal(err)
	}
	now := time.Unix(1_750_000_000, 0)
	s.IssuedAt, s.NotBefore, s.Expiry, s.IdleExpiry = now, now, now.Add(DefaultMaxLife), now.Add(DefaultIdleTimeout)
	p, err := marshalClaims(s)
	if err != nil {
		b.Fatal(err)
	}
	ps, err := parseClaims(p)
	if err != nil {
		b.Fatal(err)
	}
	ps.SigningKey, ps.EncryptionKey = "openidm-jwtsessionhmac-key", "openidm-localhost"
	return ps
}

func heapInUse() uint64 {
	var ms runtime.MemStats
	runtime.GC()
	runtime.GC()
	runtime.ReadMemStats(&ms)
	return ms.HeapAlloc
}

// BenchmarkScaleCacheInsert: insertion of a new token into a full cache of n entries
// (each an IDM managed-user session), beside the floor: a Go map of n entries taking
// one key and dropping another. Reported: B/entry, the heap a cached session holds
// (its claims, the cache's node and index), measured when filling the cache.
func BenchmarkScaleCacheInsert(b *testing.B) {
	for _, n := range scaleSizes(b, scaleSessions) {
		keys := make([][32]byte, n)
		for i := range keys {
			keys[i] = randKey()
		}
		now := time.Unix(1_750_000_000, 0)
		until := now.Add(time.Hour)
		b.Run(fmt.Sprintf("entries=%d/cache", n), func(b *testing.B) {
			base := heapInUse()
			c := newTokenCache(n)
			for i, k := range keys {
				c.put(k, idmSession(b, i), until)
			}
			perEntry := float64(heapInUse()-base) / float64(n)
			fresh := make([][32]byte, 1<<16)
			for i := range fresh {
				fresh[i] = randKey()
			}
			s := &Session{}
			b.ReportAllocs()
			b.ResetTimer()
			i := 0
			for b.Loop() {
				c.put(fresh[i&(len(fresh)-1)], s, until)
				i++
			}
			b.StopTimer()
			b.ReportMetric(perEntry, "B/entry")
			runtime.KeepAlive(c)
		})
		b.Run(fmt.Sprintf("entries=%d/floor", n), func(b *testing.B) {
			m := make(map[[32]byte]*Session, n)
			s := &Session{}
			for _, k := range keys {
				m[k] = s
			}
			ring := append([][32]byte(nil), keys...)
			fresh := make([][32]byte, 1<<16)
			for i := range fresh {
				fresh[i] = randKey()
			}
			b.ReportAllocs()
			b.ResetTimer()
			i, j := 0, 0
			for b.Loop() {
				k := fresh[i&(len(fresh)-1)]
				delete(m, ring[j])
				m[k] = s
				ring[j] = k
				i++
				if j++; j == n {
					j = 0
				}
			}
		})
	}
}
