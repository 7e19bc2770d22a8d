//go:build cgo

package hsmstore_test

import (
	"context"
	"crypto"
	"errors"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/secretstores/secretstores/hsmstore"
	"github.com/secretstores/secretstores/internal/softhsmtest"
	"github.com/secretstores/secretstores/secrets"
)

// When every pool session is busy a call waits: until a session frees (it then runs),
// until its ctx ends (it returns ctx.Err() at once, not after PoolWaitTimeout), or until
// PoolWaitTimeout passes (an error naming MaxSessions and PoolWaitTimeout). Each wait
// counts in Stats.PoolWaits, each give-up after the timeout in Stats.PoolTimeouts.
func TestPoolWaitAllSessionsBusy(t *testing.T) {
	tok := softhsmtest.New(t, "poolwait")
	ctx := context.Background()
	const wait = 700 * time.Millisecond
	st, err := hsmstore.Open(ctx, hsmstore.Config{Library: tok.Module, TokenLabel: tok.Label, PIN: tok.PIN, MaxSessions: 2, PoolWaitTimeout: wait})
	require.NoError(t, err)
	defer st.Close()
	e, err := st.Generate(ctx, "hmac", secrets.KeySpec{Kind: secrets.KindSecret}, false)
	require.NoError(t, err)
	mac := e.(secrets.EntryMAC)
	_, err = mac.MAC(ctx, crypto.SHA256, []byte("warm"))
	require.NoError(t, err)

	release := hsmstore.HoldSessions(st, 2)
	before := st.Stats()

	// The caller's deadline ends the wait, long before PoolWaitTimeout.
	cctx, cancel := context.WithTimeout(ctx, 50*time.Millisecond)
	start := time.Now()
	_, err = mac.MAC(cctx, crypto.SHA256, []byte("m"))
	took := time.Since(start)
	cancel()
	require.Error(t, err)
	assert.ErrorIs(t, err, context.DeadlineExceeded)
	assert.Less(t, took, wait, "the ctx ended the wait, not PoolWaitTimeout")

	// Without a deadline the call gives up after PoolWaitTimeout, saying what to raise.
	start = time.Now()
	_, err = mac.MAC(ctx, crypto.SHA256, []byte("m"))
	took = time.Since(start)
	require.Error(t, err)
	assert.False(t, errors.Is(err, context.DeadlineExceeded))
	assert.Contains(t, err.Error(), "MaxSessions")
	assert.Contains(t, err.Error(), "PoolWaitTimeout")
	assert.GreaterOrEqual(t, took, wait-50*time.Millisecond)

	after := st.Stats()
	assert.GreaterOrEqual(t, after.PoolWaits-before.PoolWaits, uint64(2))
	assert.GreaterOrEqual(t, after.PoolTimeouts-before.PoolTimeouts, uint64(1))

	// A waiting call runs as soon as a session frees.
	done := make(chan error, 1)
	go func() {
		_, err := mac.MAC(ctx, crypto.SHA256, []byte("m"))
		done <- err
	}()
	time.Sleep(50 * time.Millisecond)
	release()
	select {
	case err := <-done:
		assert.NoError(t, err)
	case <-time.After(wait + 5*time.Second):
		t.Fatal("the waiting call did not run after the sessions were released")
	}
}
