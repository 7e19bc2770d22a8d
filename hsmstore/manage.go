//go:build cgo

package hsmstore

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"math/big"
	"sync/atomic"
	"time"

	"github.com/miekg/pkcs11"

	"github.com/secretstores/secretstores/pkcs11conf"
	"github.com/secretstores/secretstores/secrets"
)

// template returns the attributes of an object created by op: defaults, then the store's
// matching SunPKCS11 rules in order, then forced (the attributes hsmstore's code sets), later
// ones winning, as documented on Config.Templates.
func (s *Store) template(op pkcs11conf.Operation, cls, kt uint, defaults, forced []pkcs11conf.Attribute) []*pkcs11.Attribute {
	return pkcs11conf.PKCS11Attributes(pkcs11conf.Combine(pkcs11conf.ApplyRules(defaults, s.tmpl, op, cls, kt), forced))
}

// secretTemplate is template for a secret key, with one rule of its own: when the
// configuration's rules make the key extractable (CKA_EXTRACTABLE = true, as IDM's HSM guide
// does) and say nothing of CKA_SENSITIVE, hsmstore's default CKA_SENSITIVE = true gives way to
// false. keytool through SunPKCS11 leaves CKA_SENSITIVE to the token (false on SoftHSM and
// opencryptoki), so such a configuration means a key whose value can be read; an extractable
// key that is sensitive cannot be exported at all.
func (s *Store) secretTemplate(op pkcs11conf.Operation, kt uint, defaults, forced []pkcs11conf.Attribute) []*pkcs11.Attribute {
	var extractable, sensitive bool
	for _, a := range pkcs11conf.ApplyRules(nil, s.tmpl, op, pkcs11.CKO_SECRET_KEY, kt) {
		switch a.Type {
		case pkcs11.CKA_EXTRACTABLE:
			extractable = a.Kind == pkcs11conf.Bool && a.Bool
		case pkcs11.CKA_SENSITIVE:
			sensitive = true // the configuration decides
		}
	}
	if extractable && !sensitive {
		defaults = pkcs11conf.Combine(defaults, []pkcs11conf.Attribute{aBool(pkcs11.CKA_SENSITIVE, false)})
	}
	return s.template(op, pkcs11.CKO_SECRET_KEY, kt, defaults, forced)
}

// aBool, aUlong and aBytes make template attributes.
func aBool(t uint, v bool) pkcs11conf.Attribute {
	return pkcs11conf.Attribute{Type: t, Kind: pkcs11conf.Bool, Bool: v}
}

func aUlong(t uint, v uint) pkcs11conf.Attribute {
	return pkcs11conf.Attribute{Type: t, Kind: pkcs11conf.Int, Int: v}
}

func aBytes(t uint, v []byte) pkcs11conf.Attribute {
	return pkcs11conf.Attribute{Type: t, Kind: pkcs11conf.Bytes, Bytes: append([]byte{}, v...)}
}

// manage serialises key management on one connection, so that "alias free" checks and the
// writes that follow are not interleaved by another goroutine of this process.
func (s *Store) manage(ctx context.Context, op, alias string, f func() error) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if s.closed.Load() {
		return secrets.ErrClosed
	}
	if alias == "" {
		return s.keyErr(op, alias, errors.New("empty alias"))
	}
	s.c.manageMu.Lock()
	defer s.c.manageMu.Unlock()
	if err := f(); err != nil {
		if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
			return err
		}
		return s.keyErr(op, alias, err)
	}
	s.c.subs.Notify(secrets.Change{Aliases: []string{alias}})
	return nil
}

// exists reports whether alias names anything on the token.
func (s *Store) exists(ctx context.Context, alias string) (bool, error) {
	var found bool
	err := s.do(ctx, func(sh pkcs11.SessionHandle) (bool, error) {
		hs, err := s.objectsOf(sh, alias)
		found = len(hs) > 0
		return false, err
	})
	return found, err
}

// objectsOf returns every object belonging to alias: secret keys labelled alias (or with
// CKA_ID alias), private keys with CKA_ID or CKA_LABEL alias, certificates labelled alias or
// with a private key's CKA_ID, and public keys with a private key's CKA_ID.
func (s *Store) objectsOf(sh pkcs11.SessionHandle, alias string) ([]pkcs11.ObjectHandle, error) {
	p := s.c.p11
	a := []byte(alias)
	var all []pkcs11.ObjectHandle
	find := func(tmpl ...*pkcs11.Attribute) error {
		hs, err := findObjects(p, sh, tmpl)
		all = union(all, hs)
		return err
	}
	if err := find(class(pkcs11.CKO_SECRET_KEY), pkcs11.NewAttribute(pkcs11.CKA_LABEL, a)); err != nil {
		return nil, err
	}
	if len(all) == 0 {
		if err := find(class(pkcs11.CKO_SECRET_KEY), pkcs11.NewAttribute(pkcs11.CKA_ID, a)); err != nil {
			return nil, err
		}
	}
	privs, err := findObjects(p, sh, []*pkcs11.Attribute{class(pkcs11.CKO_PRIVATE_KEY), pkcs11.NewAttribute(pkcs11.CKA_ID, a)})
	if err != nil {
		return nil, err
	}
	privsL, err := findObjects(p, sh, []*pkcs11.Attribute{class(pkcs11.CKO_PRIVATE_KEY), pkcs11.NewAttribute(pkcs11.CKA_LABEL, a)})
	if err != nil {
		return nil, err
	}
	privs = union(privs, privsL)
	all = union(all, privs)
	ids := [][]byte{a}
	for _, h := range privs {
		at, err := attrs(p, sh, h, pkcs11.CKA_ID)
		if err != nil {
			return nil, err
		}
		if id := at[pkcs11.CKA_ID]; len(id) > 0 && string(id) != alias {
			ids = append(ids, id)
		}
	}
	if err := find(class(pkcs11.CKO_CERTIFICATE), pkcs11.NewAttribute(pkcs11.CKA_LABEL, a)); err != nil {
		return nil, err
	}
	if len(privs) > 0 {
		for _, id := range ids {
			if err := find(class(pkcs11.CKO_CERTIFICATE), pkcs11.NewAttribute(pkcs11.CKA_ID, id)); err != nil {
				return nil, err
			}
			if err := find(class(pkcs11.CKO_PUBLIC_KEY), pkcs11.NewAttribute(pkcs11.CKA_ID, id)); err != nil {
				return nil, err
			}
		}
	}
	if len(all) == 0 {
		// "Free" must not be concluded from a logged-out session's empty searches.
		if err := s.c.checkLive(sh); err != nil {
			return nil, err
		}
	}
	return all, nil
}

// Delete removes every object of alias (see objectsOf): what keytool -delete removes, plus a
// public-key object of the same CKA_ID. It wraps secrets.ErrNotFound when there is none.
// Entries already resolved for alias fail afterwards with a token error.
//
// A fault after the first C_DestroyObject was sent is not retried (a retry would find
// nothing and say "not found" for what the first try deleted): the error wraps
// ErrUnavailable and says the delete may or may not have happened.
func (s *Store) Delete(ctx context.Context, alias string) error {
	return s.manage(ctx, "delete", alias, func() error {
		return s.write(ctx, func(sh pkcs11.SessionHandle, sent *bool) (bool, error) {
			return false, s.destroyAlias(sh, alias, sent)
		})
	})
}

