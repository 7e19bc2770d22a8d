package jwtsession

import (
	"container/list"
	"crypto/rand"
	mrand "math/rand"
	"time"
)

// A simulation of IDM-style session traffic against the token cache, in the cache's own
// terms: a token is its SHA-256 (uniformly random bytes), Issue and a refresh insert the
// new token, and a request looks its token up, inserting it after a miss (the RSA
// decryption Validate does then). It drives the cache Manager uses and, on the same
// trace, a single global LRU of the same size and the same expiry (the reference).

// simCache is what the simulation needs of a cache.
type simCache interface {
	get(k [32]byte, now time.Time) bool
	put(k [32]byte, until time.Time)
}

// managerCache adapts tokenCache (one shared Session value: the hit rate does not depend
// on it).
type managerCache struct {
	c *tokenCache
	s *Session
}

func (m managerCache) get(k [32]byte, now time.Time) bool { _, ok := m.c.get(k, now); return ok }
func (m managerCache) put(k [32]byte, until time.Time)    { m.c.put(k, m.s, until) }

// refLRU is an ideal (global, exact) LRU with per-entry expiry.
type refLRU struct {
	max int
	l   *list.List
	m   map[[32]byte]*list.Element
}

type refEntry struct {
	k     [32]byte
	until time.Time
}

func newRefLRU(max int) *refLRU {
	return &refLRU{max: max, l: list.New(), m: make(map[[32]byte]*list.Element)}
}

func (r *refLRU) get(k [32]byte, now time.Time) bool {
	e, ok := r.m[k]
	if !ok {
		return false
	}
	if !now.Before(e.Value.(*refEntry).until) {
		r.l.Remove(e)
		delete(r.m, k)
		return false
	}
	r.l.MoveToFront(e)
	return true
}

func (r *refLRU) put(k [32]byte, until time.Time) {
	if e, ok := r.m[k]; ok {
		e.Value.(*refEntry).until = until
		r.l.MoveToFront(e)
		return
	}
	if r.l.Len() >= r.max {
		last := r.l.Back()
		r.l.Remove(last)
		delete(r.m, last.Value.(*refEntry).k)
	}
	r.m[k] = r.l.PushFront(&refEntry{k: k, until: until})
}

// workload is n active sessions making 2n requests a minute, each request picking its
// session by a Zipf (s = 1.1) or uniform law, under IDM's defaults: a token is re-issued
// when its iat is over a minute old, a session idle for 30 minutes logs in again, and a
// cache entry lives at most the cache lease (secrets.DefaultLease).
type workload struct {
	n     int
	zipf  *mrand.Zipf
	r     *mrand.Rand
	now   time.Time
	dt    time.Duration
	lease time.Duration
	sess  []simSession

	requests, logins, refreshes int
}

type simSession struct {
	key       [32]byte
	live      bool
	iat, idle time.Time
}

func newWorkload(n int, zipf bool, lease time.Duration, seed int64) *workload {
	w := &workload{n: n, r: mrand.New(mrand.NewSource(seed)), now: time.Unix(1_750_000_000, 0),
		dt: time.Minute / time.Duration(2*n), lease: lease, sess: make([]simSession, n)}
	if zipf {
		w.zipf = mrand.NewZipf(w.r, 1.1, 1, uint64(n-1))
	}
	return w
}

func (w *workload) pick() int {
	if w.zipf != nil {
		return int(w.zipf.Uint64())
	}
	return w.r.Intn(w.n)
}

// issue gives session s a new token (a login or a refresh) and caches it, as Issue does.
func (w *workload) issue(s *simSession, caches []simCache) {
	rand.Read(s.key[:])
	s.live, s.iat, s.idle = true, w.now, w.now.Add(DefaultIdleTimeout)
	until := w.now.Add(w.lease)
	if s.idle.Before(until) {
		until = s.idle
	}
	for _, c := range caches {
		c.put(s.key, until)
	}
}

// step makes one request. hit[i] reports whether caches[i] held the token (false for a
// login, which validates nothing).
func (w *workload) step(caches []simCache, hit []bool) {
	w.now = w.now.Add(w.dt)
	s := &w.sess[w.pick()]
	for i := range hit {
		hit[i] = false
	}
	if !s.live || !w.now.Before(s.idle) {
		w.logins++
		w.issue(s, caches)
		return
	}
	w.requests++
	until := w.now.Add(w.lease)
	if s.idle.Before(until) {
		until = s.idle
	}
	for i, c := range caches {
		if hit[i] = c.get(s.key, w.now); !hit[i] {
			c.put(s.key, until) // Validate decrypted it and caches it
		}
	}
	if w.now.Sub(s.iat) > DefaultRefreshAfter {
		w.refreshes++
		w.issue(s, caches)
	}
}

// simResult is the hit rate of each cache over the measured requests.
type simResult struct {
	requests int
	hitRate  []float64
}

// simulate runs warm minutes of traffic, then measures minutes more.
func simulate(w *workload, caches []simCache, warm, measure time.Duration) simResult {
	hit := make([]bool, len(caches))
	for end := w.now.Add(warm); w.now.Before(end); {
		w.step(caches, hit)
	}
	hits := make([]int, len(caches))
	n := 0
	for end := w.now.Add(measure); w.now.Before(end); {
		before := w.requests
		w.step(caches, hit)
		if w.requests == before {
			continue
		}
		n++
		for i, h := range hit {
			if h {
				hits[i]++
			}
		}
	}
	res := simResult{requests: n, hitRate: make([]float64, len(caches))}
	for i, h := range hits {
		res.hitRate[i] = 100 * float64(h) / float64(max(n, 1))
	}
	return res
}
