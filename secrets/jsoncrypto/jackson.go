package jsoncrypto

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
)

// IDMText returns the text IDM hashes for a JSON value: a JSON string is its content (IDM
// hashes a string as itself); any other value is the text Jackson's default pretty printer
// writes for it (ObjectMapper.writerWithDefaultPrettyPrinter), as IDM holds the value:
//
//   - objects keep their members in input order (a repeated name keeps its first place and
//     its last value, as a LinkedHashMap does), each member on its own line indented by two
//     spaces per level, name and value separated by " : ", lines ending in "\n"; an empty
//     object is "{ }";
//   - arrays stay on one line, "[ 1, 2 ]"; an empty array is "[ ]";
//   - integers are written in canonical decimal (-0 as 0, any size); numbers with a
//     fraction or exponent as Java's Double.toString writes the double they denote
//     ("100.0", "1.0E-4", "1.2345678E7");
//   - strings escape only '"', '\\' and control characters below U+0020 (\b \t \n \f \r,
//     else \u00XX with upper-case hex); everything else is kept as UTF-8.
//
// So {"password":"myPassw0rd"} becomes "{\n  \"password\" : \"myPassw0rd\"\n}", the text
// whose salted SHA-384 PingIDM's documentation prints for that object (cli.sh secureHash
// --json). Expected texts in the tests come from Jackson 2.14 (testdata/jackson/gen.sh).
//
// Doubles follow the shortest-digits rule of Java 19 and later. Java 17 and earlier print
// a few doubles with more digits than needed (2e23 as 1.9999999999999998E23, 1e23 as
// 9.999999999999999E22): IDM on those JDKs hashed such a number in that longer text, which
// IDMText does not reproduce. Numbers beyond the double range, and JSON nested more than
// 64 levels, are errors.
func IDMText(value json.RawMessage) (string, error) {
	if !json.Valid(value) {
		return "", malformed("not a JSON value")
	}
	p := jscan{s: value}
	p.ws()
	if p.s[p.i] == '"' {
		return p.str()
	}
	// Fast path: write while scanning. An object with a repeated member name needs the
	// LinkedHashMap rule (first place, last value): then build the tree instead.
	var b strings.Builder
	b.Grow(len(value) + len(value)/2)
	err := p.stream(&b, 0, 0)
	if err == nil {
		return b.String(), nil
	}
	if !errors.Is(err, errDupMember) {
		return "", err
	}
	p = jscan{s: value}
	v, err := p.value(0)
	if err != nil {
		return "", err
	}
	b.Reset()
	if err := jacksonWrite(&b, v, 0); err != nil {
		return "", err
	}
	return b.String(), nil
}

var errDupMember = errors.New("repeated member name")

// stream writes the value at p as Jackson does, without building it.
func (p *jscan) stream(b *strings.Builder, level, depth int) error {
	if depth > maxJacksonDepth {
		return malformed("JSON value nests more than %d levels", maxJacksonDepth)
	}
	p.ws()
	switch c := p.s[p.i]; c {
	case '{':
		p.i++
		p.ws()
		if p.s[p.i] == '}' {
			p.i++
			b.WriteString("{ }")
			return nil
		}
		b.WriteByte('{')
		var seen []string
		var seenSet map[string]struct{}
		for n := 0; ; n++ {
			p.ws()
			k, err := p.str()
			if err != nil {
				return err
			}
			if seenSet != nil {
				if _, dup := seenSet[k]; dup {
					return errDupMember
				}
				seenSet[k] = struct{}{}
			} else {
				for _, x := range seen {
					if x == k {
						return errDupMember
					}
				}
				if seen = append(seen, k); len(seen) > 16 {
					seenSet = make(map[string]struct{}, 32)
					for _, x := range seen {
						seenSet[x] = struct{}{}
					}
				}
			}
			if n > 0 {
				b.WriteByte(',')
			}
			b.WriteByte('\n')
			indent(b, level+1)
			jacksonString(b, k)
			b.WriteString(" : ")
			p.ws()
			p.i++ // ':'
			if err := p.stream(b, level+1, depth+1); err != nil {
				return err
			}
			p.ws()
			if p.s[p.i] == '}' {
				p.i++
				b.WriteByte('\n')
				indent(b, level)
				b.WriteByte('}')
				return nil
			}
			p.i++ // ','
		}
	case '[':
		p.i++
		p.ws()
		if p.s[p.i] == ']' {
			p.i++
			b.WriteString("[ ]")
			return nil
		}
		b.WriteString("[ ")
		for n := 0; ; n++ {
			if n > 0 {
				b.WriteString(", ")
			}
			if err := p.stream(b, level, depth+1); err != nil {
				return err
			}
			p.ws()
			if p.s[p.i] == ']' {
				p.i++
				b.WriteString(" ]")
				return nil
			}
			p.i++ // ','
		}
	default:
		v, err := p.value(depth)
		if err != nil {
			return err
		}
		return jacksonWrite(b, v, level)
	}
}

