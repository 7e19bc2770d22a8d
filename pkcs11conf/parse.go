package pkcs11conf

import (
	"bytes"
	"encoding/hex"
	"fmt"
	"io"
	"math"
	"math/big"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/miekg/pkcs11"
)

// MaxSize is the default limit on the size of a configuration (and of a java.security file).
const MaxSize = 1 << 20

// Options adjust parsing. The zero value is the default.
type Options struct {
	// File names the input in errors and in Config.File.
	File string
	// Properties resolves ${name} in the places the JDK expands properties. It is consulted
	// before the built-in Java system properties (see JavaProperty); return ok=false to fall
	// back to them. nil means the built-ins only.
	Properties func(name string) (value string, ok bool)
	// MaxSize limits the input in bytes; 0 means MaxSize.
	MaxSize int64
}

// Parse reads a SunPKCS11 configuration from r.
func Parse(r io.Reader) (*Config, error) { return ParseOptions(r, Options{}) }

// ParseFile reads the SunPKCS11 configuration file at path. Like the JDK does with its
// provider argument, it first expands ${prop} in path (see JavaProperty).
func ParseFile(path string) (*Config, error) { return parseFile(path, Options{}) }

func parseFile(path string, opts Options) (*Config, error) {
	expanded, err := expand(path, opts.Properties)
	if err != nil {
		return nil, &ParseError{File: path, Err: ErrUnknownProperty, Msg: "in file name: " + err.Error(), Hint: propertyHint}
	}
	f, err := os.Open(expanded)
	if err != nil {
		return nil, fmt.Errorf("pkcs11conf: %w", err)
	}
	defer f.Close()
	opts.File = expanded
	return ParseOptions(f, opts)
}

// ParseProviderArg parses a SunPKCS11 provider argument, as given to keytool -providerArg,
// Provider.configure or in a java.security provider line: an argument starting with "--" is
// the configuration itself (with the two characters `\n` standing for a newline), anything
// else is a file name, ${prop}-expanded.
func ParseProviderArg(arg string, opts Options) (*Config, error) {
	if strings.HasPrefix(arg, "--") {
		opts.File = "--"
		return ParseOptions(strings.NewReader(strings.ReplaceAll(arg[2:], `\n`, "\n")), opts)
	}
	return parseFile(arg, opts)
}

// ParseOptions reads a SunPKCS11 configuration from r with options.
func ParseOptions(r io.Reader, opts Options) (*Config, error) {
	limit := opts.MaxSize
	if limit <= 0 {
		limit = MaxSize
	}
	data, err := io.ReadAll(io.LimitReader(r, limit+1))
	if err != nil {
		return nil, fmt.Errorf("pkcs11conf: reading %s: %w", nameOr(opts.File), err)
	}
	if int64(len(data)) > limit {
		return nil, &ParseError{File: opts.File, Err: ErrTooLarge,
			Msg:  fmt.Sprintf("configuration is larger than %d bytes", limit),
			Hint: "a SunPKCS11 configuration is a few lines; check the file name"}
	}
	p := &parser{lx: newLexer(data), opts: opts, cfg: newConfig(opts.File)}
	if err := p.parse(); err != nil {
		return nil, err
	}
	return p.cfg, nil
}

func nameOr(f string) string {
	if f == "" {
		return "config"
	}
	return f
}

func newConfig(file string) *Config {
	return &Config{
		File:                       file,
		SlotID:                     -1,
		SlotListIndex:              -1,
		HandleStartupErrors:        StartupHalt,
		InsertionCheckInterval:     2000 * time.Millisecond,
		CleanerShortInterval:       2000 * time.Millisecond,
		CleanerLongInterval:        60000 * time.Millisecond,
		KeyStoreCompatibilityMode:  true,
		ExplicitCancel:             true,
		AllowSingleThreadedModules: true,
		NSSDbMode:                  "readWrite",
		NSSNetscapeDbWorkaround:    true,
		Lines:                      map[string]int{},
	}
}

// keywords lists every keyword Parse accepts, for suggestions and docs.
var keywords = []string{
	"name", "library", "description", "slot", "slotListIndex", "enabledMechanisms",
	"disabledMechanisms", "attributes", "handleStartupErrors", "insertionCheckInterval",
	"cleaner.shortInterval", "cleaner.longInterval", "destroyTokenAfterLogout", "showInfo",
	"allowLegacy", "keyStoreCompatibilityMode", "explicitCancel", "omitInitialize",
	"allowSingleThreadedModules", "functionList", "cipherTextStealingVariant", "nssUseSecmod",
	"nssLibraryDirectory", "nssSecmodDirectory", "nssModule", "nssDbMode",
	"nssNetscapeDbWorkaround", "nssArgs", "nssUseSecmodTrust", "useEcX963Encoding",
	"nssOptimizeSpace",
	// extensions
	"tokenLabel", "tokenSerial",
}

