package hsmstore

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/url"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/secretstores/secretstores/pkcs11conf"
)

// Config says which PKCS#11 module and token a Store opens, and how to log in.
//
// Exactly one token selector is used: URI's token attributes, TokenLabel, TokenSerial, SlotID
// or SlotListIndex (checked in that order; SlotListIndex 0 is the default when none is set,
// as in SunPKCS11). The PIN comes from PIN, else PINEnv, else PINFile, else the URI's
// pin-value or pin-source. A PIN is never logged or put into an error.
type Config struct {
	// Name is the store's name (Store.Name); "" means the token label.
	Name string
	// Library is the path of the PKCS#11 module (.so). A URI's module-path may supply it.
	Library string

	// InitArgs is passed to the module's C_Initialize as CK_C_INITIALIZE_ARGS.pReserved (a
	// NUL-terminated string): the "library parameters" some modules need. NSS softokn
	// refuses to start without them, e.g. "configdir='sql:/etc/pki/nssdb' certPrefix=''
	// keyPrefix='' secmod='secmod.db' flags=" (SunPKCS11's nssArgs). "" passes none. A
	// module is initialised once per process: every Open of the same library must give the
	// same InitArgs.
	InitArgs string

	// URI is an RFC 7512 "pkcs11:" URI. Token attributes (token, serial, manufacturer,
	// model, slot-id, slot-description, slot-manufacturer) select the token; module-path
	// gives Library; pin-value and pin-source (a file path or file: URI) give the PIN.
	// Object attributes (object, id, type) are ignored: aliases name objects.
	URI string

	TokenLabel  string
	TokenSerial string
	// SlotID selects the slot with this ID (SunPKCS11 "slot").
	SlotID *uint
	// SlotListIndex selects the index'th slot with a token (SunPKCS11 "slotListIndex").
	SlotListIndex *int

	PIN     string
	PINEnv  string // name of an environment variable holding the PIN
	PINFile string // file holding the PIN (one trailing newline is dropped)

	// MaxSessions bounds the sessions this token's connection opens (default 16, at least
	// 2). PoolWaitTimeout is how long an operation waits for a free session (default 30s).
	MaxSessions     int
	PoolWaitTimeout time.Duration

	// ReconnectBackoff is the wait after a failed reconnect before the next attempt
	// (default 200ms); it doubles on every failure up to ReconnectBackoffMax (default 10s).
	// Meanwhile calls fail at once with an error wrapping ErrUnavailable. Each token has its
	// own backoff; the values are the library's: the first Open of it in the process sets
	// them.
	ReconnectBackoff    time.Duration
	ReconnectBackoffMax time.Duration

	// Logger receives the connection's events: login, fault, recovery, failed recovery,
	// rejected PIN (never the PIN itself). nil means slog.Default(). The first Open of a
	// token sets it for every Store on that token.
	Logger *slog.Logger

	// Templates are SunPKCS11 attribute templates ("attributes(op, class, keyType) = {...}",
	// pkcs11conf's model) applied when keys and certificates are generated or imported. The
	// attributes of an object are merged in three layers, later ones winning: hsmstore's
	// defaults (CKA_SENSITIVE=true and CKA_EXTRACTABLE=false unless a KeySpec or KeyMaterial
	// asks for Extractable, usage flags), then every matching rule in order (a null value
	// removes an attribute, a default included), then the attributes hsmstore's code sets
	// (class, key type, CKA_LABEL/CKA_ID of keytool's layout, CKA_TOKEN, CKA_PRIVATE, key
	// size, key material, and CKA_EXTRACTABLE=true with CKA_SENSITIVE=false when Extractable
	// is asked for). As in SunPKCS11, the code-set attributes win over the configuration's.
	// One exception keeps keytool's objects: a secret key the rules make extractable
	// (CKA_EXTRACTABLE = true) without a word on CKA_SENSITIVE is not sensitive, as keytool
	// leaves it on SoftHSM and opencryptoki, so that it can be exported
	// (TestMatrixSunPKCS11Templates compares both attribute by attribute).
	Templates []pkcs11conf.AttributeRule

	// nssUnsupported is the nssModule of a SunPKCS11 NSS-mode configuration that
	// ConfigFromSunPKCS11 cannot map; resolve fails naming it.
	nssUnsupported string
}

// cloneRules copies rules deeply, so that a Store does not see later changes to a Config.
func cloneRules(rules []pkcs11conf.AttributeRule) []pkcs11conf.AttributeRule {
	out := make([]pkcs11conf.AttributeRule, len(rules))
	for i, r := range rules {
		r.Attributes = append([]pkcs11conf.Attribute(nil), r.Attributes...)
		for j := range r.Attributes {
			r.Attributes[j].Bytes = append([]byte(nil), r.Attributes[j].Bytes...)
		}
		out[i] = r
	}
	return out
}

