package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"

	"github.com/secretstores/secretstores/filestore"
	"github.com/secretstores/secretstores/hsmstore"
	"github.com/secretstores/secretstores/pkcs11conf"
	"github.com/secretstores/secretstores/secrets"
)

// checker holds what the checks found so far.
type checker struct {
	o                               options
	rep                             *Report
	secretsPath, bootPath, authPath string
	confDir                         string
	props                           secrets.Properties
	cfg                             *secrets.Config
	raw                             []rawStore
	js                              *pkcs11conf.JavaSecurity
	auth                            map[string]any
	authOK                          bool
	stores                          map[string]secrets.Store // opened, by store name
	hsmConf                         map[string]string        // store name -> SunPKCS11 config path ("" inline)
	order                           []string                 // opened stores in file order
	uid, gid                        int
	groups                          []int
	userName                        string
	pinFailed                       bool
}

func check(ctx context.Context, o options) *Report {
	c := &checker{o: o, rep: &Report{}, stores: map[string]secrets.Store{}, hsmConf: map[string]string{}}
	def := func(flag, rel string) string {
		if flag != "" {
			return flag
		}
		return filepath.Join(o.project, rel)
	}
	c.secretsPath = def(o.secretsJSON, filepath.Join("conf", "secrets.json"))
	c.bootPath = def(o.boot, filepath.Join("resolver", "boot.properties"))
	c.authPath = def(o.auth, filepath.Join("conf", "authentication.json"))
	c.confDir = def(o.confDir, "conf")
	c.identity()
	c.loadFiles()
	if c.cfg == nil {
		return c.rep
	}
	defer func() {
		for _, s := range c.stores {
			s.Close()
		}
	}()
	c.openStores(ctx)
	c.checkMappings(ctx)
	c.checkKeyRules(ctx)
	c.checkCertificates(ctx)
	c.checkCrypto(ctx)
	c.checkSession(ctx)
	return c.rep
}

// identity finds the user IDM runs as: -user, else the owner of the project directory.
func (c *checker) identity() {
	c.uid, c.gid = -1, -1
	var u *user.User
	var err error
	switch {
	case c.o.user != "":
		if _, nerr := strconv.Atoi(c.o.user); nerr == nil {
			u, err = user.LookupId(c.o.user)
			if err != nil { // a uid with no passwd entry: permissions still apply
				c.uid, _ = strconv.Atoi(c.o.user)
				c.userName = "uid " + c.o.user
				return
			}
		} else {
			u, err = user.Lookup(c.o.user)
		}
		if err != nil {
			c.rep.add("files", Fail, "user", c.o.user, "unknown user: "+errText(err), "give -user an existing user name or uid")
			return
		}
	default:
		fi, err := os.Stat(c.o.project)
		if err != nil {
			return
		}
		st, ok := fi.Sys().(*syscall.Stat_t)
		if !ok {
			return
		}
		c.uid, c.gid = int(st.Uid), int(st.Gid)
		c.userName = "uid " + strconv.Itoa(c.uid) + " (owner of the project directory)"
		if u, err = user.LookupId(strconv.Itoa(c.uid)); err != nil {
			return
		}
	}
	c.uid, _ = strconv.Atoi(u.Uid)
	c.gid, _ = strconv.Atoi(u.Gid)
	c.userName = u.Username
	if c.o.user == "" {
		c.userName += " (owner of the project directory)"
	}
	if ids, err := u.GroupIds(); err == nil {
		for _, s := range ids {
			if g, err := strconv.Atoi(s); err == nil {
				c.groups = append(c.groups, g)
			}
		}
	}
}

// canRead reports whether the IDM user may read path (and search its directories).
func (c *checker) canRead(path string) (bool, string) {
	if c.uid < 0 || c.uid == 0 {
		return true, ""
	}
	abs, err := filepath.Abs(path)
	if err != nil {
		return true, ""
	}
	allowed := func(p string, bits os.FileMode) bool {
		fi, err := os.Stat(p)
		if err != nil {
			return true // reported elsewhere
		}
		st, ok := fi.Sys().(*syscall.Stat_t)
		if !ok {
			return true
		}
		m := fi.Mode().Perm()
		switch {
		case int(st.Uid) == c.uid:
			return m&(bits<<6) != 0
		case int(st.Gid) == c.gid || slicesContainsInt(c.groups, int(st.Gid)):
			return m&(bits<<3) != 0
		default:
			return m&bits != 0
		}
	}
	for d := filepath.Dir(abs); ; d = filepath.Dir(d) {
		if !allowed(d, 1) {
			return false, d
		}
		if d == filepath.Dir(d) {
			break
		}
	}
	if !allowed(abs, 4) {
		return false, abs
	}
	return true, ""
}

