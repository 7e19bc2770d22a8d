package main

import (
	"bytes"
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"errors"
	"fmt"
	"strings"

	"github.com/secretstores/secretstores/secrets"
)

// canServe reports whether an entry of kind k can serve purpose p as IDM uses it.
func canServe(k secrets.Kind, p secrets.Purpose) bool {
	switch p {
	case secrets.Sign: // HMAC with a secret (IDM signs self-service tokens with an AES key) or a private key
		return k.Symmetric() || k.Private()
	case secrets.Verify:
		return k.Symmetric() || k.Private() || k == secrets.KindCertificate
	case secrets.Encrypt: // $crypto (secret/AES) or RSA (session JWE)
		return k.Symmetric() || k == secrets.KindRSA || k == secrets.KindCertificate
	case secrets.Decrypt:
		return k.Symmetric() || k == secrets.KindRSA
	case secrets.Generic:
		return k.Symmetric()
	}
	return false
}

func needs(p secrets.Purpose) string {
	switch p {
	case secrets.Sign:
		return "a secret (HMAC) or private key"
	case secrets.Verify:
		return "a secret key, a private key or a certificate"
	case secrets.Encrypt:
		return "an AES/secret key or an RSA key"
	case secrets.Decrypt:
		return "an AES/secret key or an RSA private key"
	}
	return "a secret key"
}

func describe(e secrets.Entry) string {
	k := e.Kind()
	alg := ""
	if ea, ok := e.(secrets.EntryAlgorithm); ok {
		alg = ea.Algorithm()
	}
	switch {
	case k.Symmetric() && alg != "":
		return alg + " secret key"
	case k.Symmetric():
		return k.String() + " key"
	case k.Private():
		return k.String() + " key pair"
	}
	return k.String()
}

func (c *checker) isHSM(store string) bool {
	for _, sc := range c.cfg.Stores {
		if sc.Name == store {
			return sc.Class == secrets.ClassHSM
		}
	}
	return false
}

func (c *checker) storeConf(store string) *secrets.StoreConfig {
	for i := range c.cfg.Stores {
		if c.cfg.Stores[i].Name == store {
			return &c.cfg.Stores[i]
		}
	}
	return nil
}

// wantsPair reports whether alias should hold a key pair: IDM's two RSA defaults, or a
// mapping for the session's encryption.
func wantsPair(alias, secretID string) bool {
	return alias == "openidm-localhost" || alias == "selfservice" || secretID == "idm.jwt.session.module.encryption" || secretID == "idm.selfservice.encryption"
}

// genFix is the command that creates alias in store as IDM needs it.
func (c *checker) genFix(store, alias, secretID string, overwrite bool) string {
	pair := wantsPair(alias, secretID)
	if c.isHSM(store) {
		ow := ""
		if overwrite {
			ow = " -overwrite"
		}
		conf := confOr(c.hsmConf[store])
		if pair {
			return fmt.Sprintf("examples/p11keytool genkeypair -providerArg %s -pin-env OPENIDM_KEYSTORE_PASSWORD -alias %s -keyalg RSA -keysize 2048 -dname \"CN=localhost, O=OpenIDM Self-Signed Certificate\" -validity 3650%s", conf, alias, ow)
		}
		return fmt.Sprintf("examples/p11keytool genseckey -providerArg %s -pin-env OPENIDM_KEYSTORE_PASSWORD -alias %s -keyalg HmacSHA256 -keysize 256 -extractable%s", conf, alias, ow)
	}
	sc := c.storeConf(store)
	file, typ := "", ""
	if sc != nil {
		file = c.storeFile(sc)
		typ, _ = sc.String("storetype")
	}
	del := ""
	if overwrite {
		del = fmt.Sprintf("keytool -delete -alias %s -keystore %s%s && ", alias, file, storetypeArg(typ))
	}
	if pair {
		return fmt.Sprintf("%skeytool -genkeypair -alias %s -keyalg RSA -keysize 2048 -sigalg SHA512withRSA -dname \"CN=localhost, O=OpenIDM Self-Signed Certificate\" -validity 3650 -keystore %s%s", del, alias, file, storetypeArg(typ))
	}
	alg := "AES"
	if strings.Contains(secretID, "signing") || strings.Contains(alias, "hmac") {
		alg = "HmacSHA256"
	}
	return fmt.Sprintf("%skeytool -genseckey -alias %s -keyalg %s -keysize 256 -keystore %s%s", del, alias, alg, file, storetypeArg(typ))
}