func (s *Store) destroyAlias(sh pkcs11.SessionHandle, alias string, sent *bool) error {
	hs, err := s.objectsOf(sh, alias)
	if err != nil {
		return err
	}
	if len(hs) == 0 {
		return secrets.ErrNotFound
	}
	*sent = true
	for _, h := range hs {
		if err := wrote("C_DestroyObject", s.c.p11.DestroyObject(sh, h)); err != nil {
			return fmt.Errorf("C_DestroyObject: %w", err)
		}
	}
	return nil
}

// write runs a key-management write on a session of the store's connection: see
// conn.doWrite (not run again after a fault once sent).
func (s *Store) write(ctx context.Context, f func(sh pkcs11.SessionHandle, sent *bool) (bool, error)) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if s.closed.Load() {
		return secrets.ErrClosed
	}
	return s.c.doWrite(ctx, f)
}

// writeHook, set by tests, sees the result of every write call and may replace it (a reply
// lost after the token did the write).
var writeHook atomic.Pointer[func(call string, err error) error]

// wrote passes the result of a write call through writeHook.
func wrote(call string, err error) error {
	if h := writeHook.Load(); h != nil {
		return (*h)(call, err)
	}
	return err
}

// tempName returns a unique name for the objects of an entry being made to replace another.
func tempName() (string, error) {
	var b [8]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", err
	}
	return tempPrefix + hex.EncodeToString(b[:]), nil
}

// tempPrefix starts the names of entries being made to replace others.
const tempPrefix = "hsmstore-tmp-"

// create makes a new entry for alias with make, which writes every object of the entry under
// the name it is given (CKA_LABEL, CKA_ID as keytool's layout has them).
//
// A free alias is written directly. An alias in use is replaced (overwrite) only once its
// new entry is complete: make writes under a unique temporary name, then rename deletes the
// old objects and gives the new ones the alias (C_SetAttributeValue of CKA_LABEL and CKA_ID).
// A create that fails before that leaves the old entry as it was.
//
// When make fails, what it wrote is removed, found again by name (a new search, not a
// blind retry): an error wrapping errWriteUnknown (a fault with the reply of a write lost)
// then means nothing was stored.
func (s *Store) create(ctx context.Context, alias string, overwrite bool, make func(name string) error) error {
	ex, err := s.exists(ctx, alias)
	if err != nil {
		return err
	}
	if ex && !overwrite {
		return secrets.ErrExists
	}
	name := alias
	if ex {
		if name, err = tempName(); err != nil {
			return err
		}
	}
	if err := make(name); err != nil {
		return s.undo(name, err)
	}
	if name == alias {
		return nil
	}
	changed, err := s.rename(ctx, alias, name)
	if err != nil && !changed {
		return s.undo(name, fmt.Errorf("%w: the old entry is unchanged", err))
	}
	if err != nil {
		return fmt.Errorf("%w: the new entry was complete under the temporary alias %q when replacing the old one failed: check %q with Entry; if it is not the new key, delete %q and try again", err, name, alias, name)
	}
	return nil
}

// undo removes every object named name after cause made a create fail. It searches again
// on every try, so it may be retried after a fault.
func (s *Store) undo(name string, cause error) error {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	err := s.do(ctx, func(sh pkcs11.SessionHandle) (bool, error) {
		var sent bool
		if err := s.destroyAlias(sh, name, &sent); !errors.Is(err, secrets.ErrNotFound) {
			return false, err
		}
		return false, nil
	})
	switch {
	case err != nil:
		return fmt.Errorf("%w (and removing what was written under %q failed: %v)", cause, name, err)
	case errors.Is(cause, errWriteUnknown):
		return fmt.Errorf("%w; what was written has been removed: nothing was stored", cause)
	}
	return cause
}

// rename gives the objects named tmp the alias in place of alias's objects, in one write:
// it first checks that the token lets it change the new objects' CKA_LABEL and CKA_ID (by
// setting them to what they are), then destroys alias's objects, then renames the new
// ones. changed reports that the old objects may have been touched.
func (s *Store) rename(ctx context.Context, alias, tmp string) (changed bool, err error) {
	err = s.write(ctx, func(sh pkcs11.SessionHandle, sent *bool) (bool, error) {
		p := s.c.p11
		news, err := s.objectsOf(sh, tmp)
		if err != nil {
			return false, err
		}
		if len(news) == 0 {
			return false, fmt.Errorf("the new objects under %q are gone", tmp)
		}
		olds, err := s.objectsOf(sh, alias)
		if err != nil {
			return false, err
		}
		type update struct {
			h         pkcs11.ObjectHandle
			cur, next []*pkcs11.Attribute
		}
		var ups []update
		for _, h := range news {
			at, err := attrs(p, sh, h, pkcs11.CKA_LABEL, pkcs11.CKA_ID)
			if err != nil {
				return false, err
			}
			var u update
			for _, t := range []uint{pkcs11.CKA_LABEL, pkcs11.CKA_ID} {
				if string(at[t]) == tmp {
					u.cur = append(u.cur, pkcs11.NewAttribute(t, []byte(tmp)))
					u.next = append(u.next, pkcs11.NewAttribute(t, []byte(alias)))
				}
			}
			if len(u.next) > 0 {
				u.h = h
				ups = append(ups, u)
			}
		}
		// Setting an attribute to its value changes nothing: this may run twice.
		for _, u := range ups {
			if err := p.SetAttributeValue(sh, u.h, u.cur); err != nil {
				if isFault(err) {
					return false, err
				}
				return false, fmt.Errorf("the token does not let the new objects be renamed (CKA_MODIFIABLE = false?): C_SetAttributeValue: %w", err)
			}
		}
		*sent, changed = true, true
		for _, h := range olds {
			if err := wrote("C_DestroyObject", p.DestroyObject(sh, h)); err != nil {
				return false, fmt.Errorf("delete the old objects: C_DestroyObject: %w", err)
			}
		}
		for _, u := range ups {
			if err := wrote("C_SetAttributeValue", p.SetAttributeValue(sh, u.h, u.next)); err != nil {
				return false, fmt.Errorf("rename the new objects: C_SetAttributeValue: %w", err)
			}
		}
		return false, nil
	})
	return changed, err
}

// Generate creates a key on the token in keytool's layout and returns its entry:
//
//   - KindSecret: CKK_GENERIC_SECRET (what keytool -genseckey -keyalg HmacSHA256 stores), 256
//     bits by default, CKA_LABEL = alias, no CKA_ID;
//   - KindAES: CKK_AES, 128/192/256 bits (default 256);
//   - KindRSA (2048, 3072, 4096) and KindEC (P-256, P-384, P-521): a key pair generated on
//     the token, the private key with CKA_ID = alias and no label, and a self-signed
//     certificate (Subject, default CN=alias) with CKA_LABEL = CKA_ID = alias; the public
//     key is a session object, so no orphan public key stays behind, unless a template or
//     the module makes it a token object (then it has CKA_ID = alias and belongs to the
//     entry: see generatePair).
//
// Attributes: safe defaults (CKA_TOKEN, CKA_PRIVATE, CKA_SENSITIVE=true,
// CKA_EXTRACTABLE=false, usage flags), then the Config's templates for "generate", then the
// layout attributes; spec.Extractable forces CKA_EXTRACTABLE=true and CKA_SENSITIVE=false.
// The new key is read back (checkSecret, checkPrivate): a token that stored other
// attributes than asked, or a key hsmstore could not use, fails the generation (wrapping
// errors.ErrUnsupported, or secrets.ErrNotExtractable) and the key is removed.
// Fails with an error wrapping secrets.ErrExists when anything already has the alias and
// overwrite is false. With overwrite, the entry alias names is replaced as Import with
// overwrite replaces it: the new key is made first, and the old entry survives a generation
// that fails.
//
// A generation that fails leaves nothing behind: what it wrote is removed. A fault after a
// write was sent is not retried blindly (see Import).
func (s *Store) Generate(ctx context.Context, alias string, spec secrets.KeySpec, overwrite bool) (secrets.Entry, error) {
	return s.generate(ctx, alias, spec, overwrite)
}