var extensionKeywords = []string{"tokenLabel", "tokenSerial"}

const propertyHint = "known properties are Java system properties such as user.home and java.home, and ${/}"

type parser struct {
	lx   *lexer
	opts Options
	cfg  *Config
	kw   token // keyword being parsed
	// directive is set while parsing the rest of a "#secretstores:" line.
	directive       bool
	droppedWarnings int
}

func (p *parser) errAt(t token, sentinel error, msg, hint string) *ParseError {
	return &ParseError{File: p.opts.File, Line: t.line, Column: t.col, Keyword: p.kw.val, Err: sentinel, Msg: msg, Hint: hint}
}

// maxWarnings bounds Config.Warnings, so that a hostile file cannot make it huge.
const maxWarnings = 100

func (p *parser) warn(t token, sentinel error, msg, hint string) {
	if len(p.cfg.Warnings) >= maxWarnings {
		p.droppedWarnings++
		return
	}
	p.cfg.Warnings = append(p.cfg.Warnings, p.errAt(t, sentinel, msg, hint))
}

func (p *parser) next() token {
	t := p.lx.next()
	if t.kind == tEOL {
		p.directive = false
	}
	if t.kind == tQuote && t.unterminated {
		p.warn(t, ErrSyntax, "quoted string is not closed before the end of the line", `add the closing '"' (the JDK takes the string up to the end of the line)`)
	}
	return t
}

func (p *parser) parse() error {
	for {
		t := p.next()
		switch t.kind {
		case tEOF:
			return p.finish()
		case tEOL:
			continue
		case tDirective:
			p.directive = true
			continue
		case tWord:
		default:
			return p.errAt(t, ErrSyntax, "unexpected "+t.String()+", expected a keyword", "each line is 'keyword = value'")
		}
		p.kw = t
		if err := p.entry(t); err != nil {
			return err
		}
		if _, ok := p.cfg.Lines[t.val]; !ok {
			p.cfg.Lines[t.val] = t.line
		}
		p.kw = token{}
	}
}

