package jwtsession

import (
	"context"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/go-jose/go-jose/v4"
)

// Defaults, as IDM 8.1's JWT session module (conf/authentication.json, JWT_SESSION).
const (
	DefaultCookieName   = "session-jwt"
	DefaultSigningID    = "idm.jwt.session.module.signing"
	DefaultEncryptionID = "idm.jwt.session.module.encryption"
	DefaultIdleTimeout  = 30 * time.Minute  // tokenIdleTimeMinutes 0 → 30
	DefaultMaxLife      = 120 * time.Minute // maxTokenLifeMinutes 0 → 120
	// DefaultRefreshAfter: IDM re-issues a token whose iat is more than a minute old.
	DefaultRefreshAfter = time.Minute
	// DefaultMaxTokenSize bounds a token before it is parsed. Browsers drop cookies over
	// 4 KB; 8 KB leaves room for a header made elsewhere.
	DefaultMaxTokenSize = 8 << 10
	// CookieWarnSize: SetCookie logs a warning when a cookie value exceeds it.
	CookieWarnSize = 4 << 10
	// DefaultIDMLeeway is the clock skew the IDM profile allows on exp, the idle deadline,
	// nbf and iat when Config.Leeway is 0: five seconds, enough for the clocks of an IDM
	// cluster and a Go service a second or two apart, short against IDM's one-minute
	// refresh interval.
	DefaultIDMLeeway = 5 * time.Second
	// DefaultCacheSize is the number of validated tokens the cache holds: enough for
	// 100,000 active sessions under IDM's refresh rule (each presents a new token a
	// minute, and the one it replaced lingers), with a hit rate within 0.1 point of an
	// exact LRU's (BenchmarkScaleSessionCache). Full, with IDM managed-user sessions
	// (about 1.1 KB each: claims, authentication context, index), it holds about 210 MiB.
	DefaultCacheSize = 200_000
	// MinHMACKeySize is the least size of the exported HMAC key, as IDM requires (hmacKey
	// must decode to at least 32 bytes).
	MinHMACKeySize = 32
)

// Profile selects the token layout.
type Profile int

const (
	// IDM makes tokens exactly as PingIDM/ForgeRock IDM 7's JWT session module: an outer
	// JWS HS256 with header {"typ":"JWT","kid":<HMAC key alias>,"cty":"JWT","alg":"HS256"}
	// whose payload is a compact JWE with header
	// {"typ":"JWT","kid":<RSA key alias>,"enc":"A128CBC-HS256","alg":"RSA1_5"} (the member
	// sets of a real IDM 7 session-jwt; go-jose orders members its own way). It accepts
	// the forms without kid and inner typ (IDM 5/6 and the commons module) and the older
	// outer header {"typ":"JWE","alg":"HS256"} too: a kid, when present, selects the key,
	// otherwise every valid key is tried in mapping order. Times are checked as IDM
	// checks them (see Config.Leeway and Config.LimitLifetime).
	IDM Profile = iota
	// Modern makes tokens with kid = alias on both layers, RSA-OAEP-256 (or RSA-OAEP
	// where the key's store lacks OAEP with SHA-256, as SoftHSM 2.6) and A256GCM inside,
	// and HS256, HS512, RS256 or ES256 outside (Config.SignatureAlgorithm). IDM cannot
	// read these tokens.
	Modern
)

func (p Profile) String() string {
	switch p {
	case IDM:
		return "IDM"
	case Modern:
		return "Modern"
	}
	return "Profile(?)"
}

