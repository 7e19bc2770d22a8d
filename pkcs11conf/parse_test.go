package pkcs11conf

import (
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/miekg/pkcs11"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

var update = flag.Bool("update", false, "rewrite testdata/valid/*.golden")

// dump formats a Config deterministically for golden files.
func dump(c *Config) string {
	var b strings.Builder
	p := func(k string, v any) { fmt.Fprintf(&b, "%s: %v\n", k, v) }
	p("Name", fmt.Sprintf("%q", c.Name))
	p("ProviderName", fmt.Sprintf("%q", c.ProviderName()))
	p("Library", fmt.Sprintf("%q", c.Library))
	p("Description", fmt.Sprintf("%q", c.Description))
	p("SlotID", c.SlotID)
	p("SlotListIndex", c.SlotListIndex)
	p("TokenLabel", fmt.Sprintf("%q", c.TokenLabel))
	p("TokenSerial", fmt.Sprintf("%q", c.TokenSerial))
	mechs := func(ms []uint) string {
		if ms == nil {
			return "nil"
		}
		var s []string
		for _, m := range ms {
			s = append(s, MechanismName(m))
		}
		return "[" + strings.Join(s, " ") + "]"
	}
	p("EnabledMechanisms", mechs(c.EnabledMechanisms))
	p("DisabledMechanisms", mechs(c.DisabledMechanisms))
	p("HandleStartupErrors", c.HandleStartupErrors)
	p("InsertionCheckInterval", c.InsertionCheckInterval)
	p("CleanerShortInterval", c.CleanerShortInterval)
	p("CleanerLongInterval", c.CleanerLongInterval)
	for _, kv := range []struct {
		k string
		v bool
	}{
		{"ShowInfo", c.ShowInfo}, {"OmitInitialize", c.OmitInitialize}, {"DestroyTokenAfterLogout", c.DestroyTokenAfterLogout},
		{"AllowLegacy", c.AllowLegacy}, {"UseEcX963Encoding", c.UseEcX963Encoding}, {"KeyStoreCompatibilityMode", c.KeyStoreCompatibilityMode},
		{"ExplicitCancel", c.ExplicitCancel}, {"AllowSingleThreadedModules", c.AllowSingleThreadedModules}, {"NSSUseSecmod", c.NSSUseSecmod},
		{"NSSNetscapeDbWorkaround", c.NSSNetscapeDbWorkaround}, {"NSSUseSecmodTrust", c.NSSUseSecmodTrust}, {"NSSOptimizeSpace", c.NSSOptimizeSpace},
	} {
		p(kv.k, kv.v)
	}
	p("FunctionList", fmt.Sprintf("%q", c.FunctionList))
	p("CipherTextStealingVariant", fmt.Sprintf("%q", c.CipherTextStealingVariant))
	p("NSSLibraryDirectory", fmt.Sprintf("%q", c.NSSLibraryDirectory))
	p("NSSSecmodDirectory", fmt.Sprintf("%q", c.NSSSecmodDirectory))
	p("NSSModule", fmt.Sprintf("%q", c.NSSModule))
	p("NSSArgs", fmt.Sprintf("%q", c.NSSArgs))
	p("NSSDbMode", c.NSSDbMode)
	for _, k := range sortedKeys(c.Lines) {
		fmt.Fprintf(&b, "line %s: %d\n", k, c.Lines[k])
	}
	for _, r := range c.Attributes {
		fmt.Fprintf(&b, "rule line %d compat=%v: %s\n", r.Line, r.Compatibility, r)
	}
	for _, w := range c.Warnings {
		fmt.Fprintf(&b, "warning: %s\n", strings.TrimPrefix(w.Error(), "pkcs11conf: "+c.File))
	}
	return b.String()
}

func TestGolden(t *testing.T) {
	files, err := filepath.Glob("testdata/valid/*.cfg")
	require.NoError(t, err)
	require.NotEmpty(t, files)
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			c, err := ParseFile(f)
			require.NoError(t, err)
			got := dump(c)
			golden := strings.TrimSuffix(f, ".cfg") + ".golden"
			if *update {
				require.NoError(t, os.WriteFile(golden, []byte(got), 0o644))
			}
			want, err := os.ReadFile(golden)
			require.NoError(t, err, "run go test -run TestGolden -update")
			assert.Equal(t, string(want), got)
		})
	}
}

