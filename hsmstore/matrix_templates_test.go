//go:build cgo

package hsmstore_test

import (
	"context"
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/miekg/pkcs11"

	"github.com/secretstores/secretstores/hsmstore"
	"github.com/secretstores/secretstores/internal/p11test"
	"github.com/secretstores/secretstores/internal/testenv"
	"github.com/secretstores/secretstores/secrets"
)

// sunConfigs are SunPKCS11 attribute templates users already have, by name.
var sunConfigs = map[string][]string{
	// PingIDM's HSM guide (pkcs11conf/testdata/valid/idm-softhsm.cfg).
	"idm": {
		"attributes(generate, *, *) = {", "  CKA_TOKEN = true", "}",
		"attributes(generate, CKO_CERTIFICATE, *) = {", "  CKA_PRIVATE = false", "}",
		"attributes(generate, CKO_PUBLIC_KEY, *) = {", "  CKA_PRIVATE = false", "}",
		"attributes(*, CKO_SECRET_KEY, *) = {", "  CKA_PRIVATE = false", "  CKA_EXTRACTABLE = true", "}",
	},
	// The JDK's PKCS#11 reference guide (its attributes example), with the secret-key
	// template reference/pkcs11.md §7 advises for HSMs that default secret keys to sensitive.
	"jdkdoc": {
		"attributes(*, CKO_PRIVATE_KEY, *) = {", "  CKA_SIGN = true", "}",
		"attributes(*, CKO_PRIVATE_KEY, CKK_DH) = {", "  CKA_SIGN = null", "}",
		"attributes(*, CKO_PRIVATE_KEY, CKK_RSA) = {", "  CKA_DECRYPT = true", "}",
		"attributes(*, CKO_SECRET_KEY, *) = {", "  CKA_SENSITIVE = false", "  CKA_EXTRACTABLE = true", "}",
	},
	// SunPKCS11's preset.
	"compat": {"attributes = compatibility"},
}

// templateAttrs are the attributes compared, by name.
var templateAttrs = []struct {
	name string
	typ  uint
}{
	{"CKA_CLASS", pkcs11.CKA_CLASS}, {"CKA_KEY_TYPE", pkcs11.CKA_KEY_TYPE}, {"CKA_TOKEN", pkcs11.CKA_TOKEN},
	{"CKA_PRIVATE", pkcs11.CKA_PRIVATE}, {"CKA_SENSITIVE", pkcs11.CKA_SENSITIVE}, {"CKA_EXTRACTABLE", pkcs11.CKA_EXTRACTABLE},
	{"CKA_ENCRYPT", pkcs11.CKA_ENCRYPT}, {"CKA_DECRYPT", pkcs11.CKA_DECRYPT}, {"CKA_SIGN", pkcs11.CKA_SIGN},
	{"CKA_VERIFY", pkcs11.CKA_VERIFY}, {"CKA_SIGN_RECOVER", pkcs11.CKA_SIGN_RECOVER}, {"CKA_WRAP", pkcs11.CKA_WRAP},
	{"CKA_UNWRAP", pkcs11.CKA_UNWRAP}, {"CKA_DERIVE", pkcs11.CKA_DERIVE}, {"CKA_MODIFIABLE", pkcs11.CKA_MODIFIABLE},
	{"CKA_VALUE_LEN", pkcs11.CKA_VALUE_LEN}, {"CKA_LOCAL", pkcs11.CKA_LOCAL},
	{"CKA_ALWAYS_SENSITIVE", pkcs11.CKA_ALWAYS_SENSITIVE}, {"CKA_NEVER_EXTRACTABLE", pkcs11.CKA_NEVER_EXTRACTABLE},
}

// ulongAttrs are the CK_ULONG attributes of templateAttrs; the others are CK_BBOOL.
var ulongAttrs = map[uint]bool{pkcs11.CKA_CLASS: true, pkcs11.CKA_KEY_TYPE: true, pkcs11.CKA_VALUE_LEN: true}

// readAttrs reads templateAttrs of object h one at a time (a module refuses the whole
// multi-attribute read for one it does not have), with raw C_GetAttributeValue.
func readAttrs(p *pkcs11.Ctx, sh pkcs11.SessionHandle, h pkcs11.ObjectHandle) map[string]string {
	m := map[string]string{}
	for _, a := range templateAttrs {
		got, err := p.GetAttributeValue(sh, h, []*pkcs11.Attribute{pkcs11.NewAttribute(a.typ, nil)})
		switch {
		case err != nil:
			c := ckrRE.FindString(err.Error())
			if c == "" {
				c = err.Error()
			}
			m[a.name] = "unavailable " + c
		case ulongAttrs[a.typ] && len(got[0].Value) == 8:
			m[a.name] = fmt.Sprint(binary.LittleEndian.Uint64(got[0].Value))
		case ulongAttrs[a.typ] && len(got[0].Value) == 4:
			m[a.name] = fmt.Sprint(binary.LittleEndian.Uint32(got[0].Value))
		case len(got[0].Value) == 1:
			m[a.name] = fmt.Sprint(got[0].Value[0] != 0)
		default:
			m[a.name] = fmt.Sprintf("%x", got[0].Value)
		}
	}
	return m
}

