package pkcs11conf

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"

	"github.com/secretstores/secretstores/internal/javaprops"
)

// JavaSecurity holds the security.provider.N entries of one or more java.security files,
// merged as the JDK merges the master file with -Djava.security.properties=<file> (later
// files override earlier ones).
type JavaSecurity struct {
	// Providers are the providers the JDK loads: security.provider.1, .2, ... up to the first
	// missing number (or empty value), in order.
	Providers []ProviderEntry
	// Ignored are the security.provider.N entries after the first gap, which the JDK never
	// reads, in number order. Warnings has one entry for each.
	Ignored  []ProviderEntry
	Warnings []*Warning
	// Options are used to parse the SunPKCS11 configurations the providers name.
	Options Options
}

// A ProviderEntry is one security.provider.N line.
type ProviderEntry struct {
	N        int    // the number after security.provider.
	Class    string // provider name or class, e.g. "SunPKCS11" or "sun.security.pkcs11.SunPKCS11"
	Arg      string // the argument after the first space, trimmed ("" if none)
	File     string // the java.security file
	Line     int
	property string
}

// IsSunPKCS11 reports whether the entry configures a SunPKCS11 provider.
func (e ProviderEntry) IsSunPKCS11() bool {
	return e.Class == "SunPKCS11" || e.Class == "sun.security.pkcs11.SunPKCS11"
}

// ConfigArg returns the SunPKCS11 provider argument with ${prop} expanded (the JDK's
// ProviderConfig does this before SunPKCS11 sees it): a file name, or an inline "--"
// configuration.
func (e ProviderEntry) ConfigArg(opts Options) (string, error) {
	v, err := expand(e.Arg, opts.Properties)
	if err != nil {
		return "", &ParseError{File: e.File, Line: e.Line, Keyword: e.property, Err: ErrUnknownProperty, Msg: err.Error(), Hint: propertyHint}
	}
	return v, nil
}

// MasterJavaSecurity returns the path of the JDK's own java.security:
// ${java.home}/conf/security/java.security (see JavaProperty for java.home).
func MasterJavaSecurity() (string, error) {
	h, ok := javaHome()
	if !ok {
		return "", errors.New("pkcs11conf: java.home unknown: set JAVA_HOME or put java on PATH")
	}
	return filepath.Join(h, "conf", "security", "java.security"), nil
}

// ReadJavaSecurity reads java.security files in order (typically MasterJavaSecurity() and
// then the file given with -Djava.security.properties) and merges them.
func ReadJavaSecurity(paths ...string) (*JavaSecurity, error) {
	merged := map[string]prop{}
	for _, path := range paths {
		f, err := os.Open(path)
		if err != nil {
			return nil, fmt.Errorf("pkcs11conf: %w", err)
		}
		props, err := readProperties(f, path)
		f.Close()
		if err != nil {
			return nil, err
		}
		for k, v := range props {
			merged[k] = v
		}
	}
	return newJavaSecurity(merged), nil
}

// ParseJavaSecurity reads one java.security (java.util.Properties) file from r; name is
// used in messages.
func ParseJavaSecurity(r io.Reader, name string) (*JavaSecurity, error) {
	props, err := readProperties(r, name)
	if err != nil {
		return nil, err
	}
	return newJavaSecurity(props), nil
}

func newJavaSecurity(props map[string]prop) *JavaSecurity {
	js := &JavaSecurity{}
	byN := map[int]ProviderEntry{}
	for k, v := range props {
		rest, ok := strings.CutPrefix(k, "security.provider.")
		if !ok {
			continue
		}
		n, err := strconv.Atoi(rest)
		if err != nil || n < 1 || strconv.Itoa(n) != rest {
			continue // the JDK only looks up security.provider.<i> for i = 1, 2, ...
		}
		e := ProviderEntry{N: n, File: v.file, Line: v.line, property: k}
		val := strings.TrimSpace(v.value)
		if i := strings.IndexByte(val, ' '); i >= 0 {
			e.Class, e.Arg = val[:i], strings.TrimSpace(val[i+1:])
		} else {
			e.Class = val
		}
		byN[n] = e
	}
	n := 1
	for ; ; n++ {
		e, ok := byN[n]
		if ok && e.Class == "" {
			delete(byN, n) // an empty entry ends the list, like a missing one
		}
		if !ok || e.Class == "" {
			break
		}
		js.Providers = append(js.Providers, e)
		delete(byN, n)
	}
	var rest []int
	for k := range byN {
		rest = append(rest, k)
	}
	sort.Ints(rest)
	for i, k := range rest {
		e := byN[k]
		js.Ignored = append(js.Ignored, e)
		use := n + i
		hint := fmt.Sprintf("the JDK reads security.provider.1, .2, ... and stops at the first missing number, %d; number it security.provider.%d", n, use)
		if use != n {
			hint = fmt.Sprintf("the JDK reads security.provider.1, .2, ... and stops at the first missing number, %d; renumber the entries after the gap from %d on (this one %d)", n, n, use)
		}
		js.Warnings = append(js.Warnings, &ParseError{File: e.File, Line: e.Line, Keyword: e.property, Err: ErrProviderGap,
			Msg:  fmt.Sprintf("%s=%s is ignored by the JDK: there is no non-empty security.provider.%d", e.property, strings.TrimSpace(e.Class+" "+e.Arg), n),
			Hint: hint})
	}
	return js
}

