package pkcs11conf

import (
	"bufio"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/miekg/pkcs11"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/secretstores/secretstores/internal/testenv"
)

// TestNameTables checks the generated tables against the JDK 25 dump they were made from
// (no Java needed), and the aliases and v3.0 names.
func TestNameTables(t *testing.T) {
	checkJDKNames(t, readNameDump(t, mustRead(t, "testdata/jdk25_names.txt")))
	for name, want := range map[string]uint{
		"CKA_ECDSA_PARAMS": pkcs11.CKA_EC_PARAMS, "CKK_ECDSA": pkcs11.CKK_EC, "CKM_ECDSA_KEY_PAIR_GEN": pkcs11.CKM_EC_KEY_PAIR_GEN,
		"CKM_DSA_PROBABILISTIC_PARAMETER_GEN": 0x2003, "CKK_EC_EDWARDS": 0x40, "CKM_EDDSA": 0x1057, "CKO_PROFILE": 9,
		"CKA_UNIQUE_ID": 0x4, "CKK_CHACHA20": 0x33, "CKK_SHA3_256_HMAC": 0x37, "CKM_CHACHA20_POLY1305": 0x4021, "CKA_NETSCAPE_DB": 0xD5A0DB00,
	} {
		var got uint
		var ok bool
		switch name[:3] {
		case "CKA":
			got, ok = AttributeByName(name)
		case "CKK":
			got, ok = KeyTypeByName(name)
		case "CKM":
			got, ok = MechanismByName(name)
		case "CKO":
			got, ok = ObjectClassByName(name)
		}
		assert.True(t, ok, name)
		assert.Equal(t, want, got, name)
	}
	assert.Equal(t, "CKA_EC_PARAMS", AttributeName(pkcs11.CKA_EC_PARAMS))
	assert.Equal(t, "CKK_EC", KeyTypeName(pkcs11.CKK_EC))
	assert.Equal(t, "CKM_EC_KEY_PAIR_GEN", MechanismName(pkcs11.CKM_EC_KEY_PAIR_GEN))
	assert.Equal(t, "SecureRandom", MechanismName(MechanismSecureRandom))
	assert.Equal(t, "*", ObjectClassName(Any))
	assert.Equal(t, "0x7fffabcd", AttributeName(0x7fffabcd))
	assert.Contains(t, Names("CKM"), "KeyStore")
	assert.Nil(t, Names("CKX"))
	for _, k := range []string{"CKA", "CKO", "CKK", "CKM"} {
		assert.NotEmpty(t, Names(k))
	}
}

func mustRead(t *testing.T, p string) string {
	t.Helper()
	b, err := os.ReadFile(p)
	require.NoError(t, err)
	return string(b)
}

type dumpedName struct {
	table, name string
	value       uint
}

func readNameDump(t *testing.T, s string) []dumpedName {
	var out []dumpedName
	sc := bufio.NewScanner(strings.NewReader(s))
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		require.Len(t, f, 3, sc.Text())
		v, err := strconv.ParseUint(strings.TrimPrefix(f[2], "0x"), 16, 64)
		require.NoError(t, err)
		out = append(out, dumpedName{f[0], f[1], uint(v)})
	}
	require.NotEmpty(t, out)
	return out
}

// checkJDKNames asserts that every name of the JDK's tables resolves to the JDK's value.
func checkJDKNames(t *testing.T, names []dumpedName) {
	t.Helper()
	for _, n := range names {
		var got uint
		var ok bool
		switch n.table {
		case "mechIds":
			got, ok = MechanismByName(n.name)
		case "keyIds":
			if n.name == "*" {
				continue
			}
			got, ok = KeyTypeByName(n.name)
		case "attributeIds":
			got, ok = AttributeByName(n.name)
		case "objectClassIds":
			if n.name == "*" {
				continue
			}
			got, ok = ObjectClassByName(n.name)
		default:
			t.Fatalf("unknown table %s", n.table)
		}
		if assert.True(t, ok, "%s %s", n.table, n.name) {
			assert.Equal(t, n.value, got, "%s %s", n.table, n.name)
		}
	}
}