func (p *parser) entry(t token) error {
	c := p.cfg
	kw := t.val
	if p.directive && kw != "tokenLabel" && kw != "tokenSerial" {
		return p.errAt(t, ErrUnknownKeyword, fmt.Sprintf("keyword %q is not an extension keyword; only %s may follow %q", kw, strings.Join(extensionKeywords, " and "), directivePrefix), "write JDK keywords on their own line, outside the comment")
	}
	var err error
	switch kw {
	case "name":
		c.Name, err = p.stringEntry(t)
	case "library":
		c.Library, err = p.library(t)
	case "description":
		if err = p.checkDup(t); err == nil {
			if err = p.equals(); err == nil {
				c.Description, err = p.line()
			}
		}
	case "slot", "slotListIndex":
		err = p.slot(t)
	case "enabledMechanisms":
		c.EnabledMechanisms, err = p.mechanisms(t)
	case "disabledMechanisms":
		c.DisabledMechanisms, err = p.mechanisms(t)
	case "attributes":
		err = p.attributes(t)
	case "handleStartupErrors":
		var v token
		if v, err = p.wordEntry(t); err == nil {
			switch StartupErrors(v.val) {
			case StartupHalt, StartupIgnoreAll, StartupIgnoreMissingLibrary, StartupIgnoreMultipleInitialisation:
				c.HandleStartupErrors = StartupErrors(v.val)
			default:
				err = p.errAt(v, ErrValue, fmt.Sprintf("invalid value %s for handleStartupErrors", v), "use halt, ignoreAll or ignoreMissingLibrary")
			}
		}
	case "insertionCheckInterval":
		c.InsertionCheckInterval, err = p.interval(t, 100)
	case "cleaner.shortInterval":
		c.CleanerShortInterval, err = p.interval(t, 1000)
	case "cleaner.longInterval":
		c.CleanerLongInterval, err = p.interval(t, 1000)
	case "destroyTokenAfterLogout":
		c.DestroyTokenAfterLogout, err = p.boolEntry(t)
	case "showInfo":
		c.ShowInfo, err = p.boolEntry(t)
	case "allowLegacy":
		c.AllowLegacy, err = p.boolEntry(t)
	case "keyStoreCompatibilityMode":
		c.KeyStoreCompatibilityMode, err = p.boolEntry(t)
	case "explicitCancel":
		c.ExplicitCancel, err = p.boolEntry(t)
	case "omitInitialize":
		c.OmitInitialize, err = p.boolEntry(t)
	case "allowSingleThreadedModules":
		c.AllowSingleThreadedModules, err = p.boolEntry(t)
	case "functionList":
		c.FunctionList, err = p.stringEntry(t)
	case "cipherTextStealingVariant":
		var v string
		if v, err = p.stringEntry(t); err == nil {
			switch v {
			case "CS1", "CS2", "CS3":
				c.CipherTextStealingVariant = v
			default:
				err = p.errAt(t, ErrValue, fmt.Sprintf("invalid cipherTextStealingVariant %q", v), "use CS1, CS2 or CS3")
			}
		}
	case "nssUseSecmod":
		c.NSSUseSecmod, err = p.boolEntry(t)
	case "nssLibraryDirectory":
		c.NSSLibraryDirectory, err = p.library(t)
		c.NSSUseSecmod = true
	case "nssSecmodDirectory":
		var v string
		if v, err = p.stringEntry(t); err == nil {
			c.NSSSecmodDirectory, err = p.expand(t, v)
		}
		c.NSSUseSecmod = true
	case "nssModule":
		c.NSSModule, err = p.stringEntry(t)
		c.NSSUseSecmod = true
	case "nssDbMode":
		var v string
		if v, err = p.stringEntry(t); err == nil {
			switch v {
			case "readWrite", "readOnly", "noDb":
				c.NSSDbMode = v
			default:
				err = p.errAt(t, ErrValue, fmt.Sprintf("invalid nssDbMode %q", v), "use readWrite, readOnly or noDb")
			}
		}
		c.NSSUseSecmod = true
	case "nssNetscapeDbWorkaround":
		c.NSSNetscapeDbWorkaround, err = p.boolEntry(t)
		c.NSSUseSecmod = true
	case "nssArgs":
		err = p.nssArgs(t)
	case "nssUseSecmodTrust":
		c.NSSUseSecmodTrust, err = p.boolEntry(t)
	case "useEcX963Encoding":
		c.UseEcX963Encoding, err = p.boolEntry(t)
	case "nssOptimizeSpace":
		c.NSSOptimizeSpace, err = p.boolEntry(t)
	case "tokenLabel", "tokenSerial":
		err = p.tokenSelector(t)
	default:
		hint := didYouMean(kw, keywords)
		if strings.HasSuffix(kw, "insertionCheckInterval") {
			hint = "write insertionCheckInterval alone (JDK 17 accepts any prefix, newer JDKs do not)"
		}
		if hint == "" {
			hint = "keywords are case-sensitive; see the SunPKCS11 reference for the list"
		}
		err = p.errAt(t, ErrUnknownKeyword, fmt.Sprintf("unknown keyword %q", kw), hint)
	}
	return err
}

func (p *parser) finish() error {
	c := p.cfg
	if c.Name == "" && !c.Given("name") {
		return &ParseError{File: p.opts.File, Err: ErrMissing, Keyword: "name", Msg: "name must be specified", Hint: "add a line 'name = <provider name>'; the JDK provider becomes SunPKCS11-<name>"}
	}
	conflict := func(kw, msg, hint string) error {
		return &ParseError{File: p.opts.File, Line: c.Lines[kw], Keyword: kw, Err: ErrConflict, Msg: msg, Hint: hint}
	}
	if !c.NSSUseSecmod {
		if !c.Given("library") {
			return &ParseError{File: p.opts.File, Err: ErrMissing, Keyword: "library", Msg: "library must be specified", Hint: "add a line 'library = /absolute/path/to/module.so', e.g. /usr/lib/softhsm/libsofthsm2.so"}
		}
	} else {
		const nss = "NSS mode is on (nssUseSecmod, or one of nssLibraryDirectory, nssSecmodDirectory, nssModule, nssDbMode, nssNetscapeDbWorkaround)"
		switch {
		case c.Given("library"):
			return conflict("library", "library must not be specified in NSS mode", nss+"; remove library, or the NSS keywords")
		case c.SlotID != -1 || c.SlotListIndex != -1:
			kw := "slot"
			if c.SlotListIndex != -1 {
				kw = "slotListIndex"
			}
			return conflict(kw, "slot and slotListIndex must not be specified in NSS mode", nss)
		case c.Given("nssArgs"):
			return conflict("nssArgs", "nssArgs must not be specified in NSS mode", nss+"; nssArgs is for the NSS softtoken used as a plain PKCS#11 library")
		case c.NSSUseSecmodTrust:
			return conflict("nssUseSecmodTrust", "nssUseSecmodTrust is an internal option and must not be specified in NSS mode", "remove it")
		}
	}
	if p.droppedWarnings > 0 {
		c.Warnings = append(c.Warnings, &ParseError{File: p.opts.File, Err: ErrValue, Msg: fmt.Sprintf("%d more warnings not shown", p.droppedWarnings)})
	}
	if c.EnabledMechanisms != nil && c.DisabledMechanisms != nil {
		p.cfg.Warnings = append(p.cfg.Warnings, &ParseError{File: p.opts.File, Line: c.Lines["disabledMechanisms"], Keyword: "disabledMechanisms", Err: ErrConflict,
			Msg: "disabledMechanisms is ignored because enabledMechanisms is given", Hint: "keep one of the two lists"})
	}
	return nil
}

