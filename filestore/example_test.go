package filestore_test

import (
	"context"
	"crypto"
	"fmt"
	"os"
	"path/filepath"

	"github.com/secretstores/secretstores/filestore"
	"github.com/secretstores/secretstores/secrets"
)

// Open a keystore keytool made and use IDM's JWT session HMAC key.
func ExampleOpen() {
	ctx := context.Background()
	s, err := filestore.Open(ctx, "testdata/keystore.p12", filestore.Config{Password: "changeit"})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer s.Close()
	e, err := s.Entry(ctx, "openidm-jwtsessionhmac-key")
	if err != nil {
		fmt.Println(err)
		return
	}
	tag, err := secrets.NewSecret(s.Name(), e).MAC(ctx, crypto.SHA256, []byte("hello"))
	fmt.Println(s.Format(), e.Kind(), len(tag), err)
	// Output: PKCS12 secret 32 <nil>
}

// Create a PKCS12 keystore with IDM's default keys, as populateDefaults does.
func ExampleStore_PopulateDefaults() {
	ctx := context.Background()
	dir, _ := os.MkdirTemp("", "example")
	defer os.RemoveAll(dir)
	s, err := filestore.Open(ctx, filepath.Join(dir, "keystore.p12"), filestore.Config{Password: "changeit", Create: true})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer s.Close()
	created, err := s.PopulateDefaults(ctx, filestore.DefaultsOptions{AESBits: 128})
	fmt.Println(created, err)
	// Output: [openidm-sym-default openidm-selfservice-key openidm-jwtsessionhmac-key openidm-localhost selfservice] <nil>
}

// JCEKS files are read-only: convert them to PKCS12 to write.
func ExampleConvertToPKCS12() {
	ctx := context.Background()
	dir, _ := os.MkdirTemp("", "example")
	defer os.RemoveAll(dir)
	dst := filepath.Join(dir, "keystore.p12")
	if err := filestore.ConvertToPKCS12(ctx, "testdata/keystore.jceks", filestore.Config{Password: "changeit"}, dst); err != nil {
		fmt.Println(err)
		return
	}
	s, err := filestore.Open(ctx, dst, filestore.Config{Password: "changeit"})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer s.Close()
	aliases, _ := s.Aliases(ctx)
	fmt.Println(s.Format(), len(aliases))
	// Output: PKCS12 8
}
