package jwtsession

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"errors"
	"fmt"
	"strings"
	"sync/atomic"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/cryptosigner"

	"github.com/secretstores/secretstores/secrets"
)

// A Manager issues and validates session tokens with keys from a secrets.Provider. It is
// safe for concurrent use.
type Manager struct {
	cfg       Config
	p         *secrets.Provider
	sigAlg    jose.SignatureAlgorithm
	keyAlg    jose.KeyAlgorithm         // for Issue
	keyAlgs   []jose.KeyAlgorithm       // accepted
	enc       jose.ContentEncryption    // for Issue and accepted
	isMAC     bool                      // sigAlg is HS*
	hmac      hmacKeys                  // exported HMAC keys
	signer    atomic.Pointer[signerFor] // go-jose signer for the active signing Secret
	encrypter atomic.Pointer[encrypterFor]
	cache     *tokenCache
	warned    atomic.Bool // SetCookie warned about a cookie over 4 KB
}

type signerFor struct {
	sec *secrets.Secret
	s   jose.Signer
}

type encrypterFor struct {
	sec *secrets.Secret
	e   jose.Encrypter
}

// New returns a Manager over p. It resolves the active signing and encryption keys once
// to catch configuration errors early: an HMAC key that cannot be exported (an error
// wrapping secrets.ErrNotExtractable that names the PKCS#11 attributes to set) or is
// shorter than 32 bytes (64 for HS512), an encryption key that is not RSA, a missing
// mapping (secrets.ErrNoMapping) or alias (secrets.ErrNotFound), or a Config value out
// of range. The Manager does not close p.
func New(p *secrets.Provider, cfg Config) (*Manager, error) {
	if p == nil {
		return nil, errors.New("jwtsession: New: nil Provider")
	}
	c := cfg.withDefaults()
	if c.IdleTimeout < 0 || c.MaxLife < 0 || c.RefreshAfter < 0 || c.MaxTokenSize < 0 {
		return nil, errors.New("jwtsession: New: negative duration or size in Config")
	}
	if c.Cookie.HostPrefix {
		switch {
		case c.Profile != Modern:
			return nil, errors.New("jwtsession: New: Cookie.HostPrefix is for the Modern profile; the IDM profile keeps IDM's cookie name and domains")
		case len(c.Cookie.Domains) > 0:
			return nil, errors.New("jwtsession: New: Cookie.HostPrefix allows no Domains: a __Host- cookie is host-only")
		case c.Cookie.Insecure:
			return nil, errors.New("jwtsession: New: Cookie.HostPrefix needs Secure: drop Cookie.Insecure")
		}
	}
	m := &Manager{cfg: c, p: p, sigAlg: c.SignatureAlgorithm}
	switch c.Profile {
	case IDM:
		if m.sigAlg != jose.HS256 {
			return nil, fmt.Errorf("jwtsession: New: the IDM profile signs with HS256 only, not %s", m.sigAlg)
		}
		if c.KeyAlgorithm != "" && c.KeyAlgorithm != jose.RSA1_5 {
			return nil, fmt.Errorf("jwtsession: New: the IDM profile wraps keys with RSA1_5 only, not %s", c.KeyAlgorithm)
		}
		m.keyAlg, m.keyAlgs, m.enc = jose.RSA1_5, []jose.KeyAlgorithm{jose.RSA1_5}, jose.A128CBC_HS256
	case Modern:
		switch m.sigAlg {
		case jose.HS256, jose.HS512, jose.RS256, jose.ES256:
		default:
			return nil, fmt.Errorf("jwtsession: New: the Modern profile signs with HS256, HS512, RS256 or ES256, not %s", m.sigAlg)
		}
		switch c.KeyAlgorithm {
		case "", jose.RSA_OAEP_256, jose.RSA_OAEP:
		default:
			return nil, fmt.Errorf("jwtsession: New: the Modern profile wraps keys with RSA-OAEP-256 or RSA-OAEP, not %s", c.KeyAlgorithm)
		}
		m.keyAlg, m.keyAlgs, m.enc = c.KeyAlgorithm, []jose.KeyAlgorithm{jose.RSA_OAEP_256, jose.RSA_OAEP}, jose.A256GCM
	default:
		return nil, fmt.Errorf("jwtsession: New: unknown profile %d", int(c.Profile))
	}
	_, m.isMAC = macHash(m.sigAlg)
	m.hmac.min = MinHMACKeySize
	if m.sigAlg == jose.HS512 {
		m.hmac.min = 64
	}
	if c.CacheSize > 0 {
		m.cache = newTokenCache(c.CacheSize)
	}

	ctx := context.Background()
	sig, err := p.Active(ctx, c.SigningID, secrets.Sign)
	if err != nil {
		return nil, fmt.Errorf("jwtsession: New: signing key: %w", err)
	}
	if _, err := m.signerFor(ctx, sig); err != nil {
		return nil, fmt.Errorf("jwtsession: New: %w", err)
	}
	enc, err := p.Active(ctx, c.EncryptionID, secrets.Encrypt)
	if err != nil {
		return nil, fmt.Errorf("jwtsession: New: encryption key: %w", err)
	}
	if _, ok := enc.Public().(*rsa.PublicKey); !ok {
		return nil, fmt.Errorf("jwtsession: New: encryption key %q in store %q is %v, not RSA: %w", enc.Alias(), enc.Store(), enc.Kind(), secrets.ErrWrongKind)
	}
	if m.keyAlg == "" {
		m.keyAlg = m.probeOAEP(ctx)
	}
	if _, err := m.encrypterFor(enc); err != nil {
		return nil, fmt.Errorf("jwtsession: New: %w", err)
	}
	return m, nil
}