// --- helpers mirroring Config.java -------------------------------------------------------

func (p *parser) checkDup(t token) error {
	if line, ok := p.cfg.Lines[t.val]; ok {
		return p.errAt(t, ErrDuplicate, fmt.Sprintf("%s must only be specified once (first given on line %d)", t.val, line), "remove one of the two lines")
	}
	return nil
}

func (p *parser) equals() error {
	t := p.next()
	if t.kind != tChar || t.ch != '=' {
		return p.errAt(t, ErrSyntax, fmt.Sprintf("expected '=' after %s, read %s", p.kw.val, t), "write 'keyword = value' on one line")
	}
	return nil
}

func (p *parser) word(what string) (token, error) {
	t := p.next()
	if t.kind != tWord {
		hint := ""
		switch t.kind {
		case tQuote:
			hint = "this value cannot be quoted"
		case tEOL, tEOF:
			hint = "the value must be on the same line"
		case tChar:
			hint = "values are made of the characters a-z A-Z 0-9 : . _ - / \\ $ { } * + ~"
		}
		return t, p.errAt(t, ErrSyntax, fmt.Sprintf("expected %s, read %s", what, t), hint)
	}
	return t, nil
}

// stringEntry parses "= word" or "= \"quoted\"" (parseStringEntry).
func (p *parser) stringEntry(kw token) (string, error) {
	if err := p.checkDup(kw); err != nil {
		return "", err
	}
	if err := p.equals(); err != nil {
		return "", err
	}
	t := p.next()
	if t.kind != tWord && t.kind != tQuote {
		return "", p.errAt(t, ErrSyntax, fmt.Sprintf("expected a value for %s, read %s", kw.val, t), `quote values that contain other characters: "..."`)
	}
	return t.val, nil
}

func (p *parser) wordEntry(kw token) (token, error) {
	if err := p.checkDup(kw); err != nil {
		return token{}, err
	}
	if err := p.equals(); err != nil {
		return token{}, err
	}
	return p.word("a value for " + kw.val)
}

func (p *parser) boolEntry(kw token) (bool, error) {
	v, err := p.wordEntry(kw)
	if err != nil {
		return false, err
	}
	switch v.val {
	case "true":
		return true, nil
	case "false":
		return false, nil
	}
	return false, p.errAt(v, ErrValue, fmt.Sprintf("expected true or false for %s, read %s", kw.val, v), "booleans are lower-case true or false")
}

func (p *parser) interval(kw token, minMillis int32) (time.Duration, error) {
	v, err := p.wordEntry(kw)
	if err != nil {
		return 0, err
	}
	n, err := p.number(v)
	if err != nil {
		return 0, err
	}
	if n < minMillis {
		return 0, p.errAt(v, ErrValue, fmt.Sprintf("%s must be at least %d ms, read %d", kw.val, minMillis, n), "")
	}
	return time.Duration(n) * time.Millisecond, nil
}

// number decodes a Java int the way Config.decodeNumber does: Integer.parseInt of decimal
// or, after 0x/0X, hexadecimal digits, with an optional sign.
func (p *parser) number(t token) (int32, error) {
	s, base := t.val, 10
	if strings.HasPrefix(s, "0x") || strings.HasPrefix(s, "0X") {
		s, base = s[2:], 16
	}
	n, ok := parseJavaInt(s, base)
	if !ok {
		hint := "numbers are decimal or 0x hexadecimal"
		if v, err := strconv.ParseInt(strings.TrimPrefix(s, "+"), base, 64); err == nil && (v > math.MaxInt32 || v < math.MinInt32) {
			hint = "the JDK reads numbers as a signed 32-bit int, so values above 0x7FFFFFFF (2147483647) cannot be written; use a name where one exists"
		}
		return 0, p.errAt(t, ErrValue, fmt.Sprintf("expected a number, read %s", t), hint)
	}
	return n, nil
}

func parseJavaInt(s string, base int) (int32, bool) {
	// Integer.parseInt: one optional sign, then at least one digit.
	digits := s
	if len(digits) > 0 && (digits[0] == '+' || digits[0] == '-') {
		digits = digits[1:]
	}
	if digits == "" || strings.ContainsAny(digits, "+-_") {
		return 0, false
	}
	n, err := strconv.ParseInt(s, base, 32)
	if err != nil {
		return 0, false
	}
	return int32(n), true
}

