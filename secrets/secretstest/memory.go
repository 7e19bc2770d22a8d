// Package secretstest holds the conformance suite that every [secrets.Store] implementation
// runs ([Run]), and [MemoryStore], an in-memory store that passes it.
package secretstest

import (
	"context"
	"fmt"
	"slices"
	"sync"

	"github.com/secretstores/secretstores/secrets"
	"github.com/secretstores/secretstores/secrets/storekit"
)

// MemoryStore is a secrets.Store holding software keys in memory. It implements Generator,
// Importer, Deleter and Notifier, and is safe for concurrent use. It is meant for tests,
// examples and services that receive keys from elsewhere; it persists nothing.
type MemoryStore struct {
	name string

	mu      sync.RWMutex
	entries map[string]secrets.Entry
	subs    storekit.Subscribers
	closed  bool
}

// NewMemoryStore returns an empty store with the given name.
func NewMemoryStore(name string) *MemoryStore {
	return &MemoryStore{name: name, entries: make(map[string]secrets.Entry)}
}

// Name returns the store's name.
func (m *MemoryStore) Name() string { return m.name }

func (m *MemoryStore) check(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if m.closed {
		return &secrets.KeyError{Store: m.name, Err: secrets.ErrClosed}
	}
	return nil
}

// Entry returns the entry with the given alias, or an error wrapping secrets.ErrNotFound.
func (m *MemoryStore) Entry(ctx context.Context, alias string) (secrets.Entry, error) {
	m.mu.RLock()
	defer m.mu.RUnlock()
	if err := m.check(ctx); err != nil {
		return nil, err
	}
	e, ok := m.entries[alias]
	if !ok {
		return nil, &secrets.KeyError{Store: m.name, Alias: alias, Err: secrets.ErrNotFound}
	}
	return e, nil
}

// Aliases returns the aliases, sorted.
func (m *MemoryStore) Aliases(ctx context.Context) ([]string, error) {
	m.mu.RLock()
	defer m.mu.RUnlock()
	if err := m.check(ctx); err != nil {
		return nil, err
	}
	out := make([]string, 0, len(m.entries))
	for a := range m.entries {
		out = append(out, a)
	}
	slices.Sort(out)
	return out, nil
}

// Generate makes a software key as spec says (storekit.GenerateKeyMaterial) under alias,
// replacing an entry there only with overwrite.
func (m *MemoryStore) Generate(ctx context.Context, alias string, spec secrets.KeySpec, overwrite bool) (secrets.Entry, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	km, err := storekit.GenerateKeyMaterial(spec)
	if err != nil {
		return nil, &secrets.KeyError{Op: "generate", Store: m.name, Alias: alias, Err: err}
	}
	return m.put(ctx, alias, km, overwrite)
}

// Import stores key under alias.
func (m *MemoryStore) Import(ctx context.Context, alias string, key secrets.KeyMaterial, overwrite bool) (secrets.Entry, error) {
	return m.put(ctx, alias, key, overwrite)
}

func (m *MemoryStore) put(ctx context.Context, alias string, km secrets.KeyMaterial, overwrite bool) (secrets.Entry, error) {
	if alias == "" {
		return nil, &secrets.KeyError{Op: "import", Store: m.name, Err: fmt.Errorf("empty alias")}
	}
	e, err := storekit.NewSoftwareEntry(alias, km)
	if err != nil {
		return nil, &secrets.KeyError{Op: "import", Store: m.name, Alias: alias, Err: err}
	}
	m.mu.Lock()
	if err := m.check(ctx); err != nil {
		m.mu.Unlock()
		return nil, err
	}
	if _, ok := m.entries[alias]; ok && !overwrite {
		m.mu.Unlock()
		return nil, &secrets.KeyError{Op: "import", Store: m.name, Alias: alias, Err: secrets.ErrExists}
	}
	m.entries[alias] = e
	m.mu.Unlock()
	m.notify(alias)
	return e, nil
}

// Delete removes alias.
func (m *MemoryStore) Delete(ctx context.Context, alias string) error {
	m.mu.Lock()
	if err := m.check(ctx); err != nil {
		m.mu.Unlock()
		return err
	}
	if _, ok := m.entries[alias]; !ok {
		m.mu.Unlock()
		return &secrets.KeyError{Op: "delete", Store: m.name, Alias: alias, Err: secrets.ErrNotFound}
	}
	delete(m.entries, alias)
	m.mu.Unlock()
	m.notify(alias)
	return nil
}

// Subscribe registers fn for changes (imports, generations, deletions).
func (m *MemoryStore) Subscribe(fn func(secrets.Change)) func() { return m.subs.Subscribe(fn) }

func (m *MemoryStore) notify(alias string) {
	m.subs.Notify(secrets.Change{Store: m.name, Aliases: []string{alias}})
}

// Close empties the store; later calls fail with secrets.ErrClosed. It is idempotent.
func (m *MemoryStore) Close() error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.closed = true
	clear(m.entries)
	return nil
}
