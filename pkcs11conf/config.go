package pkcs11conf

import (
	"bytes"
	"fmt"
	"slices"
	"strings"
	"time"
)

// Config is a parsed SunPKCS11 configuration.
//
// Parse fills every field: a keyword that is absent leaves the JDK's default, stated with each
// field. Lines records which keywords were given.
type Config struct {
	// File is the path the configuration was read from ("" for Parse, "--" for an inline
	// configuration given to ParseProviderArg).
	File string

	// Name is the provider name suffix (keyword name, required): the JDK provider is
	// "SunPKCS11-" + Name, see ProviderName.
	Name string
	// Library is the absolute path of the PKCS#11 module (keyword library, required outside NSS
	// mode), after ${prop} expansion and with "/$ISA/" replaced by "/".
	Library string
	// Description is the keyword description as written; "" when absent. See
	// ProviderDescription for the JDK's default.
	Description string

	// SlotID is the slot ID (keyword slot); -1 when absent.
	SlotID int
	// SlotListIndex is the index into C_GetSlotList (keyword slotListIndex); -1 when absent.
	// EffectiveSlotListIndex gives what the JDK uses.
	SlotListIndex int

	// TokenLabel and TokenSerial are extensions, not JDK keywords: they select the token by
	// its CKA label / serial number (as crypto11 does), because SoftHSM renumbers slots when a
	// token is initialised. "" when absent. hsmstore uses them in preference to SlotID and
	// SlotListIndex, which a file shared with Java still needs. Write them as
	// "#secretstores: tokenLabel = ..." to keep the file loadable by the JDK.
	TokenLabel  string
	TokenSerial string

	// EnabledMechanisms (keyword enabledMechanisms) lists the only mechanisms the provider
	// uses; nil when absent. A non-nil empty list disables every mechanism.
	EnabledMechanisms []uint
	// DisabledMechanisms (keyword disabledMechanisms) lists mechanisms the provider does not
	// use; nil when absent. Ignored when EnabledMechanisms is non-nil. See IsEnabled.
	DisabledMechanisms []uint

	// Attributes holds the attributes rules in file order, including the rules that
	// "attributes = compatibility" stands for. See Template.
	Attributes []AttributeRule

	// HandleStartupErrors (keyword handleStartupErrors); default StartupHalt.
	HandleStartupErrors StartupErrors
	// InsertionCheckInterval (keyword insertionCheckInterval, milliseconds, at least 100);
	// default 2s.
	InsertionCheckInterval time.Duration
	// CleanerShortInterval and CleanerLongInterval (keywords cleaner.shortInterval and
	// cleaner.longInterval, milliseconds, at least 1000); defaults 2s and 60s.
	CleanerShortInterval time.Duration
	CleanerLongInterval  time.Duration

	// Boolean keywords of the same name; default false.
	ShowInfo                bool
	OmitInitialize          bool
	DestroyTokenAfterLogout bool
	AllowLegacy             bool
	UseEcX963Encoding       bool
	// Boolean keywords of the same name; default true.
	KeyStoreCompatibilityMode  bool
	ExplicitCancel             bool
	AllowSingleThreadedModules bool

	// FunctionList (keyword functionList) is the name of the C function returning the
	// function list; "" when absent (the JDK then uses C_GetFunctionList, or on JDK 21+ tries
	// C_GetInterface first outside NSS mode).
	FunctionList string
	// CipherTextStealingVariant (keyword cipherTextStealingVariant, JDK 25): "CS1", "CS2",
	// "CS3", or "" when absent.
	CipherTextStealingVariant string

	// NSS mode. NSSUseSecmod (keyword nssUseSecmod) is also set by nssLibraryDirectory,
	// nssSecmodDirectory, nssModule, nssDbMode and nssNetscapeDbWorkaround; default false.
	NSSUseSecmod bool
	// NSSLibraryDirectory, NSSSecmodDirectory, NSSModule, NSSArgs: keywords of the same name,
	// "" when absent; the directories and NSSArgs are ${prop}-expanded.
	NSSLibraryDirectory string
	NSSSecmodDirectory  string
	NSSModule           string
	NSSArgs             string
	// NSSDbMode (keyword nssDbMode): "readWrite" (default), "readOnly" or "noDb".
	NSSDbMode string
	// NSSNetscapeDbWorkaround (keyword nssNetscapeDbWorkaround); default true.
	NSSNetscapeDbWorkaround bool
	// NSSUseSecmodTrust and NSSOptimizeSpace: keywords of the same name; default false.
	NSSUseSecmodTrust bool
	NSSOptimizeSpace  bool

	// Lines maps each keyword given to the line of its (first) occurrence.
	Lines map[string]int
	// Warnings lists what the JDK accepts but is probably a mistake.
	Warnings []*Warning
}

