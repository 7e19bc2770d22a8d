package secretstest_test

import (
	"context"
	"errors"
	"fmt"
	"log"

	"github.com/secretstores/secretstores/secrets"
	"github.com/secretstores/secretstores/secrets/secretstest"
)

// A MemoryStore holds keys a service received from elsewhere, or test keys; it tells
// subscribers (a Provider) when entries change.
func ExampleMemoryStore() {
	ctx := context.Background()
	store := secretstest.NewMemoryStore("keys")
	defer store.Close()
	unsubscribe := store.Subscribe(func(c secrets.Change) { fmt.Println("changed:", c.Store, c.Aliases) })
	defer unsubscribe()

	km := secrets.KeyMaterial{Kind: secrets.KindSecret, Secret: make([]byte, 32), Algorithm: "HmacSHA256"}
	if _, err := store.Import(ctx, "imported", km, false); err != nil {
		log.Fatal(err)
	}
	_, err := store.Import(ctx, "imported", km, false)
	fmt.Println(errors.Is(err, secrets.ErrExists))

	e, err := store.Entry(ctx, "imported")
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(e.Alias(), e.Kind())

	_, err = store.Entry(ctx, "missing")
	fmt.Println(errors.Is(err, secrets.ErrNotFound))
	// Output:
	// changed: keys [imported]
	// true
	// imported secret
	// true
}
