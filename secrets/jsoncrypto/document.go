package jsoncrypto

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strconv"
	"strings"

	"github.com/secretstores/secretstores/secrets"
)

// Action is what a document helper did to one value.
type Action string

const (
	Encrypted   Action = "encrypted"
	Decrypted   Action = "decrypted"
	Reencrypted Action = "reencrypted"
)

// A Change reports one value a document helper replaced.
type Change struct {
	// Pointer is the value's RFC 6901 JSON pointer in the document ("" for the root).
	Pointer string
	Action  Action
	// SecretID is the secret id the value was encrypted for (or decrypted with).
	SecretID string
	// OldAlias is the alias the value named before ("" for Encrypted); NewAlias the one it
	// names after ("" for Decrypted).
	OldAlias, NewAlias string
}

// A Ref is one $crypto value found in a document.
type Ref struct {
	Pointer string
	Info    Info
}

// parseDocument parses a whole JSON document within the limits.
func parseDocument(doc []byte) (node, error) {
	if len(doc) > MaxDocumentSize {
		return node{}, fmt.Errorf("%w: document of %d bytes (limit %d)", ErrTooLarge, len(doc), MaxDocumentSize)
	}
	n, err := parseJSON(doc, MaxDepth)
	if err != nil {
		return node{}, fmt.Errorf("jsoncrypto: document: %w", err)
	}
	return n, nil
}

func escapeToken(s string) string {
	if !strings.ContainsAny(s, "~/") {
		return s
	}
	return strings.ReplaceAll(strings.ReplaceAll(s, "~", "~0"), "/", "~1")
}

// walk calls fn for every $crypto object (an object with a "$crypto" member; envelopeOf
// refuses one with other members) in document order, without descending into them.
func walk(n *node, ptr string, fn func(n *node, ptr string) error) error {
	switch n.Kind {
	case kObject:
		if n.Get("$crypto") != nil {
			return fn(n, ptr)
		}
		for i := range n.Members {
			if err := walk(&n.Members[i].Val, ptr+"/"+escapeToken(n.Members[i].Key), fn); err != nil {
				return err
			}
		}
	case kArray:
		for i := range n.Elems {
			if err := walk(&n.Elems[i], ptr+"/"+strconv.Itoa(i), fn); err != nil {
				return err
			}
		}
	}
	return nil
}

// Scan returns every $crypto value of a JSON document, in document order. A value of a type
// this package does not know is listed with only Info.Type set; a malformed value of a known
// type is an error naming its pointer.
func Scan(doc []byte) ([]Ref, error) {
	root, err := parseDocument(doc)
	if err != nil {
		return nil, err
	}
	var refs []Ref
	err = eachEnvelope(&root, func(n *node, ptr string, env *envelope, info Info, _ error) error {
		refs = append(refs, Ref{Pointer: ptr, Info: info})
		return nil
	})
	return refs, err
}

func quotePtr(p string) string { return strconv.Quote(p) }

// eachEnvelope calls fn for every $crypto value of root (walk) with its parsed envelope and
// Info. A value that does not parse is an error; infoErr is the errors.ErrUnsupported Info
// gave for a type this package lists but cannot read, for fn to judge. Every error names the
// value's JSON pointer.
func eachEnvelope(root *node, fn func(n *node, ptr string, env *envelope, info Info, infoErr error) error) error {
	return walk(root, "", func(n *node, ptr string) error {
		env, err := envelopeOf(n)
		if err == nil {
			var info Info
			info, err = env.info()
			if err == nil || errors.Is(err, errors.ErrUnsupported) {
				err = fn(n, ptr, env, info, err)
			}
		}
		if err != nil {
			return fmt.Errorf("jsoncrypto: %s: %w", quotePtr(ptr), err)
		}
		return nil
	})
}

type splice struct {
	start, end int
	repl       []byte
}

func applySplices(doc []byte, sp []splice) []byte {
	if len(sp) == 0 {
		return append([]byte(nil), doc...)
	}
	n := len(doc)
	for _, s := range sp {
		n += len(s.repl) - (s.end - s.start)
	}
	out := make([]byte, 0, n)
	last := 0
	for _, s := range sp {
		out = append(out, doc[last:s.start]...)
		out = append(out, s.repl...)
		last = s.end
	}
	return append(out, doc[last:]...)
}