// checkMappings checks that every alias of every mapping exists with a kind that serves the
// mapping's purposes.
func (c *checker) checkMappings(ctx context.Context) {
	const g = "mappings"
	for _, sc := range c.cfg.Stores {
		s := c.stores[sc.Name]
		if s == nil {
			if len(sc.Mappings) > 0 {
				c.rep.add(g, Fail, "mapping.store", sc.Name, fmt.Sprintf("%d mappings not checked: the store did not open", len(sc.Mappings)), "fix the store above")
			}
			continue
		}
		for _, m := range sc.Mappings {
			subj := sc.Name + " " + m.SecretID
			if len(m.Aliases) == 0 {
				st := Fail
				if slicesContainsPurpose(m.Types, secrets.Generic) {
					st = Warn
				}
				c.rep.add(g, st, "mapping.aliases", subj, "no aliases", "list the alias of its key in \"aliases\"")
				continue
			}
			var found []string
			bad := false
			for i, a := range m.Aliases {
				e, err := s.Entry(ctx, a)
				if err != nil {
					bad = true
					switch {
					case errors.Is(err, secrets.ErrNotFound) && i == 0:
						c.rep.add(g, Fail, "mapping.alias", subj, fmt.Sprintf("active alias %s is not in the store", a), c.genFix(sc.Name, a, m.SecretID, false))
					case errors.Is(err, secrets.ErrNotFound):
						c.rep.add(g, Warn, "mapping.alias.old", subj, fmt.Sprintf("older alias %s is not in the store: what it encrypted or signed can no longer be read", a),
							fmt.Sprintf("restore %s into the store, or remove it from the aliases of %s once no value names it", a, m.SecretID))
					default:
						c.rep.add(g, Fail, "mapping.alias", subj, fmt.Sprintf("alias %s cannot be read: %s", a, errText(err)), "")
					}
					continue
				}
				for _, p := range m.Types {
					if !canServe(e.Kind(), p) {
						bad = true
						c.rep.add(g, Fail, "mapping.kind", subj, fmt.Sprintf("alias %s is a %s: %s needs %s", a, describe(e), p, needs(p)), c.kindFix(sc.Name, a, m.SecretID))
					}
				}
				found = append(found, a+" ("+describe(e)+")")
			}
			if !bad {
				c.rep.add(g, OK, "mapping", subj, fmt.Sprintf("%s: %s", joinPurposes(m.Types), strings.Join(found, ", ")), "")
			}
		}
	}
}

func slicesContainsPurpose(s []secrets.Purpose, p secrets.Purpose) bool {
	for _, x := range s {
		if x == p {
			return true
		}
	}
	return false
}

func joinPurposes(ps []secrets.Purpose) string {
	s := make([]string, len(ps))
	for i, p := range ps {
		s[i] = string(p)
	}
	return strings.Join(s, "/")
}

// active returns the store and the entry of secretID's active alias (the first store in file
// order mapping it), or ok false.
func (c *checker) active(ctx context.Context, secretID string) (store, alias string, e secrets.Entry, ok bool) {
	for _, sc := range c.cfg.Stores {
		for _, m := range sc.Mappings {
			if m.SecretID != secretID || len(m.Aliases) == 0 {
				continue
			}
			s := c.stores[sc.Name]
			if s == nil {
				return sc.Name, m.Aliases[0], nil, false
			}
			e, err := s.Entry(ctx, m.Aliases[0])
			return sc.Name, m.Aliases[0], e, err == nil
		}
	}
	return "", "", nil, false
}

// cryptoIDs are the secret ids whose keys IDM exports to derive $crypto keys.
var cryptoIDs = []string{"idm.default", "idm.config.encryption", "idm.password.encryption", "idm.assignment.attribute.encryption"}

