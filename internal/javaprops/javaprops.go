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
		for endsWithOddBackslashes(logical) && i+1 < len(lines) {
			i++
			logical = logical[:len(logical)-1] + strings.TrimLeft(lines[i], " \t\f")
		}
		if endsWithOddBackslashes(logical) {
			logical = logical[:len(logical)-1]
		}
		k, v := split(logical)
		out = append(out, Property{Key: unescape(k), Value: unescape(v), Line: first})
	}
	return out
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
			if i+4 < len(s) {
				if v, err := strconv.ParseUint(s[i+1:i+5], 16, 16); err == nil {
					b.WriteRune(rune(v))
					i += 4
					continue
				}
			}
			b.WriteByte('u')
		default:
			b.WriteByte(s[i])
		}
	}
	return b.String()
}
