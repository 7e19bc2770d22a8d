package secrets

import (
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"

	"github.com/secretstores/secretstores/internal/javaprops"
)

// Properties supply the values of &{name|default} expressions in secrets.json.
type Properties interface {
	// Lookup returns the value of the property name and whether it is defined.
	Lookup(name string) (string, bool)
}

// PropertiesFunc adapts a function to Properties.
type PropertiesFunc func(name string) (string, bool)

// Lookup calls f.
func (f PropertiesFunc) Lookup(name string) (string, bool) { return f(name) }

// MapProperties returns Properties over a map.
func MapProperties(m map[string]string) Properties {
	return PropertiesFunc(func(name string) (string, bool) { v, ok := m[name]; return v, ok })
}

// EnvName returns the environment variable IDM reads for a property: upper case, with '.' and
// '-' as '_' (openidm.keystore.password → OPENIDM_KEYSTORE_PASSWORD).
func EnvName(property string) string {
	return strings.Map(func(r rune) rune {
		if r == '.' || r == '-' {
			return '_'
		}
		return r
	}, strings.ToUpper(property))
}

// EnvProperties returns Properties read from the environment as IDM reads them (EnvName).
// Their values are literal: a password in OPENIDM_KEYSTORE_PASSWORD that contains "&{" is
// used as it is, not expanded again.
func EnvProperties() Properties {
	return literalSource(PropertiesFunc(func(name string) (string, bool) { return os.LookupEnv(EnvName(name)) }))
}

// literalSource returns Properties whose values expand uses as they are: an "&{" in a value from
// p is text, not an expression. Wrap the sources of secrets in it (the environment, a secrets
// manager, a PIN file), so that a password containing "&{" is neither refused nor changed.
// Values from other Properties (a boot.properties file, a map) are expanded again, so that
// openidm.keystore.location=&{idm.install.dir}/security/keystore.jceks works.
//
// This is this library's rule: IDM's own behaviour for a property value containing "&{"
// is not documented. [EnvProperties] is literal.
func literalSource(p Properties) Properties { return literalProps{p} }

type literalProps struct{ p Properties }

func (l literalProps) Lookup(name string) (string, bool) {
	if l.p == nil {
		return "", false
	}
	return l.p.Lookup(name)
}

func (l literalProps) lookup(name string) (string, bool, bool) {
	v, ok := l.Lookup(name)
	return v, true, ok
}

// sourceProps is implemented by Properties that know whether a value is literal.
type sourceProps interface {
	lookup(name string) (value string, literal, ok bool)
}

func lookupSource(p Properties, name string) (v string, literal, ok bool) {
	if p == nil {
		return "", false, false
	}
	if s, isSource := p.(sourceProps); isSource {
		return s.lookup(name)
	}
	v, ok = p.Lookup(name)
	return v, false, ok
}

// Layered returns Properties that ask each of ps in turn; the first that defines a name wins.
// IDM's precedence, highest first: environment, system properties, expression files,
// config.properties; so Layered(EnvProperties(), bootProperties) is the usual order. A value
// from a literal layer stays literal.
func Layered(ps ...Properties) Properties { return layered(ps) }

type layered []Properties

func (ls layered) Lookup(name string) (string, bool) {
	v, _, ok := ls.lookup(name)
	return v, ok
}

func (ls layered) lookup(name string) (string, bool, bool) {
	for _, p := range ls {
		if v, literal, ok := lookupSource(p, name); ok {
			return v, literal, true
		}
	}
	return "", false, false
}

// maxPropertiesSize bounds a properties file.
const maxPropertiesSize = 1 << 20

// ReadPropertiesFile reads a Java .properties file (IDM's boot.properties, config.properties):
// key=value, key:value or key value; '#' and '!' comments; '\' line continuations; escapes
// \t \n \r \f \uXXXX. A key defined twice is an error (Java would keep the last silently).
func ReadPropertiesFile(path string) (Properties, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("secrets: reading properties: %w", err)
	}
	defer f.Close()
	m, err := ParseProperties(io.LimitReader(f, maxPropertiesSize+1))
	if err != nil {
		return nil, fmt.Errorf("secrets: %s: %w", path, err)
	}
	return MapProperties(m), nil
}

