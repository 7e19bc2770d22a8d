//go:build cgo

package hsmstore

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rsa"
	"crypto/x509"
	"encoding/asn1"
	"errors"
	"fmt"
	"math/big"
	"slices"
	"sort"
	"sync/atomic"

	"github.com/miekg/pkcs11"

	"github.com/secretstores/secretstores/pkcs11conf"
	"github.com/secretstores/secretstores/secrets"
)

// A Store is a secrets.Store over one PKCS#11 token, reading and writing keytool's layout
// (see the package documentation). It is safe for concurrent use. Every Store on the same
// (library, token) in a process shares one connection and one login; Close releases this
// Store's reference and the last one closes the connection.
type Store struct {
	name   string
	c      *conn
	tmpl   []pkcs11conf.AttributeRule
	closed atomic.Bool
}

var (
	_ secrets.Store     = (*Store)(nil)
	_ secrets.Generator = (*Store)(nil)
	_ secrets.Importer  = (*Store)(nil)
	_ secrets.Deleter   = (*Store)(nil)
	_ secrets.Notifier  = (*Store)(nil)
)

// Open opens the token cfg selects and logs in with its PIN, or joins the process's existing
// connection to that token.
//
// Errors: ctx.Err() when ctx is done (before the module is touched); an error wrapping
// secrets.ErrWrongPIN when the token rejects the PIN (after exactly one C_Login) or when
// the token is already open in this process with another PIN (then without a C_Login);
// secrets.ErrNotFound when no token matches; otherwise an error naming the module or token.
// No error carries the PIN.
func Open(ctx context.Context, cfg Config) (*Store, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	c, err := connect(&cfg)
	if err != nil {
		return nil, err
	}
	name := cfg.Name
	if name == "" {
		name = c.tok.Label
	}
	return &Store{name: name, c: c, tmpl: cloneRules(cfg.Templates)}, nil
}

// Name returns the store's name: Config.Name, or the token label.
func (s *Store) Name() string { return s.name }

// TokenLabel and TokenSerial describe the token the store is on.
func (s *Store) TokenLabel() string  { return s.c.tok.Label }
func (s *Store) TokenSerial() string { return s.c.tok.SerialNumber }

// Close releases the store's reference to the shared connection; the last Close in the
// process logs out and closes it. Entries of a closed store fail with secrets.ErrClosed.
// Close is idempotent and waits for operations in flight on the connection's last reference.
func (s *Store) Close() error {
	if s.closed.Swap(true) {
		return nil
	}
	return s.c.release()
}

// Subscribe implements secrets.Notifier: f learns of aliases deleted, generated or imported
// through any Store on the same token in this process (not of changes by other processes).
func (s *Store) Subscribe(f func(secrets.Change)) (unsubscribe func()) {
	return s.c.subs.Subscribe(func(ch secrets.Change) {
		ch.Store = s.name
		f(ch)
	})
}

// Ping checks that the token answers and that a pooled session is logged in and can start
// an operation (an object search), recovering if needed (a session left with an operation
// active is closed and another tried; a re-login, or a reconnect when one is due): for
// readiness probes. It returns nil, an error wrapping ErrUnavailable (and
// secrets.ErrWrongPIN after a rejected PIN), secrets.ErrClosed, or ctx.Err(). While the
// token is away it fails at once between reconnect attempts.
func (s *Store) Ping(ctx context.Context) error {
	return s.do(ctx, func(sh pkcs11.SessionHandle) (bool, error) {
		if err := s.c.checkLive(sh); err != nil {
			return false, err
		}
		if err := s.c.p11.FindObjectsInit(sh, pingTemplate); err != nil {
			return false, fmt.Errorf("hsmstore: C_FindObjectsInit: %w", err)
		}
		if err := s.c.p11.FindObjectsFinal(sh); err != nil {
			return true, fmt.Errorf("hsmstore: C_FindObjectsFinal: %w", err)
		}
		return false, nil
	})
}

// pingTemplate matches no object hsmstore makes: Ping's search finds nothing, cheaply.
var pingTemplate = []*pkcs11.Attribute{class(pkcs11.CKO_DATA), pkcs11.NewAttribute(pkcs11.CKA_LABEL, []byte("hsmstore ping"))}