// SunPKCS11 returns the SunPKCS11 providers the JDK loads, in order.
func (js *JavaSecurity) SunPKCS11() []ProviderEntry {
	var out []ProviderEntry
	for _, e := range js.Providers {
		if e.IsSunPKCS11() && e.Arg != "" {
			out = append(out, e)
		}
	}
	return out
}

// Configs parses the configuration of every SunPKCS11 provider the JDK loads, in provider
// order; ProviderName and File of each give the provider name and the configuration path.
// Providers whose configuration fails to parse are left out and reported in the error (nil
// when all parse).
func (js *JavaSecurity) Configs() ([]*Config, error) {
	var cfgs []*Config
	var errs []error
	for _, e := range js.SunPKCS11() {
		arg, err := e.ConfigArg(js.Options)
		if err == nil {
			var c *Config
			if c, err = ParseProviderArg(arg, js.Options); err == nil {
				cfgs = append(cfgs, c)
				continue
			}
		}
		errs = append(errs, fmt.Errorf("%s (%s:%d): %w", e.property, e.File, e.Line, err))
	}
	return cfgs, errors.Join(errs...)
}

// Lookup returns the configuration of the SunPKCS11 provider called providerName
// ("SunPKCS11-<name>", as in IDM's HsmBasedStore providerName; the bare <name> is accepted
// too). It parses each SunPKCS11 provider's configuration in turn. A provider that the JDK
// ignores because of a numbering gap is an error wrapping ErrProviderGap that names the
// number to use; no match is an error wrapping ErrNotFound.
func (js *JavaSecurity) Lookup(providerName string) (*Config, error) {
	want := providerName
	if !strings.HasPrefix(want, "SunPKCS11-") {
		want = "SunPKCS11-" + want
	}
	var errs []error
	try := func(e ProviderEntry) (*Config, error) {
		arg, err := e.ConfigArg(js.Options)
		if err != nil {
			return nil, err
		}
		return ParseProviderArg(arg, js.Options)
	}
	for _, e := range js.SunPKCS11() {
		c, err := try(e)
		if err != nil {
			errs = append(errs, fmt.Errorf("%s (%s:%d): %w", e.property, e.File, e.Line, err))
			continue
		}
		if c.ProviderName() == want {
			return c, nil
		}
	}
	for _, e := range js.Ignored {
		if !e.IsSunPKCS11() || e.Arg == "" {
			continue
		}
		if c, err := try(e); err == nil && c.ProviderName() == want {
			for _, w := range js.Warnings {
				if w.Err == ErrProviderGap && w.Keyword == e.property && w.File == e.File {
					return nil, w
				}
			}
		}
	}
	err := fmt.Errorf("pkcs11conf: no SunPKCS11 provider named %q among the %d providers the JDK loads: %w", want, len(js.Providers), ErrNotFound)
	if len(errs) > 0 {
		return nil, errors.Join(append([]error{err}, errs...)...)
	}
	return nil, err
}

// --- java.util.Properties ------------------------------------------------------------------

type prop struct {
	value string
	file  string
	line  int
}

// readProperties parses the java.util.Properties format (ISO-8859-1): comment lines starting
// with # or !, continuation lines ending in an odd number of backslashes, key and value split
// at the first unescaped '=', ':' or whitespace, and \t \n \r \f \uXXXX escapes.
func readProperties(r io.Reader, name string) (map[string]prop, error) {
	data, err := io.ReadAll(io.LimitReader(r, MaxSize+1))
	if err != nil {
		return nil, fmt.Errorf("pkcs11conf: reading %s: %w", name, err)
	}
	if len(data) > MaxSize {
		return nil, &ParseError{File: name, Err: ErrTooLarge, Msg: fmt.Sprintf("file is larger than %d bytes", MaxSize)}
	}
	props := map[string]prop{}
	for _, p := range javaprops.Parse(data) {
		props[p.Key] = prop{value: p.Value, file: name, line: p.Line}
	}
	return props, nil
}
