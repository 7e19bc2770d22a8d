// Package strictjson is the library's one strict JSON (RFC 8259) reader: exactly one value,
// surrounding white space allowed and nothing else after it, a nesting limit, numbers kept as
// their literal text, and the byte span of every value kept, so that a caller can rewrite a
// document in place or hand a member's raw bytes on. Every failure wraps [ErrSyntax] and
// names the byte offset; data after the top-level value also wraps [ErrTrailingData].
//
// Duplicate member names are kept in the tree, in source order; what they mean is the
// caller's rule ([Node.Value]: the last one wins, as encoding/json and Jackson do;
// [ParseObject]: refused).
package strictjson

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"unicode/utf16"
	"unicode/utf8"
)

// Kind is the JSON type of a [Node].
type Kind uint8

// The kinds of JSON values.
const (
	Null Kind = iota
	Bool
	Number
	String
	Array
	Object
)

func (k Kind) String() string {
	switch k {
	case Null:
		return "null"
	case Bool:
		return "boolean"
	case Number:
		return "number"
	case String:
		return "string"
	case Array:
		return "array"
	default:
		return "object"
	}
}

// A Node is one parsed JSON value.
type Node struct {
	Kind       Kind
	Start, End int      // byte span in the source
	Str        string   // decoded string (String) or the literal (Number)
	Bool       bool     // Bool
	Members    []Member // Object, in source order, duplicates included
	Elems      []Node   // Array
}

// A Member is one name/value pair of an object.
type Member struct {
	Key string
	Val Node
}

// Get returns the first member named key, or nil.
func (n *Node) Get(key string) *Node {
	for i := range n.Members {
		if n.Members[i].Key == key {
			return &n.Members[i].Val
		}
	}
	return nil
}

// Value returns n as encoding/json with UseNumber decodes it into an any: map[string]any
// (for duplicate names the last member wins), []any, json.Number, string, bool or nil.
func (n *Node) Value() any {
	switch n.Kind {
	case Bool:
		return n.Bool
	case Number:
		return json.Number(n.Str)
	case String:
		return n.Str
	case Array:
		out := make([]any, len(n.Elems))
		for i := range n.Elems {
			out[i] = n.Elems[i].Value()
		}
		return out
	case Object:
		out := make(map[string]any, len(n.Members))
		for i := range n.Members {
			out[n.Members[i].Key] = n.Members[i].Val.Value()
		}
		return out
	}
	return nil
}

// ErrSyntax is wrapped by every parse failure.
var ErrSyntax = errors.New("invalid JSON")

// ErrTrailingData is wrapped (beside ErrSyntax) when a complete value is followed by anything
// but white space.
var ErrTrailingData = errors.New("data after the top-level value")

// DefaultMaxDepth is the nesting limit when Options.MaxDepth is 0: encoding/json's.
const DefaultMaxDepth = 10000

// Options tune a parse; the zero value is the strict default.
type Options struct {
	// MaxDepth bounds the nesting of arrays and objects (0: DefaultMaxDepth). A top-level
	// object or array is depth 1.
	MaxDepth int
	// ReplaceInvalidUTF8 decodes each byte of invalid UTF-8 in a string as U+FFFD, as
	// encoding/json does, instead of failing.
	ReplaceInvalidUTF8 bool
	// Intern, when set, makes the string of a member name or a string value without
	// escapes, so a caller can avoid allocating for names it expects.
	Intern func([]byte) string
}

type parser struct {
	src      []byte
	pos      int
	opts     Options
	validate bool // only check the syntax: build no strings, members or elements
}

// Parse parses exactly one JSON value (surrounding white space allowed).
func Parse(src []byte, opts Options) (Node, error) {
	return parseWith(parser{src: src, opts: opts})
}

// Valid reports whether src is exactly one JSON value, without building a tree.
func Valid(src []byte, opts Options) error {
	_, err := parseWith(parser{src: src, opts: opts, validate: true})
	return err
}

