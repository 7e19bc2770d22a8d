package jwtsession_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"

	"github.com/secretstores/secretstores/jwtsession"
	"github.com/secretstores/secretstores/secrets"
	"github.com/secretstores/secretstores/secrets/secretstest"
)

// exampleProvider returns a Provider over an in-memory store holding IDM's default
// session keys, mapped as IDM's secrets.json maps them.
func exampleProvider() *secrets.Provider {
	ctx := context.Background()
	st := secretstest.NewMemoryStore("mainKeyStore")
	if _, err := st.Generate(ctx, "openidm-jwtsessionhmac-key", secrets.KeySpec{Kind: secrets.KindSecret, Bits: 256, Extractable: true}, false); err != nil {
		panic(err)
	}
	km := sharedRSAKey(0) // an RSA key pair with its certificate (openidm-localhost)
	if _, err := st.Import(ctx, "openidm-localhost", km, false); err != nil {
		panic(err)
	}
	p, err := secrets.NewProvider([]secrets.Store{st}, []secrets.Mapping{
		{SecretID: "idm.jwt.session.module.signing", Types: []secrets.Purpose{secrets.Sign, secrets.Verify}, Aliases: []string{"openidm-jwtsessionhmac-key"}},
		{SecretID: "idm.jwt.session.module.encryption", Types: []secrets.Purpose{secrets.Encrypt, secrets.Decrypt}, Aliases: []string{"openidm-localhost"}},
	}, secrets.ProviderOptions{})

	if err != nil {
		panic(err)
	}
	return p
}

func Example() {
	ctx := context.Background()
	m, err := jwtsession.New(exampleProvider(), jwtsession.Config{}) // IDM's defaults
	if err != nil {
		panic(err)
	}
	token, err := m.Issue(ctx, jwtsession.Claims{Principal: "bjensen"})
	if err != nil {
		panic(err)
	}
	s, err := m.Validate(ctx, token)
	if err != nil {
		panic(err)
	}
	fmt.Println(s.Principal, s.SigningKey, s.EncryptionKey)
	fmt.Println(s.Expiry.Sub(s.IssuedAt), s.IdleExpiry.Sub(s.IssuedAt))

	_, err = m.Validate(ctx, token[:len(token)-4]+"AAAA")
	fmt.Println(errors.Is(err, jwtsession.ErrSignature))
	// Output:
	// bjensen openidm-jwtsessionhmac-key openidm-localhost
	// 2h0m0s 30m0s
	// true
}

func ExampleManager_Middleware() {
	m, err := jwtsession.New(exampleProvider(), jwtsession.Config{})
	if err != nil {
		panic(err)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("POST /login", func(w http.ResponseWriter, r *http.Request) {
		// ... authenticate, then:
		if _, err := m.Login(w, r, jwtsession.Claims{Principal: "bjensen"}); err != nil {
			http.Error(w, "login failed", http.StatusInternalServerError)
		}
	})
	protected := m.Middleware(jwtsession.MiddlewareOptions{RequireXRequestedWith: true})
	mux.Handle("GET /me", protected(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s, _ := jwtsession.FromContext(r.Context())
		fmt.Fprintln(w, "hello", s.Principal)
	})))

	login := httptest.NewRecorder()
	mux.ServeHTTP(login, httptest.NewRequest("POST", "/login", nil))
	cookie := login.Result().Cookies()[0]
	fmt.Println(cookie.Name, cookie.HttpOnly, cookie.Secure, cookie.Path)

	req := httptest.NewRequest("GET", "/me", nil)
	req.AddCookie(cookie)
	req.Header.Set("X-Requested-With", "XMLHttpRequest")
	rec := httptest.NewRecorder()
	mux.ServeHTTP(rec, req)
	fmt.Print(rec.Code, " ", rec.Body.String())

	req.Header.Del("X-Requested-With")
	rec = httptest.NewRecorder()
	mux.ServeHTTP(rec, req)
	fmt.Println(rec.Code, strings.TrimSpace(rec.Body.String()))
	// Output:
	// session-jwt true true /
	// 200 hello bjensen
	// 403 Forbidden
}
