package jwtsession

import (
	"crypto/rand"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/secretstores/secretstores/secrets"
)

func randKey() (k [32]byte) {
	rand.Read(k[:])
	return k
}

// A full cache makes room by looking at one entry, the least recently used, however
// large it is: insertion never scans. (The cache it replaced examined every entry of the
// map, looking for expired ones, on each insertion into a full cache.)
func TestCacheFullNeverScans(t *testing.T) {
	for _, size := range []int{1, 100, 4096, 50_000} {
		t.Run(fmt.Sprint(size), func(t *testing.T) {
			c := newTokenCache(size)
			now := time.Unix(1_750_000_000, 0)
			s := &Session{}
			// Fill every shard (random keys reach some shards' bounds first).
			for c.stats().Len < size {
				for range size {
					c.put(randKey(), s, now.Add(time.Hour))
				}
			}
			before := c.stats()
			require.Equal(t, size, before.Len)
			const inserts = 1000
			for range inserts {
				c.put(randKey(), s, now.Add(time.Hour))
			}
			st := c.stats()
			assert.Equal(t, size, st.Len, "the cache stays at its bound")
			assert.Equal(t, uint64(inserts), st.Visited-before.Visited, "one entry examined per insertion into a full cache")
			assert.Equal(t, uint64(inserts), st.Evictions-before.Evictions)
		})
	}
}

// Eviction is least-recently-used: a looked-up entry survives, the oldest untouched one
// goes. Expired entries are misses and leave the cache; remove frees a slot for reuse.
func TestCacheLRU(t *testing.T) {
	c := newTokenCache(3)
	now := time.Unix(1_750_000_000, 0)
	a, b, d, e := randKey(), randKey(), randKey(), randKey()
	sa, sb, sd, se := &Session{ID: "a"}, &Session{ID: "b"}, &Session{ID: "d"}, &Session{ID: "e"}
	later := now.Add(time.Minute)
	c.put(a, sa, later)
	c.put(b, sb, later)
	c.put(d, sd, later)
	got, ok := c.get(a, now) // a is now the most recent; b the least
	require.True(t, ok)
	require.Same(t, sa, got)
	c.put(e, se, later)
	_, ok = c.get(b, now)
	assert.False(t, ok, "the least recently used entry was evicted")
	for k, s := range map[[32]byte]*Session{a: sa, d: sd, e: se} {
		got, ok := c.get(k, now)
		assert.True(t, ok)
		assert.Same(t, s, got)
	}
	// Re-putting an entry updates it in place.
	c.put(d, sa, later)
	got, _ = c.get(d, now)
	assert.Same(t, sa, got)
	assert.Equal(t, 3, c.stats().Len)

	_, ok = c.get(a, later)
	assert.False(t, ok, "an entry is stale at its deadline")
	assert.Equal(t, 2, c.stats().Len, "a stale entry leaves on lookup")
	c.remove(e)
	assert.Equal(t, 1, c.stats().Len)
	f, g := randKey(), randKey()
	c.put(f, sa, later)
	c.put(g, sb, later)
	assert.Equal(t, 3, c.stats().Len)
	assert.Zero(t, c.stats().Evictions-1, "freed slots are reused before evicting")
}

// The shards together hold exactly the configured number of entries.
func TestCacheShards(t *testing.T) {
	for _, size := range []int{1, 1023, 2048, 4097, 1 << 18, 1<<18 + 7} {
		c := newTokenCache(size)
		total := 0
		for i := range c.shards {
			total += c.shards[i].max
			assert.GreaterOrEqual(t, c.shards[i].max, min(size, minShardSize), "size %d", size)
		}
		assert.Equal(t, size, total, "size %d", size)
		assert.LessOrEqual(t, len(c.shards), maxCacheShards)
	}
}

// On IDM-style traffic (Zipf and uniform, a new token per session per minute, Issue and
// refresh warming the cache) the sharded cache's hit rate is within 5 points of a single
// exact LRU of the same size: for a cache smaller than the sessions, as large, and the
// default size's proportion. The 100,000-session case is BenchmarkScaleSessionCache.
func TestCacheHitRateNearLRU(t *testing.T) {
	const n = 10_000
	for _, zipf := range []bool{true, false} {
		for _, size := range []int{n / 10, n, DefaultCacheSize * n / 100_000} {
			t.Run(fmt.Sprintf("zipf=%v/size=%d", zipf, size), func(t *testing.T) {
				w := newWorkload(n, zipf, secrets.DefaultLease, 1)
				res := simulate(w, []simCache{managerCache{c: newTokenCache(size), s: &Session{}}, newRefLRU(size)}, 6*time.Minute, 4*time.Minute)
				t.Logf("%d requests: sharded %.1f%%, ideal LRU %.1f%%", res.requests, res.hitRate[0], res.hitRate[1])
				require.Greater(t, res.requests, 10_000)
				assert.InDelta(t, res.hitRate[1], res.hitRate[0], 5)
			})
		}
	}
}