func parse(t *testing.T, s string) *Config {
	t.Helper()
	c, err := Parse(strings.NewReader(s))
	require.NoError(t, err)
	return c
}

const base = "name = t\nlibrary = /usr/lib/softhsm/libsofthsm2.so\n"

func TestKeywords(t *testing.T) {
	tests := []struct {
		line  string
		check func(t *testing.T, c *Config)
	}{
		{"description = a  b \"c d\"", func(t *testing.T, c *Config) { assert.Equal(t, "a b c d", c.Description) }},
		{"slot = 0x7FFFFFFF", func(t *testing.T, c *Config) {
			assert.Equal(t, 0x7FFFFFFF, c.SlotID)
			assert.Equal(t, -1, c.EffectiveSlotListIndex())
		}},
		{"slot = +5", func(t *testing.T, c *Config) { assert.Equal(t, 5, c.SlotID) }},
		{"slotListIndex = 2", func(t *testing.T, c *Config) {
			assert.Equal(t, 2, c.SlotListIndex)
			assert.Equal(t, 2, c.EffectiveSlotListIndex())
		}},
		{"# no slot", func(t *testing.T, c *Config) { assert.Equal(t, 0, c.EffectiveSlotListIndex()) }},
		{"enabledMechanisms = { CKM_AES_GCM 0x1 }", func(t *testing.T, c *Config) {
			assert.Equal(t, []uint{pkcs11.CKM_AES_GCM, pkcs11.CKM_RSA_PKCS}, c.EnabledMechanisms)
			assert.True(t, c.IsEnabled(pkcs11.CKM_AES_GCM))
			assert.False(t, c.IsEnabled(pkcs11.CKM_SHA256))
		}},
		{"disabledMechanisms = { CKM_SHA256 SecureRandom }", func(t *testing.T, c *Config) {
			assert.Equal(t, []uint{pkcs11.CKM_SHA256, MechanismSecureRandom}, c.DisabledMechanisms)
			assert.False(t, c.IsEnabled(pkcs11.CKM_SHA256))
			assert.True(t, c.IsEnabled(pkcs11.CKM_AES_GCM))
		}},
		{"enabledMechanisms = { }", func(t *testing.T, c *Config) {
			assert.NotNil(t, c.EnabledMechanisms)
			assert.False(t, c.IsEnabled(pkcs11.CKM_AES_GCM))
			require.Len(t, c.Warnings, 1)
		}},
		{"attributes = compatibility", func(t *testing.T, c *Config) { assert.Len(t, c.Attributes, 11) }},
		{"handleStartupErrors = ignoreAll", func(t *testing.T, c *Config) { assert.Equal(t, StartupIgnoreAll, c.HandleStartupErrors) }},
		{"handleStartupErrors = ignoreMultipleInitialisation", func(t *testing.T, c *Config) {
			assert.Equal(t, StartupIgnoreMultipleInitialisation, c.HandleStartupErrors)
		}},
		{"insertionCheckInterval = 150", func(t *testing.T, c *Config) { assert.Equal(t, 150*time.Millisecond, c.InsertionCheckInterval) }},
		{"cleaner.shortInterval = 0x3E8", func(t *testing.T, c *Config) { assert.Equal(t, time.Second, c.CleanerShortInterval) }},
		{"cleaner.longInterval = 120000", func(t *testing.T, c *Config) { assert.Equal(t, 2*time.Minute, c.CleanerLongInterval) }},
		{"destroyTokenAfterLogout = true", func(t *testing.T, c *Config) { assert.True(t, c.DestroyTokenAfterLogout) }},
		{"showInfo = true", func(t *testing.T, c *Config) { assert.True(t, c.ShowInfo) }},
		{"allowLegacy = true", func(t *testing.T, c *Config) { assert.True(t, c.AllowLegacy) }},
		{"keyStoreCompatibilityMode = false", func(t *testing.T, c *Config) { assert.False(t, c.KeyStoreCompatibilityMode) }},
		{"explicitCancel = false", func(t *testing.T, c *Config) { assert.False(t, c.ExplicitCancel) }},
		{"omitInitialize = true", func(t *testing.T, c *Config) { assert.True(t, c.OmitInitialize) }},
		{"allowSingleThreadedModules = false", func(t *testing.T, c *Config) { assert.False(t, c.AllowSingleThreadedModules) }},
		{"functionList = C_GetInterface", func(t *testing.T, c *Config) { assert.Equal(t, "C_GetInterface", c.FunctionList) }},
		{"cipherTextStealingVariant = CS1", func(t *testing.T, c *Config) { assert.Equal(t, "CS1", c.CipherTextStealingVariant) }},
		{"nssUseSecmod = false", func(t *testing.T, c *Config) {
			assert.False(t, c.NSSUseSecmod)
			assert.True(t, c.Given("nssUseSecmod"))
		}},
		{`nssArgs = "configdir='${/}tmp'"`, func(t *testing.T, c *Config) { assert.Equal(t, "configdir='/tmp'", c.NSSArgs) }},
		{"nssUseSecmodTrust = true", func(t *testing.T, c *Config) { assert.True(t, c.NSSUseSecmodTrust) }},
		{"useEcX963Encoding = true", func(t *testing.T, c *Config) { assert.True(t, c.UseEcX963Encoding) }},
		{"nssOptimizeSpace = true", func(t *testing.T, c *Config) { assert.True(t, c.NSSOptimizeSpace) }},
		{"#secretstores: tokenLabel = idm-test", func(t *testing.T, c *Config) { assert.Equal(t, "idm-test", c.TokenLabel); assert.Empty(t, c.Warnings) }},
		{`tokenSerial = "5ca115b1f8c762b4"`, func(t *testing.T, c *Config) {
			assert.Equal(t, "5ca115b1f8c762b4", c.TokenSerial)
			require.Len(t, c.Warnings, 1)
			assert.ErrorIs(t, c.Warnings[0], ErrUnknownKeyword)
		}},
	}
	for _, tt := range tests {
		t.Run(tt.line, func(t *testing.T) {
			tt.check(t, parse(t, base+tt.line+"\n"))
		})
	}
	// defaults
	c := parse(t, base)
	assert.Equal(t, "t", c.Name)
	assert.Equal(t, "SunPKCS11-t", c.ProviderName())
	assert.Equal(t, "SunPKCS11-t using library /usr/lib/softhsm/libsofthsm2.so", c.ProviderDescription())
	assert.Equal(t, StartupHalt, c.HandleStartupErrors)
	assert.Equal(t, 2*time.Second, c.InsertionCheckInterval)
	assert.Equal(t, 2*time.Second, c.CleanerShortInterval)
	assert.Equal(t, time.Minute, c.CleanerLongInterval)
	assert.True(t, c.KeyStoreCompatibilityMode && c.ExplicitCancel && c.AllowSingleThreadedModules && c.NSSNetscapeDbWorkaround)
	assert.Equal(t, "readWrite", c.NSSDbMode)
	assert.Nil(t, c.EnabledMechanisms)
	assert.Nil(t, c.DisabledMechanisms)
	assert.True(t, c.IsEnabled(pkcs11.CKM_RSA_PKCS))
	assert.Equal(t, map[string]int{"name": 1, "library": 2}, c.Lines)
}

