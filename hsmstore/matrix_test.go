//go:build cgo

package hsmstore_test

import (
	"bytes"
	"context"
	"crypto"
	"crypto/aes"
	"crypto/cipher"
	"crypto/ecdsa"
	"crypto/hmac"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"regexp"
	"strings"
	"testing"

	"github.com/miekg/pkcs11"

	"github.com/secretstores/secretstores/hsmstore"
	"github.com/secretstores/secretstores/internal/p11test"
	"github.com/secretstores/secretstores/secrets"
)

// The module matrix: every operation of hsmstore on every module of internal/p11test, each
// checked against the standard library. An outcome is "works", "ErrUnsupported CKM_X" (an
// error wrapping errors.ErrUnsupported that names the mechanism the token lacks), or, for a
// failure of another kind, "fails: <CKR_ code or sentinel>". The expected outcomes are in
// matrixWant; a cell marked defect is a known bug still open (a module's raw CKR_ code where
// ErrUnsupported naming the mechanism is due, or a failure of an operation the token lists):
// its current failure is expected exactly, so the test fails when it changes, fixed or not,
// and the cell must be flipped. README.md's table is rendered from the same outcomes (TestMatrix checks it; set
// SECRETSTORES_UPDATE_README=1 to rewrite it).

// Operations, in table order.
var matrixOps = []string{
	"generate HMAC key", "import HMAC key", "HMAC-SHA256", "export",
	"generate AES key", "import AES key", "AES-GCM",
	"generate RSA", "RSA PKCS#1 v1.5 sign", "RSA-PSS sign", "RSA PKCS#1 v1.5 decrypt", "RSA-OAEP SHA-1 decrypt",
	"generate EC P-256", "ECDSA sign",
}

type cell struct {
	want   string
	defect bool // a known bug, still open
}

func works() cell { return cell{want: "works"} }

// A known bug's cell is cell{want: <its current outcome>, defect: true}; when it is fixed,
// the cell becomes works() or cell{want: "ErrUnsupported CKM_X"}. None is open now.

