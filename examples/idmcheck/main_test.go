package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/secretstores/secretstores/filestore"
	"github.com/secretstores/secretstores/secrets"
	"github.com/secretstores/secretstores/secrets/jsoncrypto"
)

// Secrets seeded into the test projects; none may appear in any output.
const (
	storePass = "Ks-S3cret-storepass-91x"
	trustPass = "Ts-S3cret-trustpass-27q"
	plainText = "Plain-S3cret-ldap-pw-55k"
)

const authJSON = `{
  "serverAuthContext": {
    "sessionModule": {
      "name": "JWT_SESSION",
      "properties": {"maxTokenLifeMinutes": 120, "tokenIdleTimeMinutes": 30, "sessionOnly": true, "isHttpOnly": true, "enableDynamicRoles": false}
    },
    "authModules": [{"name": "STATIC_USER", "properties": {"queryOnResource": "internal/user", "username": "anonymous", "password": "anonymous", "defaultUserRoles": ["internal/role/openidm-reg"]}, "enabled": true}]
  }
}
`

func write(t *testing.T, path, text string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
}

// fileProject lays out an IDM project with file keystores as IDM's populateDefaults makes
// them (quickstart's secrets.json, filestore's populateDefaults), passwords in
// boot.properties, IDM's authentication.json and a conf file with a $crypto value.
func fileProject(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	sj, err := os.ReadFile(filepath.Join("..", "quickstart", "secrets.json"))
	if err != nil {
		t.Fatal(err)
	}
	write(t, filepath.Join(dir, "conf", "secrets.json"), string(sj))
	write(t, filepath.Join(dir, "resolver", "boot.properties"), "openidm.port.http=8080\nopenidm.keystore.password="+storePass+"\nopenidm.truststore.password="+trustPass+"\n")
	write(t, filepath.Join(dir, "conf", "authentication.json"), authJSON)
	if err := os.MkdirAll(filepath.Join(dir, "security"), 0o755); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	props := secrets.Layered(secrets.MapProperties(map[string]string{
		"openidm.keystore.password": storePass, "openidm.truststore.password": trustPass, "idm.data.dir": dir}))
	cfg, err := secrets.LoadConfig(filepath.Join(dir, "conf", "secrets.json"), props)
	if err != nil {
		t.Fatal(err)
	}
	p, err := secrets.Open(ctx, cfg, filestore.Openers(filestore.OpenerOptions{}), secrets.ProviderOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	v, err := jsoncrypto.Encrypt(ctx, p, "idm.password.encryption", plainText)
	if err != nil {
		t.Fatal(err)
	}
	write(t, filepath.Join(dir, "conf", "provisioner.openicf-ldap.json"), `{"configurationProperties": {"host": "ldap.example.com", "credentials": `+string(v)+`}}`)
	return dir
}

// idmcheck runs the command; it returns the human output, the JSON report and the exit
// status, and fails the test if a seeded secret appears in either.
func idmcheck(t *testing.T, secretsToHide []string, args ...string) (string, report, int) {
	t.Helper()
	var out, errb, jout bytes.Buffer
	code := run(args, &out, &errb, false)
	jcode := run(append([]string{"-json"}, args...), &jout, &errb, false)
	if code != jcode {
		t.Errorf("exit status %d for text, %d for -json", code, jcode)
	}
	for _, s := range append([]string{storePass, trustPass, plainText}, secretsToHide...) {
		for name, text := range map[string]string{"text": out.String(), "json": jout.String(), "stderr": errb.String()} {
			if strings.Contains(text, s) {
				t.Errorf("%s output contains the secret %q:\n%s", name, s, text)
			}
		}
	}
	var rep report
	if err := json.Unmarshal(jout.Bytes(), &rep); err != nil {
		t.Fatalf("-json output: %v\n%s", err, jout.String())
	}
	return out.String(), rep, code
}

type report struct {
	Results []struct {
		Group, Status, Check, Subject, Message, Fix string
	}
	OK, Warnings, Errors int
	Status               string
}

// find returns the results of check whose status is st.
func (r report) find(check, st string) []string {
	var out []string
	for _, res := range r.Results {
		if res.Check == check && res.Status == st {
			out = append(out, res.Subject+": "+res.Message+" | fix: "+res.Fix)
		}
	}
	return out
}

// wantFail asserts exactly that the report has an error of check whose line contains every
// one of parts (message and fix).
func wantFail(t *testing.T, out string, rep report, code int, check string, parts ...string) {
	t.Helper()
	if code != 2 {
		t.Errorf("exit status %d, want 2\n%s", code, out)
	}
	fails := rep.find(check, "error")
	if len(fails) == 0 {
		t.Fatalf("no error for check %s:\n%s", check, out)
	}
	for _, f := range fails {
		ok := true
		for _, p := range parts {
			ok = ok && strings.Contains(f, p)
		}
		if ok {
			return
		}
	}
	t.Errorf("no %s error contains %q; got %q\n%s", check, parts, fails, out)
}

func TestDefaultFileProjectAllOK(t *testing.T) {
	dir := fileProject(t)
	out, rep, code := idmcheck(t, nil, "-project", dir)
	if code != 0 || rep.Warnings != 0 || rep.Errors != 0 {
		t.Fatalf("exit %d, %d warnings, %d errors:\n%s", code, rep.Warnings, rep.Errors, out)
	}
	for _, want := range []string{"store.open", "mapping", "key.rules", "cert", "cert.truststore", "crypto.file", "session.key", "file.secrets", "file.boot", "file.auth"} {
		if len(rep.find(want, "ok")) == 0 {
			t.Errorf("no ✓ for %s:\n%s", want, out)
		}
	}
	if !strings.Contains(out, "✓") || strings.Contains(out, "\x1b[") {
		t.Errorf("text output: want ✓ lines and no colour when not a terminal:\n%s", out)
	}
	t.Log("\n" + out)
}