// TestMatrixSunPKCS11Templates: SunPKCS11 configurations with attribute templates that users
// already have (IDM's HSM guide, the JDK guide's example, the compatibility preset) make the
// same objects through hsmstore as through keytool, attribute by attribute, on SoftHSM and
// opencryptoki (each in a child process). keytool (run now, through SunPKCS11 with the
// configuration) stores an HmacSHA256 and an AES secret key (made in software and imported,
// as keytool -genseckey does) and an RSA key pair; hsmstore, opened from the same file
// (OpenSunPKCS11), imports and generates keys of the same kinds. Both objects' attributes
// are read with raw C_GetAttributeValue and compared. The differences that are justified are
// listed in templateJustified; every other one fails.
func TestMatrixSunPKCS11Templates(t *testing.T) {
	java := testenv.LookPath(t, testenv.Java, "java")
	if os.Getenv("SECRETSTORES_MATRIX_MODULE") == "" {
		for _, name := range []string{p11test.SoftHSM, p11test.OpenCryptoki} {
			t.Run(name, func(t *testing.T) {
				t.Parallel()
				runModuleChild(t, name)
			})
		}
		return
	}
	eachStoreModule(t, func(t *testing.T, tok *p11test.Token) {
		ctx := context.Background()
		names := []string{"idm", "jdkdoc", "compat"}
		confs := map[string]string{}
		for _, n := range names {
			confs[n] = sunPKCS11Conf(t, tok, n, sunConfigs[n]...)
		}
		// keytool first, in one JVM (KeytoolBatch), before this process loads the module.
		src, _ := filepath.Abs("testdata/KeytoolBatch.java")
		args := []string{"--add-exports", "java.base/sun.security.tools.keytool=ALL-UNNAMED", src}
		for _, n := range names {
			ks := []string{"-keystore", "NONE", "-storetype", "PKCS11", "-providerClass", "sun.security.pkcs11.SunPKCS11",
				"-providerArg", confs[n], "-storepass", tok.PIN, "--"}
			args = append(append(args, "-genseckey", "-alias", n+"-kt-hmac", "-keyalg", "HmacSHA256", "-keysize", "256"), ks...)
			args = append(append(args, "-genseckey", "-alias", n+"-kt-aes", "-keyalg", "AES", "-keysize", "256"), ks...)
			args = append(append(args, "-genkeypair", "-alias", n+"-kt-rsa", "-keyalg", "RSA", "-keysize", "2048",
				"-validity", "30", "-dname", "CN="+n+"-kt-rsa"), ks...)
		}
		if out, err := exec.Command(java, args...).CombinedOutput(); err != nil {
			t.Fatalf("keytool: %v\n%s", err, out)
		}
		for _, n := range names {
			s, err := hsmstore.OpenSunPKCS11(ctx, confs[n], tok.PIN)
			if err != nil {
				t.Fatalf("%s: %v", n, err)
			}
			defer s.Close()
			for _, k := range []secrets.Kind{secrets.KindSecret, secrets.KindAES} {
				raw := make([]byte, 32)
				rand.Read(raw)
				kn := map[secrets.Kind]string{secrets.KindSecret: "hmac", secrets.KindAES: "aes"}[k]
				if _, err := s.Import(ctx, n+"-hs-"+kn+"-imp", secrets.KeyMaterial{Kind: k, Secret: raw, Algorithm: map[secrets.Kind]string{secrets.KindSecret: "HmacSHA256", secrets.KindAES: "AES"}[k]}, false); err != nil {
					t.Errorf("%s: import %v: %v", n, k, err)
				}
				if _, err := s.Generate(ctx, n+"-hs-"+kn+"-gen", secrets.KeySpec{Kind: k}, false); err != nil {
					t.Errorf("%s: generate %v: %v", n, k, err)
				}
			}
			if _, err := s.Generate(ctx, n+"-hs-rsa-gen", secrets.KeySpec{Kind: secrets.KindRSA}, false); err != nil {
				t.Errorf("%s: generate RSA: %v", n, err)
			}
		}
		// Raw reads, on the module the stores loaded.
		p := pkcs11.New(tok.Module.Path)
		if err := tok.Module.Initialize(p); !errors.Is(err, pkcs11.Error(pkcs11.CKR_CRYPTOKI_ALREADY_INITIALIZED)) {
			t.Fatalf("C_Initialize: %v (want the stores' module)", err)
		}
		defer p.Destroy()
		sh, err := p.OpenSession(tok.SlotID, pkcs11.CKF_SERIAL_SESSION)
		if err != nil {
			t.Fatal(err)
		}
		defer p.CloseSession(sh)
		if err := p.Login(sh, pkcs11.CKU_USER, tok.PIN); err != nil && !errors.Is(err, pkcs11.Error(pkcs11.CKR_USER_ALREADY_LOGGED_IN)) {
			t.Fatal(err)
		}
		object := func(cls uint, alias string) map[string]string {
			t.Helper()
			id := uint(pkcs11.CKA_LABEL)
			if cls == pkcs11.CKO_PRIVATE_KEY {
				id = pkcs11.CKA_ID // keytool's layout: the private key has CKA_ID = alias, no label
			}
			if err := p.FindObjectsInit(sh, []*pkcs11.Attribute{pkcs11.NewAttribute(pkcs11.CKA_CLASS, cls), pkcs11.NewAttribute(id, alias)}); err != nil {
				t.Fatal(err)
			}
			hs, _, err := p.FindObjects(sh, 4)
			p.FindObjectsFinal(sh)
			if err != nil || len(hs) != 1 {
				t.Fatalf("%s: %d objects, %v", alias, len(hs), err)
			}
			return readAttrs(p, sh, hs[0])
		}
		for _, n := range names {
			for _, c := range []struct {
				kt, hs string
				cls    uint
			}{
				{"hmac", "hmac-imp", pkcs11.CKO_SECRET_KEY}, {"hmac", "hmac-gen", pkcs11.CKO_SECRET_KEY},
				{"aes", "aes-imp", pkcs11.CKO_SECRET_KEY}, {"aes", "aes-gen", pkcs11.CKO_SECRET_KEY},
				{"rsa", "rsa-gen", pkcs11.CKO_PRIVATE_KEY},
			} {
				kt, hs := object(c.cls, n+"-kt-"+c.kt), object(c.cls, n+"-hs-"+c.hs)
				if strings.HasSuffix(c.hs, "-imp") || c.cls == pkcs11.CKO_PRIVATE_KEY {
					t.Logf("%s: keytool's %s: %v", n, c.kt, kt)
				}
				var diffs []string
				for _, a := range templateAttrs {
					if kt[a.name] == hs[a.name] {
						continue
					}
					d := fmt.Sprintf("%s keytool=%s hsmstore=%s", a.name, kt[a.name], hs[a.name])
					if why, ok := templateJustified(tok.Module.Name, n, c.hs, a.name); ok {
						t.Logf("%s %s: %s (justified: %s)", n, c.hs, d, why)
						continue
					}
					diffs = append(diffs, d)
				}
				sort.Strings(diffs)
				if len(diffs) > 0 {
					t.Errorf("%s on %s: keytool's %s and hsmstore's %s differ:\n  %s\nkeytool:  %v\nhsmstore: %v", n, tok.Module.Name, c.kt, c.hs,
						strings.Join(diffs, "\n  "), kt, hs)
				}
			}
		}
	})
}