// ParseObject parses src, which must be one JSON object, into its members' raw bytes (each exactly
// the member's value, as json.RawMessage holds it), refusing duplicate names. An error that is
// not a syntax error says which rule src broke.
func ParseObject(src []byte, opts Options) (map[string]json.RawMessage, error) {
	n, err := Parse(src, opts)
	if err != nil {
		return nil, err
	}
	if n.Kind != Object {
		return nil, ErrNotObject
	}
	m := make(map[string]json.RawMessage, len(n.Members))
	for _, mb := range n.Members {
		if _, dup := m[mb.Key]; dup {
			return nil, &DuplicateError{Key: mb.Key}
		}
		m[mb.Key] = json.RawMessage(src[mb.Val.Start:mb.Val.End])
	}
	return m, nil
}

// ErrNotObject: [ParseObject] found a JSON value other than an object.
var ErrNotObject = errors.New("not a JSON object")

// A DuplicateError is [ParseObject]'s error for a member name given twice.
type DuplicateError struct{ Key string }

func (e *DuplicateError) Error() string { return fmt.Sprintf("duplicate member %q", e.Key) }

func parseWith(p parser) (Node, error) {
	if p.opts.MaxDepth == 0 {
		p.opts.MaxDepth = DefaultMaxDepth
	}
	p.ws()
	n, err := p.value(0)
	if err != nil {
		return Node{}, err
	}
	p.ws()
	if p.pos != len(p.src) {
		return Node{}, fmt.Errorf("%w at byte %d: %w", ErrSyntax, p.pos, ErrTrailingData)
	}
	return n, nil
}

// replaceInvalid replaces each byte of invalid UTF-8 in s by U+FFFD, as encoding/json does.
func replaceInvalid(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); {
		r, n := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && n == 1 {
			b.WriteRune(utf8.RuneError)
		} else {
			b.WriteString(s[i : i+n])
		}
		i += n
	}
	return b.String()
}

func (p *parser) fail(what string) error {
	return fmt.Errorf("%w at byte %d: %s", ErrSyntax, p.pos, what)
}

func (p *parser) ws() {
	for p.pos < len(p.src) {
		switch p.src[p.pos] {
		case ' ', '\t', '\n', '\r':
			p.pos++
		default:
			return
		}
	}
}

func (p *parser) value(depth int) (Node, error) {
	if p.pos >= len(p.src) {
		return Node{}, p.fail("unexpected end of input")
	}
	start := p.pos
	switch c := p.src[p.pos]; {
	case c == '{':
		return p.object(depth + 1)
	case c == '[':
		return p.array(depth + 1)
	case c == '"':
		s, err := p.string()
		if err != nil {
			return Node{}, err
		}
		return Node{Kind: String, Start: start, End: p.pos, Str: s}, nil
	case c == 't':
		return p.literal("true", Node{Kind: Bool, Bool: true})
	case c == 'f':
		return p.literal("false", Node{Kind: Bool})
	case c == 'n':
		return p.literal("null", Node{Kind: Null})
	case c == '-' || (c >= '0' && c <= '9'):
		return p.number()
	default:
		return Node{}, p.fail("unexpected character")
	}
}

func (p *parser) literal(lit string, n Node) (Node, error) {
	if !strings.HasPrefix(string(p.src[p.pos:min(len(p.src), p.pos+len(lit))]), lit) {
		return Node{}, p.fail("invalid literal")
	}
	n.Start = p.pos
	p.pos += len(lit)
	n.End = p.pos
	return n, nil
}

func (p *parser) digits() int {
	n := 0
	for p.pos < len(p.src) && p.src[p.pos] >= '0' && p.src[p.pos] <= '9' {
		p.pos++
		n++
	}
	return n
}

