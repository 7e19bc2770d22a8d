package clilog

import (
	"bytes"
	"log"
	"log/slog"
	"os"
	"sync"
	"testing"
)

// Buffer collects what the log package writes; it is safe for concurrent use.
type Buffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *Buffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

// String returns what was written so far.
func (l *Buffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// Capture sends the log package's output (and so the default slog logger's) to a Buffer
// until the test ends, then restores standard error and slog's default level. Tests that
// use it must not run in parallel with others that log.
func Capture(t testing.TB) *Buffer {
	t.Helper()
	var b Buffer
	log.SetOutput(&b)
	t.Cleanup(func() {
		log.SetOutput(os.Stderr)
		slog.SetLogLoggerLevel(slog.LevelInfo)
	})
	return &b
}
