package storekit_test

import (
	"context"
	"crypto"
	"crypto/sha256"
	"fmt"

	"github.com/secretstores/secretstores/secrets"
	"github.com/secretstores/secretstores/secrets/storekit"
)

// A store that keeps keys in memory generates their material and serves each as a software
// entry; callers reach it through a secrets.Secret.
func ExampleNewSoftwareEntry() {
	km, err := storekit.GenerateKeyMaterial(secrets.KeySpec{Kind: secrets.KindSecret})
	if err != nil {
		panic(err)
	}
	e, err := storekit.NewSoftwareEntry("jwt-hmac", km)
	if err != nil {
		panic(err)
	}
	s := secrets.NewSecret("memory", e)
	tag, err := s.MAC(context.Background(), crypto.SHA256, []byte("message"))
	if err != nil {
		panic(err)
	}
	fmt.Println(s.Alias(), s.Kind(), s.Algorithm(), len(tag) == sha256.Size)
	fmt.Println(s.VerifyMAC(context.Background(), crypto.SHA256, []byte("message"), tag))
	// Output:
	// jwt-hmac secret HmacSHA256 true
	// <nil>
}

// A store forwards Subscribe to its Subscribers and calls Notify after a change.
func ExampleSubscribers() {
	var subs storekit.Subscribers
	unsubscribe := subs.Subscribe(func(c secrets.Change) { fmt.Println("changed:", c.Store, c.Aliases) })
	subs.Notify(secrets.Change{Store: "mainKeyStore", Aliases: []string{"old"}})
	unsubscribe()
	subs.Notify(secrets.Change{Store: "mainKeyStore", Aliases: []string{"gone"}})
	// Output:
	// changed: mainKeyStore [old]
}
