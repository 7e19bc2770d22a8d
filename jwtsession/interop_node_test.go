package jwtsession_test

import (
	"bytes"
	"context"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/secretstores/secretstores/internal/testenv"
	"github.com/secretstores/secretstores/jwtsession"
	"github.com/secretstores/secretstores/secrets"
	"github.com/secretstores/secretstores/secrets/storekit"
)

// nodeJose installs npm's jose@5 into a temporary directory (v6 dropped RSA1_5; the
// Modern profile does not need it, but v5 is what the issue pins) and returns a runner
// for testdata/jose_interop.mjs.
func nodeJose(t *testing.T) func(cmd string, req map[string]any) map[string]any {
	t.Helper()
	node := testenv.LookPath(t, testenv.Node, "node")
	npm := testenv.LookPath(t, testenv.Node, "npm")
	dir := t.TempDir()
	script, err := os.ReadFile("testdata/jose_interop.mjs")
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(filepath.Join(dir, "jose_interop.mjs"), script, 0o644))
	c, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(c, npm, "install", "--no-audit", "--no-fund", "--no-save", "jose@5")
	cmd.Dir = dir
	if out, err := cmd.CombinedOutput(); err != nil {
		testenv.Missing(t, testenv.Node, "npm install jose@5 failed: "+string(out))
	}
	return func(name string, req map[string]any) map[string]any {
		t.Helper()
		in, err := json.Marshal(req)
		require.NoError(t, err)
		cmd := exec.Command(node, "jose_interop.mjs", name)
		cmd.Dir = dir
		cmd.Stdin = bytes.NewReader(in)
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		out, err := cmd.Output()
		require.NoError(t, err, "node jose %s: %s", name, stderr.String())
		var res map[string]any
		require.NoError(t, json.Unmarshal(out, &res))
		return res
	}
}

func pkcs8PEM(t testing.TB, k any) string {
	der, err := x509.MarshalPKCS8PrivateKey(k)
	require.NoError(t, err)
	return string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}))
}

// The Modern profile against npm's jose: every signature algorithm, both key wraps, both
// directions; RS256/ES256 verified through the Manager's JWKS.
func TestNodeJoseModern(t *testing.T) {
	run := nodeJose(t)
	e := newEnv(t)
	e.addHMAC("hmac-64", 64)
	sigRSA := rsaKey(t, 2)
	_, err := e.store.Import(ctx, "sig-rsa", sigRSA, true)
	require.NoError(t, err)
	ec, err := storekit.GenerateKeyMaterial(secrets.KeySpec{Kind: secrets.KindEC, Bits: 256})
	require.NoError(t, err)
	_, err = e.store.Import(ctx, "sig-ec", ec, true)
	require.NoError(t, err)
	rsaPriv := privatePEM(t, rsaKey(t, 0).Private.(*rsaPrivateKey))
	rsaPub := publicPEM(t, e.rsaPub(rsaAlias))

	for _, tc := range []struct {
		alg    jose.SignatureAlgorithm
		alias  string
		keyAlg jose.KeyAlgorithm
	}{
		{jose.HS256, hmacAlias, ""},
		{jose.HS512, "hmac-64", jose.RSA_OAEP},
		{jose.RS256, "sig-rsa", ""},
		{jose.ES256, "sig-ec", jose.RSA_OAEP},
	} {
		t.Run(string(tc.alg)+"/"+string(tc.keyAlg), func(t *testing.T) {
			m, err := jwtsession.New(e.provider([]string{tc.alias}, []string{rsaAlias}),
				jwtsession.Config{Profile: jwtsession.Modern, SignatureAlgorithm: tc.alg, KeyAlgorithm: tc.keyAlg, Now: e.clock.Now})
			require.NoError(t, err)
			wantKeyAlg := tc.keyAlg
			if wantKeyAlg == "" {
				wantKeyAlg = jose.RSA_OAEP_256 // the in-memory key supports OAEP with SHA-256
			}
			require.Equal(t, wantKeyAlg, m.KeyAlgorithm())

			verify := map[string]any{"rsa_private_pem": rsaPriv, "outer_algs": []string{string(tc.alg)},
				"key_algs": []string{string(wantKeyAlg)}, "enc_algs": []string{"A256GCM"}}
			issue := map[string]any{"rsa_public_pem": rsaPub,
				"outer_header": map[string]any{"typ": "JWT", "cty": "JWT", "alg": string(tc.alg), "kid": tc.alias},
				"inner_header": map[string]any{"alg": string(wantKeyAlg), "enc": "A256GCM", "kid": rsaAlias}}
			switch tc.alg {
			case jose.HS256, jose.HS512:
				verify["hmac_key"] = b64(e.hmac[tc.alias])
				issue["hmac_key"] = b64(e.hmac[tc.alias])
				_, err := m.JWKS(ctx)
				assert.ErrorIs(t, err, secrets.ErrWrongKind, "HMAC keys are not published")
			default:
				set, err := m.JWKS(ctx)
				require.NoError(t, err)
				require.Len(t, set.Keys, 1)
				assert.Equal(t, tc.alias, set.Keys[0].KeyID)
				raw, err := json.Marshal(set)
				require.NoError(t, err)
				var jwks map[string]any
				require.NoError(t, json.Unmarshal(raw, &jwks))
				verify["jwks"] = jwks
				if tc.alg == jose.RS256 {
					issue["signing_private_pem"] = pkcs8PEM(t, sigRSA.Private)
				} else {
					issue["signing_private_pem"] = pkcs8PEM(t, ec.Private)
				}
			}

			s, err := m.NewSession(ctx, jwtsession.Claims{Principal: "bjensen", Extra: map[string]any{"scope": "ui"}})
			require.NoError(t, err)
			verify["token"] = s.Token
			res := run("verify", verify)
			assert.Equal(t, map[string]any{"typ": "JWT", "cty": "JWT", "alg": string(tc.alg), "kid": tc.alias}, res["outer_header"])
			assert.Equal(t, map[string]any{"alg": string(wantKeyAlg), "enc": "A256GCM", "kid": rsaAlias}, res["inner_header"])
			c := res["claims"].(map[string]any)
			assert.Equal(t, "bjensen", c["prn"])
			assert.Equal(t, "ui", c["scope"])
			assert.Equal(t, s.ID, c["jti"])
			assert.Equal(t, float64(s.Expiry.Unix()), c["exp"])

			now := e.clock.Now()
			issue["claims"] = map[string]any{"jti": "j", "iat": now.Unix(), "nbf": now.Unix(), "exp": now.Add(time.Hour).Unix(),
				"tokenIdleTimeSeconds": now.Add(10 * time.Minute).Unix(), "prn": "node", "sessionId": "sid"}
			tok := run("issue", issue)["token"].(string)
			v, err := m.Validate(ctx, tok)
			require.NoError(t, err)
			assert.Equal(t, "node", v.Principal)
			assert.Equal(t, tc.alias, v.SigningKey)
			assert.Equal(t, rsaAlias, v.EncryptionKey)
		})
	}
}
