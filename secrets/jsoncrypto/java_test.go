package jsoncrypto

import (
	"bytes"
	"encoding/hex"
	"errors"
	"fmt"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/secretstores/secretstores/internal/testenv"
	"github.com/secretstores/secretstores/secrets"
)

// javaBatch compiles testdata/SimpleCrypto.java (an independent JCE implementation of the
// scheme) into a temp dir and runs the commands in one JVM, returning one result per line.
func javaBatch(t *testing.T, cmds []string) []string {
	t.Helper()
	javac := testenv.LookPath(t, testenv.Java, "javac")
	java := testenv.LookPath(t, testenv.Java, "java")
	dir := t.TempDir()
	src, err := filepath.Abs("testdata/SimpleCrypto.java")
	if err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command(javac, "-d", dir, src).CombinedOutput(); err != nil {
		t.Fatalf("javac: %v\n%s", err, out)
	}
	cmd := exec.Command(java, "-Dfile.encoding=UTF-8", "-cp", dir, "SimpleCrypto")
	cmd.Stdin = strings.NewReader(strings.Join(cmds, "\n") + "\n")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("java: %v\n%s", err, stderr.String())
	}
	lines := strings.Split(strings.TrimSuffix(string(out), "\n"), "\n")
	if len(lines) != len(cmds) {
		t.Fatalf("java answered %d lines to %d commands:\n%s\n%s", len(lines), len(cmds), out, stderr.String())
	}
	return lines
}

func hx(b []byte) string { return hex.EncodeToString(b) }