func slicesContainsInt(s []int, v int) bool {
	for _, x := range s {
		if x == v {
			return true
		}
	}
	return false
}

// readable reports a ✗ when the IDM user cannot read path, and returns whether it can.
func (c *checker) readable(g, path, what, subject string) bool {
	ok, where := c.canRead(path)
	if ok {
		return true
	}
	if subject == "" {
		subject = path
	}
	fix := fmt.Sprintf("chown %d %s && chmod 600 %s", c.uid, path, path)
	if where != path {
		fix = fmt.Sprintf("chmod o+x %s (or make %s its owner)", where, c.userName)
	}
	c.rep.add(g, Fail, "file.readable", subject, fmt.Sprintf("%s %s is not readable by %s, the user IDM runs as", what, path, c.userName), fix)
	return false
}

func (c *checker) rawStore(name string) rawStore {
	for _, rs := range c.raw {
		if rs.Name == name {
			return rs
		}
	}
	return rawStore{Name: name}
}

// openStores opens every store of secrets.json, read-only and without creating anything.
func (c *checker) openStores(ctx context.Context) {
	for i := range c.cfg.Stores {
		sc := &c.cfg.Stores[i]
		var s secrets.Store
		switch sc.Class {
		case secrets.ClassKeyStore, secrets.ClassFileBased:
			s = c.openFile(ctx, sc)
		case secrets.ClassHSM:
			s = c.openHSM(ctx, sc)
		default:
			c.rep.add("stores", Warn, "store.class", sc.Name, "class "+sc.Class+" is not checked by idmcheck", "")
		}
		if s != nil {
			c.stores[sc.Name] = s
			c.order = append(c.order, sc.Name)
		}
	}
}

func (c *checker) storeFile(sc *secrets.StoreConfig) string {
	file, _ := sc.String("file")
	if file != "" && !filepath.IsAbs(file) {
		file = filepath.Join(c.o.project, file) // IDM resolves relative paths against its install directory
	}
	return file
}

func (c *checker) openFile(ctx context.Context, sc *secrets.StoreConfig) secrets.Store {
	const g = "stores"
	rs := c.rawStore(sc.Name)
	file := c.storeFile(sc)
	if file == "" {
		c.rep.add(g, Fail, "store.open", sc.Name, `has no "file" setting`, `add "file": "&{openidm.keystore.location|&{idm.install.dir}/security/keystore.jceks}" to its config`)
		return nil
	}
	if _, err := os.Stat(file); err != nil {
		fix := "create it: keytool -genseckey -alias openidm-sym-default -keyalg AES -keysize 256 -keystore " + file + " -storetype PKCS12, or start IDM once with populateDefaults, or " + c.whereSet(rs, "file")
		c.rep.add(g, Fail, "store.open", sc.Name, "keystore "+file+" does not exist", fix)
		return nil
	}
	if !c.readable(g, file, "keystore", sc.Name) {
		return nil
	}
	typ, _ := sc.String("storetype")
	prov, _ := sc.String("providerName")
	if strings.EqualFold(typ, "PKCS11") || strings.HasPrefix(prov, "SunPKCS11") {
		c.rep.add(g, Fail, "store.type", sc.Name, "storetype PKCS11 in a keystore-file store", `use "class": "`+secrets.ClassHSM+`" for a token`)
		return nil
	}
	pw, _ := sc.String("storePassword")
	kp, _ := sc.String("keyPassword")
	s, err := filestore.Open(ctx, file, filestore.Config{Password: pw, KeyPassword: kp, Name: sc.Name, Type: filestore.Format(strings.ToUpper(typ))})
	switch {
	case errors.Is(err, secrets.ErrWrongPIN):
		fix := c.whereSet(rs, "storePassword") + " to the keystore's password\n" +
			"check it with: keytool -list -keystore " + file + storetypeArg(typ) +
			"\nor change the keystore's password: keytool -storepasswd -keystore " + file + storetypeArg(typ)
		c.rep.add(g, Fail, "store.password", sc.Name, "keystore "+file+": wrong store password (or the file was modified)", fix)
		return nil
	case err != nil:
		fix := c.whereSet(rs, "storetype") + " to the file's type (PKCS12, JCEKS or JKS)"
		c.rep.add(g, Fail, "store.open", sc.Name, "keystore "+file+" does not open: "+errText(err), fix)
		return nil
	}
	aliases, _ := s.Aliases(ctx)
	t := typ
	if t == "" {
		t = "detected"
	}
	c.rep.add(g, OK, "store.open", sc.Name, fmt.Sprintf("keystore %s (%s) opens with its password; %d entries; readable by %s", file, t, len(aliases), c.userNameOrYou()), "")
	return s
}

func (c *checker) userNameOrYou() string {
	if c.userName == "" {
		return "this user"
	}
	return c.userName
}