// probeOAEP picks RSA-OAEP-256 when the active decryption key can decrypt it, else
// RSA-OAEP (SoftHSM 2.6 implements OAEP with SHA-1 only).
func (m *Manager) probeOAEP(ctx context.Context) jose.KeyAlgorithm {
	dec, err := m.p.Active(ctx, m.cfg.EncryptionID, secrets.Decrypt)
	if err != nil {
		return jose.RSA_OAEP_256 // Validate will report it
	}
	pub, _ := dec.Public().(*rsa.PublicKey)
	if pub == nil {
		return jose.RSA_OAEP_256
	}
	probe := make([]byte, 32)
	rand.Read(probe)
	ct, err := jose.NewEncrypter(jose.A256GCM, jose.Recipient{Algorithm: jose.RSA_OAEP_256, Key: pub}, nil)
	if err != nil {
		return jose.RSA_OAEP
	}
	obj, err := ct.Encrypt(probe)
	if err != nil {
		return jose.RSA_OAEP
	}
	d := &storeKeyDecrypter{ctx: ctx, sec: dec, cekSize: 32}
	if _, err := obj.Decrypt(d); err != nil {
		if errors.Is(d.err, errors.ErrUnsupported) {
			return jose.RSA_OAEP
		}
	}
	return jose.RSA_OAEP_256
}

// KeyAlgorithm returns the key wrap Issue uses (RSA1_5 for IDM; for Modern the one
// chosen by Config or by probing the key's store).
func (m *Manager) KeyAlgorithm() jose.KeyAlgorithm { return m.keyAlg }

// Config returns the Manager's configuration with defaults filled in.
func (m *Manager) Config() Config { return m.cfg }