// Stats returns a snapshot of the counters of the store's token connection (shared by
// every Store on the same token in the process).
func (s *Store) Stats() Stats { return s.c.stats() }

func (s *Store) keyErr(op, alias string, err error) error {
	return &secrets.KeyError{Op: op, Store: s.name, Alias: alias, Err: err}
}

// do runs f on a session of the store's connection.
func (s *Store) do(ctx context.Context, f func(sh pkcs11.SessionHandle) (bool, error)) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if s.closed.Load() {
		return secrets.ErrClosed
	}
	return s.c.do(ctx, f)
}

const maxObjects = 100000

// findObjects returns the handles of the objects matching tmpl.
func findObjects(p *pkcs11.Ctx, sh pkcs11.SessionHandle, tmpl []*pkcs11.Attribute) ([]pkcs11.ObjectHandle, error) {
	if err := p.FindObjectsInit(sh, tmpl); err != nil {
		return nil, err
	}
	var all []pkcs11.ObjectHandle
	for {
		hs, _, err := p.FindObjects(sh, 64)
		if err != nil {
			_ = p.FindObjectsFinal(sh)
			return nil, err
		}
		all = append(all, hs...)
		if len(hs) == 0 || len(all) > maxObjects {
			break
		}
	}
	if err := p.FindObjectsFinal(sh); err != nil {
		return nil, err
	}
	return all, nil
}

// attrs reads the attributes types of h; an attribute the token will not give (sensitive,
// invalid for the object) is absent from the map. The error is a connection fault (see
// faultLevel), never an attribute the token refuses: a missing attribute must not be
// mistaken for an absent one during an outage.
func attrs(p *pkcs11.Ctx, sh pkcs11.SessionHandle, h pkcs11.ObjectHandle, types ...uint) (map[uint][]byte, error) {
	q := make([]*pkcs11.Attribute, len(types))
	for i, t := range types {
		q[i] = pkcs11.NewAttribute(t, nil)
	}
	out := make(map[uint][]byte, len(types))
	res, err := p.GetAttributeValue(sh, h, q)
	if err == nil {
		for _, a := range res {
			out[a.Type] = a.Value
		}
		return out, nil
	}
	if isFault(err) {
		return nil, fmt.Errorf("hsmstore: C_GetAttributeValue: %w", err)
	}
	// One bad attribute fails the whole read: read one by one.
	for _, t := range types {
		res, err := p.GetAttributeValue(sh, h, []*pkcs11.Attribute{pkcs11.NewAttribute(t, nil)})
		if isFault(err) {
			return nil, fmt.Errorf("hsmstore: C_GetAttributeValue: %w", err)
		}
		if err == nil && len(res) == 1 {
			out[t] = res[0].Value
		}
	}
	return out, nil
}

func ulongOf(b []byte) (uint, bool) {
	if len(b) == 0 || len(b) > 8 {
		return 0, false
	}
	return bytesUlong(b), true
}

func boolOf(b []byte) bool { return len(b) > 0 && b[0] != 0 }

func class(c uint) *pkcs11.Attribute { return pkcs11.NewAttribute(pkcs11.CKA_CLASS, c) }

// Entry returns the entry for alias, found in keytool's layout or another tool's:
//
//   - a secret key whose CKA_LABEL is alias (else whose CKA_ID is alias): KindSecret for
//     CKK_GENERIC_SECRET and the CKK_SHA*_HMAC types, KindAES for CKK_AES;
//   - a private key whose CKA_ID is alias (keytool) or whose CKA_LABEL is alias (other
//     tools), with the certificate of the same CKA_ID (or labelled alias) and its chain from
//     the token; the public key comes from the certificate, else from a public-key object of
//     the same CKA_ID, else from the private key's own attributes (RSA);
//   - else a certificate labelled alias (a trusted certificate entry, KindCertificate).
//
// Two secret keys, two private keys, or a secret and a private key for one alias are an
// error, not a guess. The entry resolves its object handles once and keeps them.
//
// Errors: ctx.Err(); a *secrets.KeyError wrapping secrets.ErrNotFound, secrets.ErrClosed,
// or describing the ambiguity or the token error.
func (s *Store) Entry(ctx context.Context, alias string) (secrets.Entry, error) {
	if alias == "" {
		return nil, s.keyErr("lookup", alias, fmt.Errorf("empty alias: %w", secrets.ErrNotFound))
	}
	var e secrets.Entry
	err := s.do(ctx, func(sh pkcs11.SessionHandle) (bool, error) {
		var err error
		e, err = s.resolve(sh, alias)
		return false, err
	})
	if err != nil {
		if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
			return nil, err
		}
		return nil, s.keyErr("lookup", alias, err)
	}
	return e, nil
}