// checkKeyRules checks IDM's own rules: the JWT session HMAC key and the $crypto keys must be
// extractable and not sensitive (IDM reads key.getEncoded()), the HMAC key at least 256 bits.
func (c *checker) checkKeyRules(ctx context.Context) {
	const g = "keys"
	type rule struct {
		id      string
		minBits int
		why     string
	}
	rules := []rule{{"idm.jwt.session.module.signing", 256, "IDM base64-encodes it into the session module's hmacKey"}}
	for _, id := range cryptoIDs {
		rules = append(rules, rule{id, 128, "IDM derives $crypto keys from its bytes"})
	}
	seen := map[string]bool{}
	for _, r := range rules {
		store, alias, e, ok := c.active(ctx, r.id)
		if !ok || e == nil {
			continue // unmapped, or reported under mappings
		}
		subj := store + " " + r.id
		if !e.Kind().Symmetric() {
			c.rep.add(g, Fail, "key.kind", subj, fmt.Sprintf("active alias %s is a %s: IDM needs a secret key (%s)", alias, describe(e), r.why), c.kindFix(store, alias, r.id))
			continue
		}
		key := store + "/" + alias + "/" + fmt.Sprint(r.minBits)
		if seen[key] {
			continue
		}
		seen[key] = true
		raw, err := secrets.NewSecret(store, e).Export(ctx)
		bits := len(raw) * 8
		clear(raw)
		switch {
		case errors.Is(err, secrets.ErrNotExtractable):
			c.rep.add(g, Fail, "key.extractable", subj, fmt.Sprintf("%s is not extractable or is sensitive: %s; IDM fails (\"Cannot read hmac signing key\" / $crypto errors)", alias, r.why),
				"regenerate it extractable (CKA_EXTRACTABLE=true, CKA_SENSITIVE=false) — values encrypted under it are lost unless re-encrypted first:\n"+c.genFix(store, alias, r.id, true))
		case err != nil:
			c.rep.add(g, Fail, "key.extractable", subj, fmt.Sprintf("%s cannot be exported: %s", alias, errText(err)), "")
		case bits < r.minBits:
			c.rep.add(g, Fail, "key.size", subj, fmt.Sprintf("%s is %d bits; IDM requires at least %d", alias, bits, r.minBits), c.genFix(store, alias, r.id, true))
		default:
			c.rep.add(g, OK, "key.rules", subj, fmt.Sprintf("%s: %s, %d bits, extractable and not sensitive", alias, describe(e), bits), "")
		}
	}
}

// checkCertificates checks the expiry of every certificate, that every key pair's private
// key matches its certificate, and that openidm-localhost's certificate is in the truststore.
func (c *checker) checkCertificates(ctx context.Context) {
	const g = "certificates"
	for _, name := range c.order {
		s := c.stores[name]
		aliases, err := s.Aliases(ctx)
		if err != nil {
			c.rep.add(g, Fail, "cert.list", name, "aliases cannot be listed: "+errText(err), "")
			continue
		}
		for _, a := range aliases {
			e, err := s.Entry(ctx, a)
			subj := name + " " + a
			if err != nil {
				// A store that checks the pair itself (hsmstore) refuses the entry.
				check, msg := "cert.entry", "the entry cannot be read: "+errText(err)
				if strings.Contains(err.Error(), "certificate does not hold") {
					check, msg = "cert.keymatch", "the private key does not match the certificate: "+errText(err)
				}
				c.rep.add(g, Fail, check, subj, msg, c.genFix(name, a, "", true))
				continue
			}
			if len(e.Chain()) == 0 {
				continue
			}
			leaf := e.Chain()[0]
			left := leaf.NotAfter.Sub(c.o.now)
			switch {
			case left <= 0 || c.o.now.Before(leaf.NotBefore):
				fix := c.genFix(name, a, "", true)
				if e.Kind() == secrets.KindCertificate {
					fix = "import the renewed certificate: keytool -importcert -alias " + a + " -file renewed.pem -keystore " + c.storeFile(c.storeConf(name)) + " -noprompt"
				}
				c.rep.add(g, Fail, "cert.expiry", subj, fmt.Sprintf("certificate %q is not valid now (valid %s to %s)", leaf.Subject.String(), leaf.NotBefore.UTC().Format("2006-01-02"), leaf.NotAfter.UTC().Format("2006-01-02")), fix)
				continue
			case left < c.o.warnWithin:
				c.rep.add(g, Warn, "cert.expiry", subj, fmt.Sprintf("certificate %q expires in %d days (%s)", leaf.Subject.String(), int(left.Hours()/24), leaf.NotAfter.UTC().Format("2006-01-02")), "renew it: "+c.genFix(name, a, "", true))
				continue
			}
			msg := fmt.Sprintf("certificate %q valid until %s", leaf.Subject.String(), leaf.NotAfter.UTC().Format("2006-01-02"))
			if e.Kind().Private() {
				if err := matches(ctx, e, leaf); err != nil {
					c.rep.add(g, Fail, "cert.keymatch", subj, "the private key does not match the certificate: "+errText(err), c.genFix(name, a, "", true))
					continue
				}
				msg += "; private key matches it"
			}
			c.rep.add(g, OK, "cert", subj, msg, "")
		}
	}
	c.checkTruststore(ctx)
}