// templateJustified says why attribute attr may differ between keytool's object and
// hsmstore's object hs ("hmac-gen", "rsa-gen", ...) made with configuration conf on module,
// and whether it may.
func templateJustified(module, conf, hs, attr string) (string, bool) {
	if hs == "rsa-gen" && (attr == "CKA_SENSITIVE" || attr == "CKA_EXTRACTABLE") && conf != "compat" {
		// The configuration sets neither for private keys: hsmstore's default applies (a
		// private key never leaves the token); keytool imports a key it made in software
		// and leaves both to the token's defaults (SENSITIVE=false on SoftHSM and
		// opencryptoki, EXTRACTABLE=true on opencryptoki). The compatibility preset sets
		// them, and there both agree.
		return "hsmstore's default for what the configuration leaves open: a sensitive, non-extractable private key", true
	}
	if module == p11test.OpenCryptoki && attr == "CKA_VALUE_LEN" && strings.HasSuffix(hs, "-gen") {
		return "opencryptoki reports CKA_VALUE_LEN 0 (generic secret) or none (AES) for a key made with C_CreateObject, as keytool's are", true
	}
	if strings.HasSuffix(hs, "-gen") {
		switch attr {
		case "CKA_LOCAL":
			return "hsmstore generates in the token; keytool generates in software and imports (C_CreateObject)", true
		case "CKA_ALWAYS_SENSITIVE", "CKA_NEVER_EXTRACTABLE":
			return "set by the token for a key it generated (CKA_LOCAL), false for an imported one", true
		}
	}
	return "", false
}