func (s *Store) resolve(sh pkcs11.SessionHandle, alias string) (secrets.Entry, error) {
	p := s.c.p11
	a := []byte(alias)
	// Two searches over every class, the objects labelled alias and those whose CKA_ID is
	// alias, then one attribute read per object found to learn its class: PKCS#11 templates
	// only AND, and a search costs the module a pass over the token, which this keeps to two
	// where a search per (class, attribute) made three to five. A lone object's class is read
	// with a secret key's attributes (the usual HMAC or AES alias: one read in all).
	byLabel, err := findObjects(p, sh, []*pkcs11.Attribute{pkcs11.NewAttribute(pkcs11.CKA_LABEL, a)})
	if err != nil {
		return nil, err
	}
	byID, err := findObjects(p, sh, []*pkcs11.Attribute{pkcs11.NewAttribute(pkcs11.CKA_ID, a)})
	if err != nil {
		return nil, err
	}
	all := union(slices.Clone(byLabel), byID)
	classes := make(map[pkcs11.ObjectHandle]uint, len(all))
	var lone map[uint][]byte // the secret key attributes of the only object found
	if len(all) == 1 {
		if at, ok := secretAttrsWithClass(p, sh, all[0]); ok {
			if c, ok := ulongOf(at[pkcs11.CKA_CLASS]); ok && c == pkcs11.CKO_SECRET_KEY {
				classes[all[0]], lone = c, at
			}
		}
	}
	for _, h := range all {
		if _, done := classes[h]; done {
			continue
		}
		at, err := attrs(p, sh, h, pkcs11.CKA_CLASS)
		if err != nil {
			return nil, err
		}
		if c, ok := ulongOf(at[pkcs11.CKA_CLASS]); ok {
			classes[h] = c
		}
	}
	of := func(hs []pkcs11.ObjectHandle, c uint) []pkcs11.ObjectHandle {
		var out []pkcs11.ObjectHandle
		for _, h := range hs {
			if cl, ok := classes[h]; ok && cl == c {
				out = append(out, h)
			}
		}
		return out
	}
	secretsL := of(byLabel, pkcs11.CKO_SECRET_KEY)
	if len(secretsL) == 0 {
		secretsL = of(byID, pkcs11.CKO_SECRET_KEY)
	}
	privs := union(of(byID, pkcs11.CKO_PRIVATE_KEY), of(byLabel, pkcs11.CKO_PRIVATE_KEY))
	if len(secretsL) == 1 && len(privs) == 0 && lone != nil {
		return s.secretEntryFrom(alias, secretsL[0], lone)
	}
	switch {
	case len(secretsL) > 1:
		return nil, fmt.Errorf("%d secret keys are labelled %q: delete or relabel all but one", len(secretsL), alias)
	case len(privs) > 1:
		return nil, fmt.Errorf("%d private keys have CKA_ID or CKA_LABEL %q: delete or relabel all but one", len(privs), alias)
	case len(secretsL) == 1 && len(privs) == 1:
		return nil, fmt.Errorf("both a secret key and a private key are named %q: delete or relabel one", alias)
	case len(secretsL) == 1:
		return s.secretEntry(sh, alias, secretsL[0])
	case len(privs) == 1:
		return s.privateEntry(sh, alias, privs[0])
	}
	certs := of(byLabel, pkcs11.CKO_CERTIFICATE)
	switch len(certs) {
	case 0:
		// Nothing: or a lost login, which hides every private object without an error.
		if err := s.c.checkLive(sh); err != nil {
			return nil, err
		}
		return nil, secrets.ErrNotFound
	case 1:
		// A certificate without its private key: a trusted certificate entry, or a key
		// entry whose private key a lost login hides (the certificate is a public object).
		if err := s.c.checkLive(sh); err != nil {
			return nil, err
		}
		cert, err := readCert(p, sh, certs[0])
		if err != nil {
			return nil, err
		}
		chain, err := s.chain(sh, cert)
		if err != nil {
			return nil, err
		}
		return &certEntry{base: base{st: s, alias: alias, kind: secrets.KindCertificate, chain: chain, pub: cert.PublicKey}}, nil
	}
	return nil, fmt.Errorf("%d certificates are labelled %q: delete or relabel all but one", len(certs), alias)
}

