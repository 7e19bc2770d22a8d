package jwtsession_test

import (
	"context"
	"crypto"
	"crypto/aes"
	"crypto/cipher"
	"crypto/hmac"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/secretstores/secretstores/jwtsession"
	"github.com/secretstores/secretstores/secrets"
	"github.com/secretstores/secretstores/secrets/secretstest"
	"github.com/secretstores/secretstores/secrets/storekit"
)

// Aliases IDM uses by default.
const (
	hmacAlias = "openidm-jwtsessionhmac-key"
	rsaAlias  = "openidm-localhost"
)

var (
	rsaKeysOnce sync.Once
	rsaKeys     []secrets.KeyMaterial
)

// rsaKey returns the i-th of a few RSA key pairs made once per test binary (RSA key
// generation is slow under -race).
func rsaKey(t testing.TB, i int) secrets.KeyMaterial {
	t.Helper()
	return sharedRSAKey(i)
}

func sharedRSAKey(i int) secrets.KeyMaterial {
	rsaKeysOnce.Do(func() {
		for range 3 {
			km, err := storekit.GenerateKeyMaterial(secrets.KeySpec{Kind: secrets.KindRSA, Bits: 2048})
			if err != nil {
				panic(err)
			}
			rsaKeys = append(rsaKeys, km)
		}
	})
	return rsaKeys[i]
}

// clock is an injectable clock.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func newClock() *clock { return &clock{t: time.Unix(1_750_000_000, 0)} }

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// env is a MemoryStore with HMAC keys hmac-0.. and RSA keys rsa-0.., and helpers to map
// them.
type env struct {
	t     testing.TB
	store *secretstest.MemoryStore
	clock *clock
	hmac  map[string][]byte // alias → raw key
}

func newEnv(t testing.TB) *env {
	t.Helper()
	e := &env{t: t, store: secretstest.NewMemoryStore("mainKeyStore"), clock: newClock(), hmac: map[string][]byte{}}
	e.addHMAC(hmacAlias, 32)
	e.addRSA(rsaAlias, 0)
	return e
}

func (e *env) addHMAC(alias string, n int) []byte {
	e.t.Helper()
	key := make([]byte, n)
	rand.Read(key)
	_, err := e.store.Import(context.Background(), alias, secrets.KeyMaterial{Kind: secrets.KindSecret, Secret: key, Algorithm: "HmacSHA256", Extractable: true}, true)
	require.NoError(e.t, err)
	e.hmac[alias] = key
	return key
}

func (e *env) addRSA(alias string, i int) *rsa.PrivateKey {
	e.t.Helper()
	km := rsaKey(e.t, i)
	_, err := e.store.Import(context.Background(), alias, km, true)
	require.NoError(e.t, err)
	return km.Private.(*rsa.PrivateKey)
}

// provider maps the signing and encryption secret ids to the aliases given (active
// first) in a fresh Provider.
func (e *env) provider(sig, enc []string) *secrets.Provider {
	e.t.Helper()
	return providerOver(e.t, e.store, sig, enc)
}

func providerOver(t testing.TB, st secrets.Store, sig, enc []string) *secrets.Provider {
	t.Helper()
	p, err := secrets.NewProvider([]secrets.Store{st}, []secrets.Mapping{
		{SecretID: jwtsession.DefaultSigningID, Types: []secrets.Purpose{secrets.Sign, secrets.Verify}, Aliases: sig},
		{SecretID: jwtsession.DefaultEncryptionID, Types: []secrets.Purpose{secrets.Encrypt, secrets.Decrypt}, Aliases: enc},
	}, secrets.ProviderOptions{})

	require.NoError(t, err)
	t.Cleanup(func() { p.Close() })
	return p
}

// manager returns a Manager on the default aliases with the env's clock.
func (e *env) manager(cfg jwtsession.Config) *jwtsession.Manager {
	e.t.Helper()
	if cfg.Now == nil {
		cfg.Now = e.clock.Now
	}
	m, err := jwtsession.New(e.provider([]string{hmacAlias}, []string{rsaAlias}), cfg)
	require.NoError(e.t, err)
	return m
}

func (e *env) rsaPub(alias string) *rsa.PublicKey {
	ent, err := e.store.Entry(context.Background(), alias)
	require.NoError(e.t, err)
	return ent.Public().(*rsa.PublicKey)
}

// --- an independent JOSE encoder (RFC 7515, RFC 7516, RFC 7518 §5.2) for forged tokens ---

func b64(b []byte) string { return base64.RawURLEncoding.EncodeToString(b) }

func unb64(t testing.TB, s string) []byte {
	t.Helper()
	b, err := base64.RawURLEncoding.DecodeString(s)
	require.NoError(t, err)
	return b
}

// jws makes a compact JWS with HMAC-SHA-256 over the literal header JSON and payload.
func jws(header string, payload string, key []byte) string {
	in := b64([]byte(header)) + "." + b64([]byte(payload))
	mac := hmac.New(sha256.New, key)
	mac.Write([]byte(in))
	return in + "." + b64(mac.Sum(nil))
}

