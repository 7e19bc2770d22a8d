package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"

	"github.com/secretstores/secretstores/pkcs11conf"
	"github.com/secretstores/secretstores/secrets"
)

// rawStore is a store of secrets.json as written, before &{...} resolution: the expressions
// tell which properties a fix should change.
type rawStore struct {
	Name   string         `json:"name"`
	Class  string         `json:"class"`
	Config map[string]any `json:"config"`
}

func (rs rawStore) setting(key string) string {
	s, _ := rs.Config[key].(string)
	return s
}

var exprName = regexp.MustCompile(`&\{([^|}&]+)`)

// propNames returns the property names of the &{...} expressions in s (never their
// defaults, which may be passwords).
func propNames(s string) []string {
	var out []string
	for _, m := range exprName.FindAllStringSubmatch(s, -1) {
		out = append(out, strings.TrimSpace(m[1]))
	}
	return out
}

// whereSet says, for a fix, where the setting key of store rs comes from: the properties
// of its expression (boot.properties or the environment) or the literal in secrets.json.
func (c *checker) whereSet(rs rawStore, key string) string {
	names := propNames(rs.setting(key))
	if len(names) == 0 {
		return fmt.Sprintf("set %q of store %s in %s", key, rs.Name, c.secretsPath)
	}
	var parts []string
	for _, n := range names {
		parts = append(parts, fmt.Sprintf("%s (in %s, or the environment variable %s)", n, c.bootPath, secrets.EnvName(n)))
	}
	return "set the property " + strings.Join(parts, " or ")
}

// loadFiles parses boot.properties, secrets.json (resolving every expression),
// authentication.json, the java.security files and the SunPKCS11 configurations they name.
func (c *checker) loadFiles() {
	const g = "files"
	r := c.rep
	proj, _ := filepath.Abs(c.o.project)
	builtins := secrets.MapProperties(map[string]string{
		"idm.install.dir": proj, "idm.instance.dir": proj, "idm.data.dir": proj,
		"openidm.install.dir": proj, "launcher.install.location": proj,
	})
	// boot.properties
	var boot secrets.Properties
	if data, err := os.ReadFile(c.bootPath); err != nil {
		if errors.Is(err, os.ErrNotExist) {
			r.add(g, Warn, "file.boot", c.bootPath, "not found: every &{...} takes its default or the environment", "")
		} else {
			r.add(g, Fail, "file.boot", c.bootPath, "cannot be read: "+errText(err), "")
		}
	} else if !c.readable(g, c.bootPath, "boot.properties", "") {
	} else if m, err := secrets.ParseProperties(bytes.NewReader(data)); err != nil {
		r.add(g, Fail, "file.boot", c.bootPath, "does not parse: "+errText(err), "fix the line named; boot.properties is a Java properties file (name=value)")
	} else {
		for k, v := range m {
			if sensitiveName(k) {
				r.secret(v)
			}
		}
		boot = secrets.MapProperties(m)
		r.add(g, OK, "file.boot", c.bootPath, fmt.Sprintf("parses: %d properties", len(m)), "")
	}
	c.props = secrets.Layered(secrets.EnvProperties(), boot, builtins)
	for _, n := range []string{"openidm.keystore.password", "openidm.truststore.password"} {
		if v, ok := c.props.Lookup(n); ok {
			r.secret(v)
		}
	}

	// secrets.json: syntax first, then expressions.
	data, err := os.ReadFile(c.secretsPath)
	if err != nil {
		r.add(g, Fail, "file.secrets", c.secretsPath, "cannot be read: "+errText(err), "point -secrets at IDM's conf/secrets.json, or -project at the IDM directory")
		return
	}
	c.readable(g, c.secretsPath, "secrets.json", "")
	var raw struct {
		Stores []rawStore `json:"stores"`
	}
	if err := json.Unmarshal(data, &raw); err != nil {
		r.add(g, Fail, "file.secrets", c.secretsPath, "is not valid JSON: "+jsonErr(data, err), "fix the JSON at that line")
		return
	}
	c.raw = raw.Stores
	cfg, err := secrets.ParseConfig(data, c.props)
	if err != nil {
		fix := "fix the entry at that JSON path"
		var xe *secrets.ExprError
		if errors.As(err, &xe) {
			fix = "define the property in " + c.bootPath + " or the environment (" + secrets.EnvName(xe.Property) + "), or give the expression a default: &{name|default}"
		}
		r.add(g, Fail, "file.secrets", c.secretsPath, "does not load: "+errText(err), fix)
		return
	}
	for _, sc := range cfg.Stores {
		if pw, ok := sc.String("storePassword"); ok {
			r.secret(pw)
		}
	}
	c.cfg = cfg
	names := make([]string, 0, len(cfg.Stores))
	for _, sc := range cfg.Stores {
		names = append(names, sc.Name)
	}
	r.add(g, OK, "file.secrets", c.secretsPath, fmt.Sprintf("parses, every expression resolves: stores %s", strings.Join(names, ", ")), "")
	for _, need := range []string{"mainKeyStore", "mainTrustStore"} {
		if !slicesContains(names, need) {
			r.add(g, Fail, "file.secrets.stores", c.secretsPath, "has no store named "+need+" (IDM requires it)", "add the "+need+" store of IDM's default secrets.json")
		}
	}
	if cfg.PopulateDefaults {
		for _, sc := range cfg.Stores {
			if sc.Class == secrets.ClassHSM {
				r.add(g, Fail, "file.secrets.populate", c.secretsPath, "populateDefaults is true with an HsmBasedStore: IDM cannot create keys on a token", `set "populateDefaults": false and create the keys with examples/p11keytool idm-defaults`)
			}
		}
	}

	// authentication.json
	if data, err := os.ReadFile(c.authPath); err != nil {
		if errors.Is(err, os.ErrNotExist) {
			r.add(g, Warn, "file.auth", c.authPath, "not found: the session module is not checked", "")
		} else {
			r.add(g, Fail, "file.auth", c.authPath, "cannot be read: "+errText(err), "")
		}
	} else if err := json.Unmarshal(data, &c.auth); err != nil {
		r.add(g, Fail, "file.auth", c.authPath, "is not valid JSON: "+jsonErr(data, err), "fix the JSON at that line")
	} else {
		c.authOK = true
		r.add(g, OK, "file.auth", c.authPath, "parses", "")
	}

	c.loadJavaSecurity()
}