// matrixWant is the expected outcome per module and operation. Operations on a key that
// could not be made have the outcome of making it, prefixed "no key: ".
var matrixWant = map[string]map[string]cell{
	p11test.SoftHSM: {
		"generate HMAC key": works(), "import HMAC key": works(), "HMAC-SHA256": works(), "export": works(),
		"generate AES key": works(), "import AES key": works(), "AES-GCM": works(),
		"generate RSA": works(), "RSA PKCS#1 v1.5 sign": works(), "RSA-PSS sign": works(), "RSA PKCS#1 v1.5 decrypt": works(), "RSA-OAEP SHA-1 decrypt": works(),
		"generate EC P-256": works(), "ECDSA sign": works(),
	},
	p11test.OpenCryptoki: {
		"generate HMAC key": works(), "import HMAC key": works(), "HMAC-SHA256": works(), "export": works(),
		"generate AES key": works(), "import AES key": works(),
		"AES-GCM":      {want: "ErrUnsupported CKM_AES_GCM"},
		"generate RSA": works(), "RSA PKCS#1 v1.5 sign": works(), "RSA-PSS sign": works(), "RSA PKCS#1 v1.5 decrypt": works(), "RSA-OAEP SHA-1 decrypt": works(),
		"generate EC P-256": {want: "ErrUnsupported CKM_EC_KEY_PAIR_GEN"},
		"ECDSA sign":        {want: "no key: ErrUnsupported CKM_EC_KEY_PAIR_GEN"},
	},
	// tpm2-pkcs11: secret keys come from tpm2_ptool (HMAC and AES checked against themselves);
	// key pairs are generated with the public key a token object, which the module requires;
	// C_CreateObject takes no keys but RSA public keys; TPM keys are never extractable.
	p11test.TPM2: {
		"generate HMAC key":    {want: "ErrUnsupported CKM_GENERIC_SECRET_KEY_GEN"},
		"import HMAC key":      {want: "ErrUnsupported C_CreateObject"}, // C_CreateObject takes no secret keys
		"HMAC-SHA256":          works(),
		"export":               {want: "fails: ErrNotExtractable"},
		"generate AES key":     {want: "ErrUnsupported CKM_AES_KEY_GEN"}, // no C_GenerateKey
		"import AES key":       {want: "ErrUnsupported C_CreateObject"},
		"AES-GCM":              {want: "ErrUnsupported CKM_AES_GCM"},
		"generate RSA":         works(), // with the public key a token object, which tpm2-pkcs11 requires
		"RSA PKCS#1 v1.5 sign": works(), "RSA-PSS sign": works(), "RSA PKCS#1 v1.5 decrypt": works(), "RSA-OAEP SHA-1 decrypt": works(),
		"generate EC P-256": works(),
		"ECDSA sign":        works(),
	},
	// NSS softokn keeps stored secret keys sensitive: an extractable key is refused (read
	// back), and HMAC and export run on the generated (non-extractable) key.
	p11test.NSS: {
		"generate HMAC key": works(), "import HMAC key": {want: "fails: ErrNotExtractable CKR_ATTRIBUTE_SENSITIVE"},
		"HMAC-SHA256":      works(),
		"export":           {want: "fails: ErrNotExtractable"},
		"generate AES key": works(), "import AES key": works(),
		"AES-GCM":      works(), // one C_Encrypt with room for the tag: its size query leaves the tag out
		"generate RSA": works(), "RSA PKCS#1 v1.5 sign": works(), "RSA-PSS sign": works(), "RSA PKCS#1 v1.5 decrypt": works(),
		"RSA-OAEP SHA-1 decrypt": works(),
		"generate EC P-256":      works(), "ECDSA sign": works(),
	},
	// The same, through p11-kit 0.24's RPC, which cannot carry CK_GCM_PARAMS.
	p11test.NSSP11Kit: {
		"generate HMAC key": works(), "import HMAC key": {want: "fails: ErrNotExtractable CKR_ATTRIBUTE_SENSITIVE"},
		"HMAC-SHA256":      works(),
		"export":           {want: "fails: ErrNotExtractable"},
		"generate AES key": works(), "import AES key": works(),
		"AES-GCM":      {want: "ErrUnsupported CKM_AES_GCM"},
		"generate RSA": works(), "RSA PKCS#1 v1.5 sign": works(), "RSA-PSS sign": works(), "RSA PKCS#1 v1.5 decrypt": works(),
		"RSA-OAEP SHA-1 decrypt": works(),
		"generate EC P-256":      works(), "ECDSA sign": works(),
	},
}

var ckrRE = regexp.MustCompile(`CKR_[A-Z_]+`)
var ckmRE = regexp.MustCompile(`CKM_[A-Z0-9_]+`)
var callRE = regexp.MustCompile(`C_[A-Z][A-Za-z]+`)

// outcome classifies err for the matrix.
func outcome(err error) string {
	switch {
	case err == nil:
		return "works"
	case errors.Is(err, errors.ErrUnsupported):
		if m := ckmRE.FindString(err.Error()); m != "" {
			return "ErrUnsupported " + m
		}
		if m := callRE.FindString(err.Error()); m != "" {
			return "ErrUnsupported " + m
		}
		return "ErrUnsupported (no mechanism named)"
	}
	for _, s := range []struct {
		err  error
		name string
	}{{secrets.ErrNotExtractable, "ErrNotExtractable"}, {secrets.ErrWrongKind, "ErrWrongKind"}, {secrets.ErrVerification, "ErrVerification"},
		{hsmstore.ErrUnavailable, "ErrUnavailable"}, {secrets.ErrNotFound, "ErrNotFound"}} {
		if errors.Is(err, s.err) {
			if c := ckrRE.FindString(err.Error()); c != "" {
				return "fails: " + s.name + " " + c
			}
			return "fails: " + s.name
		}
	}
	if c := ckrRE.FindString(err.Error()); c != "" {
		return "fails: " + c
	}
	return "fails: " + err.Error()
}

var errMismatch = errors.New("result differs from the standard library's")

