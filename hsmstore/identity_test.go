//go:build cgo

package hsmstore_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/miekg/pkcs11"

	"github.com/secretstores/secretstores/hsmstore"
	"github.com/secretstores/secretstores/internal/p11test"
	"github.com/secretstores/secretstores/internal/testenv"
	"github.com/secretstores/secretstores/secrets"
)

// permutations returns every order of 0..n-1.
func permutations(n int) [][]int {
	if n == 1 {
		return [][]int{{0}}
	}
	var out [][]int
	for _, p := range permutations(n - 1) {
		for i := 0; i <= len(p); i++ {
			q := append(append(append([]int{}, p[:i]...), n-1), p[i:]...)
			out = append(out, q)
		}
	}
	return out
}

func tokenConfig(tok *p11test.Token) hsmstore.Config {
	return hsmstore.Config{Library: tok.Module.Path, InitArgs: tok.Module.InitArgs, TokenLabel: tok.Label, PIN: tok.PIN, MaxSessions: 2}
}

// TestSameSerialTokens: tpm2-pkcs11 gives every token serial 0000000000000000. Three tokens,
// each with its own key (and the second with a PIN of its own), opened by label in every
// order in one process, and by twos: each Store sees its own token's key and nothing else,
// and no token gets another's PIN. (Before: the second token opened returned a Store on the
// first, with the first's keys, or failed as "already open with another PIN".)
func TestSameSerialTokens(t *testing.T) {
	ctx := context.Background()
	toks := []*p11test.Token{p11test.NewTPM2Token(t, "id-a"), p11test.NewTPM2Token(t, "id-b"), p11test.NewTPM2Token(t, "id-c")}
	for _, tok := range toks {
		tok.AddKey(t, "only-"+tok.Label, p11test.TPMHMACSHA256)
		if tok.Serial != toks[0].Serial {
			t.Fatalf("want one serial, got %q and %q", tok.Serial, toks[0].Serial)
		}
	}
	// Token b gets a PIN of its own.
	b := *toks[1]
	b.PIN = "2345"
	func() {
		p := pkcs11.New(b.Module.Path)
		defer p.Destroy()
		if err := p.Initialize(); err != nil {
			t.Fatal(err)
		}
		defer p.Finalize()
		sh, err := p.OpenSession(b.SlotID, pkcs11.CKF_SERIAL_SESSION|pkcs11.CKF_RW_SESSION)
		if err != nil {
			t.Fatal(err)
		}
		defer p.CloseSession(sh)
		if err := p.Login(sh, pkcs11.CKU_USER, toks[1].PIN); err != nil {
			t.Fatal(err)
		}
		if err := p.SetPIN(sh, toks[1].PIN, b.PIN); err != nil {
			t.Fatal(err)
		}
		p.Logout(sh)
	}()
	toks[1] = &b
	check := func(t *testing.T, order []int) {
		var stores []*hsmstore.Store
		defer func() {
			for _, s := range stores {
				s.Close()
			}
		}()
		for _, i := range order {
			tok := toks[i]
			s, err := hsmstore.Open(ctx, tokenConfig(tok))
			if err != nil {
				t.Fatalf("open %s (order %v): %v", tok.Label, order, err)
			}
			stores = append(stores, s)
			if s.TokenLabel() != tok.Label {
				t.Fatalf("open %s (order %v): store on token %q", tok.Label, order, s.TokenLabel())
			}
		}
		for k, i := range order {
			al, err := stores[k].Aliases(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if want := []string{"only-" + toks[i].Label}; !slices.Equal(al, want) {
				t.Fatalf("order %v: the store on %s lists %v, want %v", order, toks[i].Label, al, want)
			}
		}
	}
	for _, order := range permutations(3) {
		t.Run(fmt.Sprint(order), func(t *testing.T) { check(t, order) })
	}
	for _, order := range [][]int{{0, 1}, {1, 0}, {1, 2}, {2, 1}, {0, 2}, {2, 0}} {
		t.Run(fmt.Sprint(order), func(t *testing.T) { check(t, order) })
	}
	// Selecting by the serial they share names every match instead of picking one.
	_, err := hsmstore.Open(ctx, hsmstore.Config{Library: toks[0].Module.Path, TokenSerial: toks[0].Serial, PIN: toks[0].PIN})
	if err == nil || errors.Is(err, secrets.ErrNotFound) {
		t.Fatalf("open by a shared serial: %v, want an error listing the tokens", err)
	}
	for _, tok := range toks {
		if !strings.Contains(err.Error(), fmt.Sprintf("slot %d", tok.SlotID)) || !strings.Contains(err.Error(), tok.Label) {
			t.Errorf("the error does not list slot %d (%s): %v", tok.SlotID, tok.Label, err)
		}
	}
	if strings.Contains(err.Error(), "select by serial") {
		t.Errorf("the error advises selecting by serial: %v", err)
	}
}

// TestNSSSlotsOneSerial: NSS softokn's two slots share serial 0000000000000000; loaded
// directly with its init arguments, each opens on its own slot, in both orders.
func TestNSSSlotsOneSerial(t *testing.T) {
	ctx := context.Background()
	db, cs := p11test.NSSToken(t), p11test.NSSCryptoToken(t)
	for _, order := range [][]*p11test.Token{{db, cs}, {cs, db}} {
		var stores []*hsmstore.Store
		for _, tok := range order {
			s, err := hsmstore.Open(ctx, tokenConfig(tok))
			if err != nil {
				t.Fatalf("open %s: %v", tok.Label, err)
			}
			stores = append(stores, s)
			if s.TokenLabel() != tok.Label {
				t.Errorf("open %s: store on %q", tok.Label, s.TokenLabel())
			}
		}
		for _, s := range stores {
			s.Close()
		}
	}
}

// TestSunPKCS11NSS: SunPKCS11 configurations for NSS softokn open it with its init
// arguments: the library form (library + nssArgs + slot) and NSS mode (nssLibraryDirectory,
// nssSecmodDirectory, nssModule = keystore), on one database: a key made through the one is
// seen through the other.
func TestSunPKCS11NSS(t *testing.T) {
	ctx := context.Background()
	tok := p11test.NSSToken(t)
	dir := strings.TrimSuffix(strings.TrimPrefix(strings.Fields(tok.Module.InitArgs)[0], "configdir='sql:"), "'")
	confs := map[string]string{
		"nssargs": fmt.Sprintf("name = nssargs\nlibrary = %s\nnssArgs = %q\nslot = %d\n", tok.Module.Path, tok.Module.InitArgs, tok.SlotID),
		"nssmode": fmt.Sprintf("name = nssmode\nnssLibraryDirectory = %s\nnssSecmodDirectory = sql:%s\nnssModule = keystore\n", filepath.Dir(tok.Module.Path), dir),
	}
	for _, name := range []string{"nssargs", "nssmode"} {
		p := filepath.Join(t.TempDir(), name+".cfg")
		if err := os.WriteFile(p, []byte(confs[name]), 0o600); err != nil {
			t.Fatal(err)
		}
		s, err := hsmstore.OpenSunPKCS11(ctx, p, tok.PIN)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if s.TokenLabel() != tok.Label {
			t.Errorf("%s: token %q, want %q", name, s.TokenLabel(), tok.Label)
		}
		if _, err := s.Generate(ctx, "sunpkcs11-"+name, secrets.KeySpec{Kind: secrets.KindAES}, false); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		al, err := s.Aliases(ctx)
		s.Close()
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Contains(al, "sunpkcs11-nssargs") {
			t.Errorf("%s: aliases %v lack the key made through nssArgs", name, al)
		}
	}
	// Java's keytool lists both keys through the same configurations.
	kt := testenv.LookPath(t, testenv.Java, "keytool")
	for _, name := range []string{"nssargs", "nssmode"} {
		p := filepath.Join(t.TempDir(), name+".cfg")
		os.WriteFile(p, []byte(confs[name]), 0o600)
		out := keytool(t, kt, p, tok.PIN, "-list")
		for _, a := range []string{"sunpkcs11-nssargs", "sunpkcs11-nssmode"} {
			if !strings.Contains(out, a) {
				t.Errorf("keytool -list (%s) lacks %s:\n%s", name, a, out)
			}
		}
	}
}
