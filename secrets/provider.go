package secrets

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// DefaultLease is how long a Provider serves a resolved entry before it asks the store again,
// as ForgeRock's secrets API does.
const DefaultLease = 5 * time.Minute

// ProviderOptions tune a Provider. The zero value means the documented defaults.
type ProviderOptions struct {
	// Lease is how long a resolved entry is served from cache: 0 means DefaultLease; a
	// negative value disables caching (every call asks the store).
	Lease time.Duration
	// Now is the clock; nil means time.Now.
	Now func() time.Time
	// Logger receives the events the Provider logs (a missing older alias, once per alias);
	// nil means slog.Default().
	Logger *slog.Logger
}

// A Provider turns a secret id and a purpose into keys, through mappings over stores: the
// mappings engine of IDM's secrets.json. For ENCRYPT, SIGN and GENERIC the first alias of the
// first mapping (in store order) is active; for DECRYPT and VERIFY every mapped alias is valid,
// active first.
//
// A Provider caches resolved entries for a lease (see ProviderOptions), shares one store lookup
// among concurrent callers of a cold entry, and evicts at once when a store that implements
// Notifier reports a change. It is safe for concurrent use.
type Provider struct {
	stores []Store
	names  map[string]int
	plans  map[planKey]*plan // read-only after NewProvider
	lease  time.Duration
	now    func() time.Time
	epoch  time.Time // the zero of clock()
	log    *slog.Logger
	owned  bool // Close closes the stores (they were opened by Open)

	gen    atomic.Uint64 // bumped on every eviction: plan caches of an older gen are stale
	closed atomic.Bool

	mu      sync.Mutex
	entries map[entryKey]entrySlot
	flights map[entryKey]*flight
	logged  map[entryKey]bool
	unsub   []func()
}

type planKey struct {
	id string
	pu Purpose
}

type entryKey struct {
	store int
	alias string
}

// A group is one mapped alias and the stores it may come from (one store, or every store for a
// mapping with Store "").
type group struct {
	alias  string
	stores []int
}

// A plan is one (secret id, purpose): its aliases and its cached keys. The caches come first:
// a warm call reads them and nothing else of the plan.
type plan struct {
	active activeSlot
	valid  atomic.Pointer[cachedValid]
	id     string  // the mapping's, not a caller's (which may pin a larger buffer)
	groups []group // shared, read-only, between plans of one id with the same groups
}

type entrySlot struct {
	e   Entry
	exp int64 // on the Provider's clock
}

type flight struct {
	done      chan struct{}
	e         Entry
	exp       int64 // when e's lease ends, on the Provider's clock
	err       error
	abandoned bool // the lookup failed with its caller's ctx done: waiters look again
}