// jObject is an object in member order.
type jObject struct {
	keys []string
	vals map[string]any
}

const maxJacksonDepth = 64

// jscan reads a JSON text already checked by json.Valid into strings, json.Number, bool,
// nil, []any and *jObject.
type jscan struct {
	s []byte
	i int
}

func (p *jscan) ws() {
	for p.i < len(p.s) && (p.s[p.i] == ' ' || p.s[p.i] == '\t' || p.s[p.i] == '\n' || p.s[p.i] == '\r') {
		p.i++
	}
}

func (p *jscan) value(depth int) (any, error) {
	if depth > maxJacksonDepth {
		return nil, malformed("JSON value nests more than %d levels", maxJacksonDepth)
	}
	p.ws()
	switch c := p.s[p.i]; c {
	case '{':
		p.i++
		o := &jObject{}
		p.ws()
		if p.s[p.i] == '}' {
			p.i++
			return o, nil
		}
		for {
			p.ws()
			k, err := p.str()
			if err != nil {
				return nil, err
			}
			p.ws()
			p.i++ // ':'
			v, err := p.value(depth + 1)
			if err != nil {
				return nil, err
			}
			if o.vals == nil {
				o.vals = make(map[string]any)
			}
			if _, dup := o.vals[k]; !dup {
				o.keys = append(o.keys, k)
			}
			o.vals[k] = v
			p.ws()
			if p.s[p.i] == '}' {
				p.i++
				return o, nil
			}
			p.i++ // ','
		}
	case '[':
		p.i++
		a := []any{}
		p.ws()
		if p.s[p.i] == ']' {
			p.i++
			return a, nil
		}
		for {
			v, err := p.value(depth + 1)
			if err != nil {
				return nil, err
			}
			a = append(a, v)
			p.ws()
			if p.s[p.i] == ']' {
				p.i++
				return a, nil
			}
			p.i++ // ','
		}
	case '"':
		return p.str()
	case 't':
		p.i += 4
		return true, nil
	case 'f':
		p.i += 5
		return false, nil
	case 'n':
		p.i += 4
		return nil, nil
	default:
		a := p.i
		for p.i < len(p.s) && strings.IndexByte("+-.0123456789eE", p.s[p.i]) >= 0 {
			p.i++
		}
		return json.Number(p.s[a:p.i]), nil
	}
}

// str reads a string token; plain ASCII is taken as is, anything else is decoded by
// encoding/json (escapes, and invalid UTF-8 as U+FFFD).
func (p *jscan) str() (string, error) {
	a := p.i
	plain := true
	p.i++
	for {
		c := p.s[p.i]
		if c == '"' {
			break
		}
		if c == '\\' {
			plain = false
			p.i++
		} else if c >= utf8RuneSelf {
			plain = false
		}
		p.i++
	}
	p.i++
	if plain {
		return string(p.s[a+1 : p.i-1]), nil
	}
	var s string
	if err := json.Unmarshal(p.s[a:p.i], &s); err != nil {
		return "", malformed("bad JSON string")
	}
	return s, nil
}

const utf8RuneSelf = 0x80