func (s *Store) generate(ctx context.Context, alias string, spec secrets.KeySpec, overwrite bool) (secrets.Entry, error) {
	err := s.manage(ctx, "generate", alias, func() error {
		if err := s.canGenerate(spec); err != nil {
			return err
		}
		return s.create(ctx, alias, overwrite, func(name string) error {
			switch spec.Kind {
			case secrets.KindSecret, secrets.KindAES:
				if err := s.generateSecret(ctx, name, spec); err != nil {
					return err
				}
				return s.checkSecret(ctx, name, spec.Kind, spec.Extractable)
			case secrets.KindRSA, secrets.KindEC:
				return s.generatePair(ctx, alias, name, spec)
			}
			return fmt.Errorf("cannot generate a key of kind %v: %w", spec.Kind, secrets.ErrWrongKind)
		})
	})
	if err != nil {
		return nil, err
	}
	return s.Entry(ctx, alias)
}

// canGenerate checks, before any call, that the token lists the mechanism that generates a
// key of spec's kind and, for RSA, that the size is in the range it reports.
func (s *Store) canGenerate(spec secrets.KeySpec) error {
	cp, ok := map[secrets.Kind]Capability{secrets.KindSecret: CapGenerateSecret, secrets.KindAES: CapGenerateAES,
		secrets.KindRSA: CapGenerateRSA, secrets.KindEC: CapGenerateEC}[spec.Kind]
	if !ok {
		return nil // refused below, naming the kind
	}
	if err := s.c.supports(cp); err != nil {
		return err
	}
	if spec.Kind == secrets.KindEC {
		if err := s.c.supports(CapECDSASign); err != nil {
			return err
		}
	}
	if spec.Kind == secrets.KindRSA {
		bits := spec.Bits
		if bits == 0 {
			bits = 2048
		}
		mi := s.c.mechs[pkcs11.CKM_RSA_PKCS_KEY_PAIR_GEN]
		if mi.MaxKeySize != 0 && (uint(bits) < mi.MinKeySize || uint(bits) > mi.MaxKeySize) {
			return fmt.Errorf("hsmstore: RSA key of %d bits: the token's CKM_RSA_PKCS_KEY_PAIR_GEN makes %d to %d bits: %w", bits, mi.MinKeySize, mi.MaxKeySize, errors.ErrUnsupported)
		}
	}
	return nil
}

// canImport checks, before any call, that the token has a mechanism to use a private key
// of km's kind: a token without CKM_ECDSA (opencryptoki 3.8) accepts an EC key it cannot
// sign with.
func (s *Store) canImport(km secrets.KeyMaterial) error {
	if s.c.tpm2 && km.Kind != secrets.KindCertificate {
		// tpm2-pkcs11 1.9's C_CreateObject answers CKR_ATTRIBUTE_VALUE_INVALID for a
		// secret key, and stores an RSA private key's template as if it were a public key
		// (its object_create handles CKK_RSA as an RSA public key): TPM keys come from the TPM.
		return fmt.Errorf("hsmstore: cannot import a %v key into token %q: tpm2-pkcs11's C_CreateObject takes only certificates, data objects and RSA public keys (make the key in the TPM: tpm2_ptool addkey or import): %w",
			km.Kind, s.c.tok.Label, errors.ErrUnsupported)
	}
	switch km.Kind {
	case secrets.KindEC:
		return s.c.supports(CapECDSASign)
	case secrets.KindRSA:
		if err := s.c.supports(CapRSASignPKCS1); err != nil {
			return s.c.supports(CapRSASignPSS)
		}
	}
	return nil
}

// checkSecret reads back the secret key just written under name: when extractable was asked,
// the token must hold it with CKA_EXTRACTABLE=true and CKA_SENSITIVE=false (NSS keeps every
// stored secret key sensitive, whatever the template), and a KindSecret key must compute an
// HMAC (the first of SHA-256, -384, -512 the token offers). The error names the attribute or
// the operation; create then removes what was written.
func (s *Store) checkSecret(ctx context.Context, name string, kind secrets.Kind, extractable bool) error {
	return s.do(ctx, func(sh pkcs11.SessionHandle) (bool, error) {
		p := s.c.p11
		hs, err := findObjects(p, sh, []*pkcs11.Attribute{class(pkcs11.CKO_SECRET_KEY), pkcs11.NewAttribute(pkcs11.CKA_LABEL, []byte(name))})
		if err != nil {
			return false, err
		}
		if len(hs) != 1 {
			return false, fmt.Errorf("read back the new key: %d secret keys named %q", len(hs), name)
		}
		at, err := attrs(p, sh, hs[0], pkcs11.CKA_EXTRACTABLE, pkcs11.CKA_SENSITIVE)
		if err != nil {
			return false, fmt.Errorf("read back the new key: %w", err)
		}
		if extractable {
			// The value itself: what Export needs. NSS reports CKA_SENSITIVE=false for a
			// new key and refuses its CKA_VALUE (and then reports CKA_SENSITIVE=true).
			res, err := p.GetAttributeValue(sh, hs[0], []*pkcs11.Attribute{pkcs11.NewAttribute(pkcs11.CKA_VALUE, nil)})
			if isFault(err) {
				return false, fmt.Errorf("read back the new key: %w", err)
			}
			if len(res) == 1 {
				clear(res[0].Value)
			}
			if err != nil || len(res) != 1 || len(res[0].Value) == 0 {
				return false, fmt.Errorf("the token keeps the key CKA_SENSITIVE though CKA_SENSITIVE=false and CKA_EXTRACTABLE=true were asked (it refuses its CKA_VALUE: %v; NSS keeps every stored secret key sensitive): it cannot hold an extractable key, and the key was removed: %w", err, secrets.ErrNotExtractable)
			}
			if boolOf(at[pkcs11.CKA_SENSITIVE]) {
				return false, fmt.Errorf("the token stored the key with CKA_SENSITIVE=true though CKA_SENSITIVE=false was asked (NSS keeps every stored secret key sensitive): it cannot hold an extractable key, and the key was removed: %w", secrets.ErrNotExtractable)
			}
			if !boolOf(at[pkcs11.CKA_EXTRACTABLE]) {
				return false, fmt.Errorf("the token stored the key with CKA_EXTRACTABLE=false though CKA_EXTRACTABLE=true was asked: it cannot hold an extractable key, and the key was removed: %w", secrets.ErrNotExtractable)
			}
		}
		if kind != secrets.KindSecret {
			return false, nil
		}
		for _, cp := range []Capability{CapHMACSHA256, CapHMACSHA384, CapHMACSHA512} {
			if s.c.supports(cp) != nil {
				continue
			}
			m := capMechs[cp][0]
			if err := p.SignInit(sh, mechHMAC[m], hs[0]); err != nil {
				return false, fmt.Errorf("the new key does not compute an HMAC (C_SignInit %s: %w); it was removed", mechName(m), err)
			}
			if _, err := p.Sign(sh, []byte("hsmstore")); err != nil {
				s.c.endOp(sh, opSign)
				return false, fmt.Errorf("the new key does not compute an HMAC (C_Sign %s: %w); it was removed", mechName(m), err)
			}
			break
		}
		return false, nil
	})
}