func (m *Manager) signerFor(ctx context.Context, sec *secrets.Secret) (jose.Signer, error) {
	if sf := m.signer.Load(); sf != nil && sf.sec == sec && !m.cfg.MACInStore {
		return sf.s, nil
	}
	var key jose.SigningKey
	key.Algorithm = m.sigAlg
	switch {
	case m.isMAC && m.cfg.MACInStore:
		if !sec.Kind().Symmetric() {
			return nil, fmt.Errorf("signing key %q in store %q is %v, not an HMAC key: %w", sec.Alias(), sec.Store(), sec.Kind(), secrets.ErrWrongKind)
		}
		key.Key = storeMAC{ctx: ctx, sec: sec, alg: m.sigAlg}
	case m.isMAC:
		k, err := m.hmac.get(ctx, sec)
		if err != nil {
			return nil, err
		}
		key.Key = k
	default:
		if (m.sigAlg == jose.RS256) != (sec.Kind() == secrets.KindRSA) || (m.sigAlg == jose.ES256) != (sec.Kind() == secrets.KindEC) {
			return nil, fmt.Errorf("signing key %q in store %q is %v, which cannot sign %s: %w", sec.Alias(), sec.Store(), sec.Kind(), m.sigAlg, secrets.ErrWrongKind)
		}
		cs, err := sec.Signer()
		if err != nil {
			return nil, err
		}
		key.Key = cryptosigner.Opaque(cs)
	}
	// Both profiles name the key by kid = alias (IDM 7 does).
	opts := (&jose.SignerOptions{}).WithType("JWT").WithContentType("JWT").
		WithHeader(jose.HeaderKey("kid"), sec.Alias())
	s, err := jose.NewSigner(key, opts)
	if err != nil {
		return nil, fmt.Errorf("signing key %q: %w", sec.Alias(), err)
	}
	if !m.cfg.MACInStore { // a store-MAC signer holds its call's ctx: not cached
		m.signer.Store(&signerFor{sec: sec, s: s})
	}
	return s, nil
}

func (m *Manager) encrypterFor(sec *secrets.Secret) (jose.Encrypter, error) {
	if ef := m.encrypter.Load(); ef != nil && ef.sec == sec {
		return ef.e, nil
	}
	pub, ok := sec.Public().(*rsa.PublicKey)
	if !ok {
		return nil, fmt.Errorf("encryption key %q in store %q is %v, not RSA: %w", sec.Alias(), sec.Store(), sec.Kind(), secrets.ErrWrongKind)
	}
	r := jose.Recipient{Algorithm: m.keyAlg, Key: pub, KeyID: sec.Alias()}
	var opts *jose.EncrypterOptions
	if m.cfg.Profile == IDM {
		opts = (&jose.EncrypterOptions{}).WithType("JWT") // IDM 7's inner header has typ JWT
	}
	e, err := jose.NewEncrypter(m.enc, r, opts)
	if err != nil {
		return nil, fmt.Errorf("encryption key %q: %w", sec.Alias(), err)
	}
	m.encrypter.Store(&encrypterFor{sec: sec, e: e})
	return e, nil
}

func (m *Manager) now() time.Time { return m.cfg.Now() }

// Issue makes a new session token for claims: iat = nbf = now, exp = now + MaxLife, the
// idle deadline now + IdleTimeout, a new jti and (unless given) sessionId. It fails when
// Extra names a reserved claim, the claims do not marshal, or a key fails (errors from
// the Provider and the store, wrapped).
func (m *Manager) Issue(ctx context.Context, claims Claims) (string, error) {
	s, err := m.NewSession(ctx, claims)
	if err != nil {
		return "", err
	}
	return s.Token, nil
}

// NewSession is Issue returning the whole Session (with its Token).
func (m *Manager) NewSession(ctx context.Context, claims Claims) (*Session, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	now := m.now().Truncate(time.Second)
	s := &Session{Claims: claims, IssuedAt: now, NotBefore: now,
		Expiry: now.Add(m.cfg.MaxLife), IdleExpiry: now.Add(m.cfg.IdleTimeout)}
	var err error
	if s.ID, err = newUUID(); err != nil {
		return nil, err
	}
	if s.SessionID == "" {
		if s.SessionID, err = newUUID(); err != nil {
			return nil, err
		}
	}
	if err := m.seal(ctx, s); err != nil {
		return nil, err
	}
	return s, nil
}