func union(a, b []pkcs11.ObjectHandle) []pkcs11.ObjectHandle {
	for _, h := range b {
		found := false
		for _, x := range a {
			if x == h {
				found = true
				break
			}
		}
		if !found {
			a = append(a, h)
		}
	}
	return a
}

func readCert(p *pkcs11.Ctx, sh pkcs11.SessionHandle, h pkcs11.ObjectHandle) (*x509.Certificate, error) {
	at, err := attrs(p, sh, h, pkcs11.CKA_VALUE)
	if err != nil {
		return nil, err
	}
	v := at[pkcs11.CKA_VALUE]
	if len(v) == 0 {
		return nil, errors.New("certificate object has no CKA_VALUE")
	}
	cert, err := x509.ParseCertificate(v)
	if err != nil {
		return nil, fmt.Errorf("certificate object: %w", err)
	}
	return cert, nil
}

// secretReadAttrs are the attributes secretEntry reads.
var secretReadAttrs = []uint{pkcs11.CKA_KEY_TYPE, pkcs11.CKA_EXTRACTABLE, pkcs11.CKA_SENSITIVE, pkcs11.CKA_VALUE_LEN, pkcs11.CKA_CHECK_VALUE}

// secretAttrsWithClass reads CKA_CLASS and secretReadAttrs of h in one call; ok is false when the
// token refuses one of them (h is not a secret key, or one it reads otherwise: the caller
// then reads the class alone).
func secretAttrsWithClass(p *pkcs11.Ctx, sh pkcs11.SessionHandle, h pkcs11.ObjectHandle) (map[uint][]byte, bool) {
	q := make([]*pkcs11.Attribute, 0, 1+len(secretReadAttrs))
	q = append(q, pkcs11.NewAttribute(pkcs11.CKA_CLASS, nil))
	for _, t := range secretReadAttrs {
		q = append(q, pkcs11.NewAttribute(t, nil))
	}
	res, err := p.GetAttributeValue(sh, h, q)
	if err != nil {
		return nil, false
	}
	out := make(map[uint][]byte, len(res))
	for _, a := range res {
		out[a.Type] = a.Value
	}
	return out, true
}

func (s *Store) secretEntry(sh pkcs11.SessionHandle, alias string, h pkcs11.ObjectHandle) (secrets.Entry, error) {
	at, err := attrs(s.c.p11, sh, h, secretReadAttrs...)
	if err != nil {
		return nil, err
	}
	return s.secretEntryFrom(alias, h, at)
}

// secretEntryFrom makes the entry of secret key h from its secretReadAttrs.
func (s *Store) secretEntryFrom(alias string, h pkcs11.ObjectHandle, at map[uint][]byte) (secrets.Entry, error) {
	kt, ok := ulongOf(at[pkcs11.CKA_KEY_TYPE])
	if !ok {
		return nil, errors.New("secret key without a readable CKA_KEY_TYPE")
	}
	sk := keyObj{
		base:        base{st: s, alias: alias},
		ref:         s.newRef(pkcs11.CKO_SECRET_KEY, alias, h, kt, pkcs11.CKA_CHECK_VALUE, at[pkcs11.CKA_CHECK_VALUE]),
		keyType:     kt,
		extractable: boolOf(at[pkcs11.CKA_EXTRACTABLE]),
		sensitive:   boolOf(at[pkcs11.CKA_SENSITIVE]),
	}
	switch kt {
	case pkcs11.CKK_AES:
		sk.kind = secrets.KindAES
		return &aesKey{sk}, nil
	case pkcs11.CKK_GENERIC_SECRET, pkcs11.CKK_SHA256_HMAC, pkcs11.CKK_SHA384_HMAC, pkcs11.CKK_SHA512_HMAC,
		pkcs11.CKK_SHA_1_HMAC, pkcs11.CKK_SHA224_HMAC:
		sk.kind = secrets.KindSecret
		return &secretKey{sk}, nil
	}
	return nil, fmt.Errorf("secret key of unsupported CKA_KEY_TYPE 0x%x: %w", kt, errors.ErrUnsupported)
}