// selector is the resolved token selection of a Config.
type selector struct {
	label, serial, manufacturer, model, slotDesc, slotManuf string
	slotID                                                  *uint
	slotIndex                                               *int
}

func (s selector) String() string {
	var parts []string
	if s.label != "" {
		parts = append(parts, "label "+strconv.Quote(s.label))
	}
	if s.serial != "" {
		parts = append(parts, "serial "+strconv.Quote(s.serial))
	}
	if s.manufacturer != "" {
		parts = append(parts, "manufacturer "+strconv.Quote(s.manufacturer))
	}
	if s.model != "" {
		parts = append(parts, "model "+strconv.Quote(s.model))
	}
	if s.slotDesc != "" {
		parts = append(parts, "slot description "+strconv.Quote(s.slotDesc))
	}
	if s.slotManuf != "" {
		parts = append(parts, "slot manufacturer "+strconv.Quote(s.slotManuf))
	}
	if s.slotID != nil {
		parts = append(parts, "slot id "+strconv.FormatUint(uint64(*s.slotID), 10))
	}
	if s.slotIndex != nil {
		parts = append(parts, "slot list index "+strconv.Itoa(*s.slotIndex))
	}
	if len(parts) == 0 {
		return "slot list index 0"
	}
	return strings.Join(parts, ", ")
}

const maxPINFile = 4096

// resolve returns the library, token selector and PIN of c.
func (c *Config) resolve() (lib string, sel selector, pin string, err error) {
	if c.nssUnsupported != "" {
		return "", sel, "", fmt.Errorf("hsmstore: SunPKCS11 NSS mode with nssModule = %s is not supported (keystore and crypto are)", c.nssUnsupported)
	}
	lib = c.Library
	var uriPIN, uriPINSource string
	if c.URI != "" {
		u, err := parseURI(c.URI)
		if err != nil {
			return "", sel, "", err
		}
		sel = u.sel
		if lib == "" {
			lib = u.modulePath
		}
		uriPIN, uriPINSource = u.pinValue, u.pinSource
	}
	if c.TokenLabel != "" || c.TokenSerial != "" || c.SlotID != nil || c.SlotListIndex != nil {
		if c.URI != "" && (sel != selector{}) {
			return "", sel, "", errors.New("hsmstore: config selects the token both by URI and by TokenLabel/TokenSerial/SlotID/SlotListIndex")
		}
		n := 0
		for _, set := range []bool{c.TokenLabel != "", c.TokenSerial != "", c.SlotID != nil, c.SlotListIndex != nil} {
			if set {
				n++
			}
		}
		if n > 1 {
			return "", sel, "", errors.New("hsmstore: config sets more than one of TokenLabel, TokenSerial, SlotID and SlotListIndex")
		}
		sel = selector{label: c.TokenLabel, serial: c.TokenSerial, slotID: c.SlotID, slotIndex: c.SlotListIndex}
	}
	if sel.slotIndex != nil && *sel.slotIndex < 0 {
		return "", sel, "", fmt.Errorf("hsmstore: negative slot list index %d", *sel.slotIndex)
	}
	if lib == "" {
		return "", sel, "", errors.New("hsmstore: config has no Library (PKCS#11 module path)")
	}
	switch {
	case c.PIN != "":
		pin = c.PIN
	case c.PINEnv != "":
		v, ok := os.LookupEnv(c.PINEnv)
		if !ok {
			return "", sel, "", fmt.Errorf("hsmstore: PIN environment variable %s is not set", c.PINEnv)
		}
		pin = v
	case c.PINFile != "":
		pin, err = readPINFile(c.PINFile)
	case uriPIN != "":
		pin = uriPIN
	case uriPINSource != "":
		pin, err = readPINFile(strings.TrimPrefix(uriPINSource, "file:"))
	}
	return lib, sel, pin, err
}

func readPINFile(path string) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", fmt.Errorf("hsmstore: PIN file: %w", err)
	}
	defer f.Close()
	// A read error (a directory, an I/O error) must not turn into an empty or partial PIN,
	// which would cost a C_Login against the token's lockout counter.
	b, err := io.ReadAll(io.LimitReader(f, maxPINFile+1))
	if err != nil {
		return "", fmt.Errorf("hsmstore: PIN file: %w", err)
	}
	if len(b) > maxPINFile {
		return "", fmt.Errorf("hsmstore: PIN file %s is larger than %d bytes", path, maxPINFile)
	}
	s := string(b)
	s = strings.TrimSuffix(s, "\n")
	s = strings.TrimSuffix(s, "\r")
	return s, nil
}

type uri struct {
	sel                             selector
	modulePath, pinValue, pinSource string
}

const maxURI = 8192