// NewProvider returns a Provider over stores (in order) with the given mappings. Mappings
// naming a store (Mapping.Store) apply to it; mappings with Store "" apply to every store and
// come before store-specific ones. It fails when a store name repeats, a mapping names an
// unknown store or purpose, or a secret id is empty. The Provider does not close stores it was
// given; Close them yourself (Open's Provider closes what it opened).
func NewProvider(stores []Store, mappings []Mapping, opts ProviderOptions) (*Provider, error) {
	p := &Provider{
		stores:  append([]Store(nil), stores...),
		names:   make(map[string]int, len(stores)),
		plans:   make(map[planKey]*plan),
		lease:   opts.Lease,
		now:     opts.Now,
		log:     opts.Logger,
		entries: make(map[entryKey]entrySlot),
		flights: make(map[entryKey]*flight),
		logged:  make(map[entryKey]bool),
	}
	if p.lease == 0 {
		p.lease = DefaultLease
	}
	if p.now == nil {
		p.now = time.Now
	}
	if p.log == nil {
		p.log = slog.Default()
	}
	p.epoch = p.now()
	for i, s := range stores {
		if s == nil {
			return nil, fmt.Errorf("secrets: store %d is nil", i)
		}
		if _, dup := p.names[s.Name()]; dup {
			return nil, fmt.Errorf("secrets: two stores are named %q: store names must be unique", s.Name())
		}
		p.names[s.Name()] = i
	}
	all := make([]int, len(stores))
	for i := range all {
		all[i] = i
	}
	// Wildcard mappings first, then store-specific ones in store order, each in mapping order.
	order := make([]Mapping, 0, len(mappings))
	for _, m := range mappings {
		if m.Store == "" {
			order = append(order, m)
		}
	}
	for _, s := range stores {
		for _, m := range mappings {
			if m.Store == s.Name() {
				order = append(order, m)
			}
		}
	}
	for i, m := range mappings {
		if m.SecretID == "" {
			return nil, fmt.Errorf("secrets: mapping %d has no secret id", i)
		}
		if _, ok := p.names[m.Store]; m.Store != "" && !ok {
			return nil, fmt.Errorf("secrets: mapping of %s names store %q, which was not given (stores: %s)", m.SecretID, m.Store, strings.Join(p.storeNames(), ", "))
		}
		if len(m.Types) == 0 {
			return nil, fmt.Errorf("secrets: mapping of %s has no types: list ENCRYPT, DECRYPT, SIGN, VERIFY or GENERIC", m.SecretID)
		}
		for _, t := range m.Types {
			if !t.valid() {
				return nil, fmt.Errorf("secrets: mapping of %s has type %q: want ENCRYPT, DECRYPT, SIGN, VERIFY or GENERIC", m.SecretID, t)
			}
		}
	}
	for _, m := range order {
		storesOf := all
		if m.Store != "" {
			storesOf = []int{p.names[m.Store]}
		}
		for _, t := range m.Types {
			k := planKey{m.SecretID, t}
			pl := p.plans[k]
			if pl == nil {
				pl = &plan{id: m.SecretID}
				p.plans[k] = pl
			}
		aliases:
			for _, a := range m.Aliases {
				for gi := range pl.groups {
					if g := &pl.groups[gi]; g.alias == a {
						for _, si := range storesOf {
							if !containsInt(g.stores, si) {
								g.stores = append(g.stores, si)
							}
						}
						continue aliases
					}
				}
				pl.groups = append(pl.groups, group{alias: a, stores: storesOf})
			}
		}
	}
	// Plans of one id usually have the same groups (one mapping listing several purposes):
	// share them, so an id holds them once.
	for k, pl := range p.plans {
		for _, t := range purposes {
			if o := p.plans[planKey{k.id, t}]; o != nil && o != pl && sameGroups(o.groups, pl.groups) {
				pl.groups = o.groups
				break
			}
		}
	}
	for i, s := range p.stores {
		if n, ok := s.(Notifier); ok {
			i := i
			p.unsub = append(p.unsub, n.Subscribe(func(c Change) { p.evict(i, c.Aliases) }))
		}
	}
	return p, nil
}

// purposes are the valid purposes, in the order error messages list them.
var purposes = [...]Purpose{Encrypt, Decrypt, Sign, Verify, Generic}

// canonical returns the package's constant equal to pu (one of purposes), so a Secret does not
// hold a caller's string.
func canonical(pu Purpose) Purpose {
	for _, c := range purposes {
		if c == pu {
			return c
		}
	}
	return pu
}

func sameGroups(a, b []group) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i].alias != b[i].alias || len(a[i].stores) != len(b[i].stores) {
			return false
		}
		for j := range a[i].stores {
			if a[i].stores[j] != b[i].stores[j] {
				return false
			}
		}
	}
	return true
}

func containsInt(s []int, v int) bool {
	for _, x := range s {
		if x == v {
			return true
		}
	}
	return false
}

func (p *Provider) storeNames() []string {
	n := make([]string, len(p.stores))
	for i, s := range p.stores {
		n[i] = s.Name()
	}
	return n
}

// Stores returns the Provider's stores, in order.
func (p *Provider) Stores() []Store { return append([]Store(nil), p.stores...) }

// Lease returns how long the Provider serves a resolved entry from its cache (see
// ProviderOptions.Lease: DefaultLease for 0); zero or negative when it does not cache. A key
// removed from a store without notice stops being served at most Lease after the Provider
// looked it up; caches built on the Provider's keys should expire no later.
func (p *Provider) Lease() time.Duration {
	if p.lease < 0 {
		return 0
	}
	return p.lease
}

// Active returns the active key of secretID for pu: the first mapped alias. It fails with an
// error wrapping ErrNoMapping when no mapping gives secretID the purpose pu, ErrNotFound
// (naming store and alias) when the active alias is missing, ErrWrongKind when the entry
// cannot serve pu (a certificate for SIGN or DECRYPT), and ErrClosed after Close.
//
// A warm call (entry cached and its lease running) touches no store and does not allocate.
func (p *Provider) Active(ctx context.Context, secretID string, pu Purpose) (*Secret, error) {
	if pl := p.plans[planKey{secretID, pu}]; pl != nil {
		if s := pl.active.load(p.gen.Load(), p.clock()); s != nil && !p.closed.Load() {
			return s, nil
		}
	}
	return p.activeSlow(ctx, secretID, pu)
}