func storetypeArg(t string) string {
	if t == "" {
		return ""
	}
	return " -storetype " + t
}

// openHSM opens an HsmBasedStore: finds its SunPKCS11 configuration, the token, and logs in
// once. After a rejected PIN no other login is attempted (a token locks after a few).
func (c *checker) openHSM(ctx context.Context, sc *secrets.StoreConfig) secrets.Store {
	const g = "stores"
	rs := c.rawStore(sc.Name)
	if c.pinFailed {
		c.rep.add(g, Fail, "store.pin", sc.Name, "not opened: an earlier PIN was rejected, and idmcheck logs in at most once per run", "fix the PIN above first")
		return nil
	}
	prov, _ := sc.String("providerName")
	var pc *pkcs11conf.Config
	var err error
	var confPath string
	switch {
	case c.o.pkcs11 != "":
		confPath = c.o.pkcs11
		pc, err = pkcs11conf.ParseFile(confPath)
	case c.js == nil:
		return nil // reported in files
	case prov == "":
		c.rep.add(g, Fail, "store.provider", sc.Name, "HsmBasedStore without providerName", `add "providerName": "SunPKCS11-<name>" (the name line of the SunPKCS11 configuration)`)
		return nil
	default:
		pc, err = c.js.Lookup(prov)
		if err == nil && pc.File != "--" {
			confPath = pc.File
		}
	}
	if err != nil {
		var pe *pkcs11conf.ParseError
		fix := "add to java.security: security.provider.<next number>=SunPKCS11 /path/to/" + strings.TrimPrefix(prov, "SunPKCS11-") + ".cfg (whose name line is " + strings.TrimPrefix(prov, "SunPKCS11-") + "), or " + c.whereSet(rs, "providerName")
		if errors.As(err, &pe) && errors.Is(err, pkcs11conf.ErrProviderGap) {
			fix = pe.Hint
		}
		c.rep.add(g, Fail, "store.provider", sc.Name, "provider "+prov+" not found: "+errText(err), fix)
		return nil
	}
	c.hsmConf[sc.Name] = confPath
	pin, _ := sc.String("storePassword")
	if pin == "" {
		c.rep.add(g, Fail, "store.pin", sc.Name, "no PIN: storePassword is empty", c.whereSet(rs, "storePassword")+" to the token's user PIN (IDM reads it from OPENIDM_KEYSTORE_PASSWORD)")
		return nil
	}
	if pc.TokenLabel != "" || pc.TokenSerial != "" {
		sel := "tokenLabel " + pc.TokenLabel
		if pc.TokenLabel == "" {
			sel = "tokenSerial " + pc.TokenSerial
		}
		m, _, err := matchingTokens(pc)
		if err == nil && len(m) > 1 {
			c.rep.add(g, Fail, "store.token.ambiguous", sc.Name, fmt.Sprintf("%s of %s matches %d tokens: %s; no login attempted", sel, confOr(confPath), len(m), strings.Join(m, ", ")),
				"give each token a unique label (softhsm2-util --init-token --label ...), or select by serial: #secretstores: tokenSerial = <serial> in "+confOr(confPath))
			return nil
		}
	}
	cfg := hsmstore.ConfigFromSunPKCS11(pc)
	cfg.Name = sc.Name
	cfg.PIN = pin
	cfg.MaxSessions = 2
	s, err := hsmstore.Open(ctx, cfg)
	switch {
	case errors.Is(err, secrets.ErrWrongPIN):
		c.pinFailed = true
		c.rep.add(g, Fail, "store.pin", sc.Name, fmt.Sprintf("token of %s: the PIN was rejected (one login attempt made; no more this run)", pc.ProviderName()),
			c.whereSet(rs, "storePassword")+" to the token's user PIN; check it with: examples/p11keytool list -providerArg "+confOr(confPath)+" -pin-env OPENIDM_KEYSTORE_PASSWORD")
		return nil
	case err != nil:
		c.rep.add(g, Fail, "store.token", sc.Name, fmt.Sprintf("token of %s does not open: %s", pc.ProviderName(), errText(err)),
			"check the library and the slot / slotListIndex / tokenLabel lines of "+confOr(confPath)+"; list the tokens with: pkcs11-tool --module "+pc.Library+" --list-slots")
		return nil
	}
	aliases, _ := s.Aliases(ctx)
	c.rep.add(g, OK, "store.open", sc.Name, fmt.Sprintf("token %q (serial %s) via %s: PIN accepted (one login); %d entries", s.TokenLabel(), s.TokenSerial(), pc.ProviderName(), len(aliases)), "")
	return s
}

func confOr(p string) string {
	if p == "" {
		return "<SunPKCS11 config>"
	}
	return p
}