// ParseProperties parses Java .properties text (see ReadPropertiesFile), as
// java.util.Properties.load reads it: ISO-8859-1, so write other characters as \uXXXX.
func ParseProperties(r io.Reader) (map[string]string, error) {
	data, err := io.ReadAll(io.LimitReader(r, maxPropertiesSize+1))
	if err != nil {
		return nil, err
	}
	if len(data) > maxPropertiesSize {
		return nil, fmt.Errorf("properties larger than %d bytes", maxPropertiesSize)
	}
	m := map[string]string{}
	for _, p := range javaprops.Parse(data) {
		if _, dup := m[p.Key]; dup {
			return nil, fmt.Errorf("line %d: property %q is defined twice", p.Line, p.Key)
		}
		m[p.Key] = p.Value
	}
	return m, nil
}

// Limits of expression expansion.
const (
	maxExprDepth  = 32
	maxExprOutput = 1 << 20
	// maxExpansions is the number of &{...} expressions one call of expand (one string of a
	// secrets.json) may expand, counting those inside property values and defaults.
	maxExpansions = 1000
	// maxFileExpansions and maxFileExprOutput bound the expressions of all the strings of
	// one file together (ParseConfig, LoadConfig, ResolveJSON), as maxExprOutput and
	// MaxExpansions bound one string's.
	maxFileExpansions = 10 * maxExpansions
	maxFileExprOutput = MaxConfigSize
)

// An exprBudget counts the expressions, and the bytes they expand to, of all the strings of
// one file.
type exprBudget struct{ count, size int }

// An ExprError is a failure to expand a &{...} expression: an undefined property without a
// default, a cycle, or a malformed expression. It names the property (or, for a name computed
// from other properties, its unexpanded expression) and, when it came from a JSON file, the
// JSON path of the string.
type ExprError struct {
	Path     string // JSON path, e.g. /stores/0/config/storePassword; "" outside JSON
	Property string // the property concerned, "" for a syntax error
	Err      error
}

func (e *ExprError) Error() string {
	var b strings.Builder
	b.WriteString("secrets: ")
	if e.Path != "" {
		b.WriteString("at ")
		b.WriteString(e.Path)
		b.WriteString(": ")
	}
	if e.Property != "" {
		b.WriteString("property ")
		b.WriteString(strconv.Quote(e.Property))
		b.WriteString(": ")
	}
	b.WriteString(e.Err.Error())
	return b.String()
}

func (e *ExprError) Unwrap() error { return e.Err }

// errUndefinedProperty: an expression names a property that no source defines and gives no
// default.
var errUndefinedProperty = errors.New("undefined, and the expression has no default: define it (environment, boot.properties) or write &{name|default}")

// errTooManyExpansions: expanding one string took more than maxExpansions expressions
// (properties whose values refer to other properties many times over).
var errTooManyExpansions = fmt.Errorf("more than %d expressions to expand: properties refer to each other too often", maxExpansions)

// expand replaces every &{name|default} expression in s by the property's value, itself
// expanded unless it comes from a literal source. Names and defaults may contain
// expressions (innermost first); literals may surround them. An undefined property without
// default, a cycle, an unterminated expression, more than 32 levels of nesting, more than
// maxExpansions expressions (errTooManyExpansions) or more than 1 MiB of output is an
// *ExprError. Property values never appear in errors.
func expand(s string, props Properties) (string, error) {
	return expandIn(s, props, nil)
}

// expandIn is expand with the budget of a file shared by its strings (nil: none).
func expandIn(s string, props Properties, file *exprBudget) (string, error) {
	if !strings.Contains(s, "&{") {
		return s, nil
	}
	x := expander{props: props, file: file}
	out, err := x.expand(s, 0)
	if err != nil {
		return "", err
	}
	return out, nil
}