// checkPrivate reads back the private key just written under name (op: generate or import)
// against the template asked: CKA_SENSITIVE, CKA_EXTRACTABLE, CKA_SIGN and (RSA)
// CKA_DECRYPT, and every boolean attribute a matching Config.Templates rule set, must be as
// asked (a token may accept a template and store something else). hsmstore's default
// CKA_UNWRAP=true (keytool's layout) is not checked: hsmstore never unwraps. A key with
// CKA_ALWAYS_AUTHENTICATE=true is refused: each use needs a context-specific login, which
// hsmstore does not do. For an import (pub non-nil) the key must also sign what pub
// verifies, with CKM_RSA_PKCS or CKM_ECDSA where the token offers it. The error names the
// attribute or the operation and wraps errors.ErrUnsupported (and secrets.ErrNotExtractable
// for a key the token keeps sensitive or unextractable); create then removes what was
// written.
func (s *Store) checkPrivate(ctx context.Context, name string, kt uint, asked []pkcs11conf.Attribute, op pkcs11conf.Operation, pub crypto.PublicKey) error {
	check := map[uint]bool{pkcs11.CKA_SENSITIVE: true, pkcs11.CKA_EXTRACTABLE: true, pkcs11.CKA_SIGN: true}
	if kt == pkcs11.CKK_RSA {
		check[pkcs11.CKA_DECRYPT] = true
	}
	var types []uint
	want := map[uint]bool{}
	for _, a := range asked {
		if a.Kind != pkcs11conf.Bool || a.Type == pkcs11.CKA_TOKEN || a.Type == pkcs11.CKA_PRIVATE {
			continue
		}
		if !check[a.Type] && !rulesSet(s.tmpl, op, pkcs11.CKO_PRIVATE_KEY, kt, a.Type) {
			continue
		}
		want[a.Type] = a.Bool
		types = append(types, a.Type)
	}
	return s.do(ctx, func(sh pkcs11.SessionHandle) (bool, error) {
		p := s.c.p11
		hs, err := findObjects(p, sh, []*pkcs11.Attribute{class(pkcs11.CKO_PRIVATE_KEY), pkcs11.NewAttribute(pkcs11.CKA_ID, []byte(name))})
		if err != nil {
			return false, err
		}
		if len(hs) != 1 {
			return false, fmt.Errorf("read back the new private key: %d private keys with CKA_ID %q", len(hs), name)
		}
		h := hs[0]
		at, err := attrs(p, sh, h, append(types, pkcs11.CKA_ALWAYS_AUTHENTICATE)...)
		if err != nil {
			return false, fmt.Errorf("read back the new private key: %w", err)
		}
		if boolOf(at[pkcs11.CKA_ALWAYS_AUTHENTICATE]) {
			// Every use would need a context-specific C_Login, which hsmstore does not do:
			// the key could never sign or decrypt through it.
			return false, fmt.Errorf("the token stored the private key with CKA_ALWAYS_AUTHENTICATE=true: each use needs a context-specific login, which hsmstore does not do, so the key could not be used; what was written was removed: %w", errors.ErrUnsupported)
		}
		for _, t := range types {
			v, ok := at[t]
			if !ok || len(v) == 0 {
				return false, fmt.Errorf("read back the new private key: the token reports no %s", pkcs11conf.AttributeName(t))
			}
			if got := boolOf(v); got != want[t] {
				err := fmt.Errorf("the token stored the private key with %s=%v though %s=%v was asked: it cannot hold such a key, and what was written was removed: %w",
					pkcs11conf.AttributeName(t), got, pkcs11conf.AttributeName(t), want[t], errors.ErrUnsupported)
				if (t == pkcs11.CKA_SENSITIVE && got) || (t == pkcs11.CKA_EXTRACTABLE && !got) {
					err = fmt.Errorf("%w (%w)", err, secrets.ErrNotExtractable)
				}
				return false, err
			}
		}
		if pub == nil {
			return false, nil
		}
		return false, s.trialSign(sh, h, kt, pub)
	})
}

// trialSign signs a fixed digest with the private key h and verifies the signature with pub.
func (s *Store) trialSign(sh pkcs11.SessionHandle, h pkcs11.ObjectHandle, kt uint, pub crypto.PublicKey) error {
	p := s.c.p11
	digest := sha256.Sum256([]byte("hsmstore read-back"))
	var mech uint
	in := digest[:]
	switch {
	case kt == pkcs11.CKK_RSA && s.c.hasMech(pkcs11.CKM_RSA_PKCS):
		mech, in = pkcs11.CKM_RSA_PKCS, append(append([]byte{}, digestInfo[crypto.SHA256]...), digest[:]...)
	case kt == pkcs11.CKK_EC && s.c.hasMech(pkcs11.CKM_ECDSA):
		mech = pkcs11.CKM_ECDSA
	default:
		return nil // no mechanism to try without parameters: the attributes were checked
	}
	if err := p.SignInit(sh, []*pkcs11.Mechanism{pkcs11.NewMechanism(mech, nil)}, h); err != nil {
		if isFault(err) {
			return err
		}
		return fmt.Errorf("the new private key does not sign (C_SignInit %s: %w): it was removed: %w", mechName(mech), err, errors.ErrUnsupported)
	}
	sig, err := p.Sign(sh, in)
	if err != nil {
		s.c.endOp(sh, opSign)
		if isFault(err) {
			return err
		}
		return fmt.Errorf("the new private key does not sign (C_Sign %s: %w): it was removed: %w", mechName(mech), err, errors.ErrUnsupported)
	}
	ok := false
	switch k := pub.(type) {
	case *rsa.PublicKey:
		ok = rsa.VerifyPKCS1v15(k, crypto.SHA256, digest[:], sig) == nil
	case *ecdsa.PublicKey:
		if n := len(sig); n%2 == 0 && n > 0 {
			r, ss := new(big.Int).SetBytes(sig[:n/2]), new(big.Int).SetBytes(sig[n/2:])
			ok = ecdsa.Verify(k, digest[:], r, ss)
		}
	}
	if !ok {
		return errors.New("the token's signature with the new private key does not verify with the certificate's public key: what was written was removed")
	}
	return nil
}

func secretAttrs(kind secrets.Kind, extractable bool) (kt uint, defaults []pkcs11conf.Attribute) {
	defaults = []pkcs11conf.Attribute{
		aBool(pkcs11.CKA_TOKEN, true), aBool(pkcs11.CKA_PRIVATE, true),
		aBool(pkcs11.CKA_SENSITIVE, !extractable), aBool(pkcs11.CKA_EXTRACTABLE, extractable),
	}
	if kind == secrets.KindAES {
		return pkcs11.CKK_AES, append(defaults, aBool(pkcs11.CKA_ENCRYPT, true), aBool(pkcs11.CKA_DECRYPT, true),
			aBool(pkcs11.CKA_WRAP, true), aBool(pkcs11.CKA_UNWRAP, true))
	}
	return pkcs11.CKK_GENERIC_SECRET, append(defaults, aBool(pkcs11.CKA_SIGN, true), aBool(pkcs11.CKA_VERIFY, true))
}