// Config configures a Manager. The zero value means IDM's defaults throughout (noted per
// field); a Config must not be modified after it is passed to New.
type Config struct {
	// Profile is IDM (default) or Modern.
	Profile Profile

	// SigningID is the secret id of the signing key (SIGN for Issue, VERIFY for
	// Validate); "" means DefaultSigningID. In the IDM profile and for HS* in Modern it
	// maps to a generic secret (HMAC) key of at least 32 bytes (64 for HS512).
	SigningID string
	// EncryptionID is the secret id of the RSA key pair (ENCRYPT for Issue, DECRYPT for
	// Validate); "" means DefaultEncryptionID.
	EncryptionID string

	// SignatureAlgorithm is the outer JWS algorithm of the Modern profile: HS256
	// (default), HS512, RS256 or ES256 (the last two sign with a key pair where it lives).
	// The IDM profile only allows HS256.
	SignatureAlgorithm jose.SignatureAlgorithm
	// KeyAlgorithm is the Modern profile's key wrap: "" means RSA-OAEP-256 when the
	// decryption key's store supports it (probed in New) and RSA-OAEP otherwise; set it
	// to force one. Modern tokens with either are accepted. IDM uses RSA1_5.
	KeyAlgorithm jose.KeyAlgorithm

	// MACInStore keeps the HMAC key in its store: tokens are signed and verified with
	// Secret.MAC and Secret.VerifyMAC (an HSM operation per token) instead of exporting
	// the key once. The key then need not be extractable. Default false: IDM's behaviour.
	MACInStore bool

	// IdleTimeout is how long a session lives without a refresh (the
	// tokenIdleTimeSeconds deadline); 0 means DefaultIdleTimeout.
	IdleTimeout time.Duration
	// MaxLife is the session's absolute lifetime (exp); 0 means DefaultMaxLife.
	MaxLife time.Duration
	// RefreshAfter is the age of iat after which Refresh re-issues; 0 means
	// DefaultRefreshAfter (IDM's one minute).
	RefreshAfter time.Duration
	// Leeway is the clock skew allowed on exp, the idle deadline, nbf and iat: a token
	// validates while now < exp + Leeway and now < idle deadline + Leeway, and once
	// now + Leeway ≥ nbf (and iat). 0 means the profile's default: DefaultIDMLeeway
	// (5 s) in the IDM profile, none in the Modern profile. Negative means none.
	Leeway time.Duration
	// LimitLifetime makes Validate also refuse (ErrMaxLife) a token whose exp lies more
	// than MaxLife + Leeway ahead of now, or whose idle deadline more than IdleTimeout +
	// Leeway ahead: tokens made under longer settings, or forged by a key holder. The
	// Modern profile always applies this limit. The IDM profile applies it only when
	// LimitLifetime is set, since IDM itself checks only now < exp and now < idle
	// deadline: a cookie from an IDM configured for longer sessions than this Config
	// validates, as it does in IDM.
	LimitLifetime bool
	// Now is the clock; nil means time.Now.
	Now func() time.Time

	// MaxTokenSize bounds the token Validate parses; 0 means DefaultMaxTokenSize.
	MaxTokenSize int
	// CacheSize is how many validated tokens are remembered (keyed by a SHA-256 of the
	// token) so a resent cookie costs no RSA decryption; 0 means DefaultCacheSize,
	// negative disables the cache. Tokens Issue, NewSession and Refresh make are cached
	// too, so their first Validate is a hit. A full cache evicts its least recently used
	// token (per shard of at least 1,024 entries); a lookup or insertion costs the same
	// at any size. Cached entries expire at the token's own deadlines, after at most the
	// Provider's lease (secrets.Provider.Lease; nothing is cached when the Provider caches
	// nothing), so a key dropped from a store or mapping stops validating within a lease,
	// and when the revocation hook rejects them.
	CacheSize int

	// Revoked, when set, is asked on every successful Validate (cache hits included);
	// a non-nil error rejects the session with an error wrapping ErrRevoked and the
	// hook's error. It must be safe for concurrent use.
	Revoked func(ctx context.Context, s *Session) error

	// Cookie configures the net/http glue.
	Cookie CookieConfig

	// Logger receives warnings (a cookie over 4 KB); nil means slog.Default().
	Logger *slog.Logger
}

// CookieConfig shapes the session cookie. The zero value is IDM 8.1's defaults:
// name session-jwt, Path /, HttpOnly, session-only (no Max-Age), no Domain; plus Secure
// and SameSite=Lax, which IDM leaves to its HTTP layer.
type CookieConfig struct {
	// Name is the cookie name; "" means DefaultCookieName.
	Name string
	// Domains lists cookie domains (IDM's cookieDomains): one Set-Cookie per domain;
	// empty means one host-only cookie.
	Domains []string
	// Persistent sets Max-Age = exp − now; the default (false) is IDM's sessionOnly:
	// the cookie ends with the browser session.
	Persistent bool
	// Insecure drops the Secure attribute (plain-HTTP development only).
	Insecure bool
	// NoHTTPOnly drops HttpOnly (IDM's isHttpOnly=false).
	NoHTTPOnly bool
	// SameSite is the SameSite attribute; 0 means http.SameSiteLaxMode.
	SameSite http.SameSite
	// HostPrefix (Modern profile only) names the cookie "__Host-" + Name: browsers then
	// accept it only with Secure, Path=/ and no Domain, from the host itself, so a sibling
	// domain (evil.example.com beside app.example.com) cannot plant or overwrite the
	// session. New refuses it with the IDM profile (which keeps IDM's cookie name and
	// domains), with Domains, and with Insecure.
	HostPrefix bool
}

// HostCookiePrefix is the cookie-name prefix CookieConfig.HostPrefix adds (RFC 6265bis).
const HostCookiePrefix = "__Host-"

func (c *Config) withDefaults() Config {
	d := *c
	if d.SigningID == "" {
		d.SigningID = DefaultSigningID
	}
	if d.EncryptionID == "" {
		d.EncryptionID = DefaultEncryptionID
	}
	if d.IdleTimeout == 0 {
		d.IdleTimeout = DefaultIdleTimeout
	}
	if d.MaxLife == 0 {
		d.MaxLife = DefaultMaxLife
	}
	if d.RefreshAfter == 0 {
		d.RefreshAfter = DefaultRefreshAfter
	}
	if d.Now == nil {
		d.Now = time.Now
	}
	switch {
	case d.Leeway < 0:
		d.Leeway = 0
	case d.Leeway == 0 && d.Profile == IDM:
		d.Leeway = DefaultIDMLeeway
	}
	if d.Profile == Modern {
		d.LimitLifetime = true
	}
	if d.MaxTokenSize == 0 {
		d.MaxTokenSize = DefaultMaxTokenSize
	}
	if d.CacheSize == 0 {
		d.CacheSize = DefaultCacheSize
	}
	if d.Logger == nil {
		d.Logger = slog.Default()
	}
	if d.Cookie.Name == "" {
		d.Cookie.Name = DefaultCookieName
	}
	if d.Cookie.HostPrefix && !strings.HasPrefix(d.Cookie.Name, HostCookiePrefix) {
		d.Cookie.Name = HostCookiePrefix + d.Cookie.Name
	}
	if d.Cookie.SameSite == 0 {
		d.Cookie.SameSite = http.SameSiteLaxMode
	}
	d.Cookie.Domains = append([]string(nil), d.Cookie.Domains...)
	if d.SignatureAlgorithm == "" {
		d.SignatureAlgorithm = jose.HS256
	}
	return d
}