// StartupErrors is the value of handleStartupErrors.
type StartupErrors string

// Values of handleStartupErrors. StartupIgnoreMultipleInitialisation is accepted by Debian's
// and Red Hat's OpenJDK builds (an IcedTea patch), not by upstream OpenJDK.
const (
	StartupHalt                         StartupErrors = "halt"
	StartupIgnoreAll                    StartupErrors = "ignoreAll"
	StartupIgnoreMissingLibrary         StartupErrors = "ignoreMissingLibrary"
	StartupIgnoreMultipleInitialisation StartupErrors = "ignoreMultipleInitialisation"
)

// Operation is the first element of an attributes rule.
type Operation string

// Operations of attributes rules. The JDK asks for OpGenerate or OpImport; a rule for OpAny
// applies to both.
const (
	OpAny      Operation = "*"
	OpGenerate Operation = "generate"
	OpImport   Operation = "import"
)

// An AttributeRule is one "attributes(operation, class, keyType) = { ... }" entry.
type AttributeRule struct {
	Operation Operation
	Class     uint // a CKO_ value, or Any
	KeyType   uint // a CKK_ value, or Any
	// Attributes in the order written; a Null value removes the attribute.
	Attributes []Attribute
	// Line is where the rule starts; for rules of "attributes = compatibility", the line of
	// that entry.
	Line int
	// Compatibility is set on the rules that "attributes = compatibility" stands for.
	Compatibility bool
}

func (r AttributeRule) appliesTo(op Operation, class, keyType uint) bool {
	return (r.Operation == OpAny || r.Operation == op) &&
		(r.Class == Any || r.Class == class) &&
		(r.KeyType == Any || r.KeyType == keyType)
}

// String formats the rule in configuration syntax.
func (r AttributeRule) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "attributes(%s, %s, %s) = {", r.Operation, ObjectClassName(r.Class), KeyTypeName(r.KeyType))
	for _, a := range r.Attributes {
		b.WriteString(" ")
		b.WriteString(a.String())
	}
	b.WriteString(" }")
	return b.String()
}

// Kind is the type of an attribute value.
type Kind uint8

// Kinds of attribute values: null, true/false, a number, a 0h byte string.
const (
	Null Kind = iota
	Bool
	Int
	Bytes
)

// An Attribute is one "CKA_X = value" of a rule.
type Attribute struct {
	Type  uint // CKA_ value
	Kind  Kind
	Bool  bool   // for Kind Bool
	Int   uint   // for Kind Int (the JDK passes it as a CK_ULONG)
	Bytes []byte // for Kind Bytes
}

// String formats the attribute in configuration syntax.
func (a Attribute) String() string {
	return AttributeName(a.Type) + " = " + a.ValueString()
}

// ValueString formats the value in configuration syntax.
func (a Attribute) ValueString() string {
	switch a.Kind {
	case Bool:
		return fmt.Sprint(a.Bool)
	case Int:
		return fmt.Sprint(a.Int)
	case Bytes:
		return fmt.Sprintf("0h%x", a.Bytes)
	default:
		return "null"
	}
}

// Equal reports whether a and b have the same type and value.
func (a Attribute) Equal(b Attribute) bool {
	return a.Type == b.Type && a.Kind == b.Kind && a.Bool == b.Bool && a.Int == b.Int && bytes.Equal(a.Bytes, b.Bytes)
}

// ProviderName returns the JDK provider name, "SunPKCS11-" + Name.
func (c *Config) ProviderName() string { return "SunPKCS11-" + c.Name }

