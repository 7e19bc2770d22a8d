package jwtsession

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"time"

	"github.com/secretstores/secretstores/secrets"
)

type contextKey struct{}

// NewContext returns ctx carrying s.
func NewContext(ctx context.Context, s *Session) context.Context {
	return context.WithValue(ctx, contextKey{}, s)
}

// FromContext returns the session the middleware put into ctx.
func FromContext(ctx context.Context) (*Session, bool) {
	s, ok := ctx.Value(contextKey{}).(*Session)
	return s, ok && s != nil
}

// Cookies returns the Set-Cookie values for s by IDM's rules: the configured name, Path
// /, HttpOnly and Secure unless turned off, SameSite, one cookie per configured domain
// (a host-only cookie when none), and Max-Age = exp − now when Persistent (else a
// session cookie).
func (m *Manager) Cookies(s *Session) []*http.Cookie {
	c := m.baseCookie()
	c.Value = s.Token
	if m.cfg.Cookie.Persistent {
		age := int(s.Expiry.Sub(m.now()) / time.Second)
		if age <= 0 {
			age = -1 // already expired: delete
		}
		c.MaxAge = age
	}
	return m.perDomain(c)
}

// SetCookie adds the session cookie(s) for s to w. A cookie value over 4 KB, which
// browsers drop, is logged as a warning (once per Manager).
func (m *Manager) SetCookie(w http.ResponseWriter, s *Session) {
	if len(s.Token) > CookieWarnSize && m.warned.CompareAndSwap(false, true) {
		m.cfg.Logger.Warn("jwtsession: session cookie exceeds 4 KB; browsers will drop it: keep Claims small",
			"cookie", m.cfg.Cookie.Name, "bytes", len(s.Token))
	}
	for _, c := range m.Cookies(s) {
		http.SetCookie(w, c)
	}
}

// ClearCookie adds cookie(s) ending the session, as IDM's logout: an empty value with
// Max-Age 0, for each configured domain.
func (m *Manager) ClearCookie(w http.ResponseWriter) {
	c := m.baseCookie()
	c.MaxAge = -1 // Max-Age=0 on the wire
	for _, c := range m.perDomain(c) {
		http.SetCookie(w, c)
	}
}

func (m *Manager) baseCookie() http.Cookie {
	cc := m.cfg.Cookie
	return http.Cookie{Name: cc.Name, Path: "/", HttpOnly: !cc.NoHTTPOnly, Secure: !cc.Insecure, SameSite: cc.SameSite}
}

func (m *Manager) perDomain(c http.Cookie) []*http.Cookie {
	if len(m.cfg.Cookie.Domains) == 0 {
		return []*http.Cookie{&c}
	}
	out := make([]*http.Cookie, 0, len(m.cfg.Cookie.Domains))
	for _, d := range m.cfg.Cookie.Domains {
		cd := c
		cd.Domain = d
		out = append(out, &cd)
	}
	return out
}

// FromRequest validates the session cookie of r. With several cookies of the name (one
// per domain), the first that validates wins; if none does, the first error is returned.
// At most one cookie per configured domain, and two more, are tried, so a request stuffed
// with cookies cannot make it validate (and, with MACInStore, call the HSM) without bound.
// No cookie is ErrNoSession.
func (m *Manager) FromRequest(r *http.Request) (*Session, error) {
	var first error
	tries := len(m.cfg.Cookie.Domains) + 2
	for _, c := range r.CookiesNamed(m.cfg.Cookie.Name) {
		if c.Value == "" {
			continue
		}
		if tries == 0 {
			break
		}
		tries--
		s, err := m.Validate(r.Context(), c.Value)
		if err == nil {
			return s, nil
		}
		if first == nil {
			first = err
		}
	}
	if first == nil {
		return nil, ErrNoSession
	}
	return nil, first
}

// NoSessionHeader is IDM's request header asking for no session cookie: with the value
// "true", Login sets no cookie and Middleware refreshes none.
const NoSessionHeader = "X-OpenIDM-NoSession"

func noSession(r *http.Request) bool {
	return strings.EqualFold(strings.TrimSpace(r.Header.Get(NoSessionHeader)), "true")
}

