package jsoncrypto

import (
	"strconv"
	"strings"
	"unicode/utf16"
	"unicode/utf8"

	"github.com/secretstores/secretstores/internal/strictjson"
)

// The parser is internal/strictjson's: it keeps the byte span of every value, so that
// documents can be rewritten in place (only the $crypto values change, every other byte
// stays as it was) and $crypto values can be checked for duplicate names and field types.

type node = strictjson.Node

const (
	kNull   = strictjson.Null
	kBool   = strictjson.Bool
	kNumber = strictjson.Number
	kString = strictjson.String
	kArray  = strictjson.Array
	kObject = strictjson.Object
)

// parseJSON parses exactly one JSON value (surrounding whitespace allowed).
func parseJSON(src []byte, maxDepth int) (node, error) {
	return strictjson.Parse(src, strictjson.Options{MaxDepth: maxDepth, Intern: intern})
}

// validJSON reports whether src is exactly one JSON value, without building a tree.
func validJSON(src []byte, maxDepth int) error {
	return strictjson.Valid(src, strictjson.Options{MaxDepth: maxDepth})
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

// plainRun is [strictjson.PlainRun]: the length of the longest prefix of s that a JSON
// string holds as it is.
func plainRun[T string | []byte](s T) int { return strictjson.PlainRun(s) }

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