func TestNSSMode(t *testing.T) {
	for _, kw := range []string{"nssLibraryDirectory = /usr/lib", `nssSecmodDirectory = "sql:/etc/pki/nssdb"`, "nssModule = keystore", "nssDbMode = noDb", "nssNetscapeDbWorkaround = false", "nssUseSecmod = true"} {
		c := parse(t, "name = nss\n"+kw+"\n")
		assert.True(t, c.NSSUseSecmod, kw)
	}
	// nssUseSecmod = false after a keyword that turned NSS mode on turns it off again, as in the JDK
	_, err := Parse(strings.NewReader("name = nss\nnssModule = fips\nnssUseSecmod = false\n"))
	assert.ErrorIs(t, err, ErrMissing)
}

type invalidCase struct {
	name     string
	in       string
	sentinel error
	line     int
	// jdkAccepts marks inputs the JDK's parser accepts but Parse rejects on purpose (they fail
	// later in the JDK, at provider initialisation).
	jdkAccepts bool
}

var invalidCases = []invalidCase{
	{"empty", "", ErrMissing, 0, false},
	{"no name", "library = /x.so\n", ErrMissing, 0, false},
	{"no library", "name = x\n", ErrMissing, 0, false},
	{"unknown keyword", base + "slots = 1\n", ErrUnknownKeyword, 3, false},
	{"misspelt keyword", base + "slotlistindex = 1\n", ErrUnknownKeyword, 3, false},
	{"prefixed insertionCheckInterval", base + "xinsertionCheckInterval = 1000\n", ErrUnknownKeyword, 3, true},
	{"keyword case", "Name = x\n", ErrUnknownKeyword, 1, false},
	{"duplicate name", base + "name = y\n", ErrDuplicate, 3, false},
	{"duplicate library", base + "library = /y.so\n", ErrDuplicate, 3, false},
	{"duplicate description", base + "description = a\ndescription = b\n", ErrDuplicate, 4, false},
	{"duplicate bool", base + "showInfo = true\nshowInfo = true\n", ErrDuplicate, 4, false},
	{"duplicate slot", base + "slot = 1\nslot = 2\n", ErrDuplicate, 4, false},
	{"duplicate slotListIndex", base + "slotListIndex = 1\nslotListIndex = 1\n", ErrDuplicate, 4, false},
	{"duplicate mechanisms", base + "enabledMechanisms = { }\nenabledMechanisms = { }\n", ErrDuplicate, 4, false},
	{"slot and index", base + "slot = 1\nslotListIndex = 0\n", ErrConflict, 4, false},
	{"index and slot", base + "slotListIndex = 0\nslot = 1\n", ErrConflict, 4, false},
	{"negative slot", base + "slot = -2\n", ErrValue, 3, true},
	{"slot not a number", base + "slot = one\n", ErrValue, 3, false},
	{"slot overflow", base + "slot = 0x80000000\n", ErrValue, 3, false},
	{"slot decimal overflow", base + "slot = 2147483648\n", ErrValue, 3, false},
	{"slot quoted", base + "slot = \"1\"\n", ErrSyntax, 3, false},
	{"slot empty", base + "slot =\n", ErrSyntax, 3, false},
	{"missing equals", base + "showInfo true\n", ErrSyntax, 3, false},
	{"equals on next line", base + "showInfo\n= true\n", ErrSyntax, 3, false},
	{"value on next line", base + "showInfo =\ntrue\n", ErrSyntax, 3, false},
	{"bad bool", base + "showInfo = TRUE\n", ErrValue, 3, false},
	{"bad bool yes", base + "explicitCancel = yes\n", ErrValue, 3, false},
	{"relative library", "name = x\nlibrary = libsofthsm2.so\n", ErrValue, 2, false},
	{"empty library", "name = x\nlibrary =\n", ErrSyntax, 2, false},
	{"library with parenthesis", "name = x\nlibrary = /opt/x(86)/lib.so\n", ErrSyntax, 2, false},
	{"unknown property", "name = x\nlibrary = ${no.such.property}/lib.so\n", ErrUnknownProperty, 2, false},
	{"unknown property nssArgs", base + "nssArgs = \"${no.such.property}\"\n", ErrUnknownProperty, 3, false},
	{"nssArgs unquoted", base + "nssArgs = flags\n", ErrSyntax, 3, false},
	{"bad handleStartupErrors", base + "handleStartupErrors = ignore\n", ErrValue, 3, false},
	{"insertionCheckInterval too small", base + "insertionCheckInterval = 99\n", ErrValue, 3, false},
	{"cleaner too small", base + "cleaner.shortInterval = 999\n", ErrValue, 3, false},
	{"cleaner long too small", base + "cleaner.longInterval = 10\n", ErrValue, 3, false},
	{"bad nssDbMode", "name = x\nnssDbMode = rw\n", ErrValue, 2, false},
	{"bad cts", base + "cipherTextStealingVariant = CS4\n", ErrValue, 3, false},
	{"name missing value", "name =\nlibrary = /x.so\n", ErrSyntax, 1, false},
	{"name special", "name = (x)\n", ErrSyntax, 1, false},
	{"unexpected token", base + "= 1\n", ErrSyntax, 3, false},
	{"unexpected char", base + "@\n", ErrSyntax, 3, false},
	{"latin1 char", base + "\xe9 = 1\n", ErrSyntax, 3, false},
	{"mechanism unknown", base + "enabledMechanisms = { CKM_NOPE }\n", ErrUnknownMechanism, 3, false},
	{"mechanism lower case", base + "enabledMechanisms = { ckm_rsa_pkcs }\n", ErrUnknownMechanism, 3, false},
	{"mechanism no space before brace", base + "enabledMechanisms = { CKM_RSA_PKCS}\n", ErrUnknownMechanism, 3, false},
	{"mechanism no space after brace", base + "enabledMechanisms = {CKM_RSA_PKCS }\n", ErrSyntax, 3, false},
	{"mechanism unclosed", base + "enabledMechanisms = { CKM_RSA_PKCS\n", ErrSyntax, 4, false},
	{"mechanism quoted", base + "enabledMechanisms = { \"CKM_RSA_PKCS\" }\n", ErrSyntax, 3, false},
	{"mechanism hex overflow", base + "enabledMechanisms = { 0x80000001 }\n", ErrValue, 3, false},
	{"mechanism negative", base + "enabledMechanisms = { 0x-1 }\n", ErrValue, 3, true},
	{"mechanism bad number", base + "enabledMechanisms = { 12ab }\n", ErrValue, 3, false},
	{"mechanisms no brace", base + "enabledMechanisms = CKM_RSA_PKCS\n", ErrSyntax, 3, false},
	{"attributes bad compat", base + "attributes = compat\n", ErrValue, 3, false},
	{"attributes no paren", base + "attributes { CKA_TOKEN = true }\n", ErrSyntax, 3, false},
	{"attributes bad op", base + "attributes(create, *, *) = { }\n", ErrUnknownOperation, 3, false},
	{"attributes bad class", base + "attributes(*, CKO_SECRET, *) = { }\n", ErrUnknownObjectClass, 3, false},
	{"attributes numeric class", base + "attributes(*, 4, *) = { }\n", ErrUnknownObjectClass, 3, false},
	{"attributes bad key type", base + "attributes(*, *, CKK_AES256) = { }\n", ErrUnknownKeyType, 3, false},
	{"attributes missing comma", base + "attributes(* *, *) = { }\n", ErrSyntax, 3, false},
	{"attributes missing paren", base + "attributes(*, *, * = { }\n", ErrSyntax, 3, false},
	{"attributes split line", base + "attributes(*,\n *, *) = { }\n", ErrSyntax, 3, false},
	{"attribute unknown", base + "attributes(*, *, *) = {\n CKA_EXTRACTIBLE = true\n}\n", ErrUnknownAttribute, 4, false},
	{"attribute bad value", base + "attributes(*, *, *) = {\n CKA_TOKEN = yes\n}\n", ErrValue, 4, false},
	{"attribute upper-case value", base + "attributes(*, *, *) = {\n CKA_TOKEN = TRUE\n}\n", ErrValue, 4, false},
	{"attribute brace glued", base + "attributes(*, *, *) = { CKA_TOKEN = true}\n", ErrValue, 3, false},
	{"attribute quoted value", base + "attributes(*, *, *) = { CKA_LABEL = \"x\" }\n", ErrSyntax, 3, false},
	{"attribute bad bytes", base + "attributes(*, *, *) = { CKA_ID = 0hxyz }\n", ErrValue, 3, false},
	{"attribute empty bytes", base + "attributes(*, *, *) = { CKA_ID = 0h }\n", ErrValue, 3, false},
	{"attribute missing equals", base + "attributes(*, *, *) = {\n CKA_TOKEN true\n}\n", ErrSyntax, 4, false},
	{"attribute unclosed", base + "attributes(*, *, *) = {\n CKA_TOKEN = true\n", ErrSyntax, 5, false},
	{"attribute value overflow", base + "attributes(*, *, *) = { CKA_VALUE_LEN = 4294967296 }\n", ErrValue, 3, false},
	{"nss with library", "name = x\nlibrary = /x.so\nnssModule = fips\n", ErrConflict, 2, false},
	{"nss with slot", "name = x\nslot = 1\nnssModule = fips\n", ErrConflict, 2, false},
	{"nss with nssArgs", "name = x\nnssArgs = \"a\"\nnssModule = fips\n", ErrConflict, 2, false},
	{"nss with secmod trust", "name = x\nnssUseSecmodTrust = true\nnssModule = fips\n", ErrConflict, 2, false},
	{"nssLibraryDirectory relative", "name = x\nnssLibraryDirectory = lib\n", ErrValue, 2, false},
	{"directive with JDK keyword", base + "#secretstores: slot = 1\n", ErrUnknownKeyword, 3, true},
	{"tokenLabel too long", base + "#secretstores: tokenLabel = 0123456789012345678901234567890123\n", ErrValue, 3, true},
}