// loadJavaSecurity reads the java.security files (when given, or when an HSM store needs
// them) and parses every SunPKCS11 configuration they name, reporting the numbering gap.
func (c *checker) loadJavaSecurity() {
	const g = "files"
	r := c.rep
	needHSM := false
	for _, sc := range c.cfg.Stores {
		if sc.Class == secrets.ClassHSM {
			needHSM = true
		}
	}
	files := c.o.javaSecurity
	if len(files) == 0 && needHSM && c.o.pkcs11 == "" {
		m, err := pkcs11conf.MasterJavaSecurity()
		if err != nil {
			r.add(g, Fail, "file.javasecurity", "java.security", "the JDK's java.security is not found: "+errText(err), "give -java-security FILE (the file IDM's JVM reads), or -pkcs11 FILE")
			return
		}
		files = []string{m}
	}
	if c.o.pkcs11 != "" {
		c.parseSunPKCS11(c.o.pkcs11, "-pkcs11")
	}
	if len(files) == 0 {
		return
	}
	js, err := pkcs11conf.ReadJavaSecurity(files...)
	if err != nil {
		r.add(g, Fail, "file.javasecurity", strings.Join(files, ", "), "does not parse: "+errText(err), "fix the line named")
		return
	}
	c.js = js
	r.add(g, OK, "file.javasecurity", strings.Join(files, ", "), fmt.Sprintf("parses: %d providers loaded", len(js.Providers)), "")
	for i, w := range js.Warnings {
		e := js.Ignored[i]
		st := Warn
		if e.IsSunPKCS11() {
			st = Fail // the HSM provider is never loaded
		}
		r.add(g, st, "file.javasecurity.gap", fmt.Sprintf("%s:%d", w.File, w.Line),
			fmt.Sprintf("security.provider.%d is ignored by the JDK: no security.provider.%d before it", e.N, len(js.Providers)+1),
			fmt.Sprintf("%s (change the line to security.provider.%d=%s)", w.Hint, len(js.Providers)+1+i, strings.TrimSpace(e.Class+" "+e.Arg)))
	}
	for _, e := range js.SunPKCS11() {
		arg, err := e.ConfigArg(js.Options)
		if err != nil {
			r.add(g, Fail, "file.sunpkcs11", fmt.Sprintf("%s:%d", e.File, e.Line), errText(err), "define the ${property} or write the path in full")
			continue
		}
		if strings.HasPrefix(arg, "--") {
			continue // inline configuration: parsed by Lookup
		}
		c.parseSunPKCS11(arg, fmt.Sprintf("security.provider.%d", e.N))
	}
}

func (c *checker) parseSunPKCS11(path, from string) {
	const g = "files"
	pc, err := pkcs11conf.ParseFile(path)
	if err != nil {
		r := c.rep
		r.add(g, Fail, "file.sunpkcs11", path, "does not parse (named by "+from+"): "+errText(err), "fix the line named; see the SunPKCS11 reference guide for the keyword")
		return
	}
	c.readable(g, path, "SunPKCS11 configuration", "")
	msg := fmt.Sprintf("parses: provider %s, library %s", pc.ProviderName(), pc.Library)
	c.rep.add(g, OK, "file.sunpkcs11", path, msg, "")
	for _, w := range pc.Warnings {
		c.rep.add(g, Warn, "file.sunpkcs11.warning", path, errText(w), "")
	}
}

func sensitiveName(k string) bool {
	k = strings.ToLower(k)
	for _, s := range []string{"pass", "pin", "secret", "credential", "key"} {
		if strings.Contains(k, s) && !strings.Contains(k, "alias") && !strings.Contains(k, "location") && !strings.Contains(k, "type") && !strings.Contains(k, "provider") {
			return true
		}
	}
	return false
}

// jsonErr turns a json error into one naming the line.
func jsonErr(data []byte, err error) string {
	var se *json.SyntaxError
	if errors.As(err, &se) {
		line := 1 + bytes.Count(data[:min(int(se.Offset), len(data))], []byte("\n"))
		return fmt.Sprintf("line %d: %v", line, err)
	}
	return err.Error()
}

func errText(err error) string { return err.Error() }

func slicesContains(s []string, v string) bool {
	for _, x := range s {
		if x == v {
			return true
		}
	}
	return false
}

func sortedKeys[M ~map[string]V, V any](m M) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