// DecryptDocument replaces every encrypted value (x-simple-encryption, TypeGCM) of a JSON
// document by its plaintext, leaving every other byte as it was (salted hashes and unknown
// $crypto types included), and reports what it replaced. Each value is read as Decrypt
// reads it (Options.SecretIDs, AllowLegacy, AllowAsymmetric). A malformed $crypto value of
// any known type is an error, as in Scan. On error nothing is returned.
func (c *Codec) DecryptDocument(ctx context.Context, doc []byte) ([]byte, []Change, error) {
	root, err := parseDocument(doc)
	if err != nil {
		return nil, nil, err
	}
	var sp []splice
	var changes []Change
	err = eachEnvelope(&root, func(n *node, ptr string, env *envelope, info Info, infoErr error) error {
		if env.typ != TypeSimple && env.typ != TypeGCM {
			return nil // salted hashes and unknown types stay as they are
		}
		if infoErr != nil {
			return infoErr
		}
		pt, err := c.decryptEnvelope(ctx, env)
		if err != nil {
			return err
		}
		sp = append(sp, splice{n.Start, n.End, pt})
		changes = append(changes, Change{Pointer: ptr, Action: Decrypted, SecretID: c.secretIDOf(info.SecretID), OldAlias: info.Alias})
		return nil
	})
	if err != nil {
		return nil, nil, err
	}
	return applySplices(doc, sp), changes, nil
}

// EncryptDocument encrypts the values at the given JSON pointers (RFC 6901) with the active
// key of secretID, leaving every other byte of the document as it was, and reports what it
// encrypted. A value that is already a $crypto object is left alone. A pointer that names
// nothing, or pointers that nest, are errors.
func (c *Codec) EncryptDocument(ctx context.Context, doc []byte, secretID string, pointers ...string) ([]byte, []Change, error) {
	root, err := parseDocument(doc)
	if err != nil {
		return nil, nil, err
	}
	type target struct {
		n   *node
		ptr string
	}
	var targets []target
	for _, ptr := range pointers {
		n, err := resolve(&root, ptr)
		if err != nil {
			return nil, nil, err
		}
		if !isEnvelope(n) {
			targets = append(targets, target{n, ptr})
		}
	}
	sort.Slice(targets, func(i, j int) bool { return targets[i].n.Start < targets[j].n.Start })
	for i := 1; i < len(targets); i++ {
		if targets[i].n.Start < targets[i-1].n.End {
			return nil, nil, fmt.Errorf("jsoncrypto: pointers %s and %s overlap", quotePtr(targets[i-1].ptr), quotePtr(targets[i].ptr))
		}
	}
	if len(targets) == 0 {
		return applySplices(doc, nil), nil, nil
	}
	s, err := c.p.Active(ctx, secretID, secrets.Encrypt)
	if err != nil {
		return nil, nil, fmt.Errorf("jsoncrypto: encrypt: %w", err)
	}
	var sp []splice
	var changes []Change
	for _, t := range targets {
		if t.n.End-t.n.Start > MaxPlaintextSize {
			return nil, nil, fmt.Errorf("%w: value at %s (limit %d)", ErrTooLarge, quotePtr(t.ptr), MaxPlaintextSize)
		}
		pt, err := plaintextJSON(json.RawMessage(doc[t.n.Start:t.n.End]))
		if err != nil {
			return nil, nil, err
		}
		v, err := c.encryptWith(ctx, s, secretID, pt)
		if err != nil {
			return nil, nil, fmt.Errorf("jsoncrypto: %s: %w", quotePtr(t.ptr), err)
		}
		sp = append(sp, splice{t.n.Start, t.n.End, v})
		changes = append(changes, Change{Pointer: t.ptr, Action: Encrypted, SecretID: secretID, NewAlias: s.Alias()})
	}
	return applySplices(doc, sp), changes, nil
}

// resolve finds the node at an RFC 6901 pointer.
func resolve(root *node, ptr string) (*node, error) {
	if ptr == "" {
		return root, nil
	}
	if ptr[0] != '/' {
		return nil, fmt.Errorf("jsoncrypto: JSON pointer %s does not start with '/'", quotePtr(ptr))
	}
	n := root
	for _, tok := range strings.Split(ptr[1:], "/") {
		tok = strings.ReplaceAll(strings.ReplaceAll(tok, "~1", "/"), "~0", "~")
		var next *node
		switch n.Kind {
		case kObject:
			// The last of duplicate names wins, as in encoding/json and Jackson.
			for i := len(n.Members) - 1; i >= 0; i-- {
				if n.Members[i].Key == tok {
					next = &n.Members[i].Val
					break
				}
			}
		case kArray:
			i, err := strconv.Atoi(tok)
			if err == nil && i >= 0 && i < len(n.Elems) && (tok == "0" || tok[0] != '0') {
				next = &n.Elems[i]
			}
		}
		if next == nil {
			return nil, fmt.Errorf("jsoncrypto: JSON pointer %s names nothing in the document", quotePtr(ptr))
		}
		n = next
	}
	return n, nil
}