func secretForced(alias string, kt uint, extractable bool) []pkcs11conf.Attribute {
	f := []pkcs11conf.Attribute{aUlong(pkcs11.CKA_CLASS, pkcs11.CKO_SECRET_KEY), aUlong(pkcs11.CKA_KEY_TYPE, kt),
		aBytes(pkcs11.CKA_LABEL, []byte(alias)), aBool(pkcs11.CKA_TOKEN, true), aBool(pkcs11.CKA_PRIVATE, true)}
	if extractable {
		f = append(f, aBool(pkcs11.CKA_EXTRACTABLE, true), aBool(pkcs11.CKA_SENSITIVE, false))
	}
	return f
}

func (s *Store) generateSecret(ctx context.Context, alias string, spec secrets.KeySpec) error {
	bits := spec.Bits
	if bits == 0 {
		bits = 256
	}
	mech := uint(pkcs11.CKM_GENERIC_SECRET_KEY_GEN)
	if spec.Kind == secrets.KindAES {
		if bits != 128 && bits != 192 && bits != 256 {
			return fmt.Errorf("AES key of %d bits: want 128, 192 or 256", bits)
		}
		mech = pkcs11.CKM_AES_KEY_GEN
	} else if bits < 256 || bits%8 != 0 {
		return fmt.Errorf("secret key of %d bits: want a multiple of 8, at least 256", bits)
	}
	kt, defaults := secretAttrs(spec.Kind, spec.Extractable)
	forced := append(secretForced(alias, kt, spec.Extractable), aUlong(pkcs11.CKA_VALUE_LEN, uint(bits/8)))
	tmpl := s.secretTemplate(pkcs11conf.OpGenerate, kt, defaults, forced)
	return s.write(ctx, func(sh pkcs11.SessionHandle, sent *bool) (bool, error) {
		*sent = true
		_, err := s.c.p11.GenerateKey(sh, []*pkcs11.Mechanism{pkcs11.NewMechanism(mech, nil)}, tmpl)
		if err := wrote("C_GenerateKey", err); err != nil {
			if isCKR(err, pkcs11.CKR_FUNCTION_NOT_SUPPORTED) {
				// tpm2-pkcs11 lists CKM_AES_KEY_GEN but has no C_GenerateKey.
				s.c.noGenerateKey.Store(true)
				return false, fmt.Errorf("C_GenerateKey %s: %w: the module has no C_GenerateKey (%w)", mechGenName(mech), errors.ErrUnsupported, err)
			}
			return false, fmt.Errorf("C_GenerateKey %s: %w", mechGenName(mech), err)
		}
		return false, nil
	})
}

func mechGenName(m uint) string {
	switch m {
	case pkcs11.CKM_GENERIC_SECRET_KEY_GEN:
		return "CKM_GENERIC_SECRET_KEY_GEN"
	case pkcs11.CKM_AES_KEY_GEN:
		return "CKM_AES_KEY_GEN"
	case pkcs11.CKM_RSA_PKCS_KEY_PAIR_GEN:
		return "CKM_RSA_PKCS_KEY_PAIR_GEN"
	case pkcs11.CKM_EC_KEY_PAIR_GEN:
		return "CKM_EC_KEY_PAIR_GEN"
	}
	return fmt.Sprintf("mechanism 0x%x", m)
}

func privDefaults(kt uint, extractable bool) []pkcs11conf.Attribute {
	d := []pkcs11conf.Attribute{aBool(pkcs11.CKA_TOKEN, true), aBool(pkcs11.CKA_PRIVATE, true),
		aBool(pkcs11.CKA_SENSITIVE, !extractable), aBool(pkcs11.CKA_EXTRACTABLE, extractable), aBool(pkcs11.CKA_SIGN, true)}
	if kt == pkcs11.CKK_RSA {
		d = append(d, aBool(pkcs11.CKA_DECRYPT, true), aBool(pkcs11.CKA_UNWRAP, true))
	}
	return d
}

func privForced(alias string, kt uint, extractable bool) []pkcs11conf.Attribute {
	f := []pkcs11conf.Attribute{aUlong(pkcs11.CKA_CLASS, pkcs11.CKO_PRIVATE_KEY), aUlong(pkcs11.CKA_KEY_TYPE, kt),
		aBytes(pkcs11.CKA_ID, []byte(alias)), aBool(pkcs11.CKA_TOKEN, true), aBool(pkcs11.CKA_PRIVATE, true)}
	if extractable {
		f = append(f, aBool(pkcs11.CKA_EXTRACTABLE, true), aBool(pkcs11.CKA_SENSITIVE, false))
	}
	return f
}