func jacksonWrite(b *strings.Builder, v any, level int) error {
	switch x := v.(type) {
	case *jObject:
		if len(x.keys) == 0 {
			b.WriteString("{ }")
			return nil
		}
		b.WriteByte('{')
		for i, k := range x.keys {
			if i > 0 {
				b.WriteByte(',')
			}
			b.WriteByte('\n')
			indent(b, level+1)
			jacksonString(b, k)
			b.WriteString(" : ")
			if err := jacksonWrite(b, x.vals[k], level+1); err != nil {
				return err
			}
		}
		b.WriteByte('\n')
		indent(b, level)
		b.WriteByte('}')
	case []any:
		if len(x) == 0 {
			b.WriteString("[ ]")
			return nil
		}
		b.WriteString("[ ")
		for i, e := range x {
			if i > 0 {
				b.WriteString(", ")
			}
			// Arrays are inline: objects inside them indent from the enclosing level.
			if err := jacksonWrite(b, e, level); err != nil {
				return err
			}
		}
		b.WriteString(" ]")
	case string:
		jacksonString(b, x)
	case json.Number:
		s, err := jacksonNumber(string(x))
		if err != nil {
			return err
		}
		b.WriteString(s)
	case bool:
		b.WriteString(strconv.FormatBool(x))
	case nil:
		b.WriteString("null")
	default:
		return fmt.Errorf("jsoncrypto: IDMText: unexpected %T", v)
	}
	return nil
}

func indent(b *strings.Builder, level int) {
	for range level {
		b.WriteString("  ")
	}
}

func jacksonString(b *strings.Builder, s string) {
	const hex = "0123456789ABCDEF"
	b.WriteByte('"')
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '"' || c == '\\':
			b.WriteByte('\\')
			b.WriteByte(c)
		case c >= 0x20:
			b.WriteByte(c)
		case c == '\b':
			b.WriteString(`\b`)
		case c == '\t':
			b.WriteString(`\t`)
		case c == '\n':
			b.WriteString(`\n`)
		case c == '\f':
			b.WriteString(`\f`)
		case c == '\r':
			b.WriteString(`\r`)
		default:
			b.WriteString(`\u00`)
			b.WriteByte(hex[c>>4])
			b.WriteByte(hex[c&0xf])
		}
	}
	b.WriteByte('"')
}

var errNumberRange = errors.New("jsoncrypto: IDMText: a number is beyond the range of a double")

// jacksonNumber writes a JSON number as Jackson does after reading it into Integer, Long,
// BigInteger or Double.
func jacksonNumber(s string) (string, error) {
	if !strings.ContainsAny(s, ".eE") {
		// JSON has no leading zeros, so an integer's text is canonical already, but for -0
		// (Integer 0). Integer, Long and BigInteger all print their decimal digits.
		if s == "-0" {
			return "0", nil
		}
		return s, nil
	}
	f, err := strconv.ParseFloat(s, 64)
	if err != nil || math.IsInf(f, 0) {
		return "", errNumberRange
	}
	return javaDouble(f), nil
}

// javaDouble is Java's Double.toString (shortest digits, Java 19+): plain notation with
// at least one fraction digit for 10^-3 ≤ |f| < 10^7, else d.dddE±n.
func javaDouble(f float64) string {
	if f == 0 {
		if math.Signbit(f) {
			return "-0.0"
		}
		return "0.0"
	}
	sign := ""
	if f < 0 {
		sign, f = "-", -f
	}
	e := strconv.FormatFloat(f, 'e', -1, 64)
	if !strings.Contains(e[:strings.IndexByte(e, 'e')], ".") {
		// One significant digit: Java prints at least two, the two closest to the value.
		e = strconv.FormatFloat(f, 'e', 1, 64)
	}
	m, x, _ := strings.Cut(e, "e")
	digits := strings.Replace(m, ".", "", 1)
	exp, _ := strconv.Atoi(x)
	frac := func(d string) string {
		d = strings.TrimRight(d, "0")
		if d == "" {
			return "0"
		}
		return d
	}
	if f >= 1e-3 && f < 1e7 {
		if exp >= 0 {
			for len(digits) < exp+1 {
				digits += "0"
			}
			return sign + digits[:exp+1] + "." + frac(digits[exp+1:])
		}
		return sign + "0." + strings.Repeat("0", -exp-1) + strings.TrimRight(digits, "0")
	}
	return sign + digits[:1] + "." + frac(digits[1:]) + "E" + strconv.Itoa(exp)
}