// unsigned decodes a number used as a PKCS#11 identifier or attribute value.
func (p *parser) unsigned(t token) (uint, error) {
	n, err := p.number(t)
	if err != nil {
		return 0, err
	}
	if n < 0 {
		return 0, p.errAt(t, ErrValue, fmt.Sprintf("negative number %s", t), "the JDK sign-extends it to a 64-bit value that matches nothing on the token; write a non-negative number")
	}
	return uint(n), nil
}

func isNumber(s string) bool { return s != "" && s[0] >= '0' && s[0] <= '9' }

// line parses the rest of the line: words and quoted strings joined by one space
// (parseLine).
func (p *parser) line() (string, error) {
	var parts []string
	for {
		t := p.next()
		if t.kind == tEOL || t.kind == tEOF {
			if len(parts) == 0 {
				return "", p.errAt(t, ErrSyntax, fmt.Sprintf("missing value for %s", p.kw.val), "write the value on the same line")
			}
			p.lx.push(t) // let the main loop see the end of line (ends a directive)
			return strings.Join(parts, " "), nil
		}
		if t.kind != tWord && t.kind != tQuote {
			return "", p.errAt(t, ErrSyntax, fmt.Sprintf("unexpected %s in the value of %s", t, p.kw.val), `quote values that contain other characters: "..."`)
		}
		parts = append(parts, t.val)
	}
}

func (p *parser) library(kw token) (string, error) {
	if err := p.checkDup(kw); err != nil {
		return "", err
	}
	if err := p.equals(); err != nil {
		return "", err
	}
	lib, err := p.line()
	if err != nil {
		return "", err
	}
	lib, err = p.expand(kw, lib)
	if err != nil {
		return "", err
	}
	if i := strings.Index(lib, "/$ISA/"); i >= 0 {
		lib = lib[:i] + lib[i+5:]
	}
	if !filepath.IsAbs(lib) {
		return "", p.errAt(kw, ErrValue, fmt.Sprintf("absolute path required for %s value: %s", kw.val, lib), "the JDK refuses relative paths (DLL preloading); write the full path, e.g. /usr/lib/softhsm/libsofthsm2.so")
	}
	return lib, nil
}

func (p *parser) expand(kw token, s string) (string, error) {
	v, err := expand(s, p.opts.Properties)
	if err != nil {
		return "", p.errAt(kw, ErrUnknownProperty, fmt.Sprintf("in the value of %s: %v", kw.val, err), propertyHint)
	}
	return v, nil
}

func (p *parser) slot(kw token) error {
	c := p.cfg
	isSlot := kw.val == "slot"
	if isSlot && c.SlotID >= 0 {
		return p.errAt(kw, ErrDuplicate, fmt.Sprintf("duplicate slot definition (first on line %d)", c.Lines["slot"]), "remove one of the two lines")
	}
	if !isSlot && c.SlotListIndex >= 0 {
		return p.errAt(kw, ErrDuplicate, fmt.Sprintf("duplicate slotListIndex definition (first on line %d)", c.Lines["slotListIndex"]), "remove one of the two lines")
	}
	if (isSlot && c.SlotListIndex >= 0) || (!isSlot && c.SlotID >= 0) {
		return p.errAt(kw, ErrConflict, "only one of slot and slotListIndex must be specified", "slot is a slot ID (see softhsm2-util --show-slots), slotListIndex an index into the slot list; keep one")
	}
	if err := p.equals(); err != nil {
		return err
	}
	v, err := p.word("a number for " + kw.val)
	if err != nil {
		return err
	}
	n, err := p.number(v)
	if err != nil {
		return err
	}
	if n < 0 {
		return p.errAt(v, ErrValue, fmt.Sprintf("%s must not be negative, read %d", kw.val, n), "the JDK fails to initialise with a negative slot")
	}
	if isSlot {
		c.SlotID = int(n)
	} else {
		c.SlotListIndex = int(n)
	}
	return nil
}

func (p *parser) openBrace() error {
	for {
		t := p.next()
		if t.kind == tEOL {
			continue
		}
		if t.kind == tWord && t.val == "{" {
			return nil
		}
		hint := "write '{' as a separate word, surrounded by spaces"
		if t.kind == tWord && strings.HasPrefix(t.val, "{") {
			hint = "'{' and '}' are word characters in this format: put spaces around them"
		}
		return p.errAt(t, ErrSyntax, fmt.Sprintf("expected '{', read %s", t), hint)
	}
}

