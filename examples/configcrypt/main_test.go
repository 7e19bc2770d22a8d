package main

import (
	"bytes"
	"context"
	"crypto/aes"
	"crypto/cipher"
	"encoding/base64"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/secretstores/secretstores/filestore"
	"github.com/secretstores/secretstores/secrets"
)

func cc(t *testing.T, args ...string) (string, string, int) {
	t.Helper()
	var out, errb bytes.Buffer
	code := run(args, &out, &errb)
	return out.String(), errb.String(), code
}

// keystore makes a PKCS#12 keystore with IDM's default keys and a second AES key.
func keystore(t *testing.T, dir string) string {
	t.Helper()
	ctx := context.Background()
	path := filepath.Join(dir, "keystore.p12")
	ks, err := filestore.Open(ctx, path, filestore.Config{Password: "changeit", Create: true})
	if err != nil {
		t.Fatal(err)
	}
	defer ks.Close()
	if _, err := ks.PopulateDefaults(ctx, filestore.DefaultsOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := ks.Generate(ctx, "openidm-sym-2027", secrets.KeySpec{Kind: secrets.KindAES, Bits: 256}, false); err != nil {
		t.Fatal(err)
	}
	return path
}

const conf = `{
  "name": "ldap",
  "configurationProperties": {
    "credentials": "s3cret",
    "port": 636,
    "other": {"token": ["a", 1]}
  }
}
`

// decrypted is conf after a round trip: an encrypted object or array comes back compact.
var decrypted = strings.Replace(conf, `{"token": ["a", 1]}`, `{"token":["a",1]}`, 1)

func TestRoundTripAndRotation(t *testing.T) {
	dir := t.TempDir()
	ks := keystore(t, dir)
	file := filepath.Join(dir, "provisioner.json")
	os.WriteFile(file, []byte(conf), 0o640)

	// encrypt two values in place; everything else stays byte for byte.
	_, errs, code := cc(t, "encrypt", "-keystore", ks, "-pointer", "/configurationProperties/credentials", "-pointer", "/configurationProperties/other", "-w", file)
	if code != 0 || strings.Count(errs, "encrypted ") != 2 || !strings.Contains(errs, "key openidm-sym-default") {
		t.Fatalf("encrypt: %d %s", code, errs)
	}
	enc, _ := os.ReadFile(file)
	if strings.Contains(string(enc), "s3cret") || !strings.Contains(string(enc), `"port": 636,`) || strings.Count(string(enc), `"$crypto"`) != 2 {
		t.Fatalf("encrypted file:\n%s", enc)
	}
	if st, _ := os.Stat(file); st.Mode().Perm() != 0o640 {
		t.Errorf("mode %v after -w", st.Mode().Perm())
	}
	out, _, code := cc(t, "scan", file)
	if code != 0 || strings.Count(out, "alias openidm-sym-default\tsecret id idm.config.encryption") != 2 {
		t.Fatalf("scan: %d\n%s", code, out)
	}

	// decrypt to stdout gives the original document back.
	out, errs, code = cc(t, "decrypt", "-keystore", ks, file)
	if code != 0 || out != decrypted {
		t.Fatalf("decrypt: %d %s\n%s", code, errs, out)
	}

	// Rotation: the new alias first; old values still decrypt, and reencrypt moves them.
	_, errs, code = cc(t, "reencrypt", "-keystore", ks, "-aliases", "openidm-sym-2027,openidm-sym-default", "-w", file)
	if code != 0 || strings.Count(errs, "openidm-sym-default -> openidm-sym-2027") != 2 {
		t.Fatalf("reencrypt: %d %s", code, errs)
	}
	out, _, _ = cc(t, "scan", file)
	if strings.Count(out, "alias openidm-sym-2027") != 2 {
		t.Fatalf("scan after reencrypt:\n%s", out)
	}
	// Without the new alias in the mapping the re-encrypted values no longer open.
	if _, errs, code := cc(t, "decrypt", "-keystore", ks, file); code != 1 || !strings.Contains(errs, "openidm-sym-2027") {
		t.Fatalf("decrypt without the new alias: %d %s", code, errs)
	}
	out, errs, code = cc(t, "decrypt", "-keystore", ks, "-aliases", "openidm-sym-2027,openidm-sym-default", file)
	if code != 0 || out != decrypted {
		t.Fatalf("decrypt after rotation: %d %s\n%s", code, errs, out)
	}
}

func TestSecretsJSON(t *testing.T) {
	dir := t.TempDir()
	keystore(t, dir)
	sj := filepath.Join(dir, "secrets.json")
	os.WriteFile(sj, []byte(`{"stores": [{"name": "mainKeyStore", "class": "org.forgerock.openidm.secrets.config.KeyStoreSecretStore",
  "config": {"file": "keystore.p12", "storetype": "PKCS12", "storePassword": "&{openidm.keystore.password|changeit}",
    "mappings": [{"secretId": "idm.password.encryption", "types": ["ENCRYPT", "DECRYPT"], "aliases": ["&{openidm.config.crypto.alias|openidm-sym-default}"]}]}}],
  "populateDefaults": true}`), 0o600)
	props := filepath.Join(dir, "boot.properties")
	os.WriteFile(props, []byte("openidm.config.crypto.alias=openidm-sym-2027\n"), 0o600)
	file := filepath.Join(dir, "user.json")
	os.WriteFile(file, []byte(`{"password": "Passw0rd"}`), 0o600)
	out, errs, code := cc(t, "encrypt", "-secrets", sj, "-props", props, "-secret-id", "idm.password.encryption", "-pointer", "/password", file)
	if code != 0 || !strings.Contains(out, `"stableId":"openidm-sym-2027"`) || !strings.Contains(out, `"purpose":"idm.password.encryption"`) {
		t.Fatalf("encrypt with secrets.json: %d %s\n%s", code, errs, out)
	}
	os.WriteFile(file, []byte(out), 0o600)
	out, errs, code = cc(t, "decrypt", "-secrets", sj, "-props", props, file)
	if code != 0 || out != `{"password": "Passw0rd"}` {
		t.Fatalf("decrypt with secrets.json: %d %s\n%s", code, errs, out)
	}
}

func TestBadInput(t *testing.T) {
	dir := t.TempDir()
	ks := keystore(t, dir)
	good := filepath.Join(dir, "good.json")
	os.WriteFile(good, []byte(`{"a": "b"}`), 0o600)
	bad := filepath.Join(dir, "bad.json")
	os.WriteFile(bad, []byte(`{"a": {"$crypto": {"type": "x-simple-encryption", "value": {"cipher": 1}}}}`), 0o600)
	for _, tc := range []struct {
		args []string
		code int
		want string
	}{
		{nil, 2, "Usage: configcrypt"},
		{[]string{"-h"}, 0, "reencrypt"},
		{[]string{"shred"}, 2, `unknown command "shred"`},
		{[]string{"decrypt"}, 2, "want exactly one JSON file"},
		{[]string{"decrypt", "-nosuch", good}, 2, "flag provided but not defined"},
		{[]string{"decrypt", filepath.Join(dir, "none.json")}, 1, "none.json"},
		{[]string{"decrypt", good}, 1, "no keys: give -keystore"},
		{[]string{"decrypt", "-keystore", ks, "-secrets", "x", good}, 1, "not both"},
		{[]string{"encrypt", "-keystore", ks, good}, 1, "at least one -pointer"},
		{[]string{"encrypt", "-keystore", ks, "-pointer", "/nope", good}, 1, "/nope"},
		{[]string{"decrypt", "-keystore", ks, "-storepass-env", "CONFIGCRYPT_UNSET", good}, 1, "CONFIGCRYPT_UNSET (-storepass-env) is not set"},
		{[]string{"decrypt", "-keystore", ks, "-aliases", "a,,b", good}, 1, "empty alias"},
		{[]string{"decrypt", "-keystore", filepath.Join(dir, "missing.p12"), good}, 1, "missing.p12"},
		{[]string{"decrypt", "-keystore", ks, bad}, 1, "malformed"},
		{[]string{"scan", bad}, 1, "malformed"},
		{[]string{"decrypt", "-secrets", filepath.Join(dir, "nosecrets.json"), good}, 1, "nosecrets.json"},
	} {
		_, errs, code := cc(t, tc.args...)
		if code != tc.code || !strings.Contains(errs, tc.want) {
			t.Errorf("configcrypt %q: exit %d, stderr:\n%s\nwant %d and %q", tc.args, code, errs, tc.code, tc.want)
		}
	}
	t.Setenv("CONFIGCRYPT_PASS", "wrong")
	if _, errs, code := cc(t, "decrypt", "-keystore", ks, "-storepass-env", "CONFIGCRYPT_PASS", good); code != 1 || !strings.Contains(errs, "wrong PIN or password") || strings.Contains(errs, "wrong\n") {
		t.Errorf("wrong keystore password: %d %s", code, errs)
	}
}

// TestLegacyAndSecretIDs: configcrypt reads the user's own files: legacy values (pre-2016, no
// MAC) decrypt and are reported as legacy, reencrypt moves them to the MAC'd form; a value
// naming a secret id the mappings do not give for DECRYPT is refused.
func TestLegacyAndSecretIDs(t *testing.T) {
	dir := t.TempDir()
	ks := keystore(t, dir)
	ctx := context.Background()
	st, err := filestore.Open(ctx, ks, filestore.Config{Password: "changeit"})
	if err != nil {
		t.Fatal(err)
	}
	e, err := st.Entry(ctx, "openidm-sym-default")
	if err != nil {
		t.Fatal(err)
	}
	key, err := e.(secrets.EntryExporter).Export(ctx)
	st.Close()
	if err != nil {
		t.Fatal(err)
	}
	// The legacy form, as json-crypto wrote it before 2016: AES-CBC of the JSON with the key.
	iv := bytes.Repeat([]byte{9}, 16)
	pt := []byte(`"0ld s3cret"`)
	pad := 16 - len(pt)%16
	pt = append(pt, bytes.Repeat([]byte{byte(pad)}, pad)...)
	blk, _ := aes.NewCipher(key)
	cipher.NewCBCEncrypter(blk, iv).CryptBlocks(pt, pt)
	b64 := base64.StdEncoding.EncodeToString
	legacy := `{"$crypto":{"type":"x-simple-encryption","value":{"cipher":"AES/CBC/PKCS5Padding","key":"openidm-sym-default","iv":"` +
		b64(iv) + `","data":"` + b64(pt) + `"}}}`
	file := filepath.Join(dir, "old.json")
	os.WriteFile(file, []byte(`{"pw": `+legacy+`}`), 0o600)

	out, _, code := cc(t, "scan", file)
	if code != 0 || !strings.Contains(out, "legacy (pre-2016, no MAC") {
		t.Fatalf("scan: %d %s", code, out)
	}
	out, errs, code := cc(t, "decrypt", "-keystore", ks, file)
	if code != 0 || out != `{"pw": "0ld s3cret"}` || !strings.Contains(errs, "decrypted /pw (idm.default): key openidm-sym-default\tlegacy") {
		t.Fatalf("decrypt: %d %q\n%s", code, errs, out)
	}
	_, errs, code = cc(t, "reencrypt", "-keystore", ks, "-w", file)
	if code != 0 || !strings.Contains(errs, "reencrypted /pw (idm.default): openidm-sym-default -> openidm-sym-default\tlegacy") {
		t.Fatalf("reencrypt: %d %s", code, errs)
	}
	if out, _, _ = cc(t, "scan", file); strings.Contains(out, "legacy") {
		t.Fatalf("still legacy after reencrypt: %s", out)
	}
	if out, _, code = cc(t, "decrypt", "-keystore", ks, file); code != 0 || out != `{"pw": "0ld s3cret"}` {
		t.Fatalf("decrypt after reencrypt: %d %s", code, out)
	}

	// A value naming a secret id no mapping gives for DECRYPT.
	enc, _ := os.ReadFile(file)
	other := filepath.Join(dir, "other.json")
	os.WriteFile(other, bytes.Replace(enc, []byte(`"purpose":"idm.default"`), []byte(`"purpose":"idm.jwt.session.module.signing"`), 1), 0o600)
	if _, errs, code := cc(t, "decrypt", "-keystore", ks, other); code != 1 || !strings.Contains(errs, "not in Options.SecretIDs") {
		t.Fatalf("a value naming a SIGN-only secret id: %d %s", code, errs)
	}
}
