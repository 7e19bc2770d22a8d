package secrets_test

import (
	"bytes"
	"context"
	"crypto"
	"crypto/x509/pkix"
	"errors"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/secretstores/secretstores/secrets"
	"github.com/secretstores/secretstores/secrets/secretstest"
	"github.com/secretstores/secretstores/secrets/storekit"
)

// countingStore counts Entry calls on a MemoryStore and can hold them until released.
type countingStore struct {
	*secretstest.MemoryStore
	calls atomic.Int64
	gate  chan struct{} // when non-nil, Entry waits on it
}

func (c *countingStore) Entry(ctx context.Context, alias string) (secrets.Entry, error) {
	c.calls.Add(1)
	if c.gate != nil {
		<-c.gate
	}
	return c.MemoryStore.Entry(ctx, alias)
}

func newStore(t testing.TB, name string, keys map[string]secrets.Kind) *countingStore {
	t.Helper()
	m := secretstest.NewMemoryStore(name)
	for alias, kind := range keys {
		spec := secrets.KeySpec{Kind: kind, Subject: pkix.Name{CommonName: alias}}
		if kind == secrets.KindCertificate {
			km, err := storekit.GenerateKeyMaterial(secrets.KeySpec{Kind: secrets.KindEC, Subject: pkix.Name{CommonName: alias}})
			require.NoError(t, err)
			_, err = m.Import(context.Background(), alias, secrets.KeyMaterial{Kind: kind, Chain: km.Chain}, false)
			require.NoError(t, err)
			continue
		}
		_, err := m.Generate(context.Background(), alias, spec, false)
		require.NoError(t, err)
	}
	return &countingStore{MemoryStore: m}
}

func aliasesOf(ss []*secrets.Secret) []string {
	var out []string
	for _, s := range ss {
		out = append(out, s.Store()+":"+s.Alias())
	}
	return out
}

func TestRotation(t *testing.T) {
	ctx := context.Background()
	st := newStore(t, "ks", map[string]secrets.Kind{"new": secrets.KindAES, "old": secrets.KindAES, "older": secrets.KindAES, "hmac": secrets.KindSecret})
	p, err := secrets.NewProvider([]secrets.Store{st}, []secrets.Mapping{
		{Store: "ks", SecretID: "idm.config.encryption", Types: []secrets.Purpose{secrets.Encrypt, secrets.Decrypt}, Aliases: []string{"new", "old", "older"}},
		{Store: "ks", SecretID: "jwt", Types: []secrets.Purpose{secrets.Sign, secrets.Verify}, Aliases: []string{"hmac"}},
	}, secrets.ProviderOptions{})

	require.NoError(t, err)
	defer p.Close()

	for _, tc := range []struct {
		pu    secrets.Purpose
		valid []string
	}{
		{secrets.Encrypt, []string{"ks:new"}},
		{secrets.Decrypt, []string{"ks:new", "ks:old", "ks:older"}},
	} {
		a, err := p.Active(ctx, "idm.config.encryption", tc.pu)
		require.NoError(t, err)
		assert.Equal(t, "new", a.Alias(), "the first alias is active for %s", tc.pu)
		v, err := p.Valid(ctx, "idm.config.encryption", tc.pu)
		require.NoError(t, err)
		assert.Equal(t, tc.valid, aliasesOf(v), "valid for %s", tc.pu)
	}
	n, err := p.Named(ctx, "idm.config.encryption", secrets.Decrypt, "older")
	require.NoError(t, err)
	assert.Equal(t, "older", n.Alias())
	_, err = p.Named(ctx, "idm.config.encryption", secrets.Encrypt, "older")
	require.ErrorIs(t, err, secrets.ErrNotFound, "only the active alias serves ENCRYPT")
	_, err = p.Named(ctx, "idm.config.encryption", secrets.Decrypt, "hmac")
	require.ErrorIs(t, err, secrets.ErrNotFound, "an alias of another secret id is not served")

	// Data sealed under an old key opens with the Secret named by its alias.
	old, err := p.Named(ctx, "idm.config.encryption", secrets.Decrypt, "old")
	require.NoError(t, err)
	sealed, err := old.Seal(ctx, []byte("x"), nil)
	require.NoError(t, err)
	active, err := p.Active(ctx, "idm.config.encryption", secrets.Decrypt)
	require.NoError(t, err)
	_, err = active.Open(ctx, sealed, nil)
	require.ErrorIs(t, err, secrets.ErrVerification)

	_, err = p.Active(ctx, "jwt", secrets.Encrypt)
	require.ErrorIs(t, err, secrets.ErrNoMapping)
	assert.Contains(t, err.Error(), "SIGN, VERIFY", "the error says which purposes the id has")
	_, err = p.Active(ctx, "nope", secrets.Sign)
	require.ErrorIs(t, err, secrets.ErrNoMapping)
}