// generatePair generates a key pair and its self-signed certificate (subject from alias)
// under name.
//
// The public key's template follows the model of Config.Templates like every other object:
// hsmstore's defaults (CKA_TOKEN=false: a session object, destroyed once the certificate is
// made, so no orphan public key stays behind; CKA_VERIFY, and CKA_ENCRYPT for RSA), then
// the matching "generate" rules for CKO_PUBLIC_KEY, then the attributes the code sets
// (class, key type, key size or curve, CKA_ID = the private key's). A public key that ends
// up a token object (a rule sets CKA_TOKEN = true, or the module requires it) stays on the
// token as part of the entry: Delete and an overwrite remove it with the private key.
//
// Some modules refuse a session public key beside a token private key (tpm2-pkcs11 1.9
// answers CKR_ATTRIBUTE_VALUE_INVALID): when no rule set the public key's CKA_TOKEN and the
// module refuses the template so, the generation is made again with the public key a token
// object, and the connection remembers it for later generations.
func (s *Store) generatePair(ctx context.Context, alias, name string, spec secrets.KeySpec) error {
	var kt, mech uint
	pubDefaults := []pkcs11conf.Attribute{aBool(pkcs11.CKA_TOKEN, false), aBool(pkcs11.CKA_VERIFY, true)}
	pubForced := []pkcs11conf.Attribute{aBytes(pkcs11.CKA_ID, []byte(name))}
	var curve elliptic.Curve
	switch spec.Kind {
	case secrets.KindRSA:
		bits := spec.Bits
		if bits == 0 {
			bits = 2048
		}
		if bits != 2048 && bits != 3072 && bits != 4096 {
			return fmt.Errorf("RSA key of %d bits: want 2048, 3072 or 4096", bits)
		}
		kt, mech = pkcs11.CKK_RSA, pkcs11.CKM_RSA_PKCS_KEY_PAIR_GEN
		pubDefaults = append(pubDefaults, aBool(pkcs11.CKA_ENCRYPT, true))
		pubForced = append(pubForced, aUlong(pkcs11.CKA_MODULUS_BITS, uint(bits)), aBytes(pkcs11.CKA_PUBLIC_EXPONENT, []byte{1, 0, 1}))
	case secrets.KindEC:
		switch spec.Bits {
		case 0, 256:
			curve = elliptic.P256()
		case 384:
			curve = elliptic.P384()
		case 521:
			curve = elliptic.P521()
		default:
			return fmt.Errorf("EC key of %d bits: want 256, 384 or 521", spec.Bits)
		}
		params, _ := asn1.Marshal(curveOID(curve))
		kt, mech = pkcs11.CKK_EC, pkcs11.CKM_EC_KEY_PAIR_GEN
		pubForced = append(pubForced, aBytes(pkcs11.CKA_EC_PARAMS, params))
	}
	pubForced = append([]pkcs11conf.Attribute{aUlong(pkcs11.CKA_CLASS, pkcs11.CKO_PUBLIC_KEY), aUlong(pkcs11.CKA_KEY_TYPE, kt)}, pubForced...)
	pubAttrs := pkcs11conf.Combine(pkcs11conf.ApplyRules(pubDefaults, s.tmpl, pkcs11conf.OpGenerate, pkcs11.CKO_PUBLIC_KEY, kt), pubForced)
	pubOnToken, ruled := tokenAttr(pubAttrs), rulesSet(s.tmpl, pkcs11conf.OpGenerate, pkcs11.CKO_PUBLIC_KEY, kt, pkcs11.CKA_TOKEN)
	if !ruled && s.c.pubOnToken.Load() {
		pubAttrs, pubOnToken = pkcs11conf.Combine(pubAttrs, []pkcs11conf.Attribute{aBool(pkcs11.CKA_TOKEN, true)}), true
	}
	privAttrs := pkcs11conf.Combine(pkcs11conf.ApplyRules(privDefaults(kt, spec.Extractable), s.tmpl, pkcs11conf.OpGenerate, pkcs11.CKO_PRIVATE_KEY, kt), privForced(name, kt, spec.Extractable))
	var ref *objRef
	var pub crypto.PublicKey
	err := s.write(ctx, func(sh pkcs11.SessionHandle, sent *bool) (bool, error) {
		p := s.c.p11
		*sent = true
		mechs := []*pkcs11.Mechanism{pkcs11.NewMechanism(mech, nil)}
		pubH, ph, err := p.GenerateKeyPair(sh, mechs, pkcs11conf.PKCS11Attributes(pubAttrs), pkcs11conf.PKCS11Attributes(privAttrs))
		if !pubOnToken && !ruled && (isCKR(err, pkcs11.CKR_ATTRIBUTE_VALUE_INVALID) || isCKR(err, pkcs11.CKR_TEMPLATE_INCONSISTENT)) {
			// The module may want the public key a token object (tpm2-pkcs11): try so.
			tokenPub := pkcs11conf.Combine(pubAttrs, []pkcs11conf.Attribute{aBool(pkcs11.CKA_TOKEN, true)})
			var err2 error
			pubH, ph, err2 = p.GenerateKeyPair(sh, mechs, pkcs11conf.PKCS11Attributes(tokenPub), pkcs11conf.PKCS11Attributes(privAttrs))
			if err2 == nil {
				s.c.pubOnToken.Store(true)
				pubOnToken = true
			}
			if err2 == nil || isFault(err2) {
				err = err2
			}
		}
		if err := wrote("C_GenerateKeyPair", err); err != nil {
			return false, fmt.Errorf("C_GenerateKeyPair %s: %w", mechGenName(mech), err)
		}
		at, err := attrs(p, sh, pubH, pkcs11.CKA_MODULUS, pkcs11.CKA_PUBLIC_EXPONENT, pkcs11.CKA_EC_PARAMS, pkcs11.CKA_EC_POINT)
		if err != nil {
			return false, err
		}
		pub = publicFromAttrs(kt, at)
		if kt == pkcs11.CKK_RSA {
			ref = s.newRef(pkcs11.CKO_PRIVATE_KEY, name, ph, kt, pkcs11.CKA_MODULUS, at[pkcs11.CKA_MODULUS])
		} else {
			ref = s.newRef(pkcs11.CKO_PRIVATE_KEY, name, ph, kt, pkcs11.CKA_EC_PARAMS, at[pkcs11.CKA_EC_PARAMS])
		}
		if !pubOnToken {
			_ = p.DestroyObject(sh, pubH) // a session object: it would go with the session anyway
		}
		if pub == nil {
			return false, errors.New("cannot read the generated public key") // create removes the private key
		}
		return false, nil
	})
	if err != nil {
		return err
	}
	if err := s.checkPrivate(ctx, name, kt, privAttrs, pkcs11conf.OpGenerate, nil); err != nil {
		return err
	}
	cert, err := s.selfSign(ctx, alias, spec, kt, ref, pub, curve)
	if err != nil {
		return err
	}
	return s.storeCert(ctx, name, cert)
}

// tokenAttr reports whether attrs make a token object (CKA_TOKEN true).
func tokenAttr(attrs []pkcs11conf.Attribute) bool {
	for _, a := range attrs {
		if a.Type == pkcs11.CKA_TOKEN {
			return a.Kind == pkcs11conf.Bool && a.Bool
		}
	}
	return false
}

// rulesSet reports whether a rule matching (op, cls, kt) sets (or removes) attribute typ.
func rulesSet(rules []pkcs11conf.AttributeRule, op pkcs11conf.Operation, cls, kt, typ uint) bool {
	probe := []pkcs11conf.Attribute{aBytes(typ, []byte("hsmstore-probe"))}
	for _, a := range pkcs11conf.ApplyRules(probe, rules, op, cls, kt) {
		if a.Type == typ {
			return a.Kind != pkcs11conf.Bytes || string(a.Bytes) != "hsmstore-probe"
		}
	}
	return true // a null value removed it
}

// handleSigner is a crypto.Signer over a private key handle, for x509.CreateCertificate.
type handleSigner struct {
	ctx context.Context
	e   secrets.EntrySigner
	pub crypto.PublicKey
}

func (h handleSigner) Public() crypto.PublicKey { return h.pub }
func (h handleSigner) Sign(_ io.Reader, digest []byte, opts crypto.SignerOpts) ([]byte, error) {
	return h.e.Sign(h.ctx, digest, opts)
}

func (s *Store) selfSign(ctx context.Context, alias string, spec secrets.KeySpec, kt uint, ref *objRef, pub crypto.PublicKey, curve elliptic.Curve) (*x509.Certificate, error) {
	var e secrets.EntrySigner
	b := base{st: s, alias: alias, pub: pub}
	if kt == pkcs11.CKK_RSA {
		e = &rsaKey{privKey: privKey{base: b, ref: ref}}
	} else {
		e = &ecKey{privKey: privKey{base: b, ref: ref}, size: (curve.Params().BitSize + 7) / 8}
	}
	subject := spec.Subject
	if len(subject.ToRDNSequence()) == 0 {
		subject = pkix.Name{CommonName: alias}
	}
	nb := spec.NotBefore
	if nb.IsZero() {
		nb = time.Now().Add(-time.Minute)
	}
	na := spec.NotAfter
	if na.IsZero() {
		na = nb.AddDate(10, 0, 0)
	}
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 63))
	if err != nil {
		return nil, err
	}
	tmpl := &x509.Certificate{
		SerialNumber: serial.Add(serial, big.NewInt(1)),
		Subject:      subject,
		NotBefore:    nb,
		NotAfter:     na,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, pub, handleSigner{ctx: ctx, e: e, pub: pub})
	if err != nil {
		return nil, fmt.Errorf("self-signed certificate: %w", err)
	}
	return x509.ParseCertificate(der)
}