func (s *Store) privateEntry(sh pkcs11.SessionHandle, alias string, h pkcs11.ObjectHandle) (secrets.Entry, error) {
	p := s.c.p11
	at, err := attrs(p, sh, h, pkcs11.CKA_KEY_TYPE, pkcs11.CKA_ID, pkcs11.CKA_MODULUS, pkcs11.CKA_PUBLIC_EXPONENT, pkcs11.CKA_EC_PARAMS, pkcs11.CKA_DECRYPT, pkcs11.CKA_ALWAYS_AUTHENTICATE)
	if err != nil {
		return nil, err
	}
	alwaysAuth := boolOf(at[pkcs11.CKA_ALWAYS_AUTHENTICATE])
	kt, ok := ulongOf(at[pkcs11.CKA_KEY_TYPE])
	if !ok {
		return nil, errors.New("private key without a readable CKA_KEY_TYPE")
	}
	id := at[pkcs11.CKA_ID]
	// The certificate: keytool pairs by CKA_ID; other tools label it with the alias.
	var cert *x509.Certificate
	var certs []pkcs11.ObjectHandle
	find := func(tmpl ...*pkcs11.Attribute) {
		if err == nil {
			certs, err = findObjects(p, sh, tmpl)
		}
	}
	if len(id) > 0 {
		find(class(pkcs11.CKO_CERTIFICATE), pkcs11.NewAttribute(pkcs11.CKA_ID, id))
		if len(certs) > 1 {
			find(class(pkcs11.CKO_CERTIFICATE), pkcs11.NewAttribute(pkcs11.CKA_ID, id), pkcs11.NewAttribute(pkcs11.CKA_LABEL, []byte(alias)))
		}
	}
	if len(certs) == 0 {
		find(class(pkcs11.CKO_CERTIFICATE), pkcs11.NewAttribute(pkcs11.CKA_LABEL, []byte(alias)))
	}
	if isFault(err) {
		return nil, err
	}
	if len(certs) > 1 {
		return nil, fmt.Errorf("%d certificates pair with the private key %q: delete all but one", len(certs), alias)
	}
	if len(certs) == 1 {
		c, err := readCert(p, sh, certs[0])
		if err != nil {
			return nil, err
		}
		cert = c
	}
	var pub crypto.PublicKey
	if cert != nil {
		pub = cert.PublicKey
	} else if pub, err = s.publicFromObjects(sh, kt, id, at); err != nil {
		return nil, err
	}
	var chain []*x509.Certificate
	if cert != nil {
		if chain, err = s.chain(sh, cert); err != nil {
			return nil, err
		}
	}
	b := base{st: s, alias: alias, chain: chain, pub: pub}
	switch kt {
	case pkcs11.CKK_RSA:
		rp, ok := pub.(*rsa.PublicKey)
		if !ok {
			return nil, fmt.Errorf("RSA private key whose certificate holds a %T", pub)
		}
		if n := at[pkcs11.CKA_MODULUS]; len(n) > 0 && new(big.Int).SetBytes(n).Cmp(rp.N) != 0 {
			return nil, errors.New("the certificate does not hold the private key's public key")
		}
		b.kind = secrets.KindRSA
		return &rsaKey{privKey: privKey{base: b, ref: s.newRef(pkcs11.CKO_PRIVATE_KEY, alias, h, kt, pkcs11.CKA_MODULUS, at[pkcs11.CKA_MODULUS]), alwaysAuth: alwaysAuth}, canDecrypt: boolOf(at[pkcs11.CKA_DECRYPT])}, nil
	case pkcs11.CKK_EC:
		ep, ok := pub.(*ecdsa.PublicKey)
		if !ok {
			return nil, fmt.Errorf("EC private key without a certificate or public key (have %T)", pub)
		}
		b.kind = secrets.KindEC
		return &ecKey{privKey: privKey{base: b, ref: s.newRef(pkcs11.CKO_PRIVATE_KEY, alias, h, kt, pkcs11.CKA_EC_PARAMS, at[pkcs11.CKA_EC_PARAMS]), alwaysAuth: alwaysAuth}, size: (ep.Curve.Params().BitSize + 7) / 8}, nil
	}
	return nil, fmt.Errorf("private key of unsupported CKA_KEY_TYPE 0x%x: %w", kt, errors.ErrUnsupported)
}