func TestSeveralStores(t *testing.T) {
	ctx := context.Background()
	ks := newStore(t, "mainKeyStore", map[string]secrets.Kind{"localhost": secrets.KindRSA, "sym": secrets.KindAES})
	ts := newStore(t, "mainTrustStore", map[string]secrets.Kind{"localhost-cert": secrets.KindCertificate, "partner": secrets.KindCertificate})
	p, err := secrets.NewProvider([]secrets.Store{ks, ts}, []secrets.Mapping{
		{Store: "mainTrustStore", SecretID: "verify.partner", Types: []secrets.Purpose{secrets.Verify}, Aliases: []string{"partner", "localhost-cert"}},
		{Store: "mainKeyStore", SecretID: "verify.partner", Types: []secrets.Purpose{secrets.Verify, secrets.Sign}, Aliases: []string{"localhost"}},
		{Store: "mainTrustStore", SecretID: "sign.bad", Types: []secrets.Purpose{secrets.Sign}, Aliases: []string{"partner"}},
		{SecretID: "anywhere", Types: []secrets.Purpose{secrets.Encrypt, secrets.Decrypt}, Aliases: []string{"partner", "sym"}},
	}, secrets.ProviderOptions{})

	require.NoError(t, err)
	defer p.Close()

	a, err := p.Active(ctx, "verify.partner", secrets.Verify)
	require.NoError(t, err)
	assert.Equal(t, "mainKeyStore:localhost", a.Store()+":"+a.Alias(), "the first store in order serves Active")
	v, err := p.Valid(ctx, "verify.partner", secrets.Verify)
	require.NoError(t, err)
	assert.Equal(t, []string{"mainKeyStore:localhost", "mainTrustStore:partner", "mainTrustStore:localhost-cert"}, aliasesOf(v), "Valid is the union in store order")

	_, err = p.Active(ctx, "sign.bad", secrets.Sign)
	require.ErrorIs(t, err, secrets.ErrWrongKind, "a certificate cannot sign")
	assert.Contains(t, err.Error(), "partner")

	// A mapping without a store looks in every store, in order.
	a, err = p.Active(ctx, "anywhere", secrets.Encrypt)
	require.NoError(t, err)
	assert.Equal(t, "mainTrustStore:partner", a.Store()+":"+a.Alias())
	v, err = p.Valid(ctx, "anywhere", secrets.Decrypt)
	require.ErrorIs(t, err, secrets.ErrWrongKind, "a certificate cannot decrypt")
	assert.Nil(t, v)
}

func TestMissingAliases(t *testing.T) {
	ctx := context.Background()
	var logs bytes.Buffer
	log := slog.New(slog.NewTextHandler(&logs, nil))
	st := newStore(t, "ks", map[string]secrets.Kind{"b": secrets.KindSecret})
	p, err := secrets.NewProvider([]secrets.Store{st}, []secrets.Mapping{
		{Store: "ks", SecretID: "rotating", Types: []secrets.Purpose{secrets.Sign, secrets.Verify}, Aliases: []string{"b", "gone"}},
		{Store: "ks", SecretID: "broken", Types: []secrets.Purpose{secrets.Sign, secrets.Verify}, Aliases: []string{"gone", "b"}},
	}, secrets.ProviderOptions{Logger: log, Lease: -1})

	require.NoError(t, err)

	v, err := p.Valid(ctx, "rotating", secrets.Verify)
	require.NoError(t, err)
	assert.Equal(t, []string{"ks:b"}, aliasesOf(v), "a missing older alias is skipped")
	_, err = p.Valid(ctx, "rotating", secrets.Verify)
	require.NoError(t, err)
	assert.Equal(t, 1, strings.Count(logs.String(), "alias=gone"), "and logged once: %s", logs.String())

	_, err = p.Active(ctx, "broken", secrets.Sign)
	require.ErrorIs(t, err, secrets.ErrNotFound, "a missing active alias is an error")
	var ke *secrets.KeyError
	require.ErrorAs(t, err, &ke)
	assert.Equal(t, "ks", ke.Store)
	assert.Equal(t, "gone", ke.Alias)
	assert.Contains(t, err.Error(), "store ks")
	assert.Contains(t, err.Error(), "alias gone")

	require.NoError(t, p.Close())
	_, err = p.Active(ctx, "rotating", secrets.Sign)
	require.ErrorIs(t, err, secrets.ErrClosed)
	require.NoError(t, p.Close())
}