// seal renders s's claims into s.Token.
func (m *Manager) seal(ctx context.Context, s *Session) error {
	payload, err := marshalClaims(s)
	if err != nil {
		return err
	}
	encSec, err := m.p.Active(ctx, m.cfg.EncryptionID, secrets.Encrypt)
	if err != nil {
		return fmt.Errorf("jwtsession: encryption key: %w", err)
	}
	enc, err := m.encrypterFor(encSec)
	if err != nil {
		return fmt.Errorf("jwtsession: %w", err)
	}
	jwe, err := enc.Encrypt(payload)
	if err != nil {
		return fmt.Errorf("jwtsession: encrypting the claims: %w", err)
	}
	inner, err := jwe.CompactSerialize()
	if err != nil {
		return fmt.Errorf("jwtsession: %w", err)
	}
	sigSec, err := m.p.Active(ctx, m.cfg.SigningID, secrets.Sign)
	if err != nil {
		return fmt.Errorf("jwtsession: signing key: %w", err)
	}
	signer, err := m.signerFor(ctx, sigSec)
	if err != nil {
		return fmt.Errorf("jwtsession: %w", err)
	}
	jws, err := signer.Sign([]byte(inner))
	if err != nil {
		return fmt.Errorf("jwtsession: signing: %w", err)
	}
	tok, err := jws.CompactSerialize()
	if err != nil {
		return fmt.Errorf("jwtsession: %w", err)
	}
	s.Token, s.SigningKey, s.EncryptionKey = tok, sigSec.Alias(), encSec.Alias()
	m.cacheIssued(s, payload)
	return nil
}

// cacheIssued caches a token just issued or refreshed, so its first Validate is a hit. The
// cached session is the one Validate would make: the claims parsed back from payload.
func (m *Manager) cacheIssued(s *Session, payload []byte) {
	if m.cache == nil {
		return
	}
	cs, err := parseClaims(payload)
	if err != nil {
		return // Validate will report it
	}
	cs.SigningKey, cs.EncryptionKey = s.SigningKey, s.EncryptionKey
	now := m.now()
	if m.checkTimes(cs, now) != nil {
		return
	}
	if until := m.cacheUntil(cs, now); until.After(now) {
		m.cache.put(cacheKey(s.Token), cs, until)
	}
}

// cacheUntil is when a session cached at now goes stale: its own deadline (plus leeway),
// or the end of the Provider's lease on the keys that validated it, whichever is first
// (now itself when the Provider caches nothing: then nothing is cached).
func (m *Manager) cacheUntil(s *Session, now time.Time) time.Time {
	until := s.Deadline().Add(m.cfg.Leeway)
	if lease := now.Add(m.p.Lease()); lease.Before(until) {
		until = lease
	}
	return until
}

// Validate checks token and returns its session. The order is: size (over
// Config.MaxTokenSize: ErrTooLarge, before any parsing); structure and headers
// (ErrMalformed, ErrAlgorithm); the outer signature under the valid signing keys in
// mapping order, or the key its kid names (ErrSignature, ErrUnknownKey); decryption of
// the inner JWE likewise (ErrDecryption); the claims (ErrClaims, ErrExpired,
// ErrIdleExpired, ErrNotYetValid, ErrMaxLife); then the revocation hook (ErrRevoked). A
// store failure is returned wrapped as it came (secrets.ErrClosed, a cancelled ctx...).
// Validate never panics on any input.
func (m *Manager) Validate(ctx context.Context, token string) (*Session, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if len(token) > m.cfg.MaxTokenSize {
		return nil, fmt.Errorf("%w: %d bytes, the limit is %d", ErrTooLarge, len(token), m.cfg.MaxTokenSize)
	}
	now := m.now()
	var key [32]byte
	if m.cache != nil {
		key = cacheKey(token)
		if s, ok := m.cache.get(key, now); ok {
			if err := m.checkTimes(s, now); err != nil {
				m.cache.remove(key)
				return nil, err
			}
			return m.revocation(ctx, s, key, token)
		}
	}
	s, err := m.open(ctx, token)
	if err != nil {
		return nil, err
	}
	if err := m.checkTimes(s, now); err != nil {
		return nil, err
	}
	if m.cache != nil {
		s.Token = "" // the cache keeps claims only; the token is the caller's
		if until := m.cacheUntil(s, now); until.After(now) {
			m.cache.put(key, s, until)
		}
	}
	return m.revocation(ctx, s, key, token)
}