// javaTool compiles a program from testdata into a temporary directory.
func javaTool(t *testing.T, src string) (java, classes string) {
	t.Helper()
	java = testenv.LookPath(t, testenv.Java, "java")
	javac := testenv.LookPath(t, testenv.Java, "javac")
	classes = t.TempDir()
	out, err := exec.Command(javac, "-nowarn", "-d", classes, src).CombinedOutput()
	require.NoError(t, err, "%s", out)
	return java, classes
}

// TestJDKNameTables checks our tables against the installed JDK's own.
func TestJDKNameTables(t *testing.T) {
	java, classes := javaTool(t, "testdata/DumpNames.java")
	out, err := exec.Command(java, "--add-opens", "jdk.crypto.cryptoki/sun.security.pkcs11.wrapper=ALL-UNNAMED", "-cp", classes, "DumpNames").Output()
	require.NoError(t, err)
	checkJDKNames(t, readNameDump(t, string(out)))
}

func javaMajor(t *testing.T, java string) int {
	out, err := exec.Command(java, "-XshowSettings:properties", "-version").CombinedOutput()
	require.NoError(t, err, "%s", out)
	m := regexp.MustCompile(`java\.specification\.version = (\d+)`).FindSubmatch(out)
	require.NotNil(t, m, "%s", out)
	v, _ := strconv.Atoi(string(m[1]))
	return v
}

// TestJDKDifferential feeds the valid corpus and the invalid table to the JDK's own parser
// (sun.security.pkcs11.Config, through testdata/ConfigCheck.java) and compares accept/reject
// and the provider name with Parse.
func TestJDKDifferential(t *testing.T) {
	java, classes := javaTool(t, "testdata/ConfigCheck.java")
	major := javaMajor(t, java)

	type cse struct {
		file     string
		goOK     bool
		jdkOK    bool // expected JDK verdict
		provider string
	}
	var cases []cse
	valid, err := filepath.Glob("testdata/valid/*.cfg")
	require.NoError(t, err)
	for _, f := range valid {
		c, err := ParseFile(f)
		require.NoError(t, err, f)
		jdkOK := true
		switch filepath.Base(f) {
		case "ext-plain.cfg": // extension keyword outside a #secretstores: comment
			jdkOK = false
		case "jdk25-cts.cfg":
			jdkOK = major >= 25
		}
		cases = append(cases, cse{f, true, jdkOK, c.ProviderName()})
	}
	dir := t.TempDir()
	for i, ic := range invalidCases {
		f := filepath.Join(dir, fmt.Sprintf("invalid-%02d.cfg", i))
		require.NoError(t, os.WriteFile(f, []byte(ic.in), 0o600))
		jdkOK := ic.jdkAccepts
		if ic.name == "bad cts" && major < 25 {
			jdkOK = false // unknown keyword there: rejected all the same
		}
		if ic.name == "prefixed insertionCheckInterval" && major >= 21 {
			jdkOK = false
		}
		switch ic.name {
		case "duplicate name", "duplicate library", "duplicate description", "duplicate bool", "duplicate mechanisms":
			// JDK 25 lets a later entry override; Parse keeps refusing (see the package doc).
			jdkOK = major >= 25
		}
		cases = append(cases, cse{file: f, jdkOK: jdkOK})
	}
	args := []string{"--add-opens", "jdk.crypto.cryptoki/sun.security.pkcs11=ALL-UNNAMED", "-cp", classes, "ConfigCheck"}
	for _, c := range cases {
		args = append(args, c.file)
	}
	out, err := exec.Command(java, args...).Output()
	require.NoError(t, err)
	lines := strings.Split(strings.TrimRight(string(out), "\n"), "\n")
	require.Len(t, lines, len(cases))
	for i, c := range cases {
		l := lines[i]
		ok := strings.HasPrefix(l, "OK "+c.file+" ")
		require.True(t, ok || strings.HasPrefix(l, "ERR "+c.file+" "), l)
		name := c.file
		if strings.HasPrefix(filepath.Base(c.file), "invalid-") {
			n, _ := strconv.Atoi(strings.TrimSuffix(strings.TrimPrefix(filepath.Base(c.file), "invalid-"), ".cfg"))
			name = invalidCases[n].name + ": " + strconv.Quote(invalidCases[n].in)
		}
		assert.Equal(t, c.jdkOK, ok, "%s\nJDK: %s", name, l)
		if ok && c.goOK {
			assert.Equal(t, "OK "+c.file+" "+c.provider, l)
		}
	}
}