func TestBadMappings(t *testing.T) {
	st := newStore(t, "ks", nil)
	for name, m := range map[string]secrets.Mapping{
		"unknown store":   {Store: "other", SecretID: "x", Types: []secrets.Purpose{secrets.Sign}, Aliases: []string{"a"}},
		"unknown purpose": {Store: "ks", SecretID: "x", Types: []secrets.Purpose{"SIGNS"}, Aliases: []string{"a"}},
		"no id":           {Store: "ks", Types: []secrets.Purpose{secrets.Sign}, Aliases: []string{"a"}},
		"no types":        {Store: "ks", SecretID: "x", Aliases: []string{"a"}},
	} {
		_, err := secrets.NewProvider([]secrets.Store{st}, []secrets.Mapping{m}, secrets.ProviderOptions{})
		assert.Error(t, err, name)
	}
	_, err := secrets.NewProvider([]secrets.Store{st, st}, nil, secrets.ProviderOptions{})
	assert.ErrorContains(t, err, "two stores")
}

func TestCacheAndEviction(t *testing.T) {
	ctx := context.Background()
	now := time.Unix(1_700_000_000, 0)
	var mu sync.Mutex
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	advance := func(d time.Duration) { mu.Lock(); now = now.Add(d); mu.Unlock() }

	st := newStore(t, "ks", map[string]secrets.Kind{"k1": secrets.KindSecret})
	p, err := secrets.NewProvider([]secrets.Store{st}, []secrets.Mapping{
		{Store: "ks", SecretID: "id", Types: []secrets.Purpose{secrets.Sign, secrets.Verify}, Aliases: []string{"k1"}},
	}, secrets.ProviderOptions{Now: clock})

	require.NoError(t, err)
	defer p.Close()

	first, err := p.Active(ctx, "id", secrets.Sign)
	require.NoError(t, err)
	require.EqualValues(t, 1, st.calls.Load())
	for i := 0; i < 100; i++ {
		_, err := p.Active(ctx, "id", secrets.Sign)
		require.NoError(t, err)
	}
	_, err = p.Valid(ctx, "id", secrets.Verify)
	require.NoError(t, err)
	assert.EqualValues(t, 1, st.calls.Load(), "warm calls do not touch the store")

	advance(secrets.DefaultLease + time.Second)
	_, err = p.Active(ctx, "id", secrets.Sign)
	require.NoError(t, err)
	assert.EqualValues(t, 2, st.calls.Load(), "an expired lease asks the store again")

	// A rotation inside the store is served at once: the store notifies the Provider.
	tag1, err := first.MAC(ctx, crypto.SHA256, []byte("m"))
	require.NoError(t, err)
	_, err = st.Import(ctx, "k1", secrets.KeyMaterial{Kind: secrets.KindSecret, Secret: bytes.Repeat([]byte{7}, 32)}, true)
	require.NoError(t, err)
	second, err := p.Active(ctx, "id", secrets.Sign)
	require.NoError(t, err)
	tag2, err := second.MAC(ctx, crypto.SHA256, []byte("m"))
	require.NoError(t, err)
	assert.NotEqual(t, tag1, tag2, "the new key is served without waiting for the lease")
	tagOld, err := first.MAC(ctx, crypto.SHA256, []byte("m"))
	require.NoError(t, err)
	assert.Equal(t, tag1, tagOld, "a Secret obtained before the change keeps its key")

	calls := st.calls.Load()
	p.Refresh()
	_, err = p.Active(ctx, "id", secrets.Sign)
	require.NoError(t, err)
	assert.Equal(t, calls+1, st.calls.Load(), "Refresh drops the cache")

	require.NoError(t, st.Delete(ctx, "k1"))
	_, err = p.Active(ctx, "id", secrets.Sign)
	require.ErrorIs(t, err, secrets.ErrNotFound, "a deleted alias is evicted at once")
}

