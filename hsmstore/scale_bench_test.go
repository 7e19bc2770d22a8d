//go:build cgo

package hsmstore_test

import (
	"context"
	"crypto"
	"fmt"
	"testing"

	"github.com/miekg/pkcs11"

	"github.com/secretstores/secretstores/hsmstore"
	"github.com/secretstores/secretstores/internal/scalebench"
	"github.com/secretstores/secretstores/internal/softhsmtest"
	"github.com/secretstores/secretstores/secrets"
)

// scaleToken is a SoftHSM token (its file object store: Debian's SoftHSM 2.6.1 is built
// without the sqlite one, objectstore.backend = db) holding n HMAC keys labelled
// key-00000..., with a raw miekg/pkcs11 session on it for the floors. The tokens are built
// once per machine by softhsmtest.Cached (raw miekg/pkcs11 C_CreateObject calls: 10,000
// objects take about 2 minutes in a tmpfs, where scripts/bench puts the cache; SoftHSM's
// file store re-reads every object file on each C_CreateObject and each search, so a build
// is O(n²)) and copied into each test binary's token directory.
type scaleToken struct {
	tok  *softhsmtest.Token
	p11  *pkcs11.Ctx
	slot uint
	sh   pkcs11.SessionHandle
	n    int
	keep *hsmstore.Store
}

var (
	scaleSizes  []int
	scaleTokens map[int]*scaleToken
)

// scaleSetup makes the scale tokens and the shared bench fixture's, in that order, once:
// SoftHSM shows a process only the tokens that existed when the module was initialised,
// and the fixture's Store keeps it initialised. (So run the scale benchmarks alone:
// -run '^$' -bench Scale, as scripts/bench does.)
func scaleSetup(b *testing.B) {
	if scaleTokens != nil {
		return
	}
	scaleSizes = scalebench.Sizes(10, 1_000, 10_000)
	toks := map[int]*softhsmtest.Token{}
	for _, n := range scaleSizes {
		toks[n] = softhsmtest.Cached(b, fmt.Sprintf("hsmstore-scale-hmac-v1-%d", n), fmt.Sprintf("scale-%d", n), func(p *pkcs11.Ctx, sh pkcs11.SessionHandle) error {
			return makeScaleKeys(p, sh, n)
		})
	}
	fixture(b)
	scaleTokens = map[int]*scaleToken{}
	for _, n := range scaleSizes {
		scaleTokens[n] = newScaleToken(b, toks[n], n)
	}
}

func newScaleToken(b *testing.B, tok *softhsmtest.Token, n int) *scaleToken {
	t := &scaleToken{tok: tok, n: n}
	// hsmstore initialises the module (and refuses one initialised by another caller);
	// this Store stays open, so the module and the token's connection stay up.
	var err error
	if t.keep, err = hsmstore.Open(context.Background(), hsmstore.Config{Library: t.tok.Module, TokenLabel: t.tok.Label, PIN: t.tok.PIN}); err != nil {
		b.Fatal(err)
	}
	t.p11 = pkcs11.New(t.tok.Module)
	_ = t.p11.Initialize() // already initialised in this process is fine
	slots, err := t.p11.GetSlotList(true)
	if err != nil {
		b.Fatal(err)
	}
	found := false
	for _, s := range slots {
		if ti, err := t.p11.GetTokenInfo(s); err == nil && ti.Label == t.tok.Label {
			t.slot, found = s, true
		}
	}
	if !found {
		b.Fatalf("token %s not found", t.tok.Label)
	}
	if t.sh, err = t.p11.OpenSession(t.slot, pkcs11.CKF_SERIAL_SESSION|pkcs11.CKF_RW_SESSION); err != nil {
		b.Fatal(err)
	}
	if err := t.p11.Login(t.sh, pkcs11.CKU_USER, t.tok.PIN); err != nil && !isAlreadyLoggedIn(err) {
		b.Fatal(err)
	}
	return t
}

// makeScaleKeys makes n HMAC keys labelled (and with CKA_ID) key-00000...
func makeScaleKeys(p *pkcs11.Ctx, sh pkcs11.SessionHandle, n int) error {
	val := make([]byte, 32)
	for i := range n {
		val[0], val[1] = byte(i), byte(i>>8)
		if _, err := p.CreateObject(sh, []*pkcs11.Attribute{
			pkcs11.NewAttribute(pkcs11.CKA_CLASS, pkcs11.CKO_SECRET_KEY),
			pkcs11.NewAttribute(pkcs11.CKA_KEY_TYPE, pkcs11.CKK_GENERIC_SECRET),
			pkcs11.NewAttribute(pkcs11.CKA_TOKEN, true),
			pkcs11.NewAttribute(pkcs11.CKA_PRIVATE, true),
			pkcs11.NewAttribute(pkcs11.CKA_SENSITIVE, true),
			pkcs11.NewAttribute(pkcs11.CKA_EXTRACTABLE, false),
			pkcs11.NewAttribute(pkcs11.CKA_SIGN, true),
			pkcs11.NewAttribute(pkcs11.CKA_VERIFY, true),
			pkcs11.NewAttribute(pkcs11.CKA_LABEL, scaleAlias(i)),
			pkcs11.NewAttribute(pkcs11.CKA_ID, []byte(scaleAlias(i))),
			pkcs11.NewAttribute(pkcs11.CKA_VALUE, val),
		}); err != nil {
			return err
		}
	}
	return nil
}

