//go:build cgo

package hsmstore_test

import (
	"context"
	"crypto"
	"crypto/sha256"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/secretstores/secretstores/hsmstore"
	"github.com/secretstores/secretstores/internal/softhsmtest"
	"github.com/secretstores/secretstores/secrets"
)

// BenchmarkNetwork compares the same hsmstore calls on the same SoftHSM token reached
// directly (the module in the process) and over p11-kit's RPC (p11-kit-client.so talking
// to a p11-kit server on a unix socket, which forwards to SoftHSM in another process):
// HMAC-SHA256 and RSA-2048 PKCS#1 v1.5 signing, with 1, 2 and 8 goroutines. The log gives
// the p11-kit/direct time ratio per case.
func BenchmarkNetwork(b *testing.B) {
	f := fixture(b)
	ctx := context.Background()
	k11 := softhsmtest.StartP11Kit(b, f.tok)
	sK, err := hsmstore.Open(ctx, hsmstore.Config{Library: k11.Module, TokenLabel: f.tok.Label, PIN: f.tok.PIN})
	if err != nil {
		b.Fatal(err)
	}
	defer sK.Close()
	provK, err := secrets.NewProvider([]secrets.Store{sK}, []secrets.Mapping{
		{SecretID: "hmac", Types: []secrets.Purpose{secrets.Sign}, Aliases: []string{"hmac"}},
		{SecretID: "rsa", Types: []secrets.Purpose{secrets.Sign}, Aliases: []string{"rsa"}},
	}, secrets.ProviderOptions{})

	if err != nil {
		b.Fatal(err)
	}
	d := sha256.Sum256(msg64)
	ops := map[string]func(p *secrets.Provider) error{
		"HMACSHA256": func(p *secrets.Provider) error {
			s, err := p.Active(ctx, "hmac", secrets.Sign)
			if err == nil {
				_, err = s.MAC(ctx, crypto.SHA256, msg64)
			}
			return err
		},
		"RSA2048Sign": func(p *secrets.Provider) error {
			s, err := p.Active(ctx, "rsa", secrets.Sign)
			if err == nil {
				_, err = s.Sign(ctx, d[:], crypto.SHA256)
			}
			return err
		},
	}
	var mu sync.Mutex
	nsop := map[string]float64{}
	for _, op := range []string{"HMACSHA256", "RSA2048Sign"} {
		for _, g := range []int{1, 2, 8} {
			for _, path := range []string{"direct", "p11kit"} {
				p := f.prov
				if path == "p11kit" {
					p = provK
				}
				name := fmt.Sprintf("%s/g%d/%s", op, g, path)
				b.Run(fmt.Sprintf("%s/g%d/%s", op, g, path), func(b *testing.B) {
					call := ops[op]
					if err := call(p); err != nil {
						b.Fatal(err)
					}
					b.ResetTimer()
					if g == 1 {
						for i := 0; i < b.N; i++ {
							if err := call(p); err != nil {
								b.Fatal(err)
							}
						}
					} else {
						b.SetParallelism((g + gomaxprocs() - 1) / gomaxprocs())
						b.RunParallel(func(pb *testing.PB) {
							for pb.Next() {
								if err := call(p); err != nil {
									b.Error(err)
									return
								}
							}
						})
					}
					mu.Lock()
					nsop[name] = float64(b.Elapsed()) / float64(b.N)
					mu.Unlock()
				})
			}
			direct, remote := nsop[fmt.Sprintf("%s/g%d/direct", op, g)], nsop[fmt.Sprintf("%s/g%d/p11kit", op, g)]
			if direct > 0 && remote > 0 {
				b.Logf("%s g%d: direct %v/op, p11-kit %v/op, ratio %.2f", op, g, time.Duration(direct), time.Duration(remote), remote/direct)
			}
		}
	}
}
