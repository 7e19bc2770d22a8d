package jsoncrypto

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/hkdf"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"errors"
	"strings"
	"testing"

	"github.com/secretstores/secretstores/hsmstore"
	"github.com/secretstores/secretstores/internal/softhsmtest"
	"github.com/secretstores/secretstores/secrets"
)

// 1 KiB of plaintext JSON: a string of 1022 characters and its quotes.
var benchPlain = strings.Repeat("a", 1022)

// rawSimpleEncrypt is the floor under x-simple-encryption: the same primitives on the same
// key, without JSON, base64, key lookup or export.
func rawSimpleEncrypt(key, pt []byte) (salt, iv, ct, tag []byte) {
	var rnd [32]byte
	rand.Read(rnd[:])
	salt, iv = rnd[:16], rnd[16:]
	prk, _ := hkdf.Extract(sha256.New, key, salt)
	encKey, _ := hkdf.Expand(sha256.New, prk, "AES", 16)
	macKey, _ := hkdf.Expand(sha256.New, prk, "HmacSHA256", 32)
	blk, _ := aes.NewCipher(encKey)
	pad := 16 - len(pt)%16
	ct = make([]byte, len(pt)+pad)
	copy(ct, pt)
	for i := len(pt); i < len(ct); i++ {
		ct[i] = byte(pad)
	}
	cipher.NewCBCEncrypter(blk, iv).CryptBlocks(ct, ct)
	h := hmac.New(sha256.New, macKey)
	h.Write(salt)
	h.Write(iv)
	h.Write(ct)
	return salt, iv, ct, h.Sum(nil)[:16]
}

func rawSimpleDecrypt(key, salt, iv, ct, tag []byte) ([]byte, error) {
	prk, _ := hkdf.Extract(sha256.New, key, salt)
	macKey, _ := hkdf.Expand(sha256.New, prk, "HmacSHA256", 32)
	h := hmac.New(sha256.New, macKey)
	h.Write(salt)
	h.Write(iv)
	h.Write(ct)
	if subtle.ConstantTimeCompare(h.Sum(nil)[:16], tag) != 1 {
		return nil, errors.New("mac")
	}
	encKey, _ := hkdf.Expand(sha256.New, prk, "AES", 16)
	blk, _ := aes.NewCipher(encKey)
	out := make([]byte, len(ct))
	cipher.NewCBCDecrypter(blk, iv).CryptBlocks(out, ct)
	return out[:len(out)-int(out[len(out)-1])], nil
}