// clock is the Provider's clock: nanoseconds since NewProvider (monotonic when Now is
// time.Now). Leases are compared on it.
func (p *Provider) clock() int64 { return int64(p.now().Sub(p.epoch)) }

// leaseEnd returns now plus the lease, saturating.
func (p *Provider) leaseEnd(now int64) int64 {
	if e := now + int64(p.lease); e >= now {
		return e
	}
	return math.MaxInt64
}

func (p *Provider) activeSlow(ctx context.Context, secretID string, pu Purpose) (*Secret, error) {
	pl, err := p.plan(ctx, secretID, pu)
	if err != nil {
		return nil, err
	}
	if len(pl.groups) == 0 {
		return nil, &KeyError{Op: "active", SecretID: secretID, Purpose: pu, Err: fmt.Errorf("%w: the mapping lists no alias", ErrNotFound)}
	}
	gen := p.gen.Load()
	s, exp, err := p.resolve(ctx, pl, pu, pl.groups[0])
	if err != nil {
		return nil, err
	}
	if p.lease > 0 {
		// The entry's own lease, not a new one: an entry cached earlier expires when it does.
		pl.active.store(s, exp, gen)
	}
	return s, nil
}

// Valid returns every valid key of secretID for pu, active first, in mapping order (for
// DECRYPT and VERIFY every mapped alias; for other purposes only the active one). A missing
// alias is skipped and logged once — the active one too, so data under older keys still
// decrypts while the active key is restored; Active reports a missing active alias as
// ErrNotFound. If no alias is found the error wraps ErrNotFound. Other errors (a store
// outage: ErrUnavailable) are returned, never skipped. The slice is the caller's.
func (p *Provider) Valid(ctx context.Context, secretID string, pu Purpose) ([]*Secret, error) {
	if pl := p.plans[planKey{secretID, pu}]; pl != nil {
		if c := pl.valid.Load(); c.fresh(p.gen.Load(), p.clock()) && !p.closed.Load() {
			return c.secrets(), nil
		}
	}
	pl, err := p.plan(ctx, secretID, pu)
	if err != nil {
		return nil, err
	}
	groups := pl.groups
	if !pu.rotates() && len(groups) > 1 {
		groups = groups[:1]
	}
	gen := p.gen.Load()
	var out []*Secret
	var firstErr error
	exp := int64(math.MaxInt64) // the earliest lease of the entries in out
	for _, g := range groups {
		s, e, err := p.resolve(ctx, pl, pu, g)
		switch {
		case err == nil:
			out = append(out, s)
			exp = min(exp, e)
		case errors.Is(err, ErrNotFound):
			if firstErr == nil {
				firstErr = err
			}
			p.logMissing(g, secretID, pu)
		default:
			return nil, err
		}
	}
	if len(out) == 0 {
		if firstErr == nil {
			firstErr = &KeyError{Op: "valid", SecretID: secretID, Purpose: pu, Err: fmt.Errorf("%w: the mapping lists no alias", ErrNotFound)}
		}
		return nil, firstErr
	}
	if p.lease > 0 {
		pl.valid.Store(newCachedValid(out, exp, gen))
	}
	return append([]*Secret(nil), out...), nil
}