func TestColdCallersShareOneLookup(t *testing.T) {
	st := newStore(t, "ks", map[string]secrets.Kind{"k": secrets.KindSecret})
	st.gate = make(chan struct{})
	p, err := secrets.NewProvider([]secrets.Store{st}, []secrets.Mapping{
		{Store: "ks", SecretID: "id", Types: []secrets.Purpose{secrets.Sign}, Aliases: []string{"k"}},
	}, secrets.ProviderOptions{})

	require.NoError(t, err)
	defer p.Close()
	var wg sync.WaitGroup
	errs := make(chan error, 16)
	for i := 0; i < 16; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, err := p.Active(context.Background(), "id", secrets.Sign)
			errs <- err
		}()
	}
	require.Eventually(t, func() bool { return st.calls.Load() >= 1 }, 5*time.Second, time.Millisecond)
	time.Sleep(20 * time.Millisecond) // let the other callers pile up behind the first
	close(st.gate)
	wg.Wait()
	close(errs)
	for err := range errs {
		require.NoError(t, err)
	}
	assert.EqualValues(t, 1, st.calls.Load(), "16 cold callers, one store lookup")
}

func TestCancelledContext(t *testing.T) {
	st := newStore(t, "ks", map[string]secrets.Kind{"k": secrets.KindSecret})
	p, err := secrets.NewProvider([]secrets.Store{st}, []secrets.Mapping{
		{Store: "ks", SecretID: "id", Types: []secrets.Purpose{secrets.Sign}, Aliases: []string{"k"}},
	}, secrets.ProviderOptions{})

	require.NoError(t, err)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err = p.Active(ctx, "id", secrets.Sign)
	require.ErrorIs(t, err, context.Canceled)
	assert.Zero(t, st.calls.Load(), "a cancelled call does not touch the store")
	s, err := p.Active(context.Background(), "id", secrets.Sign)
	require.NoError(t, err)
	_, err = s.MAC(ctx, crypto.SHA256, nil)
	require.ErrorIs(t, err, context.Canceled)
}

func TestSecretErrorsNameTheKey(t *testing.T) {
	st := newStore(t, "ks", map[string]secrets.Kind{"hmac": secrets.KindSecret})
	e, err := st.Entry(context.Background(), "hmac")
	require.NoError(t, err)
	s := secrets.NewSecret("ks", e)
	_, err = s.Seal(context.Background(), nil, nil)
	require.ErrorIs(t, err, secrets.ErrWrongKind)
	assert.Contains(t, err.Error(), "AES-GCM needs an AES key")
	assert.Contains(t, err.Error(), "alias hmac")
	_, err = s.Signer()
	require.ErrorIs(t, err, secrets.ErrWrongKind)
	require.True(t, errors.Is(err, secrets.ErrWrongKind))
}

func TestAlgorithm(t *testing.T) {
	e, err := storekit.NewSoftwareEntry("k", secrets.KeyMaterial{Kind: secrets.KindSecret, Secret: make([]byte, 64), Algorithm: "HmacSHA512"})
	require.NoError(t, err)
	assert.Equal(t, "HmacSHA512", secrets.NewSecret("s", e).Algorithm())
	e, err = storekit.NewSoftwareEntry("k", secrets.KeyMaterial{Kind: secrets.KindAES, Secret: make([]byte, 16)})
	require.NoError(t, err)
	assert.Equal(t, "AES", secrets.NewSecret("s", e).Algorithm(), "keytool's default for the kind")
}

// ctxGateStore blocks Entry until gate is closed or the caller's ctx is done.
type ctxGateStore struct {
	*secretstest.MemoryStore
	calls atomic.Int64
	gate  chan struct{}
}