// Entry interfaces, or one whose methods fail with ErrWrongKind, so that a missing method is
// an outcome rather than a panic.
type wrongKind struct{}

func (wrongKind) MAC(context.Context, crypto.Hash, []byte) ([]byte, error) {
	return nil, secrets.ErrWrongKind
}
func (wrongKind) VerifyMAC(context.Context, crypto.Hash, []byte, []byte) error {
	return secrets.ErrWrongKind
}
func (wrongKind) Seal(context.Context, []byte, []byte) ([]byte, error) {
	return nil, secrets.ErrWrongKind
}
func (wrongKind) Open(context.Context, []byte, []byte) ([]byte, error) {
	return nil, secrets.ErrWrongKind
}
func (wrongKind) Export(context.Context) ([]byte, error) { return nil, secrets.ErrWrongKind }
func (wrongKind) Sign(context.Context, []byte, crypto.SignerOpts) ([]byte, error) {
	return nil, secrets.ErrWrongKind
}
func (wrongKind) Decrypt(context.Context, []byte, crypto.DecrypterOpts) ([]byte, error) {
	return nil, secrets.ErrWrongKind
}

func asMAC(e secrets.Entry) secrets.EntryMAC {
	if x, ok := e.(secrets.EntryMAC); ok {
		return x
	}
	return wrongKind{}
}
func asMACV(e secrets.Entry) secrets.EntryMACVerifier {
	if x, ok := e.(secrets.EntryMACVerifier); ok {
		return x
	}
	return wrongKind{}
}
func asAEAD(e secrets.Entry) secrets.EntryAEAD {
	if x, ok := e.(secrets.EntryAEAD); ok {
		return x
	}
	return wrongKind{}
}
func asExp(e secrets.Entry) secrets.EntryExporter {
	if x, ok := e.(secrets.EntryExporter); ok {
		return x
	}
	return wrongKind{}
}
func asSigner(e secrets.Entry) secrets.EntrySigner {
	if x, ok := e.(secrets.EntrySigner); ok {
		return x
	}
	return wrongKind{}
}
func asDec(e secrets.Entry) secrets.EntryDecrypter {
	if x, ok := e.(secrets.EntryDecrypter); ok {
		return x
	}
	return wrongKind{}
}