// parseURI parses the parts of an RFC 7512 PKCS#11 URI that select a token and log in.
func parseURI(s string) (*uri, error) {
	if len(s) > maxURI {
		return nil, errors.New("hsmstore: pkcs11 URI too long")
	}
	if !strings.HasPrefix(strings.ToLower(s), "pkcs11:") {
		return nil, errors.New(`hsmstore: URI does not start with "pkcs11:"`)
	}
	rest := s[len("pkcs11:"):]
	path, query, _ := strings.Cut(rest, "?")
	u := &uri{}
	seen := map[string]bool{}
	parse := func(part string, sep string, isQuery bool) error {
		if part == "" {
			return nil
		}
		for _, attr := range strings.Split(part, sep) {
			if attr == "" {
				continue
			}
			k, v, ok := strings.Cut(attr, "=")
			if !ok {
				return fmt.Errorf("hsmstore: pkcs11 URI attribute %s has no '=' (write name=value)", bareAttrName(k))
			}
			k = strings.ToLower(k)
			val, err := url.PathUnescape(v)
			if err != nil {
				return fmt.Errorf("hsmstore: pkcs11 URI attribute %s: bad percent-encoding", uriAttrName(k))
			}
			if seen[k] {
				return fmt.Errorf("hsmstore: pkcs11 URI repeats attribute %s", uriAttrName(k))
			}
			seen[k] = true
			switch k {
			case "token":
				u.sel.label = val
			case "serial":
				u.sel.serial = val
			case "manufacturer":
				u.sel.manufacturer = val
			case "model":
				u.sel.model = val
			case "slot-description":
				u.sel.slotDesc = val
			case "slot-manufacturer":
				u.sel.slotManuf = val
			case "slot-id":
				id, err := strconv.ParseUint(val, 10, 64)
				if err != nil {
					return errors.New("hsmstore: pkcs11 URI slot-id is not a number")
				}
				x := uint(id)
				u.sel.slotID = &x
			case "module-path":
				u.modulePath = val
			case "pin-value":
				u.pinValue = val
			case "pin-source":
				u.pinSource = val
			default:
				if isPINAttr(k) {
					return fmt.Errorf("hsmstore: pkcs11 URI attribute %s is not pin-value or pin-source: the PIN is not used; correct the name", uriAttrName(k))
				}
				// library-*, object, id, type, module-name ... : not needed to open a token.
			}
		}
		return nil
	}
	if err := parse(path, ";", false); err != nil {
		return nil, err
	}
	if err := parse(query, "&", true); err != nil {
		return nil, err
	}
	return u, nil
}

// isPINAttr reports whether a URI attribute name (or what stands in its place when '=' is
// missing) is, or looks like, a PIN attribute: pin-value, pin-source or a mistyped one,
// percent-encoded or not. A name whose percent-encoding is broken counts as one.
func isPINAttr(k string) bool {
	k = strings.TrimSpace(k)
	if d, err := url.PathUnescape(k); err == nil {
		k = d
	} else {
		return true
	}
	return strings.HasPrefix(strings.ToLower(k), "pin")
}

// uriAttrNames are the attribute names of RFC 7512 (and p11-kit's module-*), which errors
// may show.
var uriAttrNames = map[string]bool{
	"token": true, "serial": true, "manufacturer": true, "model": true, "slot-description": true,
	"slot-manufacturer": true, "slot-id": true, "library-description": true,
	"library-manufacturer": true, "library-version": true, "object": true, "id": true,
	"type": true, "module-name": true, "module-path": true, "pin-value": true, "pin-source": true,
}

// bareAttrName is how errors name an attribute without '=': it may be a name and a value run
// together (pin-value:4711, pni-value:4711), so only its leading letters and hyphens are
// shown, and only when they are a known attribute name.
func bareAttrName(attr string) string {
	i := 0
	for i < len(attr) && (attr[i] == '-' || 'a' <= attr[i]|0x20 && attr[i]|0x20 <= 'z') {
		i++
	}
	if name := strings.ToLower(attr[:i]); uriAttrNames[name] {
		return strconv.Quote(name)
	}
	if isPINAttr(attr) {
		return `"pin-…" (a PIN attribute, not shown)`
	}
	return "(not shown: without '=' it may hold a PIN)"
}

// uriAttrName is how errors name a URI attribute: quoted and truncated, and for a PIN
// attribute only "pin-…", since a mistyped one (pin-value:4711) holds the PIN.
func uriAttrName(k string) string {
	switch k {
	case "pin-value", "pin-source":
		return k
	}
	if isPINAttr(k) {
		return `"pin-…" (a PIN attribute, not shown)`
	}
	return strconv.Quote(truncate(k))
}

func truncate(s string) string {
	if len(s) > 40 {
		return s[:40] + "..."
	}
	return s
}
