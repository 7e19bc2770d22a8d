package pkcs11conf

import (
	"fmt"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"runtime"
	"strings"
)

// JavaProperty returns the Go equivalent of the Java system property name, for ${name} in
// configurations and java.security files. It knows:
//
//	user.home       os.UserHomeDir ($HOME)
//	user.dir        os.Getwd
//	user.name       the current user's login name
//	java.home       $JAVA_HOME, else the JDK of the first `java` on PATH, symlinks resolved
//	                (/usr/bin/java -> /usr/lib/jvm/java-17-openjdk-amd64/bin/java gives
//	                /usr/lib/jvm/java-17-openjdk-amd64)
//	java.io.tmpdir  os.TempDir
//	file.separator, path.separator, line.separator
//	os.name, os.arch  runtime.GOOS and runtime.GOARCH spelt as Java does (Linux, amd64, aarch64)
//
// It reports false for any other name, and when the value cannot be found (java.home without
// JAVA_HOME or java on PATH).
func JavaProperty(name string) (string, bool) {
	switch name {
	case "user.home":
		h, err := os.UserHomeDir()
		return h, err == nil
	case "user.dir":
		d, err := os.Getwd()
		return d, err == nil
	case "user.name":
		if u, err := user.Current(); err == nil {
			return u.Username, true
		}
		if u := os.Getenv("USER"); u != "" {
			return u, true
		}
		return "", false
	case "java.home":
		return javaHome()
	case "java.io.tmpdir":
		return os.TempDir(), true
	case "file.separator":
		return string(filepath.Separator), true
	case "path.separator":
		return string(filepath.ListSeparator), true
	case "line.separator":
		if runtime.GOOS == "windows" {
			return "\r\n", true
		}
		return "\n", true
	case "os.name":
		switch runtime.GOOS {
		case "linux":
			return "Linux", true
		case "darwin":
			return "Mac OS X", true
		case "windows":
			return "Windows", true
		case "freebsd":
			return "FreeBSD", true
		}
		return runtime.GOOS, true
	case "os.arch":
		switch runtime.GOARCH {
		case "arm64":
			return "aarch64", true
		case "386":
			return "x86", true
		}
		return runtime.GOARCH, true
	}
	return "", false
}

func javaHome() (string, bool) {
	if h := os.Getenv("JAVA_HOME"); h != "" {
		return filepath.Clean(h), true
	}
	p, err := exec.LookPath("java")
	if err != nil {
		return "", false
	}
	if r, err := filepath.EvalSymlinks(p); err == nil {
		p = r
	}
	bin := filepath.Dir(p)
	if filepath.Base(bin) != "bin" {
		return "", false
	}
	return filepath.Dir(bin), true
}

// expand mirrors sun.security.util.PropertyExpander.expand: ${name} is replaced by the
// property, ${/} by the file separator, ${{...}} is left alone, an unterminated ${ is kept
// as text, and an unknown property is an error.
func expand(s string, props func(string) (string, bool)) (string, error) {
	p := strings.Index(s, "${")
	if p < 0 {
		return s, nil
	}
	var b strings.Builder
	i := 0
	for p < len(s) {
		b.WriteString(s[i:p])
		pe := p + 2
		if pe < len(s) && s[pe] == '{' {
			// ${{ ... }} is not expanded
			end := strings.Index(s[pe:], "}}")
			if end < 0 || pe+end+2 == len(s) {
				b.WriteString(s[p:])
				return b.String(), nil
			}
			pe += end + 1
			b.WriteString(s[p : pe+1])
		} else {
			end := strings.IndexByte(s[pe:], '}')
			if end < 0 {
				b.WriteString(s[p:])
				return b.String(), nil
			}
			pe += end
			name := s[p+2 : pe]
			if name == "/" {
				b.WriteByte(filepath.Separator)
			} else {
				v, ok := lookupProperty(name, props)
				if !ok {
					return "", fmt.Errorf("unable to expand property ${%s}", name)
				}
				b.WriteString(v)
			}
		}
		i = pe + 1
		q := strings.Index(s[i:], "${")
		if q < 0 {
			b.WriteString(s[i:])
			return b.String(), nil
		}
		p = i + q
	}
	return b.String(), nil
}

func lookupProperty(name string, props func(string) (string, bool)) (string, bool) {
	if props != nil {
		if v, ok := props(name); ok {
			return v, true
		}
	}
	return JavaProperty(name)
}