func (p *parser) number() (Node, error) {
	start := p.pos
	if p.src[p.pos] == '-' {
		p.pos++
	}
	if p.pos < len(p.src) && p.src[p.pos] == '0' {
		p.pos++
	} else if p.digits() == 0 {
		return Node{}, p.fail("invalid number")
	}
	if p.pos < len(p.src) && p.src[p.pos] == '.' {
		p.pos++
		if p.digits() == 0 {
			return Node{}, p.fail("invalid number")
		}
	}
	if p.pos < len(p.src) && (p.src[p.pos] == 'e' || p.src[p.pos] == 'E') {
		p.pos++
		if p.pos < len(p.src) && (p.src[p.pos] == '+' || p.src[p.pos] == '-') {
			p.pos++
		}
		if p.digits() == 0 {
			return Node{}, p.fail("invalid number")
		}
	}
	n := Node{Kind: Number, Start: start, End: p.pos}
	if !p.validate {
		n.Str = string(p.src[start:p.pos])
	}
	return n, nil
}

func hexVal(c byte) rune {
	switch {
	case c >= '0' && c <= '9':
		return rune(c - '0')
	case c >= 'a' && c <= 'f':
		return rune(c-'a') + 10
	case c >= 'A' && c <= 'F':
		return rune(c-'A') + 10
	}
	return -1
}

func (p *parser) hex4() (rune, bool) {
	if p.pos+4 > len(p.src) {
		return 0, false
	}
	var r rune
	for i := 0; i < 4; i++ {
		v := hexVal(p.src[p.pos+i])
		if v < 0 {
			return 0, false
		}
		r = r<<4 | v
	}
	p.pos += 4
	return r, true
}

// string parses a string starting at the opening quote. Invalid UTF-8 and unescaped control
// characters are errors; a lone surrogate escape decodes to U+FFFD, as encoding/json does.
func (p *parser) string() (string, error) {
	p.pos++ // opening quote
	start := p.pos
	// Fast path: no escapes, plain ASCII or valid UTF-8.
	for p.pos < len(p.src) {
		p.pos += PlainRun(p.src[p.pos:])
		if p.pos >= len(p.src) {
			break
		}
		c := p.src[p.pos]
		if c == '"' {
			s := p.src[start:p.pos]
			if !utf8.Valid(s) {
				if !p.opts.ReplaceInvalidUTF8 {
					return "", p.fail("invalid UTF-8 in string")
				}
				p.pos++
				if p.validate {
					return "", nil
				}
				return replaceInvalid(string(s)), nil
			}
			p.pos++
			if p.validate {
				return "", nil
			}
			if p.opts.Intern != nil {
				return p.opts.Intern(s), nil
			}
			return string(s), nil
		}
		if c == '\\' {
			break
		}
		if c < 0x20 {
			return "", p.fail("control character in string")
		}
		p.pos++
	}
	// The slow path, with escapes. In validate mode nothing is built or copied: the escapes
	// are checked, and the raw text for UTF-8, which is the same check as on the decoded
	// text (escapes are ASCII and decode to whole code points).
	var b strings.Builder
	if !p.validate {
		b.Write(p.src[start:p.pos])
	}
	for {
		if p.pos >= len(p.src) {
			return "", p.fail("unterminated string")
		}
		c := p.src[p.pos]
		switch {
		case c == '"':
			p.pos++
			if p.validate {
				if !utf8.Valid(p.src[start:p.pos-1]) && !p.opts.ReplaceInvalidUTF8 {
					return "", p.fail("invalid UTF-8 in string")
				}
				return "", nil
			}
			s := b.String()
			if !utf8.ValidString(s) {
				if !p.opts.ReplaceInvalidUTF8 {
					return "", p.fail("invalid UTF-8 in string")
				}
				s = replaceInvalid(s)
			}
			return s, nil
		case c < 0x20:
			return "", p.fail("control character in string")
		case c != '\\':
			if !p.validate {
				b.WriteByte(c)
			}
			p.pos++
			continue
		}
		p.pos++
		if p.pos >= len(p.src) {
			return "", p.fail("unterminated string")
		}
		e := p.src[p.pos]
		p.pos++
		var r rune
		switch e {
		case '"', '\\', '/':
			r = rune(e)
		case 'b':
			r = '\b'
		case 'f':
			r = '\f'
		case 'n':
			r = '\n'
		case 'r':
			r = '\r'
		case 't':
			r = '\t'
		case 'u':
			var ok bool
			if r, ok = p.hex4(); !ok {
				return "", p.fail("invalid \\u escape")
			}
			if utf16.IsSurrogate(r) {
				// A high surrogate followed by a low one is one code point.
				save := p.pos
				if r < 0xdc00 && p.pos+1 < len(p.src) && p.src[p.pos] == '\\' && p.src[p.pos+1] == 'u' {
					p.pos += 2
					if r2, ok := p.hex4(); ok {
						if d := utf16.DecodeRune(r, r2); d != utf8.RuneError {
							if !p.validate {
								b.WriteRune(d)
							}
							continue
						}
					}
				}
				p.pos = save
				r = utf8.RuneError
			}
		default:
			return "", p.fail("invalid escape")
		}
		if !p.validate {
			b.WriteRune(r)
		}
	}
}

