//go:build cgo

package hsmstore_test

import (
	"context"
	"errors"
	"expvar"
	"log"
	"log/slog"
	"net/http"
	"os"
	"time"

	"github.com/secretstores/secretstores/hsmstore"
)

// A network HSM (here Thales Luna's client module) with a readiness probe, exported
// counters, and outage handling: during an outage calls fail at once with an error
// wrapping hsmstore.ErrUnavailable, and the store recovers by itself.
func ExampleStore_Ping() {
	s, err := hsmstore.Open(context.Background(), hsmstore.Config{
		Library:             "/usr/safenet/lunaclient/lib/libCryptoki2_64.so",
		TokenSerial:         "1238696044521", // by serial: slot IDs may change on reconnect
		PINFile:             "/run/secrets/hsm-pin",
		ReconnectBackoff:    250 * time.Millisecond,
		ReconnectBackoffMax: 15 * time.Second,
		Logger:              slog.New(slog.NewJSONHandler(os.Stderr, nil)),
	})
	if err != nil {
		log.Fatal(err)
	}
	defer s.Close()
	http.HandleFunc("/readyz", func(w http.ResponseWriter, r *http.Request) {
		ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
		defer cancel()
		if err := s.Ping(ctx); err != nil {
			code := http.StatusServiceUnavailable
			if !errors.Is(err, hsmstore.ErrUnavailable) {
				code = http.StatusInternalServerError
			}
			http.Error(w, "hsm: "+err.Error(), code)
			return
		}
		w.Write([]byte("ok"))
	})
	expvar.Publish("hsm", expvar.Func(func() any { return s.Stats() }))
	log.Fatal(http.ListenAndServe(":8080", nil))
}