func (p *parser) mechanisms(kw token) ([]uint, error) {
	if err := p.checkDup(kw); err != nil {
		return nil, err
	}
	if err := p.equals(); err != nil {
		return nil, err
	}
	if err := p.openBrace(); err != nil {
		return nil, err
	}
	mechs := []uint{}
	seen := map[uint]bool{}
	for {
		t := p.next()
		if t.kind == tWord && t.val == "}" {
			break
		}
		if t.kind == tEOL {
			continue
		}
		if t.kind != tWord {
			hint := "mechanisms are CKM_ names or numbers, separated by spaces or new lines"
			if t.kind == tEOF {
				hint = "the list is missing its closing '}'"
			}
			return nil, p.errAt(t, ErrSyntax, fmt.Sprintf("expected a mechanism, read %s", t), hint)
		}
		var m uint
		if isNumber(t.val) {
			n, err := p.unsigned(t)
			if err != nil {
				return nil, err
			}
			m = n
		} else {
			v, ok := MechanismByName(t.val)
			if !ok {
				hint := didYouMean(t.val, mechanismTable.names)
				if strings.HasSuffix(t.val, "}") {
					hint = "put a space before '}'"
				}
				return nil, p.errAt(t, ErrUnknownMechanism, fmt.Sprintf("unknown mechanism %s", t), hint)
			}
			m = v
		}
		if !seen[m] {
			seen[m] = true
			mechs = append(mechs, m)
		}
	}
	if kw.val == "enabledMechanisms" && len(mechs) == 0 {
		p.warn(kw, ErrValue, "enabledMechanisms is empty, which disables every mechanism", "list the mechanisms to keep, or remove the line")
	}
	return mechs, nil
}

func (p *parser) attributes(kw token) error {
	t := p.next()
	if t.kind == tChar && t.ch == '=' {
		v, err := p.word("'compatibility'")
		if err != nil {
			return err
		}
		if v.val != "compatibility" {
			return p.errAt(v, ErrValue, fmt.Sprintf("expected 'compatibility', read %s", v), "write 'attributes = compatibility' or 'attributes(operation, class, keytype) = { ... }'")
		}
		p.cfg.Attributes = append(p.cfg.Attributes, compatibilityRules(kw.line)...)
		return nil
	}
	if t.kind != tChar || t.ch != '(' {
		return p.errAt(t, ErrSyntax, fmt.Sprintf("expected '(' or '=' after attributes, read %s", t), "write 'attributes(operation, class, keytype) = { ... }'")
	}
	rule := AttributeRule{Line: kw.line}
	// operation
	v, err := p.word("an operation (*, generate or import)")
	if err != nil {
		return err
	}
	switch Operation(v.val) {
	case OpAny, OpGenerate, OpImport:
		rule.Operation = Operation(v.val)
	default:
		return p.errAt(v, ErrUnknownOperation, fmt.Sprintf("unknown operation %s", v), "use *, generate or import")
	}
	if err := p.comma(); err != nil {
		return err
	}
	// object class: a CKO_ name or *, no numbers
	if v, err = p.word("an object class (CKO_... or *)"); err != nil {
		return err
	}
	if v.val == "*" {
		rule.Class = Any
	} else if c, ok := ObjectClassByName(v.val); ok {
		rule.Class = c
	} else {
		hint := didYouMean(v.val, classTable.names)
		if isNumber(v.val) {
			hint = "the object class must be a CKO_ name or *, not a number"
		}
		return p.errAt(v, ErrUnknownObjectClass, fmt.Sprintf("unknown object class %s", v), hint)
	}
	if err := p.comma(); err != nil {
		return err
	}
	// key type: a CKK_ name, a number or *
	if v, err = p.word("a key type (CKK_..., a number or *)"); err != nil {
		return err
	}
	switch {
	case isNumber(v.val):
		if rule.KeyType, err = p.unsigned(v); err != nil {
			return err
		}
	case v.val == "*":
		rule.KeyType = Any
	default:
		k, ok := KeyTypeByName(v.val)
		if !ok {
			return p.errAt(v, ErrUnknownKeyType, fmt.Sprintf("unknown key type %s", v), didYouMean(v.val, keyTypeTable.names))
		}
		rule.KeyType = k
	}
	if t = p.next(); t.kind != tChar || t.ch != ')' {
		return p.errAt(t, ErrSyntax, fmt.Sprintf("expected ')', read %s", t), "write 'attributes(operation, class, keytype)'")
	}
	if err := p.equals(); err != nil {
		return err
	}
	if err := p.openBrace(); err != nil {
		return err
	}
	rule.Attributes = []Attribute{}
	seen := map[uint]int{}
	for {
		t = p.next()
		if t.kind == tWord && t.val == "}" {
			break
		}
		if t.kind == tEOL {
			continue
		}
		if t.kind != tWord {
			hint := "write 'CKA_NAME = value' pairs"
			if t.kind == tEOF {
				hint = "the template is missing its closing '}'"
			}
			return p.errAt(t, ErrSyntax, fmt.Sprintf("expected an attribute, read %s", t), hint)
		}
		var a Attribute
		if isNumber(t.val) {
			if a.Type, err = p.unsigned(t); err != nil {
				return err
			}
		} else {
			id, ok := AttributeByName(t.val)
			if !ok {
				hint := didYouMean(t.val, attributeTable.names)
				if strings.HasSuffix(t.val, "}") {
					hint = "put a space before '}'"
				}
				return p.errAt(t, ErrUnknownAttribute, fmt.Sprintf("unknown attribute name %s", t), hint)
			}
			a.Type = id
		}
		if err := p.equals(); err != nil {
			return err
		}
		val, err := p.word("an attribute value (true, false, null, a number or 0h...)")
		if err != nil {
			return err
		}
		if err := p.attrValue(&a, val); err != nil {
			return err
		}
		if prev, ok := seen[a.Type]; ok {
			p.warn(t, ErrDuplicate, fmt.Sprintf("%s is set twice in this template (first on line %d); the JDK passes both to the token", AttributeName(a.Type), prev), "keep one")
		}
		seen[a.Type] = t.line
		rule.Attributes = append(rule.Attributes, a)
	}
	p.cfg.Attributes = append(p.cfg.Attributes, rule)
	return nil
}

