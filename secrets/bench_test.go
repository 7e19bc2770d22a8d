package secrets_test

import (
	"context"
	"runtime"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/secretstores/secretstores/secrets"
)

func warmProvider(tb testing.TB) (*secrets.Provider, *countingStore) {
	st := newStore(tb, "ks", map[string]secrets.Kind{"k": secrets.KindSecret, "old": secrets.KindSecret})
	p, err := secrets.NewProvider([]secrets.Store{st}, []secrets.Mapping{
		{Store: "ks", SecretID: "idm.jwt.session.module.signing", Types: []secrets.Purpose{secrets.Sign, secrets.Verify}, Aliases: []string{"k", "old"}},
	}, secrets.ProviderOptions{})

	require.NoError(tb, err)
	_, err = p.Active(context.Background(), "idm.jwt.session.module.signing", secrets.Sign)
	require.NoError(tb, err)
	return p, st
}

func TestActiveWarmNoAllocNoStoreCall(t *testing.T) {
	p, st := warmProvider(t)
	defer p.Close()
	ctx := context.Background()
	calls := st.calls.Load()
	allocs := testing.AllocsPerRun(1000, func() {
		if _, err := p.Active(ctx, "idm.jwt.session.module.signing", secrets.Sign); err != nil {
			t.Fatal(err)
		}
	})
	require.Zero(t, allocs, "a warm Active does not allocate")
	require.Equal(t, calls, st.calls.Load(), "a warm Active makes no store call")
	_, err := p.Named(ctx, "idm.jwt.session.module.signing", secrets.Verify, "old")
	require.NoError(t, err)
	calls = st.calls.Load()
	allocs = testing.AllocsPerRun(1000, func() {
		if s, err := p.Named(ctx, "idm.jwt.session.module.signing", secrets.Verify, "old"); err != nil || s.Alias() != "old" {
			t.Fatal(s, err)
		}
	})
	require.Zero(t, allocs, "a warm Named does not allocate")
	require.Equal(t, calls, st.calls.Load(), "a warm Named makes no store call")
}

// BenchmarkProviderActiveWarm measures the hot path: a cached active secret.
func BenchmarkProviderActiveWarm(b *testing.B) {
	p, _ := warmProvider(b)
	defer p.Close()
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := p.Active(ctx, "idm.jwt.session.module.signing", secrets.Sign); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkProviderActiveWarmParallel runs the hot path from 8 goroutines (4 per GOMAXPROCS on a
// 2-core machine); ns/op is wall time per call across all goroutines.
func BenchmarkProviderActiveWarmParallel(b *testing.B) {
	p, _ := warmProvider(b)
	defer p.Close()
	ctx := context.Background()
	b.ReportAllocs()
	b.SetParallelism(max(1, 8/runtime.GOMAXPROCS(0)))
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, err := p.Active(ctx, "idm.jwt.session.module.signing", secrets.Sign); err != nil {
				b.Error(err)
				return
			}
		}
	})
}

// BenchmarkMapLookupFloor is the raw floor of the hot path: one lookup in a map keyed by
// (secret id, purpose), as a hand-wired service would hold its keys.
func BenchmarkMapLookupFloor(b *testing.B) {
	type key struct {
		id string
		pu secrets.Purpose
	}
	s := &secrets.Secret{}
	m := map[key]*secrets.Secret{{"idm.jwt.session.module.signing", secrets.Sign}: s, {"other", secrets.Verify}: s}
	id := "idm.jwt.session.module.signing"
	b.ReportAllocs()
	for b.Loop() {
		if m[key{id, secrets.Sign}] == nil {
			b.Fatal("missing")
		}
	}
}

func BenchmarkProviderValidWarm(b *testing.B) {
	p, _ := warmProvider(b)
	defer p.Close()
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := p.Valid(ctx, "idm.jwt.session.module.signing", secrets.Verify); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkProviderNamedWarm(b *testing.B) {
	p, _ := warmProvider(b)
	defer p.Close()
	ctx := context.Background()
	if _, err := p.Named(ctx, "idm.jwt.session.module.signing", secrets.Verify, "old"); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := p.Named(ctx, "idm.jwt.session.module.signing", secrets.Verify, "old"); err != nil {
			b.Fatal(err)
		}
	}
}
