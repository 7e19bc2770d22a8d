package secrets_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

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
// each, mapped for SIGN and VERIFY: 2 plans per id, one store): NewProvider beside the floor
// of building a Go map of the mappings, then warm Active and Named cycling over every id in
// an order unrelated to creation order (B/id-new and B/id-warm: heap held per id by a new
// and by a warm Provider).
//
// The warm floors are the least a leased cache of the same shape does, with the same
// footprint: a Go map of the same size keyed by (secret id, purpose) — both purposes of
// every id, as the Provider's plans are — whose values are distinct records of a plan's
// size allocated in the same order, holding the lease end (read against time.Now) and the
// key (Active), or the valid keys and their aliases, compared with the caller's alias
// (Named). At 10,000 ids neither the map nor the records fit a core's cache, so both pay
// the same memory misses; the Provider's own work (generation and Close checks) is constant.
// active/map is the bare map lookup of the older floor: one key per id, one shared value
// never read, so it pays no miss on a record.
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
		b.Run(scalebench.Name("ids", n)+"/active/Provider", func(b *testing.B) {
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
		fl := newWarmFloor(f)
		b.Run(scalebench.Name("ids", n)+"/active/floor", func(b *testing.B) {
			b.ReportAllocs()
			i := 0
			for b.Loop() {
				if fl.active(f.ids[spread(i, n)], secrets.Sign) == nil {
					b.Fatal("missing")
				}
				i++
			}
		})
		b.Run(scalebench.Name("ids", n)+"/active/map", func(b *testing.B) {
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
		b.Run(scalebench.Name("ids", n)+"/named/Provider", func(b *testing.B) {
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
		b.Run(scalebench.Name("ids", n)+"/named/floor", func(b *testing.B) {
			b.ReportAllocs()
			i := 0
			for b.Loop() {
				j := spread(i, n)
				if fl.named(f.ids[j], secrets.Verify, f.olds[j]) == nil {
					b.Fatal("missing")
				}
				i++
			}
		})
		// The same comparisons, interleaved (scalebench.Paired): the ratios to quote on a
		// loaded machine.
		b.Run(scalebench.Name("ids", n)+"/paired/active", func(b *testing.B) {
			scalebench.Paired(b, 256, func(i int) error {
				_, err := p.Active(ctx, f.ids[spread(i, n)], secrets.Sign)
				return err
			}, func(i int) error {
				if fl.active(f.ids[spread(i+n/2, n)], secrets.Sign) == nil {
					return errors.New("missing")
				}
				return nil
			})
		})
		b.Run(scalebench.Name("ids", n)+"/paired/named", func(b *testing.B) {
			scalebench.Paired(b, 256, func(i int) error {
				j := spread(i, n)
				_, err := p.Named(ctx, f.ids[j], secrets.Verify, f.olds[j])
				return err
			}, func(i int) error {
				j := spread(i+n/2, n)
				if fl.named(f.ids[j], secrets.Verify, f.olds[j]) == nil {
					return errors.New("missing")
				}
				return nil
			})
		})
		p.Close()
	}
}

// warmFloor is the floor of the warm benchmarks: see BenchmarkScaleProvider.
type warmFloor struct {
	epoch time.Time
	m     map[warmKey]*warmRec
}

type warmKey struct {
	id string
	pu secrets.Purpose
}

type warmItem struct {
	alias string
	s     *secrets.Secret
}

// warmRec has the size of the Provider's plan (80 bytes) with the fields a warm call reads
// first; its valid keys sit in a second record, as the Provider's do.
type warmRec struct {
	exp   int64
	s     *secrets.Secret
	valid *warmValid
	_     [56]byte
}

type warmValid struct {
	exp   int64
	items []warmItem
	inl   [2]warmItem
}

func newWarmFloor(f *scaleProviderFixture) *warmFloor {
	fl := &warmFloor{epoch: time.Now(), m: make(map[warmKey]*warmRec)}
	exp := int64(time.Hour)
	for i, id := range f.ids {
		for _, pu := range []secrets.Purpose{secrets.Sign, secrets.Verify} {
			r := &warmRec{exp: exp, s: &secrets.Secret{}}
			if pu == secrets.Verify {
				v := &warmValid{exp: exp}
				// Aliases as a store returns them: bytes of their own, not the caller's.
				v.inl = [2]warmItem{{strings.Clone(f.mappings[i].Aliases[0]), &secrets.Secret{}}, {strings.Clone(f.olds[i]), &secrets.Secret{}}}
				v.items = v.inl[:]
				r.valid = v
			}
			fl.m[warmKey{id, pu}] = r
		}
	}
	return fl
}

func (fl *warmFloor) active(id string, pu secrets.Purpose) *secrets.Secret {
	if r := fl.m[warmKey{id, pu}]; r != nil && int64(time.Since(fl.epoch)) < r.exp {
		return r.s
	}
	return nil
}

func (fl *warmFloor) named(id string, pu secrets.Purpose, alias string) *secrets.Secret {
	if r := fl.m[warmKey{id, pu}]; r != nil {
		if v := r.valid; v != nil && int64(time.Since(fl.epoch)) < v.exp {
			for _, it := range v.items {
				if it.alias == alias {
					return it.s
				}
			}
		}
	}
	return nil
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