func TestInvalid(t *testing.T) {
	for _, tt := range invalidCases {
		t.Run(tt.name, func(t *testing.T) {
			c, err := ParseOptions(strings.NewReader(tt.in), Options{File: "test.cfg"})
			require.Error(t, err)
			assert.Nil(t, c)
			assert.ErrorIs(t, err, tt.sentinel)
			var pe *ParseError
			require.True(t, errors.As(err, &pe), "%T", err)
			assert.Equal(t, tt.line, pe.Line, "%v", err)
			assert.Equal(t, "test.cfg", pe.File)
			assert.True(t, strings.HasPrefix(err.Error(), "pkcs11conf: test.cfg"), err.Error())
			t.Log(err)
		})
	}
}

func TestDidYouMean(t *testing.T) {
	for in, want := range map[string]string{
		base + "slotlistindex = 1\n":                                       `did you mean "slotListIndex"?`,
		base + "enabledMechanism = { }\n":                                  `did you mean "enabledMechanisms"?`,
		base + "attributes(*, *, *) = { CKA_EXTRACTIBLE = true }\n":        `did you mean "CKA_EXTRACTABLE"?`,
		base + "attributes(*, CKO_SECRETKEY, *) = { }\n":                   `did you mean "CKO_SECRET_KEY"?`,
		base + "attributes(*, *, CKK_GENERIC) = { }\n":                     `CKK_`,
		base + "enabledMechanisms = { CKM_SHA256HMAC }\n":                  `did you mean "CKM_SHA256_HMAC"?`,
		base + "slot = 0xFFFFFFFF\n":                                       "signed 32-bit int",
		"name = x\nlibrary = ${user.hme}/x.so\n":                           "user.home",
		base + "attributes(*, *, *) = {CKA_TOKEN = true }\n":               "spaces around them",
		base + "attributes(*, *, *) = { CKA_TOKEN = true}\n":               "space before '}'",
		base + "attributes(*, *, *) = { CKA_TOKEN = True }\n":              "lower-case",
		"name = x\nlibrary = lib.so\n":                                     "absolute",
		base + "#secretstores: name = y\n":                                 "outside the comment",
		"name = x\n":                                                       "library = /absolute/path",
		base + "slot = 1\nslotListIndex = 2\n":                             "keep one",
		base + "name = y\n":                                                "first given on line 1",
		base + "handleStartupErrors = ignoremissinglibrary\n":              "ignoreMissingLibrary",
		base + "attributes(generate, CKO_SECRET_KEY, *) = {\n}\nfoo = 1\n": "keywords are case-sensitive",
	} {
		_, err := Parse(strings.NewReader(in))
		require.Error(t, err, in)
		assert.Contains(t, err.Error(), want, in)
	}
}

