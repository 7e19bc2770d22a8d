package secretstest_test

import (
	"context"
	"crypto/x509/pkix"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/secretstores/secretstores/secrets"
	"github.com/secretstores/secretstores/secrets/secretstest"
	"github.com/secretstores/secretstores/secrets/storekit"
)

func TestMemoryStoreConformance(t *testing.T) {
	ctx := context.Background()
	// One backing store for every open, as a file or token would be; closing a MemoryStore
	// empties it, so each open gets a fresh one filled with the same keys.
	fixture := map[string]secrets.KeyMaterial{}
	for alias, spec := range map[string]secrets.KeySpec{
		"hmac": {Kind: secrets.KindSecret},
		"aes":  {Kind: secrets.KindAES, Bits: 128},
		"rsa":  {Kind: secrets.KindRSA, Subject: pkix.Name{CommonName: "rsa"}},
		"ec":   {Kind: secrets.KindEC, Subject: pkix.Name{CommonName: "ec"}},
	} {
		km, err := storekit.GenerateKeyMaterial(spec)
		require.NoError(t, err)
		fixture[alias] = km
	}
	fixture["trusted"] = secrets.KeyMaterial{Kind: secrets.KindCertificate, Chain: fixture["rsa"].Chain}
	secretstest.Run(t, func(t *testing.T) secrets.Store {
		m := secretstest.NewMemoryStore("memory")
		for alias, km := range fixture {
			_, err := m.Import(ctx, alias, km, false)
			require.NoError(t, err)
		}
		return m
	}, []secretstest.Want{
		{Alias: "hmac", Kind: secrets.KindSecret, Extractable: true},
		{Alias: "aes", Kind: secrets.KindAES, Extractable: true},
		{Alias: "rsa", Kind: secrets.KindRSA},
		{Alias: "ec", Kind: secrets.KindEC},
		{Alias: "trusted", Kind: secrets.KindCertificate},
	})
}

// noGCM is a MemoryStore whose backend lacks AES-GCM, as several PKCS#11 tokens do: Seal
// and Open on its AES entries, and Generate of an AES key, fail wrapping
// errors.ErrUnsupported.
type noGCM struct{ *secretstest.MemoryStore }

type noGCMEntry struct{ secrets.Entry }

func (e noGCMEntry) Export(ctx context.Context) ([]byte, error) {
	return e.Entry.(secrets.EntryExporter).Export(ctx)
}
func (noGCMEntry) Seal(ctx context.Context, _, _ []byte) ([]byte, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	return nil, fmt.Errorf("no AES-GCM here: %w", errors.ErrUnsupported)
}
func (noGCMEntry) Open(ctx context.Context, _, _ []byte) ([]byte, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	return nil, fmt.Errorf("no AES-GCM here: %w", errors.ErrUnsupported)
}

func (s noGCM) Entry(ctx context.Context, alias string) (secrets.Entry, error) {
	e, err := s.MemoryStore.Entry(ctx, alias)
	if err == nil && e.Kind() == secrets.KindAES {
		return noGCMEntry{e}, nil
	}
	return e, err
}

func (s noGCM) Generate(ctx context.Context, alias string, spec secrets.KeySpec, overwrite bool) (secrets.Entry, error) {
	if spec.Kind == secrets.KindAES {
		return nil, fmt.Errorf("no AES key generation here: %w", errors.ErrUnsupported)
	}
	return s.MemoryStore.Generate(ctx, alias, spec, overwrite)
}

// TestRunWithExpect: operations a store cannot do are expected rows (RunWith with
// Options.Expect): the suite passes when they fail as expected, and fails when an expected
// failure does not happen (SECRETSTEST_EXPECT_WRONG=1, in a child process).
func TestRunWithExpect(t *testing.T) {
	wrong := os.Getenv("SECRETSTEST_EXPECT_WRONG") == "1"
	ctx := context.Background()
	aes, err := storekit.GenerateKeyMaterial(secrets.KeySpec{Kind: secrets.KindAES, Bits: 128})
	require.NoError(t, err)
	var asked []secretstest.Op
	var mu sync.Mutex
	opts := secretstest.Options{Expect: func(s secrets.Store, op secretstest.Op) error {
		mu.Lock()
		asked = append(asked, op)
		mu.Unlock()
		_, isNoGCM := s.(noGCM)
		assert.True(t, isNoGCM, "Expect gets the store under test, have %T", s)
		switch {
		case wrong && op == secretstest.OpImportSecret: // this one works: the suite must fail
			return errors.ErrUnsupported
		case op == secretstest.OpAESGCM, op == secretstest.OpGenerateAES:
			return errors.ErrUnsupported
		}
		return nil
	}}
	if !wrong {
		cmd := exec.Command(os.Args[0], "-test.run=^TestRunWithExpect$", "-test.count=1")
		cmd.Env = append(os.Environ(), "SECRETSTEST_EXPECT_WRONG=1")
		out, err := cmd.CombinedOutput()
		require.Error(t, err, "an expected failure that does not happen fails the suite:\n%s", out)
		require.Contains(t, string(out), "import secret is expected to fail")
	}
	secretstest.RunWith(t, func(t *testing.T) secrets.Store {
		m := secretstest.NewMemoryStore("nogcm")
		_, err := m.Import(ctx, "aes", aes, false)
		require.NoError(t, err)
		return noGCM{m}
	}, []secretstest.Want{{Alias: "aes", Kind: secrets.KindAES, Extractable: true}}, opts)
	for _, op := range []secretstest.Op{secretstest.OpAESGCM, secretstest.OpGenerateAES, secretstest.OpGenerateSecret, secretstest.OpImportSecret} {
		require.Contains(t, asked, op)
	}
}
