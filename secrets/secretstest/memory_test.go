package secretstest_test

import (
	"context"
	"crypto/x509/pkix"
	"testing"

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