// Named returns the key with the given alias among secretID's valid keys for pu: how data that
// names its key (IDM's stableId, a JWT kid) finds it without trial. alias is the entry's own
// alias (Secret.Alias), which is the mapping's alias except where a store resolves one to
// another entry (a key directory's version-relative aliases). An exact match wins; otherwise
// the alias matches without regard to case when exactly one valid key's does (Java reports
// PKCS#12 aliases in lower case, so a value or token written with "MyKey" still finds it;
// two valid keys differing only in case are never guessed between). An alias that is none
// of the valid keys' is ErrNotFound, or the store's error when a store could not be asked.
//
// A warm call (the valid keys cached) touches no store and does not allocate.
func (p *Provider) Named(ctx context.Context, secretID string, pu Purpose, alias string) (*Secret, error) {
	if pl := p.plans[planKey{secretID, pu}]; pl != nil {
		// One clock reading on the warm path: time.Now is most of a warm call's cost.
		now := p.clock()
		c := pl.valid.Load()
		if !c.fresh(p.gen.Load(), now) || p.closed.Load() {
			// Cold: resolve the valid keys once (cached), then look among them.
			p.Valid(ctx, secretID, pu) //nolint:errcheck // errors are reported below
			c = pl.valid.Load()
			now = p.clock()
		}
		if c.fresh(p.gen.Load(), now) && !p.closed.Load() {
			if s := c.named(alias); s != nil {
				return s, nil
			}
		}
	}
	pl, err := p.plan(ctx, secretID, pu)
	if err != nil {
		return nil, err
	}
	groups := pl.groups
	if !pu.rotates() && len(groups) > 1 {
		groups = groups[:1]
	}
	var byMapping *Secret
	for _, g := range groups {
		if g.alias == alias {
			s, _, err := p.resolve(ctx, pl, pu, g)
			if err != nil || s.Alias() == alias {
				return s, err
			}
			byMapping = s
			break
		}
	}
	// A store may name an entry otherwise than the mapping does (a key directory's "jwt.v-1"
	// is the entry "jwt.v1", and its "jwt" the newest version, not the file "jwt"): look among
	// the valid keys by their own aliases, as a warm call does.
	valid, err := p.Valid(ctx, secretID, pu)
	for _, s := range valid {
		if s.Alias() == alias {
			return s, nil
		}
	}
	if byMapping != nil {
		return byMapping, nil
	}
	if s := foldMatch(valid, alias); s != nil {
		return s, nil
	}
	if err != nil && !errors.Is(err, ErrNotFound) {
		return nil, err
	}
	return nil, &KeyError{Op: "named", SecretID: secretID, Purpose: pu, Alias: alias,
		Err: fmt.Errorf("%w: the alias is not among the secret id's valid aliases", ErrNotFound)}
}

// Refresh drops every cached entry, so the next calls ask the stores again.
func (p *Provider) Refresh() {
	p.mu.Lock()
	clear(p.entries)
	p.gen.Add(1)
	p.mu.Unlock()
}

// Close ends the Provider: later calls fail with ErrClosed. A Provider made by Open closes the
// stores it opened; one made by NewProvider leaves them to the caller. Close is idempotent.
func (p *Provider) Close() error {
	if p.closed.Swap(true) {
		return nil
	}
	p.mu.Lock()
	unsub := p.unsub
	p.unsub = nil
	clear(p.entries)
	p.gen.Add(1)
	p.mu.Unlock()
	for _, u := range unsub {
		u()
	}
	if !p.owned {
		return nil
	}
	var errs []error
	for _, s := range p.stores {
		if err := s.Close(); err != nil {
			errs = append(errs, fmt.Errorf("secrets: closing store %s: %w", s.Name(), err))
		}
	}
	return errors.Join(errs...)
}

func (p *Provider) plan(ctx context.Context, secretID string, pu Purpose) (*plan, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if p.closed.Load() {
		return nil, &KeyError{Op: "lookup", SecretID: secretID, Purpose: pu, Err: ErrClosed}
	}
	if pl := p.plans[planKey{secretID, pu}]; pl != nil {
		return pl, nil
	}
	var names []string
	for _, h := range purposes {
		if p.plans[planKey{secretID, h}] != nil {
			names = append(names, string(h))
		}
	}
	if len(names) > 0 {
		return nil, &KeyError{Op: "lookup", SecretID: secretID, Purpose: pu,
			Err: fmt.Errorf("%w: the secret id is mapped for %s only; add %s to its mapping's types", ErrNoMapping, strings.Join(names, ", "), pu)}
	}
	return nil, &KeyError{Op: "lookup", SecretID: secretID, Purpose: pu,
		Err: fmt.Errorf("%w: no store maps this secret id; add a mapping to secrets.json", ErrNoMapping)}
}

