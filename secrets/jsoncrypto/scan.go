package jsoncrypto

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"unicode/utf16"
	"unicode/utf8"
)

// A small strict JSON (RFC 8259) parser that keeps the byte span of every value, so that
// documents can be rewritten in place (only the $crypto values change, every other byte
// stays as it was) and $crypto values can be checked for duplicate names and field types.

type kind uint8

const (
	kNull kind = iota
	kBool
	kNumber
	kString
	kArray
	kObject
)

func (k kind) String() string {
	switch k {
	case kNull:
		return "null"
	case kBool:
		return "boolean"
	case kNumber:
		return "number"
	case kString:
		return "string"
	case kArray:
		return "array"
	default:
		return "object"
	}
}

type node struct {
	kind       kind
	start, end int    // byte span in the source
	str        string // decoded string (kString) or the literal (kNumber)
	b          bool
	members    []member // kObject, in source order
	elems      []node   // kArray
}

type member struct {
	key string
	val node
}

// get returns the member named key, or nil.
func (n *node) get(key string) *node {
	for i := range n.members {
		if n.members[i].key == key {
			return &n.members[i].val
		}
	}
	return nil
}

// errSyntax is wrapped by every parse failure.
var errSyntax = errors.New("invalid JSON")

type parser struct {
	src      []byte
	pos      int
	maxDepth int
	validate bool // only check the syntax: build no strings, members or elements
}

// parseJSON parses exactly one JSON value (surrounding whitespace allowed).
func parseJSON(src []byte, maxDepth int) (node, error) {
	return parseWith(parser{src: src, maxDepth: maxDepth})
}

// validJSON reports whether src is exactly one JSON value, without building a tree.
func validJSON(src []byte, maxDepth int) error {
	_, err := parseWith(parser{src: src, maxDepth: maxDepth, validate: true})
	return err
}

func parseWith(p parser) (node, error) {
	p.ws()
	n, err := p.value(0)
	if err != nil {
		return node{}, err
	}
	p.ws()
	if p.pos != len(p.src) {
		return node{}, p.fail("data after the top-level value")
	}
	return n, nil
}

func (p *parser) fail(what string) error {
	return fmt.Errorf("%w at byte %d: %s", errSyntax, p.pos, what)
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

func (p *parser) value(depth int) (node, error) {
	if p.pos >= len(p.src) {
		return node{}, p.fail("unexpected end of input")
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
			return node{}, err
		}
		return node{kind: kString, start: start, end: p.pos, str: s}, nil
	case c == 't':
		return p.literal("true", node{kind: kBool, b: true})
	case c == 'f':
		return p.literal("false", node{kind: kBool})
	case c == 'n':
		return p.literal("null", node{kind: kNull})
	case c == '-' || (c >= '0' && c <= '9'):
		return p.number()
	default:
		return node{}, p.fail("unexpected character")
	}
}

