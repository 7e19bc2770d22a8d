package secrets

import (
	"runtime"
	"strings"
	"sync/atomic"
)

// The warm path of Active and Named reads a plan's cache and nothing else: the plan map's slot,
// then one cache line of the plan (activeSlot and valid come first in plan). At 10,000 ids
// the plans no longer fit a core's cache, so every dependent pointer the warm path follows
// is a memory miss; these types keep the chain to map slot → plan (Active) and map slot →
// plan → cachedValid (Named), with the aliases held inline.

// activeSlot is a plan's cached active Secret: a sequence lock over three words, so a warm
// Active reads them from the plan itself rather than through a pointer to an immutable record
// (one dependent memory miss fewer). Writers are rare (a cold lookup, once per lease).
type activeSlot struct {
	seq atomic.Uint64 // odd while a writer is storing
	sec atomic.Pointer[Secret]
	exp atomic.Int64 // when the lease ends, on the Provider's clock (see Provider.clock)
	gen atomic.Uint64
}

// load returns the cached Secret when it is of generation gen and its lease runs at now; nil
// otherwise (also while a writer is storing: the caller then takes the slow path).
func (a *activeSlot) load(gen uint64, now int64) *Secret {
	s1 := a.seq.Load()
	if s1&1 != 0 {
		return nil
	}
	sec, exp, g := a.sec.Load(), a.exp.Load(), a.gen.Load()
	if a.seq.Load() != s1 || g != gen || now >= exp {
		return nil
	}
	return sec
}

func (a *activeSlot) store(sec *Secret, exp int64, gen uint64) {
	for {
		s := a.seq.Load()
		if s&1 == 0 && a.seq.CompareAndSwap(s, s+1) {
			break
		}
		runtime.Gosched()
	}
	a.sec.Store(sec)
	a.exp.Store(exp)
	a.gen.Store(gen)
	a.seq.Add(1)
}

// validItem is one valid key and its entry's own alias (Secret.Alias, read once when cached).
type validItem struct {
	alias string
	s     *Secret
}

// cachedValid is a plan's cached valid keys, immutable once stored. Up to two keys (active and
// previous: the usual rotation) live inside the record itself.
type cachedValid struct {
	exp    int64
	gen    uint64
	items  []validItem
	inline [2]validItem
}

func newCachedValid(ss []*Secret, exp int64, gen uint64) *cachedValid {
	c := &cachedValid{exp: exp, gen: gen}
	if len(ss) <= len(c.inline) {
		c.items = c.inline[:len(ss)]
	} else {
		c.items = make([]validItem, len(ss))
	}
	for i, s := range ss {
		c.items[i] = validItem{alias: s.entry.Alias(), s: s}
	}
	return c
}

// fresh reports whether c is of generation gen and its lease runs at now.
func (c *cachedValid) fresh(gen uint64, now int64) bool {
	return c != nil && c.gen == gen && now < c.exp
}

func (c *cachedValid) secrets() []*Secret {
	out := make([]*Secret, len(c.items))
	for i, it := range c.items {
		out[i] = it.s
	}
	return out
}

// named returns the key whose alias is alias, else the one key whose alias equals it without
// regard to case, else nil.
func (c *cachedValid) named(alias string) *Secret {
	for i := range c.items {
		if c.items[i].alias == alias {
			return c.items[i].s
		}
	}
	var found *Secret
	for i := range c.items {
		if strings.EqualFold(c.items[i].alias, alias) {
			if found != nil {
				return nil
			}
			found = c.items[i].s
		}
	}
	return found
}
