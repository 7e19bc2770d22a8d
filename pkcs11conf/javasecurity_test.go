package pkcs11conf

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// jdk17Master is the provider list of OpenJDK 17's conf/security/java.security.
const jdk17Master = `#
# List of providers and their preference orders (see above):
#
security.provider.1=SUN
security.provider.2=SunRsaSign
security.provider.3=SunEC
security.provider.4=SunJSSE
security.provider.5=SunJCE
security.provider.6=SunJGSS
security.provider.7=SunSASL
security.provider.8=XMLDSig
security.provider.9=SunPCSC
security.provider.10=JdkLDAP
security.provider.11=JdkSASL
security.provider.12=SunPKCS11
`

func writeFile(t *testing.T, dir, name, content string) string {
	t.Helper()
	p := filepath.Join(dir, name)
	require.NoError(t, os.WriteFile(p, []byte(content), 0o600))
	return p
}

func TestJavaSecurityIDMGap(t *testing.T) {
	dir := t.TempDir()
	cfg := writeFile(t, dir, "pkcs11.cfg", "name = softHSM\nlibrary = /usr/lib/softhsm/libsofthsm2.so\nslot = 1\n")
	master := writeFile(t, dir, "java.security", jdk17Master)
	// IDM's documentation: security.provider.14
	override := writeFile(t, dir, "idm.security", "# IDM\nsecurity.provider.14=SunPKCS11 "+cfg+"\n")

	js, err := ReadJavaSecurity(master, override)
	require.NoError(t, err)
	assert.Len(t, js.Providers, 12)
	assert.Empty(t, js.SunPKCS11(), "the unconfigured SunPKCS11 (12) has no argument")
	require.Len(t, js.Ignored, 1)
	require.Len(t, js.Warnings, 1)
	w := js.Warnings[0]
	assert.ErrorIs(t, w, ErrProviderGap)
	assert.Equal(t, override, w.File)
	assert.Equal(t, 2, w.Line)
	assert.Contains(t, w.Error(), "security.provider.13")

	_, err = js.Lookup("SunPKCS11-softHSM")
	assert.ErrorIs(t, err, ErrProviderGap)
	assert.Contains(t, err.Error(), "number it security.provider.13")

	// the fix: .13
	override = writeFile(t, dir, "idm.security", "security.provider.13=SunPKCS11 "+cfg+"\n")
	js, err = ReadJavaSecurity(master, override)
	require.NoError(t, err)
	assert.Empty(t, js.Warnings)
	require.Len(t, js.SunPKCS11(), 1)
	assert.Equal(t, 13, js.SunPKCS11()[0].N)
	c, err := js.Lookup("SunPKCS11-softHSM")
	require.NoError(t, err)
	assert.Equal(t, 1, c.SlotID)
	c, err = js.Lookup("softHSM")
	require.NoError(t, err)
	assert.Equal(t, cfg, c.File)
	_, err = js.Lookup("SunPKCS11-other")
	assert.ErrorIs(t, err, ErrNotFound)

	// or replace .12
	override = writeFile(t, dir, "idm.security", "security.provider.12=sun.security.pkcs11.SunPKCS11 "+cfg+"\n")
	js, err = ReadJavaSecurity(master, override)
	require.NoError(t, err)
	require.Len(t, js.SunPKCS11(), 1)
	assert.Equal(t, 12, js.SunPKCS11()[0].N)
}

func TestJavaSecurityProperties(t *testing.T) {
	in := "! comment\n" +
		"   security.provider.1 = SUN\n" +
		"security.provider.2:SunPKCS11 \\\n     --name=inline\\\\nlibrary=/usr/lib/softhsm/libsofthsm2.so\n" +
		"security.provider.3 SunPKCS11 ${/}etc${/}p11.cfg\r\n" +
		"security.provider.4=\n" +
		"security.provider.5=Late\n" +
		"security.provider.07=NotANumber\n" +
		"sec\\u0075rity.provider.6=Escaped\n"
	js, err := ParseJavaSecurity(strings.NewReader(in), "f")
	require.NoError(t, err)
	require.Len(t, js.Providers, 3)
	assert.Equal(t, ProviderEntry{N: 1, Class: "SUN", File: "f", Line: 2, property: "security.provider.1"}, js.Providers[0])
	assert.Equal(t, "--name=inline\\nlibrary=/usr/lib/softhsm/libsofthsm2.so", js.Providers[1].Arg)
	assert.Equal(t, 3, js.Providers[1].Line)
	arg, err := js.Providers[2].ConfigArg(Options{})
	require.NoError(t, err)
	assert.Equal(t, "/etc/p11.cfg", arg)
	// empty .4 stops the list, like a gap
	require.Len(t, js.Ignored, 2)
	assert.Equal(t, []int{5, 6}, []int{js.Ignored[0].N, js.Ignored[1].N})
	require.Len(t, js.Warnings, 2)
	assert.Contains(t, js.Warnings[1].Hint, "this one 5")

	cfgs, err := js.Configs()
	assert.ErrorIs(t, err, os.ErrNotExist) // ${/}etc${/}p11.cfg
	require.Len(t, cfgs, 1)
	assert.Equal(t, "SunPKCS11-inline", cfgs[0].ProviderName())

	c, err := js.Lookup("SunPKCS11-inline")
	require.NoError(t, err)
	assert.Equal(t, "/usr/lib/softhsm/libsofthsm2.so", c.Library)
	// the provider whose file is missing is reported with the not-found error
	_, err = js.Lookup("SunPKCS11-nothere")
	assert.ErrorIs(t, err, ErrNotFound)
	assert.ErrorIs(t, err, os.ErrNotExist)
}

func TestJavaSecurityTooLarge(t *testing.T) {
	_, err := ParseJavaSecurity(strings.NewReader(strings.Repeat("#\n", MaxSize)), "big")
	assert.True(t, errors.Is(err, ErrTooLarge))
}

func TestMasterJavaSecurity(t *testing.T) {
	t.Setenv("JAVA_HOME", "/opt/jdk")
	p, err := MasterJavaSecurity()
	require.NoError(t, err)
	assert.Equal(t, "/opt/jdk/conf/security/java.security", p)
}