// resolve returns the Secret for one group: the first of its stores that has the alias, and
// when the lease of its cached entry ends.
func (p *Provider) resolve(ctx context.Context, pl *plan, pu Purpose, g group) (*Secret, int64, error) {
	pu = canonical(pu)
	var missing []string
	for _, si := range g.stores {
		e, exp, err := p.entry(ctx, si, g.alias)
		if errors.Is(err, ErrNotFound) && len(g.stores) > 1 {
			missing = append(missing, p.stores[si].Name())
			continue
		}
		if err != nil {
			return nil, 0, &KeyError{Op: "lookup", Store: p.stores[si].Name(), Alias: g.alias, SecretID: pl.id, Purpose: pu, Err: unwrapKeyError(err)}
		}
		if e.Kind() == KindCertificate && (pu == Sign || pu == Decrypt) {
			return nil, 0, &KeyError{Op: "lookup", Store: p.stores[si].Name(), Alias: g.alias, SecretID: pl.id, Purpose: pu,
				Err: fmt.Errorf("%w: the entry is a certificate without a private key, it cannot serve %s", ErrWrongKind, pu)}
		}
		return &Secret{entry: e, store: p.stores[si].Name(), secretID: pl.id, purpose: pu}, exp, nil
	}
	return nil, 0, &KeyError{Op: "lookup", Store: strings.Join(missing, ", "), Alias: g.alias, SecretID: pl.id, Purpose: pu, Err: ErrNotFound}
}

// unwrapKeyError strips a store's own *KeyError naming the same alias, to keep messages short.
func unwrapKeyError(err error) error {
	var ke *KeyError
	if errors.As(err, &ke) && ke.Op == "" {
		return ke.Err
	}
	return err
}

// entry returns a store's entry through the cache, sharing one lookup among concurrent callers.
// A caller that waited on a lookup which ended because its leader's ctx was done looks again
// with its own ctx, rather than returning another caller's cancellation. exp is when the
// entry's lease ends (the lookup's time plus the lease).
func (p *Provider) entry(ctx context.Context, si int, alias string) (e Entry, exp int64, err error) {
	k := entryKey{si, alias}
	for {
		p.mu.Lock()
		if sl, ok := p.entries[k]; ok && p.clock() < sl.exp {
			p.mu.Unlock()
			return sl.e, sl.exp, nil
		}
		if f, ok := p.flights[k]; ok {
			p.mu.Unlock()
			select {
			case <-f.done:
				if f.abandoned && ctx.Err() == nil {
					continue
				}
				return f.e, f.exp, f.err
			case <-ctx.Done():
				return nil, 0, ctx.Err()
			}
		}
		f := &flight{done: make(chan struct{})}
		p.flights[k] = f
		gen := p.gen.Load()
		// The lease runs from the lookup's start: the store may have changed since.
		f.exp = p.leaseEnd(p.clock())
		p.mu.Unlock()

		f.e, f.err = p.stores[si].Entry(ctx, alias)
		f.abandoned = f.err != nil && ctx.Err() != nil

		p.mu.Lock()
		delete(p.flights, k)
		if f.err == nil {
			if p.lease > 0 && p.gen.Load() == gen {
				p.entries[k] = entrySlot{e: f.e, exp: f.exp}
			}
			delete(p.logged, k)
		}
		p.mu.Unlock()
		close(f.done)
		return f.e, f.exp, f.err
	}
}

func (p *Provider) logMissing(g group, secretID string, pu Purpose) {
	for _, si := range g.stores {
		k := entryKey{si, g.alias}
		p.mu.Lock()
		seen := p.logged[k]
		p.logged[k] = true
		p.mu.Unlock()
		if !seen {
			p.log.Warn("secrets: a mapped alias is missing; skipping it", "store", p.stores[si].Name(), "alias", g.alias, "secretId", secretID, "purpose", string(pu))
		}
	}
}

// evict drops a store's cached entries (all of them when aliases is nil).
func (p *Provider) evict(si int, aliases []string) {
	p.mu.Lock()
	if aliases == nil {
		for k := range p.entries {
			if k.store == si {
				delete(p.entries, k)
			}
		}
		for k := range p.logged {
			if k.store == si {
				delete(p.logged, k)
			}
		}
	} else {
		for _, a := range aliases {
			delete(p.entries, entryKey{si, a})
			delete(p.logged, entryKey{si, a})
		}
	}
	p.gen.Add(1)
	p.mu.Unlock()
}

// foldMatch returns the one Secret among ss whose alias equals alias without regard to case,
// or nil when none or several do.
func foldMatch(ss []*Secret, alias string) *Secret {
	var found *Secret
	for _, s := range ss {
		if strings.EqualFold(s.entry.Alias(), alias) {
			if found != nil {
				return nil
			}
			found = s
		}
	}
	return found
}