// runMatrix runs every operation on tok's module and returns the outcome per operation.
func runMatrix(t *testing.T, tok *p11test.Token) map[string]string {
	ctx := context.Background()
	premade := map[string]string{}
	if tok.Module.Name == p11test.TPM2 {
		for alias, alg := range map[string]string{"hmac": p11test.TPMHMACSHA256, "aes": p11test.TPMAES256, "rsa": p11test.TPMRSA2048, "ec": p11test.TPMECP256} {
			tok.AddKey(t, "tpm-"+alias, alg)
			premade[alias] = "tpm-" + alias
		}
	}
	out := map[string]string{}
	set := func(op string, err error) { out[op] = outcome(err) }
	s, err := hsmstore.Open(ctx, tokenConfig(tok))
	if err != nil {
		t.Fatalf("open %s: %v", tok, err)
	}
	defer s.Close()
	pfx := "m-"
	// keyOp runs f on the entry made by op make (known: its key bytes are the test's), or on
	// the key tpm2_ptool made for the matrix or the one Generate made (premade: known
	// false), or records the outcome of making it.
	known := true
	keyOp := func(op, make, alias string, f func(e secrets.Entry) error) {
		name := pfx + alias
		known = true
		if out[make] != "works" {
			if pre, ok := premade[alias]; ok {
				name, known = pre, false
			} else {
				out[op] = "no key: " + out[make]
				return
			}
		}
		e, err := s.Entry(ctx, name)
		if err != nil {
			set(op, err)
			return
		}
		set(op, f(e))
	}
	msg := []byte("the module matrix")
	digest := sha256.Sum256(msg)

	// Secret keys. tpm2-pkcs11 cannot create them through PKCS#11: its keys come from
	// tpm2_ptool (p11test.Token.AddKey) and are checked against themselves.
	_, err = s.Generate(ctx, pfx+"hmac-gen", secrets.KeySpec{Kind: secrets.KindSecret}, false)
	set("generate HMAC key", err)
	hkey := make([]byte, 32)
	rand.Read(hkey)
	_, err = s.Import(ctx, pfx+"hmac", secrets.KeyMaterial{Kind: secrets.KindSecret, Secret: hkey, Extractable: true}, false)
	set("import HMAC key", err)
	// A token that refuses the imported (extractable) key but generated one: the
	// operations run on the generated key, checked against itself.
	if _, ok := premade["hmac"]; !ok && out["import HMAC key"] != "works" && out["generate HMAC key"] == "works" {
		premade["hmac"] = pfx + "hmac-gen"
	}
	keyOp("HMAC-SHA256", "import HMAC key", "hmac", func(e secrets.Entry) error {
		tag, err := asMAC(e).MAC(ctx, crypto.SHA256, msg)
		if err != nil {
			return err
		}
		m := hmac.New(sha256.New, hkey)
		m.Write(msg)
		if known && !hmac.Equal(tag, m.Sum(nil)) {
			return errMismatch
		}
		if err := asMACV(e).VerifyMAC(ctx, crypto.SHA256, msg, tag); err != nil {
			return err
		}
		tag[0] ^= 1
		if err := asMACV(e).VerifyMAC(ctx, crypto.SHA256, msg, tag); !errors.Is(err, secrets.ErrVerification) {
			return fmt.Errorf("a wrong tag: %v, want ErrVerification", err)
		}
		return nil
	})
	keyOp("export", "import HMAC key", "hmac", func(e secrets.Entry) error {
		b, err := asExp(e).Export(ctx)
		if err == nil && known && !bytes.Equal(b, hkey) {
			return errMismatch
		}
		return err
	})

	_, err = s.Generate(ctx, pfx+"aes-gen", secrets.KeySpec{Kind: secrets.KindAES}, false)
	set("generate AES key", err)
	akey := make([]byte, 32)
	rand.Read(akey)
	_, err = s.Import(ctx, pfx+"aes", secrets.KeyMaterial{Kind: secrets.KindAES, Secret: akey}, false)
	set("import AES key", err)
	if _, ok := premade["aes"]; !ok && out["import AES key"] != "works" && out["generate AES key"] == "works" {
		premade["aes"] = pfx + "aes-gen"
	}
	keyOp("AES-GCM", "import AES key", "aes", func(e secrets.Entry) error {
		block, _ := aes.NewCipher(akey)
		gcm, _ := cipher.NewGCM(block)
		sealed, err := asAEAD(e).Seal(ctx, msg, []byte("aad"))
		if err != nil {
			return err
		}
		if !known { // a TPM key: round trip only
			pt, err := asAEAD(e).Open(ctx, sealed, []byte("aad"))
			if err == nil && !bytes.Equal(pt, msg) {
				return errMismatch
			}
			return err
		}
		if len(sealed) < 12 {
			return errMismatch
		}
		if pt, err := gcm.Open(nil, sealed[:12], sealed[12:], []byte("aad")); err != nil || !bytes.Equal(pt, msg) {
			return errMismatch
		}
		// An empty plaintext: the output is the tag alone.
		if sealed, err = asAEAD(e).Seal(ctx, nil, nil); err != nil {
			return err
		}
		if len(sealed) != 12+16 {
			return errMismatch
		}
		if _, err := gcm.Open(nil, sealed[:12], sealed[12:], nil); err != nil {
			return errMismatch
		}
		nonce := make([]byte, 12)
		rand.Read(nonce)
		pt, err := asAEAD(e).Open(ctx, append(nonce, gcm.Seal(nil, nonce, msg, []byte("aad"))...), []byte("aad"))
		if err != nil {
			return err
		}
		if !bytes.Equal(pt, msg) {
			return errMismatch
		}
		return nil
	})

	_, err = s.Generate(ctx, pfx+"rsa", secrets.KeySpec{Kind: secrets.KindRSA}, false)

	set("generate RSA", err)
	rsaPub := func(e secrets.Entry) *rsa.PublicKey {
		if p, ok := e.Public().(*rsa.PublicKey); ok {
			return p
		}
		k, _ := rsa.GenerateKey(rand.Reader, 1024) // never matches: the outcome is errMismatch
		return &k.PublicKey
	}
	keyOp("RSA PKCS#1 v1.5 sign", "generate RSA", "rsa", func(e secrets.Entry) error {
		sig, err := asSigner(e).Sign(ctx, digest[:], crypto.SHA256)
		if err != nil {
			return err
		}
		if rsa.VerifyPKCS1v15(rsaPub(e), crypto.SHA256, digest[:], sig) != nil {
			return errMismatch
		}
		return nil
	})
	keyOp("RSA-PSS sign", "generate RSA", "rsa", func(e secrets.Entry) error {
		opts := &rsa.PSSOptions{SaltLength: rsa.PSSSaltLengthEqualsHash, Hash: crypto.SHA256}
		sig, err := asSigner(e).Sign(ctx, digest[:], opts)
		if err != nil {
			return err
		}
		if rsa.VerifyPSS(rsaPub(e), crypto.SHA256, digest[:], sig, opts) != nil {
			return errMismatch
		}
		return nil
	})
	keyOp("RSA PKCS#1 v1.5 decrypt", "generate RSA", "rsa", func(e secrets.Entry) error {
		ct, _ := rsa.EncryptPKCS1v15(rand.Reader, rsaPub(e), msg)
		pt, err := asDec(e).Decrypt(ctx, ct, &rsa.PKCS1v15DecryptOptions{})
		if err == nil && !bytes.Equal(pt, msg) {
			return errMismatch
		}
		return err
	})
	keyOp("RSA-OAEP SHA-1 decrypt", "generate RSA", "rsa", func(e secrets.Entry) error {
		ct, _ := rsa.EncryptOAEP(crypto.SHA1.New(), rand.Reader, rsaPub(e), msg, nil)
		pt, err := asDec(e).Decrypt(ctx, ct, &rsa.OAEPOptions{Hash: crypto.SHA1})
		if err == nil && !bytes.Equal(pt, msg) {
			return errMismatch
		}
		return err
	})

	_, err = s.Generate(ctx, pfx+"ec", secrets.KeySpec{Kind: secrets.KindEC}, false)
	set("generate EC P-256", err)
	keyOp("ECDSA sign", "generate EC P-256", "ec", func(e secrets.Entry) error {
		sig, err := asSigner(e).Sign(ctx, digest[:], crypto.SHA256)
		if err != nil {
			return err
		}
		pub, _ := e.Public().(*ecdsa.PublicKey)
		if pub == nil || !ecdsa.VerifyASN1(pub, digest[:], sig) {
			return errMismatch
		}
		return nil
	})
	return out
}

