package storekit

import (
	"github.com/secretstores/secretstores/secrets"
	"slices"
	"sync"
)

// Subscribers is the bookkeeping of a Notifier, for store implementations: hold one (its zero
// value is ready), forward Subscribe to it and call Notify after a change. It is safe for
// concurrent use; Notify calls the subscribers on the caller's goroutine, without holding a
// lock, each with its own copy of the change.
type Subscribers struct {
	mu   sync.Mutex
	next int
	fns  map[int]func(secrets.Change)
}

// Subscribe registers f and returns the function that removes it (idempotent).
func (s *Subscribers) Subscribe(f func(secrets.Change)) (unsubscribe func()) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.fns == nil {
		s.fns = make(map[int]func(secrets.Change))
	}
	id := s.next
	s.next++
	s.fns[id] = f
	return func() {
		s.mu.Lock()
		defer s.mu.Unlock()
		delete(s.fns, id)
	}
}

// Notify calls every subscriber with c.
func (s *Subscribers) Notify(c secrets.Change) {
	s.mu.Lock()
	fns := make([]func(secrets.Change), 0, len(s.fns))
	for _, f := range s.fns {
		fns = append(fns, f)
	}
	s.mu.Unlock()
	for _, f := range fns {
		f(secrets.Change{Store: c.Store, Aliases: slices.Clone(c.Aliases)})
	}
}

// Clear removes every subscriber (a store's Close).
func (s *Subscribers) Clear() {
	s.mu.Lock()
	clear(s.fns)
	s.mu.Unlock()
}
