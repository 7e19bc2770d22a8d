package jwtsession

import (
	"crypto/sha256"
	"encoding/binary"
	"sync"
	"time"
)

// tokenCache remembers validated (and issued) sessions by the SHA-256 of their token, each
// until its own deadline. It is a sharded LRU: the key's first bytes pick a shard, and a
// full shard evicts its least recently used entry. Every operation is O(1): one map
// access and a few index updates under the shard's lock; an insertion into a full shard
// looks at exactly one entry (the tail), never scans. Expired entries are dropped when
// they are looked up or when they reach the tail. Cached sessions hold no Token (the
// caller has it; Validate puts it back), so an entry costs its claims, not the ~1 KB
// token.
type tokenCache struct {
	shards []cacheShard
	mask   uint32
}

// Shards: at most maxCacheShards, each holding at least minShardSize entries, so that a
// shard's LRU order stays close to a single global LRU's.
const (
	maxCacheShards = 16
	minShardSize   = 1024
)

type cacheShard struct {
	mu    sync.Mutex
	max   int
	idx   map[[32]byte]int32
	nodes []cacheNode // nodes[0] is the list head: next is the most, prev the least recently used
	free  int32       // first free node (linked by next), 0 when none

	hits, misses, evictions uint64
	visited                 uint64 // entries examined to make room, for tests
	_                       [64]byte
}

type cacheNode struct {
	key        [32]byte
	s          *Session
	until      int64 // UnixNano: the entry is stale from then on
	prev, next int32
}

func newTokenCache(max int) *tokenCache {
	n := 1
	for n < maxCacheShards && max/(n*2) >= minShardSize {
		n *= 2
	}
	c := &tokenCache{shards: make([]cacheShard, n), mask: uint32(n - 1)}
	for i := range c.shards {
		sh := &c.shards[i]
		sh.max = max / n
		if i < max%n {
			sh.max++
		}
		sh.idx = make(map[[32]byte]int32)
		sh.nodes = make([]cacheNode, 1, 1+min(sh.max, 64))
	}
	return c
}

func cacheKey(token string) [32]byte { return sha256.Sum256([]byte(token)) }

func (c *tokenCache) shard(k [32]byte) *cacheShard {
	return &c.shards[binary.LittleEndian.Uint32(k[:4])&c.mask]
}

// get returns the session cached under k, unless it is absent or stale at now.
func (c *tokenCache) get(k [32]byte, now time.Time) (*Session, bool) {
	sh := c.shard(k)
	sh.mu.Lock()
	defer sh.mu.Unlock()
	i, ok := sh.idx[k]
	if !ok {
		sh.misses++
		return nil, false
	}
	n := &sh.nodes[i]
	if now.UnixNano() >= n.until {
		sh.drop(i)
		sh.misses++
		return nil, false
	}
	sh.unlink(i)
	sh.pushFront(i)
	sh.hits++
	return n.s, true
}

// put caches s under k until the given time, as the most recently used entry.
func (c *tokenCache) put(k [32]byte, s *Session, until time.Time) {
	sh := c.shard(k)
	sh.mu.Lock()
	defer sh.mu.Unlock()
	if sh.max <= 0 {
		return
	}
	i, ok := sh.idx[k]
	switch {
	case ok:
		sh.unlink(i)
	case len(sh.idx) >= sh.max: // full: reuse the least recently used entry
		i = sh.nodes[0].prev
		sh.visited++
		sh.evictions++
		sh.unlink(i)
		delete(sh.idx, sh.nodes[i].key)
	case sh.free != 0:
		i = sh.free
		sh.free = sh.nodes[i].next
	default:
		sh.nodes = append(sh.nodes, cacheNode{})
		i = int32(len(sh.nodes) - 1)
	}
	sh.nodes[i] = cacheNode{key: k, s: s, until: until.UnixNano()}
	sh.idx[k] = i
	sh.pushFront(i)
}

func (c *tokenCache) remove(k [32]byte) {
	sh := c.shard(k)
	sh.mu.Lock()
	if i, ok := sh.idx[k]; ok {
		sh.drop(i)
	}
	sh.mu.Unlock()
}

// cacheStats are the cache's counters, summed over shards.
type cacheStats struct {
	Len                     int
	Hits, Misses, Evictions uint64
	// Visited counts the entries insertions examined to make room.
	Visited uint64
}

func (c *tokenCache) stats() cacheStats {
	var st cacheStats
	for i := range c.shards {
		sh := &c.shards[i]
		sh.mu.Lock()
		st.Len += len(sh.idx)
		st.Hits += sh.hits
		st.Misses += sh.misses
		st.Evictions += sh.evictions
		st.Visited += sh.visited
		sh.mu.Unlock()
	}
	return st
}

// drop removes node i and puts it on the free list.
func (sh *cacheShard) drop(i int32) {
	sh.unlink(i)
	delete(sh.idx, sh.nodes[i].key)
	sh.nodes[i] = cacheNode{next: sh.free}
	sh.free = i
}

func (sh *cacheShard) unlink(i int32) {
	n := &sh.nodes[i]
	sh.nodes[n.prev].next = n.next
	sh.nodes[n.next].prev = n.prev
}

func (sh *cacheShard) pushFront(i int32) {
	n := &sh.nodes[i]
	n.prev, n.next = 0, sh.nodes[0].next
	sh.nodes[n.next].prev = i
	sh.nodes[0].next = i
}