func (p *parser) comma() error {
	t := p.next()
	if t.kind != tChar || t.ch != ',' {
		return p.errAt(t, ErrSyntax, fmt.Sprintf("expected ',', read %s", t), "write 'attributes(operation, class, keytype)' on one line")
	}
	return nil
}

func (p *parser) attrValue(a *Attribute, v token) error {
	s := v.val
	switch {
	case s == "null":
		a.Kind = Null
	case s == "true" || s == "false":
		a.Kind, a.Bool = Bool, s == "true"
	case strings.HasPrefix(s, "0h"):
		b, ok := javaBigIntegerBytes(s[2:])
		if !ok {
			return p.errAt(v, ErrValue, fmt.Sprintf("expected a byte array value, read %s", v), "write 0h followed by hexadecimal digits")
		}
		a.Kind, a.Bytes = Bytes, b
		if digits := strings.TrimPrefix(s[2:], "+"); !strings.HasPrefix(digits, "-") && !sameAsHex(digits, b) {
			p.warn(v, ErrValue, fmt.Sprintf("%s is stored as the %d bytes 0h%x", s, len(b), b),
				"the JDK reads 0h values as a number: leading zero bytes are dropped, and 00 is prepended when the top bit is set")
		}
	case isNumber(s):
		n, err := p.unsigned(v)
		if err != nil {
			return err
		}
		a.Kind, a.Int = Int, n
	default:
		hint := "use true, false, null, a number or 0h followed by hex digits"
		if strings.HasSuffix(s, "}") {
			hint = "put a space before '}'"
		} else if strings.EqualFold(s, "true") || strings.EqualFold(s, "false") || strings.EqualFold(s, "null") {
			hint = "true, false and null are lower-case"
		}
		return p.errAt(v, ErrValue, fmt.Sprintf("unknown attribute value %s", v), hint)
	}
	return nil
}

// sameAsHex reports whether the hex digits (padded to an even count) decode to b.
func sameAsHex(digits string, b []byte) bool {
	if len(digits)%2 == 1 {
		digits = "0" + digits
	}
	d, err := hex.DecodeString(digits)
	return err == nil && bytes.Equal(d, b)
}

// javaBigIntegerBytes returns new BigInteger(s, 16).toByteArray(): the minimal two's
// complement big-endian encoding.
func javaBigIntegerBytes(s string) ([]byte, bool) {
	neg := false
	digits := s
	if digits != "" && (digits[0] == '+' || digits[0] == '-') {
		neg = digits[0] == '-'
		digits = digits[1:]
	}
	if digits == "" {
		return nil, false
	}
	for i := 0; i < len(digits); i++ {
		c := digits[i]
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F') {
			return nil, false
		}
	}
	n, ok := new(big.Int).SetString(digits, 16)
	if !ok {
		return nil, false
	}
	if neg {
		n.Neg(n)
	}
	if n.Sign() >= 0 {
		b := n.Bytes()
		if len(b) == 0 || b[0]&0x80 != 0 {
			b = append([]byte{0}, b...)
		}
		return b, true
	}
	// negative: smallest L with -2^(8L-1) <= n, then 2^(8L) + n
	l := (new(big.Int).Not(n).BitLen())/8 + 1 // ^n = -n-1 >= 0
	m := new(big.Int).Lsh(big.NewInt(1), uint(8*l))
	m.Add(m, n)
	b := m.Bytes()
	for len(b) < l {
		b = append([]byte{0}, b...)
	}
	return b, true
}