// publicFromObjects finds the public key of a private key without a certificate: a
// public-key object of the same CKA_ID, else the RSA private key's modulus and exponent.
func (s *Store) publicFromObjects(sh pkcs11.SessionHandle, kt uint, id []byte, priv map[uint][]byte) (crypto.PublicKey, error) {
	p := s.c.p11
	if len(id) > 0 {
		pubs, err := findObjects(p, sh, []*pkcs11.Attribute{class(pkcs11.CKO_PUBLIC_KEY), pkcs11.NewAttribute(pkcs11.CKA_ID, id)})
		if isFault(err) {
			return nil, err
		}
		if len(pubs) == 1 {
			at, err := attrs(p, sh, pubs[0], pkcs11.CKA_MODULUS, pkcs11.CKA_PUBLIC_EXPONENT, pkcs11.CKA_EC_PARAMS, pkcs11.CKA_EC_POINT)
			if err != nil {
				return nil, err
			}
			if k := publicFromAttrs(kt, at); k != nil {
				return k, nil
			}
		}
	}
	return publicFromAttrs(kt, priv), nil
}

func publicFromAttrs(kt uint, at map[uint][]byte) crypto.PublicKey {
	switch kt {
	case pkcs11.CKK_RSA:
		n, e := at[pkcs11.CKA_MODULUS], at[pkcs11.CKA_PUBLIC_EXPONENT]
		if len(n) == 0 || len(e) == 0 || len(e) > 8 {
			return nil
		}
		ev := new(big.Int).SetBytes(e)
		if !ev.IsInt64() || ev.Int64() > 1<<31-1 {
			return nil
		}
		return &rsa.PublicKey{N: new(big.Int).SetBytes(n), E: int(ev.Int64())}
	case pkcs11.CKK_EC:
		curve := curveOf(at[pkcs11.CKA_EC_PARAMS])
		pt := at[pkcs11.CKA_EC_POINT]
		if curve == nil || len(pt) == 0 {
			return nil
		}
		var raw []byte
		if _, err := asn1.Unmarshal(pt, &raw); err != nil {
			raw = pt
		}
		k, err := ecdsa.ParseUncompressedPublicKey(curve, raw)
		if err != nil {
			return nil
		}
		return k
	}
	return nil
}

var (
	oidP256 = asn1.ObjectIdentifier{1, 2, 840, 10045, 3, 1, 7}
	oidP384 = asn1.ObjectIdentifier{1, 3, 132, 0, 34}
	oidP521 = asn1.ObjectIdentifier{1, 3, 132, 0, 35}
)

func curveOf(params []byte) elliptic.Curve {
	var oid asn1.ObjectIdentifier
	if _, err := asn1.Unmarshal(params, &oid); err != nil {
		return nil
	}
	switch {
	case oid.Equal(oidP256):
		return elliptic.P256()
	case oid.Equal(oidP384):
		return elliptic.P384()
	case oid.Equal(oidP521):
		return elliptic.P521()
	}
	return nil
}

func curveOID(c elliptic.Curve) asn1.ObjectIdentifier {
	switch c {
	case elliptic.P256():
		return oidP256
	case elliptic.P384():
		return oidP384
	case elliptic.P521():
		return oidP521
	}
	return nil
}