func TestTooLarge(t *testing.T) {
	big := base + strings.Repeat("# padding\n", MaxSize/10)
	_, err := Parse(strings.NewReader(big))
	assert.ErrorIs(t, err, ErrTooLarge)
	_, err = ParseOptions(strings.NewReader(base), Options{MaxSize: 10})
	assert.ErrorIs(t, err, ErrTooLarge)
	_, err = ParseOptions(strings.NewReader(base), Options{MaxSize: int64(len(base))})
	assert.NoError(t, err)
}

func TestParseFileErrors(t *testing.T) {
	_, err := ParseFile(filepath.Join(t.TempDir(), "missing.cfg"))
	assert.ErrorIs(t, err, os.ErrNotExist)
	_, err = ParseFile("${no.such.prop}/x.cfg")
	assert.ErrorIs(t, err, ErrUnknownProperty)

	dir := t.TempDir()
	p := filepath.Join(dir, "bad.cfg")
	require.NoError(t, os.WriteFile(p, []byte(base+"bogus = 1\n"), 0o600))
	_, err = ParseFile(p)
	var pe *ParseError
	require.ErrorAs(t, err, &pe)
	assert.Equal(t, p, pe.File)
	assert.Equal(t, 3, pe.Line)
	assert.Equal(t, 1, pe.Column)
	assert.Equal(t, "bogus", pe.Keyword)
	assert.Contains(t, err.Error(), p+":3:1: unknown keyword")

	// ${prop} in the file name, resolved by the caller's properties
	c, err := parseFile("${cfg.dir}/bad.cfg", Options{Properties: func(n string) (string, bool) { return dir, n == "cfg.dir" }})
	assert.Nil(t, c)
	assert.ErrorIs(t, err, ErrUnknownKeyword)
}

func TestProviderArg(t *testing.T) {
	c, err := ParseProviderArg(`--name = inline\nlibrary = /usr/lib/softhsm/libsofthsm2.so\nslot = 4`, Options{})
	require.NoError(t, err)
	assert.Equal(t, "SunPKCS11-inline", c.ProviderName())
	assert.Equal(t, 4, c.SlotID)
	assert.Equal(t, "--", c.File)

	c, err = ParseProviderArg("testdata/valid/idm-softhsm.cfg", Options{})
	require.NoError(t, err)
	assert.Equal(t, "softHSM", c.Name)
}

func TestColumns(t *testing.T) {
	_, err := Parse(strings.NewReader(base + "attributes(*, *, *) = {\n  CKA_TOKEN = maybe\n}\n"))
	var pe *ParseError
	require.ErrorAs(t, err, &pe)
	assert.Equal(t, 4, pe.Line)
	assert.Equal(t, 15, pe.Column)
	assert.Equal(t, "attributes", pe.Keyword)
}