// revocation asks the revocation hook about a copy of s carrying token, and returns it.
func (m *Manager) revocation(ctx context.Context, s *Session, key [32]byte, token string) (*Session, error) {
	c := *s
	c.Token = token
	if m.cfg.Revoked != nil {
		if err := m.cfg.Revoked(ctx, &c); err != nil {
			if m.cache != nil {
				m.cache.remove(key)
			}
			return nil, fmt.Errorf("%w: %w", ErrRevoked, err)
		}
	}
	return &c, nil
}

// Forget drops token from the validated-token cache (after a logout, say).
func (m *Manager) Forget(token string) {
	if m.cache != nil {
		m.cache.remove(cacheKey(token))
	}
}

func (m *Manager) checkTimes(s *Session, now time.Time) error {
	l := m.cfg.Leeway
	if !now.Before(s.Expiry.Add(l)) {
		return fmt.Errorf("%w: exp %s is past (now %s)", ErrExpired, s.Expiry.UTC().Format(time.RFC3339), now.UTC().Format(time.RFC3339))
	}
	if !now.Before(s.IdleExpiry.Add(l)) {
		return fmt.Errorf("%w: idle deadline %s is past (now %s)", ErrIdleExpired, s.IdleExpiry.UTC().Format(time.RFC3339), now.UTC().Format(time.RFC3339))
	}
	if !s.NotBefore.IsZero() && now.Add(l).Before(s.NotBefore) {
		return fmt.Errorf("%w: nbf %s is ahead (now %s)", ErrNotYetValid, s.NotBefore.UTC().Format(time.RFC3339), now.UTC().Format(time.RFC3339))
	}
	if !s.IssuedAt.IsZero() && now.Add(l).Before(s.IssuedAt) {
		return fmt.Errorf("%w: iat %s is ahead (now %s)", ErrNotYetValid, s.IssuedAt.UTC().Format(time.RFC3339), now.UTC().Format(time.RFC3339))
	}
	if !m.cfg.LimitLifetime {
		return nil
	}
	// One second of slack: times are whole seconds.
	if s.Expiry.After(now.Add(m.cfg.MaxLife + l + time.Second)) {
		return fmt.Errorf("%w: exp is %s ahead, MaxLife is %s", ErrMaxLife, s.Expiry.Sub(now).Round(time.Second), m.cfg.MaxLife)
	}
	if s.IdleExpiry.After(now.Add(m.cfg.IdleTimeout + l + time.Second)) {
		return fmt.Errorf("%w: the idle deadline is %s ahead, IdleTimeout is %s", ErrMaxLife, s.IdleExpiry.Sub(now).Round(time.Second), m.cfg.IdleTimeout)
	}
	return nil
}