func (c *ctxGateStore) Entry(ctx context.Context, alias string) (secrets.Entry, error) {
	c.calls.Add(1)
	select {
	case <-c.gate:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	return c.MemoryStore.Entry(ctx, alias)
}

// TestSharedLookupLeaderCancelled: a caller waiting on a cold lookup started by another
// caller whose ctx is then cancelled gets the key, not the other caller's context.Canceled.
func TestSharedLookupLeaderCancelled(t *testing.T) {
	st := &ctxGateStore{MemoryStore: newStore(t, "ks", map[string]secrets.Kind{"k": secrets.KindSecret}).MemoryStore, gate: make(chan struct{})}
	p, err := secrets.NewProvider([]secrets.Store{st}, []secrets.Mapping{
		{Store: "ks", SecretID: "id", Types: []secrets.Purpose{secrets.Sign}, Aliases: []string{"k"}},
	}, secrets.ProviderOptions{})

	require.NoError(t, err)
	defer p.Close()

	leaderCtx, cancelLeader := context.WithCancel(context.Background())
	leaderErr := make(chan error, 1)
	go func() {
		_, err := p.Active(leaderCtx, "id", secrets.Sign)
		leaderErr <- err
	}()
	require.Eventually(t, func() bool { return st.calls.Load() == 1 }, 5*time.Second, time.Millisecond)
	followerErr := make(chan error, 1)
	go func() {
		_, err := p.Active(context.Background(), "id", secrets.Sign)
		followerErr <- err
	}()
	time.Sleep(20 * time.Millisecond) // let the follower wait on the leader's lookup
	cancelLeader()
	require.ErrorIs(t, <-leaderErr, context.Canceled)
	close(st.gate)
	require.NoError(t, <-followerErr, "the follower's own ctx is live")
}

func TestSubscribers(t *testing.T) {
	var s storekit.Subscribers
	var got []secrets.Change
	unsub := s.Subscribe(func(c secrets.Change) { got = append(got, c) })
	aliases := []string{"a"}
	s.Notify(secrets.Change{Store: "st", Aliases: aliases})
	aliases[0] = "changed"
	require.Len(t, got, 1)
	assert.Equal(t, secrets.Change{Store: "st", Aliases: []string{"a"}}, got[0], "each subscriber gets its own copy")
	unsub()
	unsub()
	s.Notify(secrets.Change{Store: "st"})
	assert.Len(t, got, 1, "an unsubscribed function is not called")
	s.Subscribe(func(c secrets.Change) { got = append(got, c) })
	s.Clear()
	s.Notify(secrets.Change{Store: "st"})
	assert.Len(t, got, 1, "Clear removes every subscriber")
}

// Named never serves a key past its lease, even when refreshing the valid keys fails.
func TestNamedHonoursLease(t *testing.T) {
	ctx := context.Background()
	now := time.Unix(1_700_000_000, 0)
	var mu sync.Mutex
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	st := newStore(t, "ks", map[string]secrets.Kind{"a": secrets.KindSecret, "b": secrets.KindSecret})
	p, err := secrets.NewProvider([]secrets.Store{st}, []secrets.Mapping{
		{Store: "ks", SecretID: "id", Types: []secrets.Purpose{secrets.Verify}, Aliases: []string{"a", "b"}},
	}, secrets.ProviderOptions{Now: clock})

	require.NoError(t, err)
	defer p.Close()
	_, err = p.Named(ctx, "id", secrets.Verify, "b")
	require.NoError(t, err)
	// Both keys vanish behind the Provider's back (no notification), and the lease runs out.
	st.MemoryStore.Close()
	mu.Lock()
	now = now.Add(secrets.DefaultLease + time.Second)
	mu.Unlock()
	_, err = p.Named(ctx, "id", secrets.Verify, "b")
	require.Error(t, err, "an expired cached key is not served")
}

// A warm Active, Valid or Named reads the clock once: time.Now is most of a warm call's cost
// (the README's benchmark figures count on it).
func TestWarmCallsReadClockOnce(t *testing.T) {
	ctx := context.Background()
	var reads atomic.Int64
	clock := func() time.Time { reads.Add(1); return time.Unix(1_700_000_000, 0) }
	st := newStore(t, "ks", map[string]secrets.Kind{"a": secrets.KindSecret, "b": secrets.KindSecret})
	p, err := secrets.NewProvider([]secrets.Store{st}, []secrets.Mapping{
		{Store: "ks", SecretID: "id", Types: []secrets.Purpose{secrets.Sign, secrets.Verify}, Aliases: []string{"a", "b"}},
	}, secrets.ProviderOptions{Now: clock})

	require.NoError(t, err)
	defer p.Close()
	for name, call := range map[string]func() error{
		"Active": func() error { _, err := p.Active(ctx, "id", secrets.Sign); return err },
		"Valid":  func() error { _, err := p.Valid(ctx, "id", secrets.Verify); return err },
		"Named":  func() error { _, err := p.Named(ctx, "id", secrets.Verify, "b"); return err },
	} {
		require.NoError(t, call(), name) // cold: fills the cache
		reads.Store(0)
		require.NoError(t, call(), name)
		assert.Equal(t, int64(1), reads.Load(), "%s: clock readings on a warm call", name)
	}
}