type expander struct {
	props Properties
	stack []exprFrame // properties being expanded, for cycle detection
	size  int
	count int // expressions expanded so far
	file  *exprBudget
}

// An exprFrame is a property being expanded: its name, and how errors call it (the name, or
// the expression that computed it).
type exprFrame struct{ name, label string }

func (x *expander) expand(s string, depth int) (string, error) {
	if depth > maxExprDepth {
		return "", &ExprError{Err: fmt.Errorf("expressions nest more than %d deep", maxExprDepth)}
	}
	var b strings.Builder
	for {
		i := strings.Index(s, "&{")
		if i < 0 {
			b.WriteString(s)
			break
		}
		b.WriteString(s[:i])
		end, bar, err := matchExpr(s, i+2)
		if err != nil {
			return "", err
		}
		x.count++
		if x.count > maxExpansions {
			return "", &ExprError{Err: errTooManyExpansions}
		}
		if x.file != nil {
			if x.file.count++; x.file.count > maxFileExpansions {
				return "", &ExprError{Err: fmt.Errorf("the file's strings take more than %d expressions in all: %w", maxFileExpansions, errTooManyExpansions)}
			}
		}
		nameExpr := s[i+2 : end]
		var defExpr *string
		if bar >= 0 {
			nameExpr = s[i+2 : bar]
			d := s[bar+1 : end]
			defExpr = &d
		}
		name, err := x.expand(nameExpr, depth+1)
		if err != nil {
			return "", err
		}
		// A name computed from other properties (&{a.&{b}}) is named in errors by its
		// expression: the computed name holds property values.
		label := name
		if strings.Contains(nameExpr, "&{") {
			label = nameExpr
		}
		val, err := x.property(name, label, defExpr, depth)
		if err != nil {
			return "", err
		}
		b.WriteString(val)
		x.size += len(val)
		if x.size > maxExprOutput {
			return "", &ExprError{Property: label, Err: fmt.Errorf("expansion exceeds %d bytes", maxExprOutput)}
		}
		if x.file != nil {
			if x.file.size += len(val); x.file.size > maxFileExprOutput {
				return "", &ExprError{Property: label, Err: fmt.Errorf("the file's expressions expand to more than %d bytes in all", maxFileExprOutput)}
			}
		}
		s = s[end+1:]
	}
	return b.String(), nil
}

func (x *expander) property(name, label string, def *string, depth int) (string, error) {
	for _, f := range x.stack {
		if f.name == name {
			labels := make([]string, 0, len(x.stack)+1)
			for _, g := range x.stack {
				labels = append(labels, g.label)
			}
			return "", &ExprError{Property: label, Err: fmt.Errorf("refers to itself through %s", strings.Join(append(labels, label), " → "))}
		}
	}
	v, literal, ok := lookupSource(x.props, name)
	if !ok {
		if def == nil {
			return "", &ExprError{Property: label, Err: errUndefinedProperty}
		}
		return x.expand(*def, depth+1)
	}
	if literal {
		return v, nil
	}
	x.stack = append(x.stack, exprFrame{name, label})
	out, err := x.expand(v, depth+1)
	x.stack = x.stack[:len(x.stack)-1]
	return out, err
}

// matchExpr finds the '}' closing the expression whose body starts at s[start:], and the
// first '|' at its own nesting level (-1 when none).
func matchExpr(s string, start int) (end, bar int, err error) {
	depth := 0
	bar = -1
	for i := start; i < len(s); i++ {
		switch {
		case s[i] == '&' && i+1 < len(s) && s[i+1] == '{':
			depth++
			i++
		case s[i] == '}':
			if depth == 0 {
				return i, bar, nil
			}
			depth--
		case s[i] == '|' && depth == 0 && bar < 0:
			bar = i
		}
	}
	return 0, 0, &ExprError{Err: fmt.Errorf("unterminated &{ expression at byte %d: add the closing '}'", start-2)}
}