// ProviderDescription returns Description, or the JDK's default
// "SunPKCS11-<name> using library <library>".
func (c *Config) ProviderDescription() string {
	if c.Description != "" {
		return c.Description
	}
	return "SunPKCS11-" + c.Name + " using library " + c.Library
}

// EffectiveSlotListIndex returns the slot list index the JDK uses: SlotListIndex, or 0 when
// neither slot nor slotListIndex is given, or -1 when SlotID is used instead.
func (c *Config) EffectiveSlotListIndex() int {
	if c.SlotID == -1 && c.SlotListIndex == -1 {
		return 0
	}
	return c.SlotListIndex
}

// Given reports whether the keyword appeared in the file.
func (c *Config) Given(keyword string) bool {
	_, ok := c.Lines[keyword]
	return ok
}

// IsEnabled reports whether the provider uses mechanism m: the enabled list wins when given,
// else the disabled list, else everything is enabled.
func (c *Config) IsEnabled(m uint) bool {
	if c.EnabledMechanisms != nil {
		return slices.Contains(c.EnabledMechanisms, m)
	}
	return !slices.Contains(c.DisabledMechanisms, m)
}

// Template returns the attributes the configuration adds when the JDK creates an object of
// class and keyType for operation (OpGenerate or OpImport), exactly as the JDK's
// TemplateManager builds them: every rule that applies (wildcards included) is merged in file
// order, an attribute of a later rule replaces the same attribute of earlier rules and moves
// to the end, and null removes it. The result holds no Null attributes. It is nil when no
// rule applies.
//
// The JDK then merges the attributes its own code sets over this template; Apply does that.
func (c *Config) Template(op Operation, class, keyType uint) []Attribute {
	return ApplyRules(nil, c.Attributes, op, class, keyType)
}

// Apply returns Template(op, class, keyType) with attrs merged over it, as the JDK does with
// the attributes its code sets: attrs take precedence, Null attributes in attrs remove the
// attribute.
func (c *Config) Apply(op Operation, class, keyType uint, attrs []Attribute) []Attribute {
	return Combine(c.Template(op, class, keyType), attrs)
}

// ApplyRules merges, over base, every rule of rules that applies to (op, class, keyType), in
// order, as Template does (Template is ApplyRules with a nil base): an attribute of a later
// rule replaces the same attribute before it, and a Null one removes it, base's included.
// The result holds no Null attributes; it is nil when empty.
func ApplyRules(base []Attribute, rules []AttributeRule, op Operation, class, keyType uint) []Attribute {
	t := Combine(nil, base)
	for _, r := range rules {
		if r.appliesTo(op, class, keyType) {
			t = Combine(t, r.Attributes)
		}
	}
	return t
}

// Combine merges a2 over a1 as the JDK's SunPKCS11 does: the non-null attributes of a1
// in order, except those whose type a2 sets, then the non-null attributes of a2 in order. A
// Null attribute of a2 thus removes a1's. The result is nil when empty.
func Combine(a1, a2 []Attribute) []Attribute { return combine(a1, a2) }

// combine merges two attribute lists as the JDK's SunPKCS11 does (written from that
// behaviour, not from the JDK's code): the non-null attributes of a1 in order,
// except those whose type a2 sets, then the non-null attributes of a2 in order. Like the
// JDK, it keeps an attribute that a2 itself repeats twice (Parse warns about that).
func combine(a1, a2 []Attribute) []Attribute {
	out := make([]Attribute, 0, len(a1)+len(a2))
	var set map[uint]bool // types a2 sets; a map only for long lists, to stay linear
	if len(a2) > 8 {
		set = make(map[uint]bool, len(a2))
		for _, b := range a2 {
			set[b.Type] = true
		}
	}
	for _, a := range a1 {
		if a.Kind == Null {
			continue
		}
		if set != nil {
			if set[a.Type] {
				continue
			}
		} else if slices.ContainsFunc(a2, func(b Attribute) bool { return b.Type == a.Type }) {
			continue
		}
		out = append(out, a)
	}
	for _, b := range a2 {
		if b.Kind != Null {
			out = append(out, b)
		}
	}
	if len(out) == 0 {
		return nil
	}
	return out
}