// Reencrypt re-encrypts every encrypted value of a document that is not already under the
// active key of its secret id (its "purpose", or Options.DefaultSecretID), which must be one
// of Options.SecretIDs (else ErrNotAllowed, as for Decrypt): values naming an
// older alias, legacy values, and values of the other scheme than Options.Scheme. It is the
// second step of a rotation: put the new alias first in the mapping (secrets.json or
// secrets.Mapping), keep the old ones after it, Reencrypt every document, then retire an
// old alias only once CheckRetire passes. Every other byte stays as it was; the report
// lists each value replaced.
func (c *Codec) Reencrypt(ctx context.Context, doc []byte) ([]byte, []Change, error) {
	root, err := parseDocument(doc)
	if err != nil {
		return nil, nil, err
	}
	wantType := TypeSimple
	if c.o.Scheme == SchemeGCM {
		wantType = TypeGCM
	}
	active := map[string]*secrets.Secret{}
	var sp []splice
	var changes []Change
	err = eachEnvelope(&root, func(n *node, ptr string, env *envelope, info Info, infoErr error) error {
		if env.typ != TypeSimple && env.typ != TypeGCM {
			return nil
		}
		if infoErr != nil {
			return infoErr
		}
		// Refuse what Decrypt would refuse before asking the Provider for any key.
		if err := c.allow(info.SecretID, info.Legacy, info.Asymmetric); err != nil {
			return err
		}
		id := c.secretIDOf(info.SecretID)
		s := active[id]
		if s == nil {
			var err error
			if s, err = c.p.Active(ctx, id, secrets.Encrypt); err != nil {
				return err
			}
			active[id] = s
		}
		if info.Alias == s.Alias() && !info.Legacy && env.typ == wantType {
			return nil
		}
		pt, err := c.decryptEnvelope(ctx, env)
		if err != nil {
			return err
		}
		v, err := c.encryptWith(ctx, s, id, pt)
		clear(pt)
		if err != nil {
			return err
		}
		sp = append(sp, splice{n.Start, n.End, v})
		changes = append(changes, Change{Pointer: ptr, Action: Reencrypted, SecretID: id, OldAlias: info.Alias, NewAlias: s.Alias()})
		return nil
	})
	if err != nil {
		return nil, nil, err
	}
	return applySplices(doc, sp), changes, nil
}

// A Use is one value that still names an alias.
type Use struct {
	Document string // the name given to CheckRetire
	Pointer  string
	SecretID string // the value's "purpose" ("" when it has none)
}

// An InUseError is CheckRetire's refusal: the alias and the values that still name it.
// It wraps ErrAliasInUse.
type InUseError struct {
	Alias string
	Uses  []Use
}

func (e *InUseError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "jsoncrypto: alias %q is still named by %d value(s)", e.Alias, len(e.Uses))
	for i, u := range e.Uses {
		if i == 5 {
			fmt.Fprintf(&b, ", ...")
			break
		}
		fmt.Fprintf(&b, "%s %s %s", map[bool]string{true: ":", false: ","}[i == 0], u.Document, quotePtr(u.Pointer))
	}
	b.WriteString("; Reencrypt them first")
	return b.String()
}

func (e *InUseError) Unwrap() error { return ErrAliasInUse }

// CheckRetire returns nil when none of the documents (name → JSON) holds an encrypted value
// naming alias, so the alias may be removed from its mappings and its key destroyed. It
// returns an *InUseError listing every value that still names it, or an error when a
// document cannot be read (which proves nothing, so it refuses too).
func CheckRetire(alias string, docs map[string][]byte) error {
	names := make([]string, 0, len(docs))
	for name := range docs {
		names = append(names, name)
	}
	sort.Strings(names)
	var uses []Use
	for _, name := range names {
		refs, err := Scan(docs[name])
		if err != nil {
			return fmt.Errorf("jsoncrypto: %s: cannot check: %w", name, err)
		}
		for _, r := range refs {
			if (r.Info.Type == TypeSimple || r.Info.Type == TypeGCM) && r.Info.Alias == alias {
				uses = append(uses, Use{Document: name, Pointer: r.Pointer, SecretID: r.Info.SecretID})
			}
		}
	}
	if len(uses) > 0 {
		return &InUseError{Alias: alias, Uses: uses}
	}
	return nil
}