// chain returns leaf followed by its issuers found among the token's certificates. The
// error is a connection fault: a chain cut short by an outage would be a wrong answer.
func (s *Store) chain(sh pkcs11.SessionHandle, leaf *x509.Certificate) ([]*x509.Certificate, error) {
	chain := []*x509.Certificate{leaf}
	cur := leaf
	for i := 0; i < 8; i++ {
		if bytesEqual(cur.RawIssuer, cur.RawSubject) {
			break
		}
		hs, err := findObjects(s.c.p11, sh, []*pkcs11.Attribute{class(pkcs11.CKO_CERTIFICATE), pkcs11.NewAttribute(pkcs11.CKA_SUBJECT, cur.RawIssuer)})
		if isFault(err) {
			return nil, err
		}
		if err != nil || len(hs) == 0 {
			break
		}
		var next *x509.Certificate
		for _, h := range hs {
			c, err := readCert(s.c.p11, sh, h)
			if isFault(err) {
				return nil, err
			}
			if err == nil && cur.CheckSignatureFrom(c) == nil {
				next = c
				break
			}
		}
		if next == nil {
			break
		}
		chain = append(chain, next)
		cur = next
	}
	return chain, nil
}

func bytesEqual(a, b []byte) bool { return string(a) == string(b) }

// Aliases lists the store's aliases, sorted, as keytool -list does: the labels of secret
// keys; for each private key the label of its certificate (same CKA_ID), else its own label,
// else its CKA_ID; and certificates not paired with a private key (trusted certificate
// entries: keytool shows these only when CKA_TRUSTED is true, hsmstore shows them all).
// Objects without a label or ID (orphan public keys, CA certificates of a chain) are not
// listed.
func (s *Store) Aliases(ctx context.Context) ([]string, error) {
	var out []string
	err := s.do(ctx, func(sh pkcs11.SessionHandle) (bool, error) {
		p := s.c.p11
		set := map[string]bool{}
		sks, err := findObjects(p, sh, []*pkcs11.Attribute{class(pkcs11.CKO_SECRET_KEY)})
		if err != nil {
			return false, err
		}
		for _, h := range sks {
			at, err := attrs(p, sh, h, pkcs11.CKA_LABEL, pkcs11.CKA_ID)
			if err != nil {
				return false, err
			}
			if l := at[pkcs11.CKA_LABEL]; len(l) > 0 {
				set[string(l)] = true
			} else if id := at[pkcs11.CKA_ID]; len(id) > 0 {
				set[string(id)] = true
			}
		}
		type certInfo struct{ label, id string }
		chs, err := findObjects(p, sh, []*pkcs11.Attribute{class(pkcs11.CKO_CERTIFICATE)})
		if err != nil {
			return false, err
		}
		certs := make([]certInfo, 0, len(chs))
		certByID := map[string]string{}
		for _, h := range chs {
			at, err := attrs(p, sh, h, pkcs11.CKA_LABEL, pkcs11.CKA_ID)
			if err != nil {
				return false, err
			}
			ci := certInfo{string(at[pkcs11.CKA_LABEL]), string(at[pkcs11.CKA_ID])}
			certs = append(certs, ci)
			if ci.id != "" && ci.label != "" {
				certByID[ci.id] = ci.label
			}
		}
		pks, err := findObjects(p, sh, []*pkcs11.Attribute{class(pkcs11.CKO_PRIVATE_KEY)})
		if err != nil {
			return false, err
		}
		paired := map[string]bool{}
		for _, h := range pks {
			at, err := attrs(p, sh, h, pkcs11.CKA_LABEL, pkcs11.CKA_ID)
			if err != nil {
				return false, err
			}
			id, label := string(at[pkcs11.CKA_ID]), string(at[pkcs11.CKA_LABEL])
			switch {
			case id != "" && certByID[id] != "":
				set[certByID[id]] = true
				paired[certByID[id]] = true
			case label != "":
				set[label] = true
				paired[label] = true
			case id != "":
				set[id] = true
			}
		}
		for _, ci := range certs {
			if ci.label != "" && !paired[ci.label] {
				set[ci.label] = true
			}
		}
		// A logged-out session lists certificates only, without an error.
		if err := s.c.checkLive(sh); err != nil {
			return false, err
		}
		for a := range set {
			out = append(out, a)
		}
		sort.Strings(out)
		return false, nil
	})
	if err != nil {
		if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) || errors.Is(err, secrets.ErrClosed) {
			return nil, err
		}
		return nil, fmt.Errorf("hsmstore: store %s: list aliases: %w", s.name, err)
	}
	return out, nil
}