// jwe makes a compact JWE, RSA1_5 key wrap and A128CBC-HS256, with the literal header.
func jwe(header string, claims []byte, pub *rsa.PublicKey) string {
	cek := make([]byte, 32)
	rand.Read(cek)
	ek, err := rsa.EncryptPKCS1v15(rand.Reader, pub, cek)
	if err != nil {
		panic(err)
	}
	return jweWith(header, claims, cek, ek)
}

func jweWith(header string, claims, cek, ek []byte) string {
	macKey, encKey := cek[:16], cek[16:]
	iv := make([]byte, 16)
	rand.Read(iv)
	pad := 16 - len(claims)%16
	pt := append(append([]byte(nil), claims...), bytesRepeat(byte(pad), pad)...)
	blk, _ := aes.NewCipher(encKey)
	ct := make([]byte, len(pt))
	cipher.NewCBCEncrypter(blk, iv).CryptBlocks(ct, pt)
	aad := []byte(b64([]byte(header)))
	al := make([]byte, 8)
	binary.BigEndian.PutUint64(al, uint64(len(aad))*8)
	mac := hmac.New(sha256.New, macKey)
	mac.Write(aad)
	mac.Write(iv)
	mac.Write(ct)
	mac.Write(al)
	tag := mac.Sum(nil)[:16]
	return string(aad) + "." + b64(ek) + "." + b64(iv) + "." + b64(ct) + "." + b64(tag)
}

// decryptJWE is the inverse of jwe, for checking tokens made by Issue independently.
func decryptJWE(t testing.TB, compact string, priv *rsa.PrivateKey) []byte {
	t.Helper()
	p := strings.Split(compact, ".")
	require.Len(t, p, 5)
	cek, err := rsa.DecryptPKCS1v15(rand.Reader, priv, unb64(t, p[1]))
	require.NoError(t, err)
	require.Len(t, cek, 32)
	iv, ct, tag := unb64(t, p[2]), unb64(t, p[3]), unb64(t, p[4])
	al := make([]byte, 8)
	binary.BigEndian.PutUint64(al, uint64(len(p[0]))*8)
	mac := hmac.New(sha256.New, cek[:16])
	mac.Write([]byte(p[0]))
	mac.Write(iv)
	mac.Write(ct)
	mac.Write(al)
	require.True(t, hmac.Equal(mac.Sum(nil)[:16], tag), "JWE tag")
	blk, _ := aes.NewCipher(cek[16:])
	pt := make([]byte, len(ct))
	cipher.NewCBCDecrypter(blk, iv).CryptBlocks(pt, ct)
	n := int(pt[len(pt)-1])
	require.True(t, n >= 1 && n <= 16)
	return pt[:len(pt)-n]
}

func bytesRepeat(b byte, n int) []byte {
	out := make([]byte, n)
	for i := range out {
		out[i] = b
	}
	return out
}

// --- a store wrapper that counts operations and can refuse export ---

type wrapStore struct {
	secrets.Store
	noExport bool
	decrypts atomic.Int64
	macs     atomic.Int64
	exports  atomic.Int64
}

func (w *wrapStore) Entry(ctx context.Context, alias string) (secrets.Entry, error) {
	e, err := w.Store.Entry(ctx, alias)
	if err != nil {
		return nil, err
	}
	return &wrapEntry{Entry: e, w: w}, nil
}

type wrapEntry struct {
	secrets.Entry
	w *wrapStore
}

func (e *wrapEntry) Decrypt(ctx context.Context, ct []byte, opts crypto.DecrypterOpts) ([]byte, error) {
	e.w.decrypts.Add(1)
	d, ok := e.Entry.(secrets.EntryDecrypter)
	if !ok {
		return nil, secrets.ErrWrongKind
	}
	return d.Decrypt(ctx, ct, opts)
}

func (e *wrapEntry) Sign(ctx context.Context, digest []byte, opts crypto.SignerOpts) ([]byte, error) {
	d, ok := e.Entry.(secrets.EntrySigner)
	if !ok {
		return nil, secrets.ErrWrongKind
	}
	return d.Sign(ctx, digest, opts)
}

func (e *wrapEntry) MAC(ctx context.Context, h crypto.Hash, msg []byte) ([]byte, error) {
	e.w.macs.Add(1)
	d, ok := e.Entry.(secrets.EntryMAC)
	if !ok {
		return nil, secrets.ErrWrongKind
	}
	return d.MAC(ctx, h, msg)
}

func (e *wrapEntry) Export(ctx context.Context) ([]byte, error) {
	e.w.exports.Add(1)
	if e.w.noExport {
		return nil, fmt.Errorf("test store: CKA_EXTRACTABLE is false: %w", secrets.ErrNotExtractable)
	}
	d, ok := e.Entry.(secrets.EntryExporter)
	if !ok {
		return nil, secrets.ErrWrongKind
	}
	return d.Export(ctx)
}
