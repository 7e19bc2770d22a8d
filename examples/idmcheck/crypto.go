package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/secretstores/secretstores/jwtsession"
	"github.com/secretstores/secretstores/secrets"
	"github.com/secretstores/secretstores/secrets/jsoncrypto"
)

// decryptAliases returns, per secret id mapped for DECRYPT in an opened store, its aliases
// (active first, in store order).
func (c *checker) decryptAliases() map[string][]string {
	out := map[string][]string{}
	for _, sc := range c.cfg.Stores {
		if c.stores[sc.Name] == nil {
			continue
		}
		for _, m := range sc.Mappings {
			if slicesContainsPurpose(m.Types, secrets.Decrypt) {
				out[m.SecretID] = append(out[m.SecretID], m.Aliases...)
			}
		}
	}
	return out
}

// checkCrypto decrypts every $crypto value of conf/*.json with the keys mapped for DECRYPT
// (the value's own secret id only), reports legacy values, and which aliases are still
// referenced.
func (c *checker) checkCrypto(ctx context.Context) {
	const g = "crypto"
	files, _ := filepath.Glob(filepath.Join(c.confDir, "*.json"))
	sort.Strings(files)
	if len(files) == 0 {
		return
	}
	var stores []secrets.Store
	var mappings []secrets.Mapping
	for _, name := range c.order {
		stores = append(stores, c.stores[name])
		mappings = append(mappings, c.storeConf(name).Mappings...)
	}
	valid := c.decryptAliases()
	ids := sortedKeys(valid)
	var codec *jsoncrypto.Codec
	if len(stores) > 0 {
		p, err := secrets.NewProvider(stores, mappings, secrets.ProviderOptions{})
		if err == nil {
			codec, err = jsoncrypto.New(p, jsoncrypto.Options{SecretIDs: ids, AllowLegacy: true})
		}
		if err != nil {
			c.rep.add(g, Fail, "crypto.setup", "", "cannot set up decryption: "+errText(err), "")
			return
		}
	}
	refs := map[string]int{} // secretID + "\x00" + alias -> values naming it
	total := 0
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			c.rep.add(g, Fail, "crypto.read", f, "cannot be read: "+errText(err), "")
			continue
		}
		if !json.Valid(data) {
			var v any
			c.rep.add(g, Fail, "file.json", f, "is not valid JSON: "+jsonErr(data, json.Unmarshal(data, &v)), "fix the JSON at that line")
			continue
		}
		found, err := jsoncrypto.Scan(data)
		if err != nil {
			c.rep.add(g, Fail, "crypto.scan", f, "a $crypto value is malformed: "+errText(err), "restore the value from a backup, or set the property's plain value again for IDM to encrypt")
			continue
		}
		if len(found) == 0 {
			continue
		}
		var doc any
		dec := json.NewDecoder(bytes.NewReader(data))
		dec.UseNumber()
		if err := dec.Decode(&doc); err != nil {
			continue
		}
		base := filepath.Base(f)
		okN, hashes, aliases := 0, 0, map[string]bool{}
		for _, ref := range found {
			at := base + " " + ref.Pointer
			info := ref.Info
			switch info.Type {
			case jsoncrypto.TypeSaltedHash:
				hashes++
				continue
			case jsoncrypto.TypeSimple, jsoncrypto.TypeGCM:
			default:
				c.rep.add(g, Warn, "crypto.type", at, fmt.Sprintf("$crypto type %q is not checked", info.Type), "")
				continue
			}
			total++
			id := info.SecretID
			if id == "" {
				id = jsoncrypto.DefaultSecretID
			}
			refs[id+"\x00"+info.Alias]++
			if _, ok := valid[id]; !ok && c.mappedUnopened(id) {
				c.rep.add(g, Warn, "crypto.unchecked", at, fmt.Sprintf("not checked: the store mapping %s did not open", id), "fix the store above")
				continue
			}
			if _, ok := valid[id]; !ok {
				c.rep.add(g, Fail, "crypto.secretid", at, fmt.Sprintf("names secret id %s, which no opened store maps for DECRYPT", id),
					fmt.Sprintf(`add to mainKeyStore's mappings in %s: {"secretId": %q, "types": ["ENCRYPT", "DECRYPT"], "aliases": [%q]}`, c.secretsPath, id, info.Alias))
				continue
			}
			if codec == nil {
				continue
			}
			val, ok := pointerValue(doc, ref.Pointer)
			if !ok {
				continue
			}
			raw, _ := json.Marshal(val)
			pt, err := codec.Decrypt(ctx, raw)
			clear(pt)
			if err != nil {
				if !slicesContains(valid[id], info.Alias) {
					c.rep.add(g, Fail, "crypto.alias", at, fmt.Sprintf("encrypted under alias %s, which the mapping of %s no longer lists (it lists %s)", info.Alias, id, strings.Join(valid[id], ", ")),
						fmt.Sprintf("add %q after the active alias in the \"aliases\" of %s in %s (restore the key into the store if it was deleted); IDM re-encrypts the value under the active key on its next update", info.Alias, id, c.secretsPath))
				} else {
					c.rep.add(g, Fail, "crypto.decrypt", at, fmt.Sprintf("does not decrypt with %s (%s): %s", info.Alias, id, errText(err)), "the key of that alias is not the one that encrypted the value: restore the original key, or set the plain value again")
				}
				continue
			}
			if info.Legacy {
				c.rep.add(g, Warn, "crypto.legacy", at, fmt.Sprintf("decrypts with %s, but is in the legacy form (no salt, no MAC: not authenticated)", info.Alias),
					"re-encrypt it: go run ./examples/configcrypt reencrypt -secrets "+c.secretsPath+" -w "+f)
				continue
			}
			okN++
			aliases[info.Alias] = true
		}
		if okN > 0 || hashes > 0 {
			msg := fmt.Sprintf("%d value(s) decrypt", okN)
			if len(aliases) > 0 {
				msg += " (" + strings.Join(sortedKeys(aliases), ", ") + ")"
			}
			if hashes > 0 {
				msg += fmt.Sprintf("; %d salted hash(es)", hashes)
			}
			c.rep.add(g, OK, "crypto.file", base, msg, "")
		}
	}
	// Which aliases are still referenced, and which older ones could be retired.
	for _, id := range ids {
		as := valid[id]
		used := false
		for _, a := range as {
			if refs[id+"\x00"+a] > 0 {
				used = true
			}
		}
		if !used && !slicesContains(cryptoIDs, id) {
			continue
		}
		var parts []string
		for i, a := range as {
			n := refs[id+"\x00"+a]
			switch {
			case i > 0 && n == 0:
				c.rep.add(g, OK, "crypto.retire", id+" "+a, "older alias no longer referenced by any value in "+c.confDir+": it may be retired from the mapping", "")
			default:
				parts = append(parts, a+": "+strconv.Itoa(n))
			}
		}
		if total > 0 && len(parts) > 0 {
			c.rep.add(g, OK, "crypto.refs", id, "values per alias: "+strings.Join(parts, ", "), "")
		}
	}
}