// storeCert stores cert labelled alias, with CKA_ID = alias (a key entry's certificate, or a
// trusted certificate), or, for a chain's CA certificate (alias ""), without label and with
// CKA_ID = the SHA-1 of its public key (no alias's CKA_ID has 20 bytes of that form by
// chance). Every certificate gets a CKA_ID: Java's keystore loader aborts the whole token
// on tpm2-pkcs11 when one lacks it.
func (s *Store) storeCert(ctx context.Context, alias string, cert *x509.Certificate) error {
	serial, err := asn1.Marshal(cert.SerialNumber)
	if err != nil {
		return err
	}
	forced := []pkcs11conf.Attribute{aUlong(pkcs11.CKA_CLASS, pkcs11.CKO_CERTIFICATE), aUlong(pkcs11.CKA_CERTIFICATE_TYPE, pkcs11.CKC_X_509),
		aBool(pkcs11.CKA_TOKEN, true), aBytes(pkcs11.CKA_SUBJECT, cert.RawSubject), aBytes(pkcs11.CKA_ISSUER, cert.RawIssuer),
		aBytes(pkcs11.CKA_SERIAL_NUMBER, serial), aBytes(pkcs11.CKA_VALUE, cert.Raw)}
	if alias != "" {
		forced = append(forced, aBytes(pkcs11.CKA_LABEL, []byte(alias)), aBytes(pkcs11.CKA_ID, []byte(alias)))
	} else {
		id := sha1.Sum(cert.RawSubjectPublicKeyInfo)
		forced = append(forced, aBytes(pkcs11.CKA_ID, id[:]))
	}
	tmpl := s.template(pkcs11conf.OpImport, pkcs11.CKO_CERTIFICATE, pkcs11conf.Any, []pkcs11conf.Attribute{aBool(pkcs11.CKA_PRIVATE, false)}, forced)
	return s.write(ctx, func(sh pkcs11.SessionHandle, sent *bool) (bool, error) {
		*sent = true
		_, err := s.c.p11.CreateObject(sh, tmpl)
		if err := wrote("C_CreateObject", err); err != nil {
			return false, fmt.Errorf("C_CreateObject certificate: %w", err)
		}
		return false, nil
	})
}

// Import stores key material under alias in keytool's layout (see Generate), with the
// Config's "import" templates: secret keys (C_CreateObject with CKA_VALUE, as keytool
// -importkeystore does), RSA and EC private keys with their certificate chain (leaf with
// CKA_LABEL = CKA_ID = alias, CA certificates without label and with CKA_ID = the SHA-1 of
// their public key, skipped when already on the token), and trusted certificates (CKA_LABEL
// = CKA_ID = alias). CKA_TRUSTED is not set (it needs the
// SO PIN): Java's keytool does not list such a certificate as a trusted entry, hsmstore does.
//
// With overwrite, an entry alias names is replaced only once the new one is complete: the
// new objects are written under a temporary unique name (hsmstore-tmp-...), then the old
// objects are deleted and the new ones given the alias (C_SetAttributeValue of CKA_LABEL and
// CKA_ID), so an import the token refuses leaves the old key as it was. The token must let
// CKA_LABEL and CKA_ID be changed (a template with CKA_MODIFIABLE = false makes such an
// overwrite fail, the old entry unchanged). Without overwrite, an alias in use fails with an
// error wrapping secrets.ErrExists. Key bytes never appear in an error.
//
// Writes are not retried blindly: after a fault with a write sent (its reply lost, say),
// what the import wrote is found by name and removed, and the error wraps ErrUnavailable;
// should the fault hit the final rename, the error says so and names the temporary alias.
func (s *Store) Import(ctx context.Context, alias string, km secrets.KeyMaterial, overwrite bool) (secrets.Entry, error) {
	err := s.manage(ctx, "import", alias, func() error {
		if err := checkMaterial(km); err != nil {
			return err
		}
		if err := s.canImport(km); err != nil {
			return err
		}
		return s.create(ctx, alias, overwrite, func(name string) error {
			switch km.Kind {
			case secrets.KindSecret, secrets.KindAES:
				kt, defaults := secretAttrs(km.Kind, km.Extractable)
				tmpl := s.secretTemplate(pkcs11conf.OpImport, kt, defaults,
					append(secretForced(name, kt, km.Extractable), aBytes(pkcs11.CKA_VALUE, km.Secret)))
				err := s.write(ctx, func(sh pkcs11.SessionHandle, sent *bool) (bool, error) {
					*sent = true
					_, err := s.c.p11.CreateObject(sh, tmpl)
					if err := wrote("C_CreateObject", err); err != nil {
						return false, fmt.Errorf("C_CreateObject secret key: %w", err)
					}
					return false, nil
				})
				if err != nil {
					return err
				}
				return s.checkSecret(ctx, name, km.Kind, km.Extractable)
			case secrets.KindCertificate:
				return s.storeCert(ctx, name, km.Chain[0])
			}
			return s.importPair(ctx, name, km)
		})
	})
	if err != nil {
		return nil, err
	}
	return s.Entry(ctx, alias)
}

func checkMaterial(km secrets.KeyMaterial) error {
	switch km.Kind {
	case secrets.KindSecret:
		if len(km.Secret) == 0 {
			return errors.New("empty secret key")
		}
	case secrets.KindAES:
		if n := len(km.Secret); n != 16 && n != 24 && n != 32 {
			return fmt.Errorf("AES key of %d bytes: want 16, 24 or 32", n)
		}
	case secrets.KindCertificate:
		if len(km.Chain) == 0 || km.Chain[0] == nil {
			return errors.New("a certificate entry needs a certificate")
		}
	case secrets.KindRSA, secrets.KindEC:
		if len(km.Chain) == 0 || km.Chain[0] == nil {
			return errors.New("a private key entry needs its certificate (keytool pairs a key with its certificate; a key without one is invisible to Java)")
		}
		pk, ok := km.Private.(interface{ Public() crypto.PublicKey })
		if !ok {
			return fmt.Errorf("kind %v needs an *rsa.PrivateKey or *ecdsa.PrivateKey, have %T", km.Kind, km.Private)
		}
		if eq, ok := pk.Public().(interface{ Equal(crypto.PublicKey) bool }); !ok || !eq.Equal(km.Chain[0].PublicKey) {
			return errors.New("the certificate does not hold the entry's public key")
		}
	default:
		return fmt.Errorf("cannot import a key of kind %v: %w", km.Kind, secrets.ErrWrongKind)
	}
	return nil
}

