package pkcs11conf

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func tokens(src string) []token {
	l := newLexer([]byte(src))
	var out []token
	for {
		t := l.next()
		out = append(out, t)
		if t.kind == tEOF {
			return out
		}
	}
}

func TestLexer(t *testing.T) {
	toks := tokens("a=b # c\r\n\"q\\tx\" ~+*{}\x00(\r\xff")
	var kinds []tokKind
	for _, t := range toks {
		kinds = append(kinds, t.kind)
	}
	assert.Equal(t, []tokKind{tWord, tChar, tWord, tEOL, tQuote, tWord, tChar, tEOL, tChar, tEOF}, kinds)
	assert.Equal(t, "q\tx", toks[4].val)
	assert.Equal(t, "~+*{}", toks[5].val)
	assert.Equal(t, 2, toks[5].line)
	assert.Equal(t, 8, toks[5].col)
	assert.Equal(t, byte(0xff), toks[8].ch)
	assert.Equal(t, 3, toks[8].line)

	// quoted strings: unterminated at end of line, escaped newline continues, octal, latin-1
	toks = tokens("\"abc\n\"a\\\nb\" \"\\0012\\8\xe9\"")
	assert.Equal(t, "abc", toks[0].val)
	assert.True(t, toks[0].unterminated)
	assert.Equal(t, tEOL, toks[1].kind)
	assert.Equal(t, "a\nb", toks[2].val)
	assert.Equal(t, "\x012"+"8é", toks[3].val)
	assert.Equal(t, 3, toks[3].line)

	toks = tokens("\"x\\")
	assert.Equal(t, "x\uffff", toks[0].val)

	toks = tokens("#secretstores: tokenLabel #x\n")
	assert.Equal(t, tDirective, toks[0].kind)
	assert.Equal(t, "tokenLabel", toks[1].val)
	assert.Equal(t, tEOL, toks[2].kind)
}

func TestExpand(t *testing.T) {
	props := func(n string) (string, bool) {
		v, ok := map[string]string{"a": "A", "user.home": "/custom"}[n]
		return v, ok
	}
	for in, want := range map[string]string{
		"plain":           "plain",
		"${a}/x${/}y":     "A/x/y",
		"${a":             "${a",
		"x${{a}}y${a}":    "x${{a}}yA",
		"${{a}}":          "${{a}}",
		"${{a":            "${{a",
		"${user.home}/.p": "/custom/.p",
		"$a}${a}$":        "$a}A$",
	} {
		got, err := expand(in, props)
		require.NoError(t, err, in)
		assert.Equal(t, want, got, in)
	}
	_, err := expand("${nope}", props)
	assert.ErrorContains(t, err, "${nope}")
}

func TestJavaProperty(t *testing.T) {
	home, err := os.UserHomeDir()
	require.NoError(t, err)
	v, ok := JavaProperty("user.home")
	assert.True(t, ok)
	assert.Equal(t, home, v)
	for _, n := range []string{"user.dir", "user.name", "java.io.tmpdir", "file.separator", "path.separator", "line.separator", "os.name", "os.arch"} {
		v, ok := JavaProperty(n)
		assert.True(t, ok, n)
		assert.NotEmpty(t, v, n)
	}
	_, ok = JavaProperty("no.such")
	assert.False(t, ok)

	t.Setenv("JAVA_HOME", "/opt/jdk-17/")
	v, ok = JavaProperty("java.home")
	assert.True(t, ok)
	assert.Equal(t, "/opt/jdk-17", v)

	// from java on PATH, symlinks resolved
	dir := t.TempDir()
	jdk := filepath.Join(dir, "jvm", "jdk-21")
	require.NoError(t, os.MkdirAll(filepath.Join(jdk, "bin"), 0o755))
	require.NoError(t, os.WriteFile(filepath.Join(jdk, "bin", "java"), []byte("#!/bin/sh\n"), 0o755))
	require.NoError(t, os.MkdirAll(filepath.Join(dir, "usrbin"), 0o755))
	require.NoError(t, os.Symlink(filepath.Join(jdk, "bin", "java"), filepath.Join(dir, "usrbin", "java")))
	t.Setenv("JAVA_HOME", "")
	t.Setenv("PATH", filepath.Join(dir, "usrbin"))
	v, ok = JavaProperty("java.home")
	assert.True(t, ok)
	want, _ := filepath.EvalSymlinks(jdk)
	assert.Equal(t, want, v)

	c, err := ParseOptions(strings.NewReader("name = x\nlibrary = ${java.home}/lib/libj2pkcs11.so\n"), Options{})
	require.NoError(t, err)
	assert.Equal(t, want+"/lib/libj2pkcs11.so", c.Library)

	t.Setenv("PATH", dir)
	_, ok = JavaProperty("java.home")
	assert.False(t, ok)
}