// matrixVersion names the module's implementation and version from C_GetInfo.
func matrixVersion(t *testing.T, tok *p11test.Token) string {
	p := pkcs11.New(tok.Module.Path)
	defer p.Destroy()
	if err := tok.Module.Initialize(p); err != nil {
		return "?"
	}
	defer p.Finalize()
	info, err := p.GetInfo()
	if err != nil {
		return "?"
	}
	return fmt.Sprintf("%s %d.%d", strings.TrimSpace(info.LibraryDescription), info.LibraryVersion.Major, info.LibraryVersion.Minor)
}

// TestMatrix runs each module's row in a child process of its own (this test binary,
// SECRETSTORES_MATRIX_MODULE=name): one module per process, as in a service. (SoftHSM 2.6 and
// opencryptoki 3.8 do not share a process: after SoftHSM was used and finalised,
// opencryptoki's C_Initialize crashes with SIGSEGV.)
func TestMatrix(t *testing.T) {
	if name := os.Getenv("SECRETSTORES_MATRIX_MODULE"); name != "" {
		tok := p11test.SharedToken(t, name)
		res := runMatrix(t, tok)
		b, _ := json.Marshal(matrixRow{Version: matrixVersion(t, tok), Outcomes: res})
		fmt.Printf("matrix-row %s\n", b)
		return
	}
	got := map[string]map[string]string{}
	versions := map[string]string{}
	for _, name := range p11test.Names {
		want, ok := matrixWant[name]
		if !ok {
			continue
		}
		t.Run(name, func(t *testing.T) {
			// The child brings the module up (the parent must not: opencryptoki's lock is
			// held by the binary that takes it), and skips or fails when it is missing.
			cmd := exec.Command(os.Args[0], "-test.run=^TestMatrix$", "-test.count=1")
			cmd.Env = append(os.Environ(), "SECRETSTORES_MATRIX_MODULE="+name)
			out, err := cmd.CombinedOutput()
			var row matrixRow
			for _, line := range strings.Split(string(out), "\n") {
				if js, ok := strings.CutPrefix(line, "matrix-row "); ok {
					if err := json.Unmarshal([]byte(js), &row); err != nil {
						t.Fatal(err)
					}
				}
			}
			if err == nil && row.Outcomes == nil && strings.Contains(string(out), "--- SKIP") {
				t.Skipf("the %s row skipped:\n%s", name, out)
			}
			if err != nil || row.Outcomes == nil {
				t.Fatalf("the %s row: %v\n%s", name, err, out)
			}
			versions[name] = row.Version
			got[name] = row.Outcomes
			for _, op := range matrixOps {
				w := want[op]
				if row.Outcomes[op] != w.want {
					hint := ""
					if w.defect {
						hint = " (a known defect changed: flip the row in matrixWant)"
					}
					t.Errorf("%s: %s = %q, want %q%s", name, op, row.Outcomes[op], w.want, hint)
				}
			}
		})
	}
	if t.Failed() || len(got) != len(matrixWant) {
		return
	}
	checkMatrixREADME(t, renderMatrix(got, versions))
}