func isAlreadyLoggedIn(err error) bool {
	e, ok := err.(pkcs11.Error)
	return ok && e == pkcs11.CKR_USER_ALREADY_LOGGED_IN
}

func scaleAlias(i int) string { return fmt.Sprintf("key-%05d", i) }

// find is the raw floor of a search: C_FindObjectsInit, C_FindObjects in batches of 64,
// C_FindObjectsFinal.
func (t *scaleToken) find(b *testing.B, tmpl ...*pkcs11.Attribute) []pkcs11.ObjectHandle {
	if err := t.p11.FindObjectsInit(t.sh, tmpl); err != nil {
		b.Fatal(err)
	}
	var all []pkcs11.ObjectHandle
	for {
		hs, _, err := t.p11.FindObjects(t.sh, 64)
		if err != nil {
			b.Fatal(err)
		}
		if len(hs) == 0 {
			break
		}
		all = append(all, hs...)
	}
	if err := t.p11.FindObjectsFinal(t.sh); err != nil {
		b.Fatal(err)
	}
	return all
}

// BenchmarkScaleToken: SoftHSM tokens of 10 / 1,000 / 10,000 HMAC keys, each operation
// beside the raw miekg/pkcs11 calls doing the same work in the same run (the module's own
// search cost is the floor):
//   - open: hsmstore.Open + Close (of a second Store: the token's connection is up, held
//     by the fixture's) vs finding the slot by label and opening a session;
//   - aliases: Aliases vs finding every secret key, reading CKA_LABEL and CKA_ID of each
//     (one C_GetAttributeValue per object: PKCS#11 has no batch form), and finding the
//     certificates and private keys (none);
//   - entry: a cold Entry (resolving the alias: a search by CKA_LABEL and one by CKA_ID
//     over every class, to find a private key of that CKA_ID too and refuse an ambiguous
//     alias, then the key's class and attributes in one read) vs the single search for
//     the secret key by class and label and the read of its attributes;
//   - hmac: HMAC-SHA256 of 64 bytes with a resolved entry vs C_SignInit + C_Sign.
//
// The tokens are built before the module is initialised in the process: run the scale
// benchmarks alone (-run '^$' -bench '^BenchmarkScale'), as scripts/bench does.
func BenchmarkScaleToken(b *testing.B) {
	ctx := context.Background()
	scaleSetup(b)
	for _, n := range scaleSizes {
		t := scaleTokens[n]
		cfg := hsmstore.Config{Library: t.tok.Module, TokenLabel: t.tok.Label, PIN: t.tok.PIN}
		name := scalebench.Name("objects", n)
		b.Run(name+"/open/hsmstore", func(b *testing.B) {
			for b.Loop() {
				s, err := hsmstore.Open(ctx, cfg)
				if err != nil {
					b.Fatal(err)
				}
				s.Close()
			}
		})
		b.Run(name+"/open/floor", func(b *testing.B) {
			for b.Loop() {
				slots, err := t.p11.GetSlotList(true)
				if err != nil {
					b.Fatal(err)
				}
				for _, sl := range slots {
					if ti, err := t.p11.GetTokenInfo(sl); err == nil && ti.Label == t.tok.Label {
						sh, err := t.p11.OpenSession(sl, pkcs11.CKF_SERIAL_SESSION|pkcs11.CKF_RW_SESSION)
						if err != nil {
							b.Fatal(err)
						}
						t.p11.CloseSession(sh)
					}
				}
			}
		})
		st, err := hsmstore.Open(ctx, cfg)
		if err != nil {
			b.Fatal(err)
		}
		b.Run(name+"/aliases/hsmstore", func(b *testing.B) {
			for b.Loop() {
				if a, err := st.Aliases(ctx); err != nil || len(a) != n {
					b.Fatal(len(a), err)
				}
			}
		})
		b.Run(name+"/aliases/floor", func(b *testing.B) {
			for b.Loop() {
				hs := t.find(b, pkcs11.NewAttribute(pkcs11.CKA_CLASS, pkcs11.CKO_SECRET_KEY))
				labels := make(map[string]bool, len(hs))
				for _, h := range hs {
					at, err := t.p11.GetAttributeValue(t.sh, h, []*pkcs11.Attribute{pkcs11.NewAttribute(pkcs11.CKA_LABEL, nil), pkcs11.NewAttribute(pkcs11.CKA_ID, nil)})
					if err != nil {
						b.Fatal(err)
					}
					labels[string(at[0].Value)] = true
				}
				t.find(b, pkcs11.NewAttribute(pkcs11.CKA_CLASS, pkcs11.CKO_CERTIFICATE))
				t.find(b, pkcs11.NewAttribute(pkcs11.CKA_CLASS, pkcs11.CKO_PRIVATE_KEY))
				if len(labels) != n {
					b.Fatal(len(labels))
				}
			}
		})
		b.Run(name+"/entry/hsmstore", func(b *testing.B) {
			i := 0
			for b.Loop() {
				if _, err := st.Entry(ctx, scaleAlias((i*7919)%n)); err != nil {
					b.Fatal(err)
				}
				i++
			}
		})
		b.Run(name+"/entry/floor", func(b *testing.B) {
			i := 0
			for b.Loop() {
				hs := t.find(b, pkcs11.NewAttribute(pkcs11.CKA_CLASS, pkcs11.CKO_SECRET_KEY), pkcs11.NewAttribute(pkcs11.CKA_LABEL, scaleAlias((i*7919)%n)))
				if len(hs) != 1 {
					b.Fatal(len(hs))
				}
				if _, err := t.p11.GetAttributeValue(t.sh, hs[0], []*pkcs11.Attribute{
					pkcs11.NewAttribute(pkcs11.CKA_KEY_TYPE, nil), pkcs11.NewAttribute(pkcs11.CKA_EXTRACTABLE, nil),
					pkcs11.NewAttribute(pkcs11.CKA_SENSITIVE, nil), pkcs11.NewAttribute(pkcs11.CKA_VALUE_LEN, nil),
				}); err != nil {
					b.Fatal(err)
				}
				i++
			}
		})
		// The same comparison interleaved (scalebench.Paired): the ratio to quote on a
		// loaded machine.
		b.Run(name+"/paired/entry", func(b *testing.B) {
			scalebench.Paired(b, 1, func(i int) error {
				_, err := st.Entry(ctx, scaleAlias((i*7919)%n))
				return err
			}, func(i int) error {
				hs := t.find(b, pkcs11.NewAttribute(pkcs11.CKA_CLASS, pkcs11.CKO_SECRET_KEY), pkcs11.NewAttribute(pkcs11.CKA_LABEL, scaleAlias((i*7919+n/2)%n)))
				if len(hs) != 1 {
					return fmt.Errorf("%d objects", len(hs))
				}
				_, err := t.p11.GetAttributeValue(t.sh, hs[0], []*pkcs11.Attribute{
					pkcs11.NewAttribute(pkcs11.CKA_KEY_TYPE, nil), pkcs11.NewAttribute(pkcs11.CKA_EXTRACTABLE, nil),
					pkcs11.NewAttribute(pkcs11.CKA_SENSITIVE, nil), pkcs11.NewAttribute(pkcs11.CKA_VALUE_LEN, nil),
				})
				return err
			})
		})
		e, err := st.Entry(ctx, scaleAlias(n/2))
		if err != nil {
			b.Fatal(err)
		}
		b.Run(name+"/hmac/hsmstore", func(b *testing.B) {
			mac := e.(secrets.EntryMAC)
			for b.Loop() {
				if _, err := mac.MAC(ctx, crypto.SHA256, msg64); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run(name+"/hmac/floor", func(b *testing.B) {
			hs := t.find(b, pkcs11.NewAttribute(pkcs11.CKA_CLASS, pkcs11.CKO_SECRET_KEY), pkcs11.NewAttribute(pkcs11.CKA_LABEL, scaleAlias(n/2)))
			mech := []*pkcs11.Mechanism{pkcs11.NewMechanism(pkcs11.CKM_SHA256_HMAC, nil)}
			for b.Loop() {
				if err := t.p11.SignInit(t.sh, mech, hs[0]); err != nil {
					b.Fatal(err)
				}
				if _, err := t.p11.Sign(t.sh, msg64); err != nil {
					b.Fatal(err)
				}
			}
		})
		st.Close()
	}
}

// BenchmarkScaleHSMConcurrent: HMAC-SHA256 and RSA-2048 signatures through a Provider
// over a SoftHSM token (hsmstore's pool: MaxSessions 16 by default) and raw miekg/pkcs11
// (a session per goroutine: the floor), from 1, 2, 8 and 64 goroutines; see scalebench.Concurrent
// for p50-ns, p99-ns and min-share%.
func BenchmarkScaleHSMConcurrent(b *testing.B) {
	scaleSetup(b)
	f := fixture(b)
	hh, hr, _ := f.hmacSetups()
	rh, rr, _ := f.rsaSetups()
	for _, op := range []struct {
		name     string
		hsm, raw setup
	}{{"hmac", hh, hr}, {"rsa", rh, rr}} {
		for _, g := range scalebench.Goroutines {
			for _, way := range []struct {
				name string
				s    setup
			}{{"hsmstore", op.hsm}, {"floor", op.raw}} {
				b.Run(fmt.Sprintf("%s/%s/%s", op.name, scalebench.Name("goroutines", g), way.name), func(b *testing.B) {
					ops := make([]func() error, g)
					for i := range ops {
						ops[i] = way.s(b)
					}
					scalebench.Concurrent(b, g, func(w int) error { return ops[w]() })
				})
			}
		}
	}
}