func (s *Store) importPair(ctx context.Context, alias string, km secrets.KeyMaterial) error {
	var kt uint
	var keyAttrs []pkcs11conf.Attribute
	switch k := km.Private.(type) {
	case *rsa.PrivateKey:
		if km.Kind != secrets.KindRSA || len(k.Primes) != 2 {
			return errors.New("kind RSA needs a two-prime *rsa.PrivateKey")
		}
		k.Precompute()
		kt = pkcs11.CKK_RSA
		keyAttrs = []pkcs11conf.Attribute{
			aBytes(pkcs11.CKA_MODULUS, k.N.Bytes()), aBytes(pkcs11.CKA_PUBLIC_EXPONENT, big.NewInt(int64(k.E)).Bytes()),
			aBytes(pkcs11.CKA_PRIVATE_EXPONENT, k.D.Bytes()), aBytes(pkcs11.CKA_PRIME_1, k.Primes[0].Bytes()),
			aBytes(pkcs11.CKA_PRIME_2, k.Primes[1].Bytes()), aBytes(pkcs11.CKA_EXPONENT_1, k.Precomputed.Dp.Bytes()),
			aBytes(pkcs11.CKA_EXPONENT_2, k.Precomputed.Dq.Bytes()), aBytes(pkcs11.CKA_COEFFICIENT, k.Precomputed.Qinv.Bytes()),
		}
	case *ecdsa.PrivateKey:
		oid := curveOID(k.Curve)
		if km.Kind != secrets.KindEC || oid == nil {
			return errors.New("kind EC needs an *ecdsa.PrivateKey on P-256, P-384 or P-521")
		}
		params, _ := asn1.Marshal(oid)
		d, err := k.Bytes()
		if err != nil {
			return errors.New("invalid EC private key")
		}
		kt = pkcs11.CKK_EC
		keyAttrs = []pkcs11conf.Attribute{aBytes(pkcs11.CKA_EC_PARAMS, params), aBytes(pkcs11.CKA_VALUE, d)}
	default:
		return fmt.Errorf("cannot import a private key of type %T", km.Private)
	}
	asked := pkcs11conf.Combine(pkcs11conf.ApplyRules(privDefaults(kt, km.Extractable), s.tmpl, pkcs11conf.OpImport, pkcs11.CKO_PRIVATE_KEY, kt), append(privForced(alias, kt, km.Extractable), keyAttrs...))
	tmpl := pkcs11conf.PKCS11Attributes(asked)
	err := s.write(ctx, func(sh pkcs11.SessionHandle, sent *bool) (bool, error) {
		*sent = true
		_, err := s.c.p11.CreateObject(sh, tmpl)
		if err := wrote("C_CreateObject", err); err != nil {
			return false, fmt.Errorf("C_CreateObject private key: %w", err)
		}
		return false, nil
	})
	if err != nil {
		return err
	}
	if err := s.checkPrivate(ctx, alias, kt, asked, pkcs11conf.OpImport, km.Chain[0].PublicKey); err != nil {
		return err
	}
	err = s.storeCert(ctx, alias, km.Chain[0])
	for i := 1; err == nil && i < len(km.Chain); i++ {
		if km.Chain[i] == nil {
			break
		}
		var have bool
		have, err = s.hasCert(ctx, km.Chain[i])
		if err == nil && !have {
			err = s.storeCert(ctx, "", km.Chain[i])
		}
	}
	return err // on an error, create removes the private key and the leaf certificate
}

func (s *Store) hasCert(ctx context.Context, c *x509.Certificate) (bool, error) {
	var have bool
	err := s.do(ctx, func(sh pkcs11.SessionHandle) (bool, error) {
		hs, err := findObjects(s.c.p11, sh, []*pkcs11.Attribute{class(pkcs11.CKO_CERTIFICATE), pkcs11.NewAttribute(pkcs11.CKA_VALUE, c.Raw)})
		have = len(hs) > 0
		return false, err
	})
	return have, err
}

// ExportCertificate returns alias's certificate (the leaf of a key entry, or a trusted
// certificate) as DER; encode with encoding/pem for PEM. It wraps secrets.ErrNotFound when
// alias has no certificate.
func (s *Store) ExportCertificate(ctx context.Context, alias string) ([]byte, error) {
	e, err := s.Entry(ctx, alias)
	if err != nil {
		return nil, err
	}
	ch := e.Chain()
	if len(ch) == 0 {
		return nil, s.keyErr("export certificate", alias, fmt.Errorf("a %v entry has no certificate: %w", e.Kind(), secrets.ErrNotFound))
	}
	return append([]byte(nil), ch[0].Raw...), nil
}

// CanGenerate checks that Generate(ctx, alias, spec) can make such a key on this token,
// leaving nothing behind. For a secret key it generates one with the store's templates as a
// session object (CKA_TOKEN false) and destroys it; when spec.Extractable it then generates a
// token object under a temporary name, checks that the token left it extractable and not
// sensitive (some tokens, NSS softokn, make every stored secret key sensitive, though not
// session keys), and destroys it. For a key pair it checks that the token lists the
// key-pair generation mechanism. It returns nil, or an error wrapping errors.ErrUnsupported
// that names what the token lacks (tpm2-pkcs11 has no C_GenerateKey), or the connection's
// error.
func (s *Store) CanGenerate(ctx context.Context, spec secrets.KeySpec) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if s.closed.Load() {
		return secrets.ErrClosed
	}
	switch spec.Kind {
	case secrets.KindRSA, secrets.KindEC:
		mech, name := uint(pkcs11.CKM_RSA_PKCS_KEY_PAIR_GEN), "CKM_RSA_PKCS_KEY_PAIR_GEN"
		if spec.Kind == secrets.KindEC {
			mech, name = pkcs11.CKM_EC_KEY_PAIR_GEN, "CKM_EC_KEY_PAIR_GEN"
		}
		if !s.c.hasMech(mech) {
			return fmt.Errorf("hsmstore: the token lacks %s (key-pair generation): %w", name, errors.ErrUnsupported)
		}
		return nil
	case secrets.KindSecret, secrets.KindAES:
	default:
		return fmt.Errorf("cannot generate a key of kind %v: %w", spec.Kind, secrets.ErrWrongKind)
	}
	bits := spec.Bits
	if bits == 0 {
		bits = 256
	}
	mech := uint(pkcs11.CKM_GENERIC_SECRET_KEY_GEN)
	if spec.Kind == secrets.KindAES {
		mech = pkcs11.CKM_AES_KEY_GEN
	}
	name, err := tempName()
	if err != nil {
		return err
	}
	kt, defaults := secretAttrs(spec.Kind, spec.Extractable)
	probe := func(onToken bool) error {
		forced := append(secretForced(name, kt, spec.Extractable), aUlong(pkcs11.CKA_VALUE_LEN, uint(bits/8)), aBool(pkcs11.CKA_TOKEN, onToken))
		tmpl := s.secretTemplate(pkcs11conf.OpGenerate, kt, defaults, forced)
		var unsupported error
		err := s.do(ctx, func(sh pkcs11.SessionHandle) (bool, error) {
			p := s.c.p11
			h, err := p.GenerateKey(sh, []*pkcs11.Mechanism{pkcs11.NewMechanism(mech, nil)}, tmpl)
			if err != nil {
				if isFault(err) {
					return false, err
				}
				unsupported = fmt.Errorf("hsmstore: the token cannot generate this key: C_GenerateKey %s: %w (%w)", mechGenName(mech), errors.ErrUnsupported, err)
				return false, nil
			}
			defer p.DestroyObject(sh, h)
			if !spec.Extractable {
				return false, nil
			}
			at, err := attrs(p, sh, h, pkcs11.CKA_SENSITIVE, pkcs11.CKA_EXTRACTABLE, pkcs11.CKA_VALUE)
			if err != nil {
				return false, err
			}
			if boolOf(at[pkcs11.CKA_SENSITIVE]) || !boolOf(at[pkcs11.CKA_EXTRACTABLE]) || len(at[pkcs11.CKA_VALUE]) == 0 {
				unsupported = fmt.Errorf("hsmstore: the token cannot make extractable secret keys: asked for CKA_SENSITIVE=false and CKA_EXTRACTABLE=true, it made CKA_SENSITIVE=%v, CKA_EXTRACTABLE=%v, and CKA_VALUE is %s: %w",
					boolOf(at[pkcs11.CKA_SENSITIVE]), boolOf(at[pkcs11.CKA_EXTRACTABLE]), map[bool]string{true: "readable", false: "not readable"}[len(at[pkcs11.CKA_VALUE]) > 0], errors.ErrUnsupported)
			}
			return false, nil
		})
		if err != nil {
			return err
		}
		return unsupported
	}
	if err := probe(false); err != nil || !spec.Extractable {
		return err
	}
	return probe(true)
}