func benchCodecs(b *testing.B, p *secrets.Provider, id string, o *Options, raw func(b *testing.B)) {
	c := codec(b, p, o)
	ctx := b.Context()
	v, err := c.Encrypt(ctx, id, benchPlain)
	if err != nil {
		b.Fatal(err)
	}
	b.Run("Encrypt", func(b *testing.B) {
		b.SetBytes(int64(len(benchPlain) + 2))
		for b.Loop() {
			if _, err := c.Encrypt(ctx, id, benchPlain); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("Decrypt", func(b *testing.B) {
		b.SetBytes(int64(len(benchPlain) + 2))
		for b.Loop() {
			if _, err := c.Decrypt(ctx, v); err != nil {
				b.Fatal(err)
			}
		}
	})
	raw(b)
}

// BenchmarkSimple: x-simple-encryption of 1 KiB with a software (file-store-like) key
// against the raw primitives on the same key.
func BenchmarkSimple(b *testing.B) {
	f := newFixture(b)
	p := f.provider(b, mapping(idConfig, aliasA))
	pt := []byte(`"` + benchPlain + `"`)
	benchCodecs(b, p, idConfig, nil, func(b *testing.B) {
		b.Run("RawEncrypt", func(b *testing.B) {
			b.SetBytes(int64(len(pt)))
			for b.Loop() {
				rawSimpleEncrypt(keyA, pt)
			}
		})
		salt, iv, ct, tag := rawSimpleEncrypt(keyA, pt)
		b.Run("RawDecrypt", func(b *testing.B) {
			b.SetBytes(int64(len(pt)))
			for b.Loop() {
				if _, err := rawSimpleDecrypt(keyA, salt, iv, ct, tag); err != nil {
					b.Fatal(err)
				}
			}
		})
	})
}

// BenchmarkGCM: TypeGCM of 1 KiB through Secret.Seal/Open against stdlib AES-256-GCM.
func BenchmarkGCM(b *testing.B) {
	f := newFixture(b)
	p := f.provider(b, mapping("gcm", "aes-gcm"))
	pt := []byte(`"` + benchPlain + `"`)
	benchCodecs(b, p, "gcm", &Options{Scheme: SchemeGCM}, func(b *testing.B) { rawGCM(b, keyAES, pt) })
}

func rawGCM(b *testing.B, key, pt []byte) {
	blk, _ := aes.NewCipher(key)
	aead, _ := cipher.NewGCM(blk)
	aad := gcmAAD("aes-gcm", "gcm")
	b.Run("RawEncrypt", func(b *testing.B) {
		b.SetBytes(int64(len(pt)))
		for b.Loop() {
			nonce := make([]byte, 12)
			rand.Read(nonce)
			aead.Seal(nonce, nonce, pt, aad)
		}
	})
	nonce := make([]byte, 12)
	sealed := aead.Seal(nonce, nonce, pt, aad)
	b.Run("RawDecrypt", func(b *testing.B) {
		b.SetBytes(int64(len(pt)))
		for b.Loop() {
			if _, err := aead.Open(nil, sealed[:12], sealed[12:], aad); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// BenchmarkHSM: both schemes with SoftHSM keys: x-simple-encryption with an extractable
// generic secret (exported on every call, as IDM does), AES-GCM inside the token; the floors
// are the same token calls without JSON (Export + raw primitives; Secret.Seal/Open).
func BenchmarkHSM(b *testing.B) {
	ctx := b.Context()
	tok := softhsmtest.New(b, "jcbench")
	st, err := hsmstore.Open(ctx, hsmstore.Config{Library: tok.Module, TokenLabel: tok.Label, PIN: tok.PIN})
	if err != nil {
		b.Fatal(err)
	}
	defer st.Close()
	if _, err := st.Generate(ctx, aliasA, secrets.KeySpec{Kind: secrets.KindSecret, Bits: 256, Extractable: true}); err != nil {
		b.Fatal(err)
	}
	if _, err := st.Generate(ctx, "aes-gcm", secrets.KeySpec{Kind: secrets.KindAES, Bits: 256}); err != nil {
		b.Fatal(err)
	}
	p, err := secrets.NewProvider([]secrets.Store{st}, []secrets.Mapping{mapping(idConfig, aliasA), mapping("gcm", "aes-gcm")}, nil)
	if err != nil {
		b.Fatal(err)
	}
	defer p.Close()
	pt := []byte(`"` + benchPlain + `"`)
	b.Run("Simple", func(b *testing.B) {
		benchCodecs(b, p, idConfig, nil, func(b *testing.B) {
			s, _ := p.Active(ctx, idConfig, secrets.Encrypt)
			b.Run("RawEncrypt", func(b *testing.B) {
				b.SetBytes(int64(len(pt)))
				for b.Loop() {
					k, err := s.Export(ctx)
					if err != nil {
						b.Fatal(err)
					}
					rawSimpleEncrypt(k, pt)
				}
			})
			k, _ := s.Export(ctx)
			salt, iv, ct, tag := rawSimpleEncrypt(k, pt)
			b.Run("RawDecrypt", func(b *testing.B) {
				b.SetBytes(int64(len(pt)))
				for b.Loop() {
					k, err := s.Export(ctx)
					if err != nil {
						b.Fatal(err)
					}
					if _, err := rawSimpleDecrypt(k, salt, iv, ct, tag); err != nil {
						b.Fatal(err)
					}
				}
			})
		})
	})
	b.Run("GCM", func(b *testing.B) {
		benchCodecs(b, p, "gcm", &Options{Scheme: SchemeGCM}, func(b *testing.B) {
			s, _ := p.Active(ctx, "gcm", secrets.Encrypt)
			aad := gcmAAD("aes-gcm", "gcm")
			b.Run("RawEncrypt", func(b *testing.B) {
				b.SetBytes(int64(len(pt)))
				for b.Loop() {
					if _, err := s.Seal(ctx, pt, aad); err != nil {
						b.Fatal(err)
					}
				}
			})
			sealed, _ := s.Seal(ctx, pt, aad)
			b.Run("RawDecrypt", func(b *testing.B) {
				b.SetBytes(int64(len(pt)))
				for b.Loop() {
					if _, err := s.Open(ctx, sealed, aad); err != nil {
						b.Fatal(err)
					}
				}
			})
		})
	})
}