// Login issues a session for claims and sets its cookie(s), unless the request carries
// X-OpenIDM-NoSession: true (the session is still returned).
func (m *Manager) Login(w http.ResponseWriter, r *http.Request, claims Claims) (*Session, error) {
	s, err := m.NewSession(r.Context(), claims)
	if err != nil {
		return nil, err
	}
	if !noSession(r) {
		m.SetCookie(w, s)
	}
	return s, nil
}

// Logout clears the session cookie(s) and drops r's token from the cache. A token is
// valid until it expires, as in IDM: use Config.Revoked to refuse a logged-out session
// id everywhere.
func (m *Manager) Logout(w http.ResponseWriter, r *http.Request) {
	for _, c := range r.CookiesNamed(m.cfg.Cookie.Name) {
		m.Forget(c.Value)
	}
	m.ClearCookie(w)
}

// MiddlewareOptions tune Middleware.
type MiddlewareOptions struct {
	// RequireXRequestedWith refuses (403, ErrForbidden) a request that carries the
	// session cookie but no X-Requested-With header: IDM's rule against cross-site
	// requests that ride on the cookie.
	RequireXRequestedWith bool
	// Optional lets requests without a valid session through, without a session in the
	// context; the default answers them 401.
	Optional bool
	// OnError writes the response for a refused request; nil means a plain 401 without
	// details (403 for ErrForbidden, 503 when the key store is unavailable:
	// secrets.ErrUnavailable).
	OnError func(w http.ResponseWriter, r *http.Request, err error)
}

// Middleware returns net/http middleware that validates the session cookie, refreshes it
// by IDM's rule (a new Set-Cookie when iat is over RefreshAfter old; none for a request with
// X-OpenIDM-NoSession: true), and puts the Session into the request context (FromContext). An invalid token also gets a clearing
// Set-Cookie, except when the failure was the store's (so a transient HSM fault does not
// log users out).
func (m *Manager) Middleware(opts MiddlewareOptions) func(http.Handler) http.Handler {
	fail := opts.OnError
	if fail == nil {
		fail = func(w http.ResponseWriter, _ *http.Request, err error) {
			if errors.Is(err, ErrForbidden) {
				http.Error(w, http.StatusText(http.StatusForbidden), http.StatusForbidden)
				return
			}
			if errors.Is(err, secrets.ErrUnavailable) {
				// The key store is away: the session may be fine; the client should retry.
				http.Error(w, http.StatusText(http.StatusServiceUnavailable), http.StatusServiceUnavailable)
				return
			}
			http.Error(w, http.StatusText(http.StatusUnauthorized), http.StatusUnauthorized)
		}
	}
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			s, err := m.FromRequest(r)
			if err == nil && opts.RequireXRequestedWith && r.Header.Get("X-Requested-With") == "" {
				err = ErrForbidden
			}
			if err == nil && noSession(r) {
				next.ServeHTTP(w, r.WithContext(NewContext(r.Context(), s)))
				return
			}
			if err == nil {
				var refreshed bool
				var rs *Session
				if rs, refreshed, err = m.Refresh(r.Context(), s); err == nil {
					if refreshed {
						m.SetCookie(w, rs)
					}
					next.ServeHTTP(w, r.WithContext(NewContext(r.Context(), rs)))
					return
				}
			}
			if !errors.Is(err, ErrNoSession) && !errors.Is(err, ErrForbidden) && tokenFault(err) {
				m.ClearCookie(w)
			}
			if opts.Optional && !errors.Is(err, ErrForbidden) {
				next.ServeHTTP(w, r)
				return
			}
			fail(w, r, err)
		})
	}
}

// tokenFault reports whether err blames the token rather than a key store.
func tokenFault(err error) bool {
	for _, e := range []error{ErrTooLarge, ErrMalformed, ErrAlgorithm, ErrUnknownKey, ErrSignature,
		ErrDecryption, ErrClaims, ErrExpired, ErrIdleExpired, ErrNotYetValid, ErrMaxLife, ErrRevoked} {
		if errors.Is(err, e) {
			return true
		}
	}
	return false
}