func (p *parser) literal(lit string, n node) (node, error) {
	if !strings.HasPrefix(string(p.src[p.pos:min(len(p.src), p.pos+len(lit))]), lit) {
		return node{}, p.fail("invalid literal")
	}
	n.start = p.pos
	p.pos += len(lit)
	n.end = p.pos
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

func (p *parser) number() (node, error) {
	start := p.pos
	if p.src[p.pos] == '-' {
		p.pos++
	}
	if p.pos < len(p.src) && p.src[p.pos] == '0' {
		p.pos++
	} else if p.digits() == 0 {
		return node{}, p.fail("invalid number")
	}
	if p.pos < len(p.src) && p.src[p.pos] == '.' {
		p.pos++
		if p.digits() == 0 {
			return node{}, p.fail("invalid number")
		}
	}
	if p.pos < len(p.src) && (p.src[p.pos] == 'e' || p.src[p.pos] == 'E') {
		p.pos++
		if p.pos < len(p.src) && (p.src[p.pos] == '+' || p.src[p.pos] == '-') {
			p.pos++
		}
		if p.digits() == 0 {
			return node{}, p.fail("invalid number")
		}
	}
	n := node{kind: kNumber, start: start, end: p.pos}
	if !p.validate {
		n.str = string(p.src[start:p.pos])
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
		p.pos += plainRun(p.src[p.pos:])
		if p.pos >= len(p.src) {
			break
		}
		c := p.src[p.pos]
		if c == '"' {
			s := p.src[start:p.pos]
			if !utf8.Valid(s) {
				return "", p.fail("invalid UTF-8 in string")
			}
			p.pos++
			if p.validate {
				return "", nil
			}
			return intern(s), nil
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
				if !utf8.Valid(p.src[start : p.pos-1]) {
					return "", p.fail("invalid UTF-8 in string")
				}
				return "", nil
			}
			s := b.String()
			if !utf8.ValidString(s) {
				return "", p.fail("invalid UTF-8 in string")
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

func (p *parser) object(depth int) (node, error) {
	if depth > p.maxDepth {
		return node{}, p.fail("nested too deeply")
	}
	n := node{kind: kObject, start: p.pos}
	p.pos++
	p.ws()
	if p.pos < len(p.src) && p.src[p.pos] == '}' {
		p.pos++
		n.end = p.pos
		return n, nil
	}
	for {
		p.ws()
		if p.pos >= len(p.src) || p.src[p.pos] != '"' {
			return node{}, p.fail("expected a member name")
		}
		key, err := p.string()
		if err != nil {
			return node{}, err
		}
		p.ws()
		if p.pos >= len(p.src) || p.src[p.pos] != ':' {
			return node{}, p.fail("expected ':'")
		}
		p.pos++
		p.ws()
		v, err := p.value(depth)
		if err != nil {
			return node{}, err
		}
		if !p.validate {
			n.members = append(n.members, member{key: key, val: v})
		}
		p.ws()
		if p.pos >= len(p.src) {
			return node{}, p.fail("unterminated object")
		}
		switch p.src[p.pos] {
		case ',':
			p.pos++
		case '}':
			p.pos++
			n.end = p.pos
			return n, nil
		default:
			return node{}, p.fail("expected ',' or '}'")
		}
	}
}

func (p *parser) array(depth int) (node, error) {
	if depth > p.maxDepth {
		return node{}, p.fail("nested too deeply")
	}
	n := node{kind: kArray, start: p.pos}
	p.pos++
	p.ws()
	if p.pos < len(p.src) && p.src[p.pos] == ']' {
		p.pos++
		n.end = p.pos
		return n, nil
	}
	for {
		p.ws()
		v, err := p.value(depth)
		if err != nil {
			return node{}, err
		}
		if !p.validate {
			n.elems = append(n.elems, v)
		}
		p.ws()
		if p.pos >= len(p.src) {
			return node{}, p.fail("unterminated array")
		}
		switch p.src[p.pos] {
		case ',':
			p.pos++
		case ']':
			p.pos++
			n.end = p.pos
			return n, nil
		default:
			return node{}, p.fail("expected ',' or ']'")
		}
	}
}

// appendJSONString appends s as a JSON string the way Jackson writes it: '"' and '\\'
// escaped, control characters as \b \t \n \f \r or \u00XX, everything else (including
// '<', '>', '&', '/' and non-ASCII) as is.
func appendJSONString(dst []byte, s string) []byte {
	const hexdigits = "0123456789ABCDEF"
	dst = append(dst, '"')
	start := 0
	for i := 0; i < len(s); i++ {
		i += plainRun(s[i:])
		if i >= len(s) {
			break
		}
		c := s[i]
		dst = append(dst, s[start:i]...)
		switch c {
		case '"', '\\':
			dst = append(dst, '\\', c)
		case '\b':
			dst = append(dst, '\\', 'b')
		case '\t':
			dst = append(dst, '\\', 't')
		case '\n':
			dst = append(dst, '\\', 'n')
		case '\f':
			dst = append(dst, '\\', 'f')
		case '\r':
			dst = append(dst, '\\', 'r')
		default:
			dst = append(dst, '\\', 'u', '0', '0', hexdigits[c>>4], hexdigits[c&0xf])
		}
		start = i + 1
	}
	dst = append(dst, s[start:]...)
	return append(dst, '"')
}

// jsonStringLen is len(appendJSONString(nil, s)).
func jsonStringLen(s string) int {
	n := len(s) + 2
	for i := 0; i < len(s); i++ {
		i += plainRun(s[i:])
		if i >= len(s) {
			break
		}
		switch s[i] {
		case '"', '\\', '\b', '\t', '\n', '\f', '\r':
			n++
		default:
			n += 5
		}
	}
	return n
}

// plainRun returns the length of the longest prefix of s without '"', '\\' or a control
// character (< 0x20): the bytes a JSON string holds as they are. Eight bytes at a time.
func plainRun[T string | []byte](s T) int {
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

// intern returns the string of b, without allocating for the member names and constant
// values of $crypto objects.
func intern(b []byte) string {
	switch string(b) {
	case "$crypto":
		return "$crypto"
	case "type":
		return "type"
	case "value":
		return "value"
	case "cipher":
		return "cipher"
	case "stableId":
		return "stableId"
	case "purpose":
		return "purpose"
	case "keySize":
		return "keySize"
	case "key":
		return "key"
	case "salt":
		return "salt"
	case "iv":
		return "iv"
	case "data":
		return "data"
	case "mac":
		return "mac"
	case "algorithm":
		return "algorithm"
	case TypeSimple:
		return TypeSimple
	case TypeGCM:
		return TypeGCM
	case CipherCBC:
		return CipherCBC
	case CipherGCM:
		return CipherGCM
	}
	return string(b)
}

// javaLess orders strings as Java's String.compareTo does (UTF-16 code units), which is the
// order of the TreeMap json-crypto feeds to its MAC. It differs from Go's byte order only
// between supplementary characters and U+E000..U+FFFF.
func javaLess(a, b string) bool {
	for a != "" && b != "" {
		ra, na := utf8.DecodeRuneInString(a)
		rb, nb := utf8.DecodeRuneInString(b)
		if ra != rb {
			ua, ub := firstUnit(ra), firstUnit(rb)
			if ua != ub {
				return ua < ub
			}
			// Same high surrogate: the low surrogates decide.
			_, la := utf16.EncodeRune(ra)
			_, lb := utf16.EncodeRune(rb)
			return la < lb
		}
		a, b = a[na:], b[nb:]
	}
	return a == "" && b != ""
}

func firstUnit(r rune) rune {
	if r >= 0x10000 {
		h, _ := utf16.EncodeRune(r)
		return h
	}
	return r
}

// javaInteger returns the decimal form Java prints for a JSON integer literal (Jackson reads
// it as Integer, Long or BigInteger), or false for a fraction or exponent.
func javaInteger(lit string) (string, bool) {
	if strings.ContainsAny(lit, ".eE") {
		return "", false
	}
	if v, err := strconv.ParseInt(lit, 10, 64); err == nil {
		return strconv.FormatInt(v, 10), true
	}
	// Larger than int64: BigInteger prints the literal without "-0" oddities; JSON integer
	// literals have no leading zeros, so the literal is already canonical.
	if lit == "-0" {
		return "0", true
	}
	return lit, true
}