// open verifies and decrypts token, returning its claims (times unchecked).
func (m *Manager) open(ctx context.Context, token string) (*Session, error) {
	// Structure: three parts outside, five inside.
	switch n := strings.Count(token, "."); n {
	case 2:
	case 4:
		return nil, fmt.Errorf("%w: the token is a JWE; a session token is a JWS whose payload is the JWE", ErrMalformed)
	default:
		return nil, fmt.Errorf("%w: %d parts, a compact JWS has 3", ErrMalformed, n+1)
	}
	hb64, _, _ := strings.Cut(token, ".")
	oh, err := parseHeader(hb64, false)
	if err != nil {
		return nil, fmt.Errorf("outer header: %w", err)
	}
	if err := m.checkOuter(oh); err != nil {
		return nil, err
	}
	jws, err := jose.ParseSignedCompact(token, []jose.SignatureAlgorithm{m.sigAlg})
	if err != nil {
		return nil, fmt.Errorf("%w: outer JWS: %v", ErrMalformed, err)
	}
	keys, err := m.keys(ctx, m.cfg.SigningID, secrets.Verify, oh.kid)
	if err != nil {
		return nil, err
	}
	var payload []byte
	var sigAlias string
	var keyErr error
	for _, sec := range keys {
		var storeErr error // a store failure inside a MACInStore verification
		vk, err := m.verifyKey(ctx, sec, &storeErr)
		if err != nil {
			keyErr = err
			continue
		}
		p, err := jws.Verify(vk)
		if err == nil {
			payload, sigAlias = p, sec.Alias()
			break
		}
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		if storeErr != nil {
			keyErr = storeErr
		}
	}
	if payload == nil {
		if keyErr != nil {
			// Not ErrSignature: a store fault must not read as a forged token.
			return nil, fmt.Errorf("jwtsession: no valid key verified the signature, and a key failed: %w", keyErr)
		}
		return nil, fmt.Errorf("%w under %d valid key(s)", ErrSignature, len(keys))
	}

	inner := string(payload)
	if strings.Count(inner, ".") != 4 {
		return nil, fmt.Errorf("%w: the signed payload is not a compact JWE", ErrMalformed)
	}
	ihb64, _, _ := strings.Cut(inner, ".")
	ih, err := parseHeader(ihb64, true)
	if err != nil {
		return nil, fmt.Errorf("inner header: %w", err)
	}
	if err := m.checkInner(ih); err != nil {
		return nil, err
	}
	jwe, err := jose.ParseEncryptedCompact(inner, m.keyAlgs, []jose.ContentEncryption{m.enc})
	if err != nil {
		return nil, fmt.Errorf("%w: inner JWE: %v", ErrMalformed, err)
	}
	decKeys, err := m.keys(ctx, m.cfg.EncryptionID, secrets.Decrypt, ih.kid)
	if err != nil {
		return nil, err
	}
	var claims []byte
	var encAlias string
	keyErr = nil
	for _, sec := range decKeys {
		d := &storeKeyDecrypter{ctx: ctx, sec: sec, cekSize: 32}
		pt, err := jwe.Decrypt(d)
		if err == nil {
			claims, encAlias = pt, sec.Alias()
			break
		}
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		if d.err != nil {
			keyErr = d.err
		}
	}
	if claims == nil {
		if keyErr != nil {
			return nil, fmt.Errorf("jwtsession: no valid key decrypted the token, and a key failed: %w", keyErr)
		}
		return nil, fmt.Errorf("%w under %d valid key(s)", ErrDecryption, len(decKeys))
	}
	s, err := parseClaims(claims)
	if err != nil {
		return nil, err
	}
	s.SigningKey, s.EncryptionKey, s.Token = sigAlias, encAlias, token
	return s, nil
}

func (m *Manager) checkOuter(h header) error {
	if jose.SignatureAlgorithm(h.alg) != m.sigAlg {
		return fmt.Errorf("%w: outer alg %q, the %v profile allows %s", ErrAlgorithm, truncate(h.alg), m.cfg.Profile, m.sigAlg)
	}
	switch {
	case eqFold(h.typ, "JWT") && h.hasCty && eqFold(h.cty, "JWT"):
	case m.cfg.Profile == IDM && eqFold(h.typ, "JWE") && !h.hasCty: // IDM's 2013–14 layout
	case h.hasCty && !eqFold(h.cty, "JWT"):
		return fmt.Errorf("%w: outer cty %q, want JWT (a nested token)", ErrAlgorithm, truncate(h.cty))
	default:
		return fmt.Errorf("%w: outer header typ %q cty %q; want typ JWT, cty JWT", ErrAlgorithm, truncate(h.typ), truncate(h.cty))
	}
	return nil
}

func (m *Manager) checkInner(h header) error {
	ok := false
	for _, a := range m.keyAlgs {
		ok = ok || jose.KeyAlgorithm(h.alg) == a
	}
	if !ok {
		return fmt.Errorf("%w: inner alg %q, the %v profile allows %v", ErrAlgorithm, truncate(h.alg), m.cfg.Profile, m.keyAlgs)
	}
	if jose.ContentEncryption(h.enc) != m.enc {
		return fmt.Errorf("%w: inner enc %q, the %v profile allows %s", ErrAlgorithm, truncate(h.enc), m.cfg.Profile, m.enc)
	}
	if h.typ != "" && !eqFold(h.typ, "JWT") {
		return fmt.Errorf("%w: inner typ %q, want JWT or none", ErrAlgorithm, truncate(h.typ))
	}
	if h.hasCty {
		return fmt.Errorf("%w: inner header has cty %q; the inner JWE holds claims, not another token", ErrAlgorithm, truncate(h.cty))
	}
	return nil
}