func (p *parser) nssArgs(kw token) error {
	if err := p.checkDup(kw); err != nil {
		return err
	}
	if err := p.equals(); err != nil {
		return err
	}
	t := p.next()
	if t.kind != tQuote {
		return p.errAt(t, ErrSyntax, fmt.Sprintf("expected a quoted string for nssArgs, read %s", t), `write nssArgs = "..."`)
	}
	v, err := p.expand(kw, t.val)
	p.cfg.NSSArgs = v
	return err
}

func (p *parser) tokenSelector(kw token) error {
	v, err := p.stringEntry(kw)
	if err != nil {
		return err
	}
	max := 32
	if kw.val == "tokenSerial" {
		max = 16
	}
	if v == "" || len(v) > max {
		return p.errAt(kw, ErrValue, fmt.Sprintf("%s must be 1 to %d bytes, read %q", kw.val, max, v), "PKCS#11 token labels have at most 32 bytes and serial numbers 16")
	}
	if !p.directive {
		p.warn(kw, ErrUnknownKeyword, kw.val+" is an extension: the JDK rejects this file with \"Unknown keyword\"",
			"to share the file with Java, write it as a comment the JDK skips: "+directivePrefix+" "+kw.val+" = ...")
	}
	if kw.val == "tokenLabel" {
		p.cfg.TokenLabel = v
	} else {
		p.cfg.TokenSerial = v
	}
	return nil
}

// compatibilityRules returns the rules of "attributes = compatibility"
// (Config.setCompatibilityAttributes).
func compatibilityRules(line int) []AttributeRule {
	b := func(t uint, v bool) Attribute { return Attribute{Type: t, Kind: Bool, Bool: v} }
	null := func(t uint) Attribute { return Attribute{Type: t, Kind: Null} }
	const (
		token, sensitive, extractable                   = pkcs11.CKA_TOKEN, pkcs11.CKA_SENSITIVE, pkcs11.CKA_EXTRACTABLE
		encrypt, decrypt, wrap, unwrap, sign, signRecov = pkcs11.CKA_ENCRYPT, pkcs11.CKA_DECRYPT, pkcs11.CKA_WRAP, pkcs11.CKA_UNWRAP, pkcs11.CKA_SIGN, pkcs11.CKA_SIGN_RECOVER
		verify, verifyRecover, derive                   = pkcs11.CKA_VERIFY, pkcs11.CKA_VERIFY_RECOVER, pkcs11.CKA_DERIVE
		secret, private, public                         = pkcs11.CKO_SECRET_KEY, pkcs11.CKO_PRIVATE_KEY, pkcs11.CKO_PUBLIC_KEY
		rsa, dsa, dh, ec, generic                       = pkcs11.CKK_RSA, pkcs11.CKK_DSA, pkcs11.CKK_DH, pkcs11.CKK_EC, pkcs11.CKK_GENERIC_SECRET
	)
	r := func(class, keyType uint, attrs ...Attribute) AttributeRule {
		return AttributeRule{Operation: OpAny, Class: class, KeyType: keyType, Attributes: attrs, Line: line, Compatibility: true}
	}
	return []AttributeRule{
		r(secret, Any, b(token, false), b(sensitive, false), b(extractable, true), b(encrypt, true), b(decrypt, true), b(wrap, true), b(unwrap, true)),
		r(secret, generic, b(sign, true), b(verify, true), null(encrypt), null(decrypt), null(wrap), null(unwrap), b(derive, true)),
		r(private, Any, b(token, false), b(sensitive, false), b(extractable, true)),
		r(public, Any, b(token, false)),
		r(private, rsa, b(decrypt, true), b(sign, true), b(signRecov, true), b(unwrap, true)),
		r(public, rsa, b(encrypt, true), b(verify, true), b(verifyRecover, true), b(wrap, true)),
		r(private, dsa, b(sign, true)),
		r(public, dsa, b(verify, true)),
		r(private, dh, b(derive, true)),
		r(private, ec, b(sign, true), b(derive, true)),
		r(public, ec, b(verify, true)),
	}
}

// sortedKeys is used by docs and tests.
func sortedKeys(m map[string]int) []string {
	ks := make([]string, 0, len(m))
	for k := range m {
		ks = append(ks, k)
	}
	sort.Strings(ks)
	return ks
}