type matrixRow struct {
	Version  string
	Outcomes map[string]string
}

// renderMatrix renders the outcomes as README's table.
func renderMatrix(got map[string]map[string]string, versions map[string]string) string {
	var b strings.Builder
	var cols []string
	for _, n := range p11test.Names {
		if _, ok := got[n]; ok {
			cols = append(cols, n)
		}
	}
	b.WriteString("| operation |")
	for _, n := range cols {
		fmt.Fprintf(&b, " %s (%s) |", n, versions[n])
	}
	b.WriteString("\n|---|")
	for range cols {
		b.WriteString("---|")
	}
	b.WriteString("\n")
	for _, op := range matrixOps {
		fmt.Fprintf(&b, "| %s |", op)
		for _, n := range cols {
			v := got[n][op]
			if matrixWant[n][op].defect {
				v += " (known defect)"
			}
			fmt.Fprintf(&b, " %s |", v)
		}
		b.WriteString("\n")
	}
	return b.String()
}

const matrixBegin, matrixEnd = "<!-- module-matrix:begin -->\n", "<!-- module-matrix:end -->"

// checkMatrixREADME compares README.md's module table with table, or rewrites it when
// SECRETSTORES_UPDATE_README=1.
func checkMatrixREADME(t *testing.T, table string) {
	b, err := os.ReadFile("../README.md")
	if err != nil {
		t.Fatal(err)
	}
	readme := string(b)
	i := strings.Index(readme, matrixBegin)
	j := strings.Index(readme, matrixEnd)
	if i < 0 || j < i {
		t.Fatalf("README.md has no %q ... %q section", strings.TrimSpace(matrixBegin), matrixEnd)
	}
	cur := readme[i+len(matrixBegin) : j]
	if cur == table {
		return
	}
	if os.Getenv("SECRETSTORES_UPDATE_README") == "1" {
		if err := os.WriteFile("../README.md", []byte(readme[:i+len(matrixBegin)]+table+readme[j:]), 0o644); err != nil {
			t.Fatal(err)
		}
		t.Log("README.md's module matrix rewritten")
		return
	}
	t.Errorf("README.md's module matrix differs from the outcomes (SECRETSTORES_UPDATE_README=1 rewrites it):\n%s", table)
}