// TestJavaCrossCheck checks the scheme's bytes against a second implementation: values made
// by Go decrypt in Java (MAC checked the json-crypto way) and values made by Java decrypt in
// Go, for both key sizes, both formats, the legacy form and OpenIDM's salted-hash.
func TestJavaCrossCheck(t *testing.T) {
	f := newFixture(t)
	p := f.provider(t, mapping(idConfig, aliasA), mapping("b", aliasB), mapping(DefaultSecretID, aliasA))
	plaintexts := []any{"secret", "", "pässwörd 🔑 \"<&>\" \\ \u2028 \x01\t", 1234567,
		map[string]any{"user": "bjensen", "n": []any{1, true, nil}}, strings.Repeat("0123456789abcdef", 100)}

	type goCase struct {
		value []byte
		key   []byte
		want  []byte // plaintext JSON
		size  int
		fail  bool // tampered: Java must refuse
	}
	var goCases []goCase
	for _, o := range []Options{{}, {Format: Format2016}, {KeySize: 32}} {
		c := codec(t, p, &o)
		for _, id := range []string{idConfig, "b"} {
			key := map[string][]byte{idConfig: keyA, "b": keyB}[id]
			for _, pt := range plaintexts {
				v, err := c.Encrypt(f.ctx, id, pt)
				if err != nil {
					t.Fatal(err)
				}
				want, _ := plaintextJSON(pt)
				size := c.o.KeySize
				if o.Format == Format2016 {
					size = len(key) // no keySize field: derived from the key
				}
				goCases = append(goCases, goCase{value: v, key: key, want: want, size: size})
			}
			v, _ := c.Encrypt(f.ctx, id, "tampered")
			for _, name := range []string{"data", "iv", "salt"} {
				goCases = append(goCases, goCase{value: flip(t, v, name, 1), key: key, size: c.o.KeySize, fail: true})
			}
			if o.Format == FormatIDM {
				goCases = append(goCases, goCase{value: tamper(t, v, "purpose", `"x"`), key: key, size: c.o.KeySize, fail: true})
			}
		}
	}

	var cmds []string
	for _, gc := range goCases {
		cmds = append(cmds, fmt.Sprintf("dec\t%s\t%s\t%d", hx(gc.key), hx(gc.value), gc.size))
	}
	type javaCase struct {
		id   string
		want []byte
		o    Options
	}
	var javaCases []javaCase
	for _, pt := range plaintexts {
		want, _ := plaintextJSON(pt)
		for _, tc := range []struct {
			id, alias string
			key       []byte
			format    string
			size      int
		}{
			{idConfig, aliasA, keyA, "idm", 16},
			{"b", aliasB, keyB, "idm", 16},
			{"b", aliasB, keyB, "idm", 32}, // keySize field says 32
			{idConfig, aliasA, keyA, "2016", 16},
			{"b", aliasB, keyB, "2016", 32}, // the 2016 encryptor with a 256-bit key
		} {
			cmds = append(cmds, fmt.Sprintf("enc\t%s\t%s\t%s\t%s\t%s\t%d", hx(tc.key), tc.alias, tc.id, hx(want), tc.format, tc.size))
			o := Options{KeySize: tc.size}
			if tc.format == "2016" {
				o.DefaultSecretID = tc.id
			}
			javaCases = append(javaCases, javaCase{tc.id, want, o})
		}
		cmds = append(cmds, fmt.Sprintf("legacy\t%s\t%s\t%s", hx(keyA), aliasA, hx(want)))
		javaCases = append(javaCases, javaCase{DefaultSecretID, want, Options{AllowLegacy: true}})
	}
	hashPlain := []string{"Passw0rd", "pässwörd", "🔑key", ""}
	for _, alg := range []string{"MD5", "SHA-1", "SHA-256", "SHA-384", "SHA-512"} {
		for _, pw := range hashPlain {
			cmds = append(cmds, fmt.Sprintf("hash\t%s\t%s", alg, hx([]byte(pw))))
		}
	}

	res := javaBatch(t, cmds)

	for i, gc := range goCases {
		r := res[i]
		if gc.fail {
			if !strings.HasPrefix(r, "ERR\t") {
				t.Errorf("Java decrypted a tampered Go value: %s", gc.value)
			}
			continue
		}
		got, ok := strings.CutPrefix(r, "OK\t")
		if !ok {
			t.Errorf("Java could not decrypt a Go value %s: %s", gc.value, r)
			continue
		}
		if b, _ := hex.DecodeString(got); !bytes.Equal(b, gc.want) {
			t.Errorf("Java decrypted %q, want %q", b, gc.want)
		}
	}
	res = res[len(goCases):]
	for i, jc := range javaCases {
		v, ok := strings.CutPrefix(res[i], "OK\t")
		if !ok {
			t.Fatalf("Java enc: %s", res[i])
		}
		got, err := codec(t, p, &jc.o).Decrypt(f.ctx, []byte(v))
		if err != nil {
			t.Errorf("Go cannot decrypt the Java value %s: %v", v, err)
		} else if !bytes.Equal(got, jc.want) {
			t.Errorf("Go decrypted %s, want %s", got, jc.want)
		}
	}
	// Legacy values are refused without AllowLegacy.
	legacy, _ := strings.CutPrefix(res[5], "OK\t")
	if _, err := codec(t, p, nil).Decrypt(f.ctx, []byte(legacy)); !errors.Is(err, ErrNotAllowed) || !strings.Contains(err.Error(), "Options.AllowLegacy") {
		t.Errorf("legacy value without AllowLegacy: %v", err)
	}
	res = res[len(javaCases):]
	for i, line := range res {
		v, ok := strings.CutPrefix(line, "OK\t")
		if !ok {
			t.Fatalf("Java hash: %s", line)
		}
		pw := hashPlain[i%len(hashPlain)]
		err := VerifyHash([]byte(v), pw, VerifyHashOptions{})
		ascii := isASCII(pw)
		if ascii && err != nil {
			t.Errorf("%s: Java hash of %q does not verify: %v", v, pw, err)
		}
		if !ascii && !errors.Is(err, secrets.ErrVerification) {
			t.Errorf("%s: a 5.x-truncated hash of %q verified without Allow5xTruncation: %v", v, pw, err)
		}
		if err := VerifyHash([]byte(v), pw, VerifyHashOptions{Allow5xTruncation: true}); err != nil {
			t.Errorf("%s: Java hash of %q does not verify with Allow5xTruncation: %v", v, pw, err)
		}
		if err := VerifyHash([]byte(v), pw+"x", VerifyHashOptions{Allow5xTruncation: true}); err == nil && ascii {
			t.Errorf("wrong password verified")
		}
	}
}