// matches signs a digest with the entry's private key and verifies it with the certificate.
func matches(ctx context.Context, e secrets.Entry, leaf *x509.Certificate) error {
	sec := secrets.NewSecret("", e)
	d := sha256.Sum256([]byte("idmcheck key/certificate match"))
	sig, err := sec.Sign(ctx, d[:], crypto.SHA256)
	if err != nil {
		return fmt.Errorf("cannot sign with it: %w", err)
	}
	switch pub := leaf.PublicKey.(type) {
	case *rsa.PublicKey:
		if rsa.VerifyPKCS1v15(pub, crypto.SHA256, d[:], sig) != nil {
			return errors.New("a signature made with the key does not verify with the certificate's public key")
		}
	case *ecdsa.PublicKey:
		if !ecdsa.VerifyASN1(pub, d[:], sig) {
			return errors.New("a signature made with the key does not verify with the certificate's public key")
		}
	default:
		return fmt.Errorf("certificate key type %T not checked", pub)
	}
	return nil
}

func (c *checker) checkTruststore(ctx context.Context) {
	const g = "certificates"
	ks, ts := c.stores["mainKeyStore"], c.stores["mainTrustStore"]
	if ks == nil || ts == nil {
		return
	}
	alias := "openidm-localhost"
	if v, ok := c.props.Lookup("openidm.https.keystore.cert.alias"); ok && v != "" {
		alias = v
	}
	e, err := ks.Entry(ctx, alias)
	if err != nil || len(e.Chain()) == 0 {
		c.rep.add(g, Fail, "cert.truststore", "mainKeyStore "+alias, "no certificate in mainKeyStore to compare with the truststore", c.genFix("mainKeyStore", alias, "", false))
		return
	}
	leaf := e.Chain()[0]
	aliases, _ := ts.Aliases(ctx)
	for _, a := range aliases {
		te, err := ts.Entry(ctx, a)
		if err != nil {
			continue
		}
		for _, cert := range te.Chain() {
			if bytes.Equal(cert.Raw, leaf.Raw) {
				c.rep.add(g, OK, "cert.truststore", "mainTrustStore "+a, fmt.Sprintf("holds %s's certificate", alias), "")
				return
			}
		}
	}
	tsc := c.storeConf("mainTrustStore")
	tfile, ttyp := c.storeFile(tsc), ""
	ttyp, _ = tsc.String("storetype")
	var export string
	if c.isHSM("mainKeyStore") {
		export = fmt.Sprintf("examples/p11keytool exportcert -providerArg %s -pin-env OPENIDM_KEYSTORE_PASSWORD -alias %s -rfc -file localhost.pem", confOr(c.hsmConf["mainKeyStore"]), alias)
	} else {
		ksc := c.storeConf("mainKeyStore")
		ktyp, _ := ksc.String("storetype")
		export = fmt.Sprintf("keytool -exportcert -alias %s -rfc -file localhost.pem -keystore %s%s", alias, c.storeFile(ksc), storetypeArg(ktyp))
	}
	c.rep.add(g, Fail, "cert.truststore", "mainTrustStore", fmt.Sprintf("does not hold %s's certificate from mainKeyStore (IDM's own TLS and session certificate)", alias),
		export+"\nkeytool -importcert -alias "+alias+" -file localhost.pem -noprompt -keystore "+tfile+storetypeArg(ttyp))
}

// idmAlias is IDM's default alias for a secret id.
var idmAlias = map[string]string{
	"idm.default": "openidm-sym-default", "idm.config.encryption": "openidm-sym-default", "idm.password.encryption": "openidm-sym-default",
	"idm.jwt.session.module.encryption": "openidm-localhost", "idm.jwt.session.module.signing": "openidm-jwtsessionhmac-key",
	"idm.selfservice.encryption": "selfservice", "idm.selfservice.signing": "openidm-selfservice-key",
}

// kindFix is the fix for an alias of the wrong kind: map the secret id to a key of the right
// kind (never replace the alias, which other secret ids may use).
func (c *checker) kindFix(store, alias, secretID string) string {
	want := idmAlias[secretID]
	if want == "" || want == alias {
		want = secretID + "-key"
	}
	return fmt.Sprintf("map %s to a key of the right kind (its \"aliases\" in %s, or the property its alias expression names), creating one if needed:\n%s", secretID, c.secretsPath, c.genFix(store, want, secretID, false))
}
