package pkcs11conf

import (
	"errors"
	"fmt"
	"strings"
)

// Sentinel errors. Every error returned by Parse, ParseFile and ParseProviderArg for bad input
// is a *ParseError whose Err is one of these, so callers test with errors.Is and read the
// position with errors.As.
var (
	ErrSyntax             = errors.New("syntax error")
	ErrUnknownKeyword     = errors.New("unknown keyword")
	ErrDuplicate          = errors.New("duplicate keyword")
	ErrMissing            = errors.New("missing keyword")
	ErrConflict           = errors.New("conflicting keywords")
	ErrValue              = errors.New("invalid value")
	ErrUnknownAttribute   = errors.New("unknown attribute")
	ErrUnknownMechanism   = errors.New("unknown mechanism")
	ErrUnknownObjectClass = errors.New("unknown object class")
	ErrUnknownKeyType     = errors.New("unknown key type")
	ErrUnknownOperation   = errors.New("unknown operation")
	ErrUnknownProperty    = errors.New("unknown property")
	ErrTooLarge           = errors.New("input too large")
	// ErrProviderGap marks a security.provider.N line of a java.security file that the JDK
	// ignores because a lower number is missing. It is reported as a Warning, or returned by
	// JavaSecurity.Lookup when the provider asked for sits behind the gap.
	ErrProviderGap = errors.New("provider number after a gap")
	// ErrNotFound is returned by JavaSecurity.Lookup when no provider has the name asked for.
	ErrNotFound = errors.New("provider not found")
)

// ParseError describes a problem in a SunPKCS11 configuration or a java.security file.
//
// Line and Column are 1-based; Line is 0 for problems of the file as a whole (a missing
// keyword), Column is 0 when unknown. File is "" for Parse without a file name.
type ParseError struct {
	File    string
	Line    int
	Column  int
	Keyword string // the keyword being parsed, "" if none
	Err     error  // one of the Err* sentinels
	Msg     string // what is wrong
	Hint    string // how to fix it, "" if nothing useful to say
}

func (e *ParseError) Error() string {
	var b strings.Builder
	b.WriteString("pkcs11conf: ")
	pos := e.File
	if pos == "" {
		pos = "config"
	}
	if e.Line > 0 {
		pos += fmt.Sprintf(":%d", e.Line)
		if e.Column > 0 {
			pos += fmt.Sprintf(":%d", e.Column)
		}
	}
	b.WriteString(pos)
	b.WriteString(": ")
	b.WriteString(e.Msg)
	if e.Hint != "" {
		b.WriteString(" (")
		b.WriteString(e.Hint)
		b.WriteString(")")
	}
	return b.String()
}

// Unwrap returns the sentinel.
func (e *ParseError) Unwrap() error { return e.Err }

// A Warning is something the JDK accepts but that probably does not do what the author meant,
// such as a template that repeats an attribute or a 0h value with leading zero bytes.
// It has the same fields as a ParseError.
type Warning = ParseError

// suggest returns the candidate closest to s (case-insensitive edit distance), or "" when
// none is close enough to be a likely misspelling.
func suggest(s string, candidates []string) string {
	best, bestD := "", -1
	ls := strings.ToLower(s)
	for _, c := range candidates {
		d := editDistance(ls, strings.ToLower(c))
		if bestD < 0 || d < bestD {
			best, bestD = c, d
		}
	}
	limit := len(s) / 3
	if limit < 2 {
		limit = 2
	}
	if bestD < 0 || bestD > limit || best == s {
		return ""
	}
	return best
}

// editDistance is the Levenshtein distance, bounded in cost by the caller's short inputs
// (keywords and PKCS#11 names; the tokenizer limits word length).
func editDistance(a, b string) int {
	if len(a) > 128 || len(b) > 128 {
		return 1 << 20
	}
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}

func didYouMean(s string, candidates []string) string {
	if c := suggest(s, candidates); c != "" {
		return fmt.Sprintf("did you mean %q?", c)
	}
	return ""
}
