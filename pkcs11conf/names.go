package pkcs11conf

//go:generate go run gen_names.go

import (
	"fmt"
	"sort"
)

// Pseudo mechanisms of SunPKCS11: they name the provider's SecureRandom and KeyStore
// services, not PKCS#11 mechanisms, and may appear in enabledMechanisms and
// disabledMechanisms (for example "disabledMechanisms = { SecureRandom }").
const (
	MechanismSecureRandom uint = 0x7FFFFF20 // JDK PCKM_SECURERANDOM, name "SecureRandom"
	MechanismKeyStore     uint = 0x7FFFFF21 // JDK PCKM_KEYSTORE, name "KeyStore"
)

// Any is the wildcard "*" in the class and key type of an attributes rule.
const Any = ^uint(0)

type nameEntry struct {
	name  string
	value uint
	jdk   bool // the JDK's Functions table has this name
}

type nameTable struct {
	kind   string
	byName map[string]uint
	byNum  map[uint]string
	names  []string // sorted, for suggestions
	jdk    map[string]bool
}

func newTable(kind string, entries []nameEntry, extra ...nameEntry) *nameTable {
	t := &nameTable{kind: kind, byName: map[string]uint{}, byNum: map[uint]string{}, jdk: map[string]bool{}}
	all := append(append([]nameEntry(nil), entries...), extra...)
	// JDK names first, so that they are the canonical names for numbers.
	sort.SliceStable(all, func(i, j int) bool { return all[i].jdk && !all[j].jdk })
	for _, e := range all {
		t.byName[e.name] = e.value
		if _, ok := t.byNum[e.value]; !ok {
			t.byNum[e.value] = e.name
		}
		if e.jdk {
			t.jdk[e.name] = true
		}
		t.names = append(t.names, e.name)
	}
	sort.Strings(t.names)
	return t
}

var (
	attributeTable = newTable("attribute", attributeNames)
	classTable     = newTable("object class", classNames)
	keyTypeTable   = newTable("key type", keyTypeNames)
	mechanismTable = newTable("mechanism", mechanismNames,
		nameEntry{"SecureRandom", MechanismSecureRandom, true},
		nameEntry{"KeyStore", MechanismKeyStore, true})
)

// AttributeByName returns the value of a CKA_ name (PKCS#11 v2.40 and v3.0, and the NSS names
// the JDK knows, such as CKA_NETSCAPE_DB).
func AttributeByName(name string) (uint, bool) { v, ok := attributeTable.byName[name]; return v, ok }

// AttributeName returns the canonical CKA_ name of an attribute type, or a hex number.
func AttributeName(t uint) string { return attributeTable.name(t) }

// ObjectClassByName returns the value of a CKO_ name.
func ObjectClassByName(name string) (uint, bool) { v, ok := classTable.byName[name]; return v, ok }

// ObjectClassName returns the canonical CKO_ name of an object class, "*" for Any, or a hex
// number.
func ObjectClassName(c uint) string { return classTable.name(c) }

// KeyTypeByName returns the value of a CKK_ name.
func KeyTypeByName(name string) (uint, bool) { v, ok := keyTypeTable.byName[name]; return v, ok }

// KeyTypeName returns the canonical CKK_ name of a key type, "*" for Any, or a hex number.
func KeyTypeName(k uint) string { return keyTypeTable.name(k) }

// MechanismByName returns the value of a CKM_ name, or of the pseudo mechanisms
// "SecureRandom" and "KeyStore".
func MechanismByName(name string) (uint, bool) { v, ok := mechanismTable.byName[name]; return v, ok }

// MechanismName returns the canonical CKM_ name of a mechanism, or a hex number.
func MechanismName(m uint) string { return mechanismTable.name(m) }

// Names returns every known name of one kind, sorted: kind is "CKA", "CKO", "CKK" or "CKM".
func Names(kind string) []string {
	var t *nameTable
	switch kind {
	case "CKA":
		t = attributeTable
	case "CKO":
		t = classTable
	case "CKK":
		t = keyTypeTable
	case "CKM":
		t = mechanismTable
	default:
		return nil
	}
	return append([]string(nil), t.names...)
}

func (t *nameTable) name(v uint) string {
	if v == Any && t != attributeTable && t != mechanismTable {
		return "*"
	}
	if n, ok := t.byNum[v]; ok {
		return n
	}
	return fmt.Sprintf("%#x", v)
}
