//go:build cgo

package hsmstore

import (
	"context"
	"sync"

	"github.com/miekg/pkcs11"
)

// HoldSessions occupies n of s's pool sessions, each inside a running operation, until
// release is called: what a caller meets when every session is busy.
func HoldSessions(s *Store, n int) (release func()) {
	rel := make(chan struct{})
	var got, done sync.WaitGroup
	for range n {
		got.Add(1)
		done.Add(1)
		go func() {
			defer done.Done()
			_ = s.c.do(context.Background(), func(pkcs11.SessionHandle) (bool, error) {
				got.Done()
				<-rel
				return false, nil
			})
		}()
	}
	got.Wait()
	return func() { close(rel); done.Wait() }
}
