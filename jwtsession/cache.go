package jwtsession

import (
	"crypto/sha256"
	"sync"
	"time"
)

// tokenCache remembers validated tokens by the SHA-256 of the token, each until its own
// deadline. It is bounded: when full, expired entries go first, then arbitrary ones.
type tokenCache struct {
	mu  sync.Mutex
	max int
	m   map[[32]byte]cacheEntry
}

type cacheEntry struct {
	s     *Session
	until time.Time
}

func newTokenCache(max int) *tokenCache {
	return &tokenCache{max: max, m: make(map[[32]byte]cacheEntry)}
}

func cacheKey(token string) [32]byte { return sha256.Sum256([]byte(token)) }

func (c *tokenCache) get(k [32]byte, now time.Time) (*Session, bool) {
	c.mu.Lock()
	e, ok := c.m[k]
	if ok && !now.Before(e.until) {
		delete(c.m, k)
		ok = false
	}
	c.mu.Unlock()
	return e.s, ok
}

func (c *tokenCache) put(k [32]byte, s *Session, until, now time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.m) >= c.max {
		for key, e := range c.m {
			if !now.Before(e.until) {
				delete(c.m, key)
			}
		}
		for key := range c.m { // random order: evicts arbitrary entries
			if len(c.m) < c.max {
				break
			}
			delete(c.m, key)
		}
	}
	c.m[k] = cacheEntry{s: s, until: until}
}

func (c *tokenCache) remove(k [32]byte) {
	c.mu.Lock()
	delete(c.m, k)
	c.mu.Unlock()
}
