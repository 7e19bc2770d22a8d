package main

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"errors"
	"html/template"
	"net/http"
	"sync"
	"time"

	"github.com/secretstores/secretstores/jwtsession"
	"github.com/secretstores/secretstores/secrets"
)

type app struct {
	m       *jwtsession.Manager
	p       *secrets.Provider
	user    string
	pwHash  [32]byte
	where   string
	revoked *revocations
}

// revocations are the sessions logged out on this server, refused until they would have
// expired: the Manager asks it on every validation (Config.Revoked), so a copied cookie stops
// working at logout instead of living to its exp. One server keeps them in memory; several
// would share them (a database, a cache with expiry).
type revocations struct {
	mu  sync.Mutex
	ids map[string]time.Time // revocationKey → when the session would have expired anyway
	now func() time.Time
}

func newRevocations() *revocations {
	return &revocations{ids: map[string]time.Time{}, now: time.Now}
}

var errLoggedOut = errors.New("the session was logged out")

// revoke refuses the session id until until, and forgets revocations past their time.
func (v *revocations) revoke(id string, until time.Time) {
	v.mu.Lock()
	defer v.mu.Unlock()
	now := v.now()
	for k, t := range v.ids {
		if now.After(t) {
			delete(v.ids, k)
		}
	}
	v.ids[id] = until
}

// check is a jwtsession.Config.Revoked hook.
func (v *revocations) check(_ context.Context, s *jwtsession.Session) error {
	v.mu.Lock()
	defer v.mu.Unlock()
	if _, ok := v.ids[revocationKey(s)]; ok {
		return errLoggedOut
	}
	return nil
}

// revocationKey is the session id, which refreshed tokens keep; a token without one (not
// made by this server) is revoked by its token id.
func revocationKey(s *jwtsession.Session) string {
	if s.SessionID != "" {
		return "session " + s.SessionID
	}
	return "token " + s.ID
}

func (a *app) routes() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /{$}", a.loginPage)
	mux.HandleFunc("POST /login", a.login)
	mux.HandleFunc("POST /logout", a.logout)
	// The middleware validates the cookie, refreshes it by IDM's rule and puts the session
	// into the request's context; without a valid session it sends the browser to the login.
	session := a.m.Middleware(jwtsession.MiddlewareOptions{
		OnError: func(w http.ResponseWriter, r *http.Request, err error) {
			http.Redirect(w, r, "/", http.StatusSeeOther)
		},
	})
	mux.Handle("GET /whoami", session(http.HandlerFunc(a.whoami)))
	// Against cross-site request forgery of POST /login and /logout (and any later
	// state-changing route): a browser request whose Sec-Fetch-Site, or else Origin, shows
	// another site is refused with 403. SameSite=Lax on the cookie does not cover login CSRF
	// (no cookie yet) nor a sibling subdomain, which is same-site.
	csrf := http.NewCrossOriginProtection()
	return securityHeaders(csrf.Handler(mux))
}

func securityHeaders(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'")
		w.Header().Set("X-Frame-Options", "DENY")
		w.Header().Set("Cache-Control", "no-store")
		h.ServeHTTP(w, r)
	})
}

var pages = template.Must(template.New("login").Parse(`<!doctype html>
<html><head><meta charset="utf-8"><title>websession: log in</title></head>
<body style="font-family: sans-serif; max-width: 40em; margin: 3em auto">
<h1>Log in</h1>
{{if .Error}}<p id="error" style="color: #b00">{{.Error}}</p>{{end}}
<form method="post" action="/login">
<p><label>User <input id="username" name="username" autocomplete="username" value="{{.User}}"></label></p>
<p><label>Password <input id="password" name="password" type="password" autocomplete="current-password"></label></p>
<p><button id="login" type="submit">Log in</button></p>
</form>
<p>Keys: {{.Where}}</p>
</body></html>
`))

var whoamiPage = template.Must(template.New("whoami").Parse(`<!doctype html>
<html><head><meta charset="utf-8"><title>websession: {{.Principal}}</title></head>
<body style="font-family: sans-serif; max-width: 40em; margin: 3em auto">
<h1>Logged in as <span id="principal">{{.Principal}}</span></h1>
<table>
<tr><th align="left">session id</th><td id="session">{{.SessionID}}</td></tr>
<tr><th align="left">token id (jti)</th><td id="jti">{{.ID}}</td></tr>
<tr><th align="left">issued (iat)</th><td id="issued">{{.IssuedAt}}</td></tr>
<tr><th align="left">idle until</th><td id="idle">{{.IdleExpiry}}</td></tr>
<tr><th align="left">expires (exp)</th><td id="expiry">{{.Expiry}}</td></tr>
<tr><th align="left">signed with</th><td id="signing">{{.SigningKey}}</td></tr>
<tr><th align="left">encrypted for</th><td id="encryption">{{.EncryptionKey}}</td></tr>
<tr><th align="left">keys from</th><td id="where">{{.Where}}</td></tr>
</table>
<form method="post" action="/logout"><p><button id="logout" type="submit">Log out</button></p></form>
</body></html>
`))

type loginData struct{ User, Error, Where string }

func (a *app) loginPage(w http.ResponseWriter, r *http.Request) {
	// A browser that still holds a valid session goes straight to /whoami.
	if _, err := a.m.FromRequest(r); err == nil {
		http.Redirect(w, r, "/whoami", http.StatusSeeOther)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	pages.Execute(w, loginData{User: a.user, Where: a.where})
}

func (a *app) login(w http.ResponseWriter, r *http.Request) {
	r.Body = http.MaxBytesReader(w, r.Body, 4096)
	user, pw := r.PostFormValue("username"), r.PostFormValue("password")
	h := sha256.Sum256([]byte(pw))
	if subtle.ConstantTimeCompare(h[:], a.pwHash[:]) != 1 || user != a.user {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.WriteHeader(http.StatusUnauthorized)
		pages.Execute(w, loginData{User: user, Error: "Wrong user or password.", Where: a.where})
		return
	}
	claims := jwtsession.Claims{Principal: user, Context: map[string]any{"roles": []string{"internal/role/openidm-authorized"}}}
	if _, err := a.m.Login(w, r, claims); err != nil {
		http.Error(w, "cannot issue the session: "+err.Error(), http.StatusInternalServerError)
		return
	}
	http.Redirect(w, r, "/whoami", http.StatusSeeOther)
}

func (a *app) logout(w http.ResponseWriter, r *http.Request) {
	// Revoke the session on the server, not only the cookie in this browser.
	if s, err := a.m.FromRequest(r); err == nil {
		a.revoked.revoke(revocationKey(s), s.Expiry.Add(time.Minute))
	}
	a.m.Logout(w, r)
	http.Redirect(w, r, "/", http.StatusSeeOther)
}

func (a *app) whoami(w http.ResponseWriter, r *http.Request) {
	s, ok := jwtsession.FromContext(r.Context())
	if !ok {
		http.Redirect(w, r, "/", http.StatusSeeOther)
		return
	}
	t := func(x time.Time) string { return x.UTC().Format(time.RFC3339) }
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	whoamiPage.Execute(w, map[string]string{
		"Principal": s.Principal, "SessionID": s.SessionID, "ID": s.ID,
		"IssuedAt": t(s.IssuedAt), "IdleExpiry": t(s.IdleExpiry), "Expiry": t(s.Expiry),
		"SigningKey": s.SigningKey, "EncryptionKey": s.EncryptionKey, "Where": a.where,
	})
}
