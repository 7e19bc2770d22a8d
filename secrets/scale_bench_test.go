package secrets_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/secretstores/secretstores/internal/scalebench"
	"github.com/secretstores/secretstores/secrets"
	"github.com/secretstores/secretstores/secrets/secretstest"
)

// scaleProviderFixture is a store holding two HMAC keys per secret id (active and
// previous) and the mappings of n ids, made once per size per test binary.
type scaleProviderFixture struct {
	st       *secretstest.MemoryStore
	mappings []secrets.Mapping
	ids      []string
	olds     []string
}

var scaleProviders = map[int]*scaleProviderFixture{}

func scaleProvider(b *testing.B, n int) *scaleProviderFixture {
	if f := scaleProviders[n]; f != nil {
		return f
	}
	f := &scaleProviderFixture{st: secretstest.NewMemoryStore("ks")}
	ctx := context.Background()
	for i := range n {
		id, a, old := fmt.Sprintf("app.secret.%05d", i), fmt.Sprintf("k%05d", i), fmt.Sprintf("k%05d-old", i)
		for _, alias := range []string{a, old} {
			if _, err := f.st.Generate(ctx, alias, secrets.KeySpec{Kind: secrets.KindSecret, Bits: 256}, false); err != nil {
				b.Fatal(err)
			}
		}
		f.mappings = append(f.mappings, secrets.Mapping{SecretID: id, Types: []secrets.Purpose{secrets.Sign, secrets.Verify}, Aliases: []string{a, old}})
		f.ids, f.olds = append(f.ids, id), append(f.olds, old)
	}
	scaleProviders[n] = f
	return f
}

// spread visits every id once per n calls, in an order unrelated to creation order.
func spread(i, n int) int { return (i * 7919) % n }

// BenchmarkScaleProvider: a Provider over 10 / 1,000 / 10,000 secret ids (two aliases
// each, one store): NewProvider beside the floor of building a Go map of the mappings, then warm Active and
// Named cycling over every id (B/id-new and B/id-warm: heap held per id by a new and by a
// warm Provider), beside the floor: a Go map of the same ids keyed by
// (secret id, purpose).
func BenchmarkScaleProvider(b *testing.B) {
	ctx := context.Background()
	for _, n := range scalebench.Sizes(10, 1_000, 10_000) {
		f := scaleProvider(b, n)
		b.Run(scalebench.Name("ids", n)+"/new/NewProvider", func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				p, err := secrets.NewProvider([]secrets.Store{f.st}, f.mappings, secrets.ProviderOptions{})
				if err != nil {
					b.Fatal(err)
				}
				p.Close() // unsubscribes from the store
			}
		})
		b.Run(scalebench.Name("ids", n)+"/new/floor", func(b *testing.B) {
			type key struct {
				id string
				pu secrets.Purpose
			}
			b.ReportAllocs()
			for b.Loop() {
				m := make(map[key][]string)
				for _, mp := range f.mappings {
					for _, pu := range mp.Types {
						m[key{mp.SecretID, pu}] = mp.Aliases
					}
				}
			}
		})
		base := scalebench.HeapAlloc()
		p, err := secrets.NewProvider([]secrets.Store{f.st}, f.mappings, secrets.ProviderOptions{})
		if err != nil {
			b.Fatal(err)
		}
		cold := scalebench.HeapAlloc() - base
		for i, id := range f.ids {
			if _, err := p.Active(ctx, id, secrets.Sign); err != nil {
				b.Fatal(err)
			}
			if _, err := p.Named(ctx, id, secrets.Verify, f.olds[i]); err != nil {
				b.Fatal(err)
			}
		}
		warm := scalebench.HeapAlloc() - base
		b.Run(scalebench.Name("ids", n)+"/warm/Active", func(b *testing.B) {
			b.ReportAllocs()
			i := 0
			for b.Loop() {
				if _, err := p.Active(ctx, f.ids[spread(i, n)], secrets.Sign); err != nil {
					b.Fatal(err)
				}
				i++
			}
			b.ReportMetric(float64(cold)/float64(n), "B/id-new")
			b.ReportMetric(float64(warm)/float64(n), "B/id-warm")
		})
		b.Run(scalebench.Name("ids", n)+"/warm/Named", func(b *testing.B) {
			b.ReportAllocs()
			i := 0
			for b.Loop() {
				j := spread(i, n)
				if _, err := p.Named(ctx, f.ids[j], secrets.Verify, f.olds[j]); err != nil {
					b.Fatal(err)
				}
				i++
			}
		})
		b.Run(scalebench.Name("ids", n)+"/warm/floor", func(b *testing.B) {
			type key struct {
				id string
				pu secrets.Purpose
			}
			s := &secrets.Secret{}
			m := make(map[key]*secrets.Secret, n)
			for _, id := range f.ids {
				m[key{id, secrets.Sign}] = s
			}
			b.ReportAllocs()
			i := 0
			for b.Loop() {
				if m[key{f.ids[spread(i, n)], secrets.Sign}] == nil {
					b.Fatal("missing")
				}
				i++
			}
		})
		p.Close()
	}
}

// BenchmarkScaleProviderActiveConcurrent: warm Active from 1, 2, 8 and 64 goroutines over
// 1,000 ids (see scalebench.Concurrent for the metrics). Active takes no lock when warm.
func BenchmarkScaleProviderActiveConcurrent(b *testing.B) {
	ctx := context.Background()
	f := scaleProvider(b, 1_000)
	p, err := secrets.NewProvider([]secrets.Store{f.st}, f.mappings, secrets.ProviderOptions{})
	if err != nil {
		b.Fatal(err)
	}
	defer p.Close()
	for _, id := range f.ids {
		if _, err := p.Active(ctx, id, secrets.Sign); err != nil {
			b.Fatal(err)
		}
	}
	for _, g := range scalebench.Goroutines {
		b.Run(scalebench.Name("goroutines", g), func(b *testing.B) {
			scalebench.Concurrent(b, g, func(w int) error {
				_, err := p.Active(ctx, f.ids[(w*131)%len(f.ids)], secrets.Sign)
				return err
			})
		})
	}
}