func (p *parser) object(depth int) (Node, error) {
	if depth > p.opts.MaxDepth {
		return Node{}, p.fail("nested too deeply")
	}
	n := Node{Kind: Object, Start: p.pos}
	p.pos++
	p.ws()
	if p.pos < len(p.src) && p.src[p.pos] == '}' {
		p.pos++
		n.End = p.pos
		return n, nil
	}
	for {
		p.ws()
		if p.pos >= len(p.src) || p.src[p.pos] != '"' {
			return Node{}, p.fail("expected a Member name")
		}
		key, err := p.string()
		if err != nil {
			return Node{}, err
		}
		p.ws()
		if p.pos >= len(p.src) || p.src[p.pos] != ':' {
			return Node{}, p.fail("expected ':'")
		}
		p.pos++
		p.ws()
		v, err := p.value(depth)
		if err != nil {
			return Node{}, err
		}
		if !p.validate {
			n.Members = append(n.Members, Member{Key: key, Val: v})
		}
		p.ws()
		if p.pos >= len(p.src) {
			return Node{}, p.fail("unterminated object")
		}
		switch p.src[p.pos] {
		case ',':
			p.pos++
		case '}':
			p.pos++
			n.End = p.pos
			return n, nil
		default:
			return Node{}, p.fail("expected ',' or '}'")
		}
	}
}

func (p *parser) array(depth int) (Node, error) {
	if depth > p.opts.MaxDepth {
		return Node{}, p.fail("nested too deeply")
	}
	n := Node{Kind: Array, Start: p.pos}
	p.pos++
	p.ws()
	if p.pos < len(p.src) && p.src[p.pos] == ']' {
		p.pos++
		n.End = p.pos
		return n, nil
	}
	for {
		p.ws()
		v, err := p.value(depth)
		if err != nil {
			return Node{}, err
		}
		if !p.validate {
			n.Elems = append(n.Elems, v)
		}
		p.ws()
		if p.pos >= len(p.src) {
			return Node{}, p.fail("unterminated array")
		}
		switch p.src[p.pos] {
		case ',':
			p.pos++
		case ']':
			p.pos++
			n.End = p.pos
			return n, nil
		default:
			return Node{}, p.fail("expected ',' or ']'")
		}
	}
}

// PlainRun returns the length of the longest prefix of s without '"', '\\' or a control
// character (< 0x20): the bytes a JSON string holds as they are. Eight bytes at a time.
func PlainRun[T string | []byte](s T) int {
	const (
		ones  = 0x0101010101010101
		highs = 0x8080808080808080
	)
	i := 0
	for ; i+8 <= len(s); i += 8 {
		x := uint64(s[i]) | uint64(s[i+1])<<8 | uint64(s[i+2])<<16 | uint64(s[i+3])<<24 |
			uint64(s[i+4])<<32 | uint64(s[i+5])<<40 | uint64(s[i+6])<<48 | uint64(s[i+7])<<56
		// Does a byte of x lie below 0x20, or become zero after XOR with '"' or '\\'? The
		// usual has-less and has-zero-byte tests: exact as to whether any byte matches.
		q := x ^ ('"' * ones)
		b := x ^ ('\\' * ones)
		if ((x-0x20*ones)&^x|(q-ones)&^q|(b-ones)&^b)&highs != 0 {
			break
		}
	}
	for ; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c == '"' || c == '\\' {
			break
		}
	}
	return i
}