// keys returns the key the kid names, or every valid key. A kid is looked up among the
// Provider's cached valid Secrets first: Named resolves a new *Secret on every call, which
// would defeat the per-Secret cache of exported HMAC keys (an export per token).
func (m *Manager) keys(ctx context.Context, id string, pu secrets.Purpose, kid string) ([]*secrets.Secret, error) {
	if kid != "" {
		if valid, err := m.p.Valid(ctx, id, pu); err == nil {
			for _, sec := range valid {
				if sec.Alias() == kid {
					return []*secrets.Secret{sec}, nil
				}
			}
		} else if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		// Not among them (or Valid failed, say on a missing active alias): Named says why.
		sec, err := m.p.Named(ctx, id, pu, kid)
		if err != nil {
			if errors.Is(err, secrets.ErrNotFound) {
				return nil, fmt.Errorf("%w: kid %q is not a valid %s key of %s", ErrUnknownKey, truncate(kid), pu, id)
			}
			return nil, fmt.Errorf("jwtsession: %s key %q: %w", pu, truncate(kid), err)
		}
		return []*secrets.Secret{sec}, nil
	}
	keys, err := m.p.Valid(ctx, id, pu)
	if err != nil {
		return nil, fmt.Errorf("jwtsession: %s keys of %s: %w", pu, id, err)
	}
	return keys, nil
}

// verifyKey returns what go-jose verifies with for sec; with MACInStore a store failure
// during the verification is written to storeErr.
func (m *Manager) verifyKey(ctx context.Context, sec *secrets.Secret, storeErr *error) (any, error) {
	switch {
	case m.isMAC && m.cfg.MACInStore:
		return storeMAC{ctx: ctx, sec: sec, alg: m.sigAlg, err: storeErr}, nil
	case m.isMAC:
		return m.hmac.get(ctx, sec)
	default:
		pub := sec.Public()
		if pub == nil {
			return nil, fmt.Errorf("verification key %q has no public key: %w", sec.Alias(), secrets.ErrWrongKind)
		}
		return pub, nil
	}
}

// Refresh applies IDM's rule: when s.IssuedAt is more than Config.RefreshAfter (one
// minute) old, it re-issues the token with iat = nbf = now and a new idle deadline,
// keeping jti, exp and every other claim, and returns the new session and true.
// Otherwise it returns s and false. It fails as Issue does.
func (m *Manager) Refresh(ctx context.Context, s *Session) (*Session, bool, error) {
	now := m.now()
	if now.Sub(s.IssuedAt) <= m.cfg.RefreshAfter {
		return s, false, nil
	}
	now = now.Truncate(time.Second)
	n := *s
	n.IssuedAt, n.NotBefore, n.IdleExpiry = now, now, now.Add(m.cfg.IdleTimeout)
	if err := m.seal(ctx, &n); err != nil {
		return nil, false, err
	}
	return &n, true, nil
}

// JWKS returns the public keys that verify the outer signature (RS256 and ES256 in the
// Modern profile), one per valid alias with kid = alias, active first. HMAC keys are
// secret and never published: for them JWKS fails with secrets.ErrWrongKind.
func (m *Manager) JWKS(ctx context.Context) (*jose.JSONWebKeySet, error) {
	if m.isMAC {
		return nil, fmt.Errorf("jwtsession: JWKS: %s keys are secret and are not published: %w", m.sigAlg, secrets.ErrWrongKind)
	}
	keys, err := m.p.Valid(ctx, m.cfg.SigningID, secrets.Verify)
	if err != nil {
		return nil, fmt.Errorf("jwtsession: JWKS: %w", err)
	}
	set := &jose.JSONWebKeySet{}
	for _, k := range keys {
		if k.Public() == nil {
			continue
		}
		set.Keys = append(set.Keys, jose.JSONWebKey{Key: k.Public(), KeyID: k.Alias(), Algorithm: string(m.sigAlg), Use: "sig"})
	}
	return set, nil
}
