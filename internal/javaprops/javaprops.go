// Package javaprops reads the java.util.Properties text format, as Properties.load does with
// an InputStream: ISO-8859-1 bytes; comment lines starting with '#' or '!'; logical lines
// continued by an odd number of trailing backslashes (leading white space of the next line
// dropped); key and value split at the first unescaped '=', ':' or white space; escapes \t \n
// \r \f \uXXXX, and a backslash before any other character stands for that character.
// IDM's boot.properties and the JDK's java.security use it.
package javaprops

import (
	"strconv"
	"strings"
	"unicode"
	"unicode/utf16"
)

// A Property is one key and value, with the line its logical line starts on (1-based).
type Property struct {
	Key, Value string
	Line       int
}

// Parse returns the properties of data in file order. A key may repeat; Java keeps the last.
// Parse never fails: the format has no syntax errors (a malformed \u escape is kept as text).
// Callers bound the size of data.
func Parse(data []byte) []Property {
	var lines []string
	start := 0
	for i := 0; i < len(data); i++ {
		if data[i] == '\n' || data[i] == '\r' {
			lines = append(lines, latin1(data[start:i]))
			if data[i] == '\r' && i+1 < len(data) && data[i+1] == '\n' {
				i++
			}
			start = i + 1
		}
	}
	if start < len(data) {
		lines = append(lines, latin1(data[start:]))
	}
	var out []Property
	for i := 0; i < len(lines); i++ {
		first := i + 1
		l := strings.TrimLeft(lines[i], " \t\f")
		if l == "" || l[0] == '#' || l[0] == '!' {
			continue
		}
		logical := l
		if endsWithOddBackslashes(l) {
			// A builder, not repeated concatenation: a file of continued lines would
			// otherwise cost time quadratic in its size.
			var b strings.Builder
			for endsWithOddBackslashes(l) && i+1 < len(lines) {
				b.WriteString(l[:len(l)-1])
				i++
				l = strings.TrimLeft(lines[i], " \t\f")
			}
			if endsWithOddBackslashes(l) {
				l = l[:len(l)-1]
			}
			b.WriteString(l)
			logical = b.String()
		}
		k, v := split(logical)
		out = append(out, Property{Key: unescape(k), Value: unescape(v), Line: first})
	}
	return out
}

// hex4 parses the four hex digits at s[i:i+4].
func hex4(s string, i int) (uint64, bool) {
	if i+4 > len(s) {
		return 0, false
	}
	v, err := strconv.ParseUint(s[i:i+4], 16, 16)
	return v, err == nil
}

func latin1(b []byte) string {
	r := make([]rune, len(b))
	for i, c := range b {
		r[i] = rune(c)
	}
	return string(r)
}

func endsWithOddBackslashes(s string) bool {
	n := 0
	for i := len(s) - 1; i >= 0 && s[i] == '\\'; i-- {
		n++
	}
	return n%2 == 1
}

func split(l string) (key, value string) {
	i := 0
	for i < len(l) {
		c := l[i]
		if c == '\\' {
			i += 2
			continue
		}
		if c == '=' || c == ':' || c == ' ' || c == '\t' || c == '\f' {
			break
		}
		i++
	}
	if i > len(l) {
		i = len(l)
	}
	key = l[:i]
	rest := strings.TrimLeft(l[i:], " \t\f")
	if rest != "" && (rest[0] == '=' || rest[0] == ':') {
		rest = strings.TrimLeft(rest[1:], " \t\f")
	}
	return key, rest
}

func unescape(s string) string {
	if !strings.Contains(s, `\`) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c != '\\' || i+1 >= len(s) {
			b.WriteByte(c)
			continue
		}
		i++
		switch s[i] {
		case 't':
			b.WriteByte('\t')
		case 'n':
			b.WriteByte('\n')
		case 'r':
			b.WriteByte('\r')
		case 'f':
			b.WriteByte('\f')
		case 'u':
			if v, ok := hex4(s, i+1); ok {
				i += 4
				r := rune(v)
				// Java strings are UTF-16: \uD83D\uDE00 is one code point, U+1F600.
				if utf16.IsSurrogate(r) && i+6 < len(s) && s[i+1] == '\\' && s[i+2] == 'u' {
					if lo, ok := hex4(s, i+3); ok {
						if c := utf16.DecodeRune(r, rune(lo)); c != unicode.ReplacementChar {
							r = c
							i += 6
						}
					}
				}
				b.WriteRune(r)
				continue
			}
			b.WriteByte('u')
		default:
			b.WriteByte(s[i])
		}
	}
	return b.String()
}