// pointerValue follows an RFC 6901 JSON pointer.
func pointerValue(v any, ptr string) (any, bool) {
	if ptr == "" {
		return v, true
	}
	for _, tok := range strings.Split(ptr[1:], "/") {
		tok = strings.ReplaceAll(strings.ReplaceAll(tok, "~1", "/"), "~0", "~")
		switch n := v.(type) {
		case map[string]any:
			var ok bool
			if v, ok = n[tok]; !ok {
				return nil, false
			}
		case []any:
			i, err := strconv.Atoi(tok)
			if err != nil || i < 0 || i >= len(n) {
				return nil, false
			}
			v = n[i]
		default:
			return nil, false
		}
	}
	return v, true
}

// checkSession checks that the session module's signing and encryption secret ids map to
// keys of the right kind.
func (c *checker) checkSession(ctx context.Context) {
	const g = "session"
	if !c.authOK {
		return
	}
	data, _ := os.ReadFile(c.authPath)
	sc, err := jwtsession.ParseIDMConfig(data, c.props)
	if err != nil {
		c.rep.add(g, Fail, "session.module", c.authPath, "the session module does not load: "+errText(err), "fix the setting at that JSON path (IDM 8's default: serverAuthContext.sessionModule {\"name\": \"JWT_SESSION\", \"properties\": {...}})")
		return
	}
	name := sc.Cookie.Name
	if name == "" {
		name = "session-jwt"
	}
	c.rep.add(g, OK, "session.module", c.authPath, fmt.Sprintf("JWT_SESSION: cookie %s, maximum life %s, idle timeout %s", name, orDefault(sc.MaxLife, jwtsession.DefaultMaxLife), orDefault(sc.IdleTimeout, jwtsession.DefaultIdleTimeout)), "")
	check := func(id string, want func(secrets.Kind) bool, wantText string, pairs bool) {
		store, alias, e, ok := c.active(ctx, id)
		switch {
		case store == "":
			c.rep.add(g, Fail, "session.mapping", id, "not mapped in secrets.json: the session module cannot "+map[bool]string{true: "encrypt", false: "sign"}[pairs]+" tokens",
				fmt.Sprintf(`add to mainKeyStore's mappings: {"secretId": %q, "types": [%s], "aliases": [%q]}`, id, map[bool]string{true: `"ENCRYPT", "DECRYPT"`, false: `"SIGN", "VERIFY"`}[pairs], map[bool]string{true: "openidm-localhost", false: "openidm-jwtsessionhmac-key"}[pairs]))
		case !ok:
			c.rep.add(g, Fail, "session.key", id, fmt.Sprintf("active alias %s of store %s is unavailable (see above)", alias, store), "")
		case !want(e.Kind()):
			c.rep.add(g, Fail, "session.kind", id, fmt.Sprintf("%s is a %s: the session module needs %s", alias, describe(e), wantText), c.kindFix(store, alias, id))
		case pairs && len(e.Chain()) == 0:
			c.rep.add(g, Fail, "session.kind", id, fmt.Sprintf("%s has no certificate", alias), c.genFix(store, alias, id, true))
		default:
			c.rep.add(g, OK, "session.key", id, fmt.Sprintf("%s in %s: %s", alias, store, describe(e)), "")
		}
	}
	check("idm.jwt.session.module.signing", secrets.Kind.Symmetric, "an HMAC secret key of at least 256 bits (checked under IDM key rules)", false)
	check("idm.jwt.session.module.encryption", func(k secrets.Kind) bool { return k == secrets.KindRSA }, "an RSA key pair (RSA1_5 key wrapping)", true)
}

// mappedUnopened reports whether a store that did not open maps id.
func (c *checker) mappedUnopened(id string) bool {
	for _, sc := range c.cfg.Stores {
		for _, m := range sc.Mappings {
			if m.SecretID == id && c.stores[sc.Name] == nil {
				return true
			}
		}
	}
	return false
}

func orDefault(d, def time.Duration) time.Duration {
	if d == 0 {
		return def
	}
	return d
}
