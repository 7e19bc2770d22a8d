package pkcs11conf

import "strings"

// The lexer reproduces java.io.StreamTokenizer as sun.security.pkcs11.Config sets it up:
// input decoded as ISO-8859-1, word characters a-z A-Z 0-9 : . _ - / \ $ { } * + ~,
// whitespace 0x00-0x20, '#' comments to end of line, '"' quotes with StreamTokenizer's escape
// rules, significant end of line (\n, \r or \r\n), and every other byte an "ordinary"
// single-character token.
//
// One addition: a comment that starts with directivePrefix is not skipped; its content is
// tokenized and marked as a directive (see Config.TokenLabel).

type tokKind uint8

const (
	tEOF   tokKind = iota
	tEOL           // end of line
	tWord          // a run of word characters
	tQuote         // a "quoted string"; val is its content
	tChar          // any other character; ch is the byte
	tDirective
)

// directivePrefix starts a comment that carries extension keywords, so that a file using
// them still loads in the JDK, which skips it as a comment.
const directivePrefix = "#secretstores:"

type token struct {
	kind tokKind
	val  string // word or quoted content (UTF-8; each input byte is one ISO-8859-1 character)
	ch   byte   // for tChar
	line int    // 1-based line of the token's first character
	col  int    // 1-based column (in characters) of the token's first character
	// unterminated is set on a tQuote that ended at end of line or input, not at a '"'.
	unterminated bool
}

func (t token) String() string {
	switch t.kind {
	case tEOF:
		return "end of file"
	case tEOL:
		return "end of line"
	case tWord:
		return "'" + t.val + "'"
	case tQuote:
		return "quoted string \"" + t.val + "\""
	case tDirective:
		return "'" + directivePrefix + "'"
	default:
		if t.ch < 0x20 || t.ch >= 0x7f {
			return "character " + quoteByte(t.ch)
		}
		return "'" + string(rune(t.ch)) + "'"
	}
}

func quoteByte(b byte) string {
	const hex = "0123456789ABCDEF"
	return "0x" + string([]byte{hex[b>>4], hex[b&15]})
}

var wordChar [256]bool

func init() {
	for c := 'a'; c <= 'z'; c++ {
		wordChar[c] = true
	}
	for c := 'A'; c <= 'Z'; c++ {
		wordChar[c] = true
	}
	for c := '0'; c <= '9'; c++ {
		wordChar[c] = true
	}
	for _, c := range ":._-/\\${}*+~" {
		wordChar[c] = true
	}
}

type lexer struct {
	src       []byte
	pos       int
	line      int
	lineStart int // offset of the first byte of the current line
	// pending is a token pushed back by the parser.
	pending *token
}

func newLexer(src []byte) *lexer { return &lexer{src: src, line: 1} }

func (l *lexer) read() int {
	if l.pos >= len(l.src) {
		return -1
	}
	c := l.src[l.pos]
	l.pos++
	return int(c)
}

func (l *lexer) unread() {
	l.pos--
}

func (l *lexer) newline() {
	l.line++
	l.lineStart = l.pos
}

func (l *lexer) push(t token) { l.pending = &t }

func (l *lexer) next() token {
	if l.pending != nil {
		t := *l.pending
		l.pending = nil
		return t
	}
	for {
		if l.pos >= len(l.src) {
			return token{kind: tEOF, line: l.line, col: l.pos - l.lineStart + 1}
		}
		start := l.pos
		c := l.src[l.pos]
		t := token{line: l.line, col: start - l.lineStart + 1}
		switch {
		case c == '\r':
			l.pos++
			if l.pos < len(l.src) && l.src[l.pos] == '\n' {
				l.pos++
			}
			l.newline()
			t.kind = tEOL
			return t
		case c == '\n':
			l.pos++
			l.newline()
			t.kind = tEOL
			return t
		case c <= ' ':
			l.pos++
			continue
		case wordChar[c]:
			for l.pos < len(l.src) && wordChar[l.src[l.pos]] {
				l.pos++
			}
			t.kind, t.val = tWord, string(l.src[start:l.pos]) // word chars are ASCII
			return t
		case c == '"':
			l.pos++
			t.kind = tQuote
			t.val, t.unterminated = l.quoted()
			return t
		case c == '#':
			if strings.HasPrefix(string(l.src[l.pos:min(len(l.src), l.pos+len(directivePrefix))]), directivePrefix) {
				l.pos += len(directivePrefix)
				t.kind = tDirective
				return t
			}
			for l.pos < len(l.src) && l.src[l.pos] != '\n' && l.src[l.pos] != '\r' {
				l.pos++
			}
			continue
		default:
			l.pos++
			t.kind, t.ch = tChar, c
			return t
		}
	}
}

// quoted reads the body of a quoted string after the opening '"', exactly as
// StreamTokenizer does: it ends at '"', at end of line (which is left for the next token) or
// at end of input; a backslash escapes \a \b \f \n \r \t \v, octal \0 to \377 and any other
// character (including a newline, which then continues the string on the next line).
func (l *lexer) quoted() (string, bool) {
	var buf []rune
	d := l.read()
	for d >= 0 && d != '"' && d != '\n' && d != '\r' {
		var c int
		if d == '\\' {
			c = l.read()
			first := c
			if c >= '0' && c <= '7' {
				c -= '0'
				c2 := l.read()
				if c2 >= '0' && c2 <= '7' {
					c = c<<3 + (c2 - '0')
					c2 = l.read()
					if c2 >= '0' && c2 <= '7' && first <= '3' {
						c = c<<3 + (c2 - '0')
						d = l.read()
					} else {
						d = c2
					}
				} else {
					d = c2
				}
			} else {
				switch c {
				case 'a':
					c = 0x7
				case 'b':
					c = '\b'
				case 'f':
					c = 0xC
				case 'n':
					c = '\n'
				case 'r':
					c = '\r'
				case 't':
					c = '\t'
				case 'v':
					c = 0xB
				case '\n':
					l.newline() // escaped newline: the string goes on; count the line anyway
				case '\r':
					if l.pos >= len(l.src) || l.src[l.pos] != '\n' {
						l.newline() // else the '\n' ends the string and counts as the end of line
					}
				case -1:
					c = 0xFFFF // Java's (char)-1
				}
				d = l.read()
			}
		} else {
			c = d
			d = l.read()
		}
		buf = append(buf, rune(c))
	}
	if d == '"' {
		return string(buf), false
	}
	if d >= 0 {
		l.unread() // leave the end of line for the next token
	}
	return string(buf), true
}
