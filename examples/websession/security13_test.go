package main

import (
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
)

// noRedirect is a client that shows redirects instead of following them, without a jar.
var noRedirect = &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}

func do(t *testing.T, method, u string, form url.Values, cookie *http.Cookie, header map[string]string) *http.Response {
	t.Helper()
	var body io.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	}
	r, err := http.NewRequest(method, u, body)
	if err != nil {
		t.Fatal(err)
	}
	if form != nil {
		r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	if cookie != nil {
		r.AddCookie(cookie)
	}
	for k, v := range header {
		r.Header.Set(k, v)
	}
	resp, err := noRedirect.Do(r)
	if err != nil {
		t.Fatal(err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp
}

func sessionCookie(t *testing.T, resp *http.Response) *http.Cookie {
	t.Helper()
	for _, c := range resp.Cookies() {
		if c.Name == "session-jwt" && c.Value != "" {
			return c
		}
	}
	t.Fatalf("no session-jwt cookie set: %d %v", resp.StatusCode, resp.Header["Set-Cookie"])
	return nil
}

var loginForm = url.Values{"username": {"demo"}, "password": {testPassword}}

// Logout revokes the session on the server: the cookie copied before logout no longer
// opens /whoami (before, it did until its exp, as in IDM).
func TestSecurity10LogoutRevokesSession(t *testing.T) {
	base, _ := start(t)
	c := sessionCookie(t, do(t, "POST", base+"login", loginForm, nil, nil))
	if resp := do(t, "GET", base+"whoami", nil, c, nil); resp.StatusCode != http.StatusOK {
		t.Fatalf("whoami with the session: %d", resp.StatusCode)
	}
	if resp := do(t, "POST", base+"logout", nil, c, nil); resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("logout: %d", resp.StatusCode)
	}
	resp := do(t, "GET", base+"whoami", nil, c, nil)
	if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/" {
		t.Fatalf("the copied cookie after logout: %d %s, want a redirect to the login", resp.StatusCode, resp.Header.Get("Location"))
	}
	// Another login is a new session, which works.
	c2 := sessionCookie(t, do(t, "POST", base+"login", loginForm, nil, nil))
	if resp := do(t, "GET", base+"whoami", nil, c2, nil); resp.StatusCode != http.StatusOK {
		t.Fatalf("whoami with a new session: %d", resp.StatusCode)
	}
}

// POST /login and /logout from another site are refused (403): a forged logout does not
// end the session, a forged login sets no cookie. Same-origin browser requests and
// non-browser clients (no Sec-Fetch-Site, no Origin) work.
func TestSecurity10CSRF(t *testing.T) {
	base, _ := start(t)
	u, _ := url.Parse(base)
	c := sessionCookie(t, do(t, "POST", base+"login", loginForm, nil, map[string]string{"Sec-Fetch-Site": "same-origin", "Origin": "http://" + u.Host}))

	for name, h := range map[string]map[string]string{
		"Sec-Fetch-Site cross-site": {"Sec-Fetch-Site": "cross-site"},
		"Sec-Fetch-Site same-site":  {"Sec-Fetch-Site": "same-site"}, // a sibling subdomain
		"Origin of another host":    {"Origin": "http://evil.example"},
	} {
		resp := do(t, "POST", base+"logout", nil, c, h)
		if resp.StatusCode != http.StatusForbidden || len(resp.Cookies()) != 0 {
			t.Errorf("%s: forged logout: %d %v", name, resp.StatusCode, resp.Header["Set-Cookie"])
		}
		resp = do(t, "POST", base+"login", loginForm, nil, h)
		if resp.StatusCode != http.StatusForbidden || len(resp.Cookies()) != 0 {
			t.Errorf("%s: forged login: %d %v", name, resp.StatusCode, resp.Header["Set-Cookie"])
		}
	}
	if resp := do(t, "GET", base+"whoami", nil, c, map[string]string{"Sec-Fetch-Site": "cross-site"}); resp.StatusCode != http.StatusOK {
		t.Fatalf("the session after forged logouts: %d", resp.StatusCode)
	}
	if resp := do(t, "POST", base+"logout", nil, c, map[string]string{"Sec-Fetch-Site": "same-origin"}); resp.StatusCode != http.StatusSeeOther || len(resp.Cookies()) == 0 {
		t.Fatalf("same-origin logout: %d", resp.StatusCode)
	}
}
