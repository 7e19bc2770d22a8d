package jwtsession

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/secretstores/secretstores/secrets"
)

// IDM's JWT session module property names (conf/authentication.json,
// serverAuthContext.sessionModule.properties), as ForgeRock commons'
// JwtSessionModule names them.
const (
	idmMaxLifeMinutes = "maxTokenLifeMinutes"
	idmMaxLifeSeconds = "maxTokenLifeSeconds"
	idmIdleMinutes    = "tokenIdleTimeMinutes"
	idmIdleSeconds    = "tokenIdleTimeSeconds"
	idmSessionOnly    = "sessionOnly"
	idmHTTPOnly       = "isHttpOnly"
	idmSecure         = "isSecure"
	idmCookieName     = "sessionCookieName"
	idmCookieDomains  = "cookieDomains"
)

// LoadIDMConfig reads the session module settings of IDM's conf/authentication.json
// into a Config for the IDM profile, so that a Go service configured from the same file
// agrees with IDM. Every &{name|default} expression is expanded from props (nil means
// secrets.EnvProperties()) and IDM's $int, $bool, ... wrappers applied, exactly as
// secrets.LoadConfig does (secrets.ResolveJSON).
//
// It reads serverAuthContext.sessionModule, whose name must be JWT_SESSION when given,
// and these of its properties (numbers may be JSON numbers or numeric strings, booleans
// true/false or "true"/"false"):
//
//   - maxTokenLifeMinutes or maxTokenLifeSeconds (not both) → MaxLife; 0 or absent
//     means DefaultMaxLife (IDM: 120 minutes)
//   - tokenIdleTimeMinutes or tokenIdleTimeSeconds (not both) → IdleTimeout; 0 or
//     absent means DefaultIdleTimeout (IDM: 30 minutes)
//   - sessionOnly: false → Cookie.Persistent (absent: true, IDM 7/8's default)
//   - isHttpOnly: false → Cookie.NoHTTPOnly (absent: true)
//   - isSecure: false → Cookie.Insecure (absent: Secure, stricter than IDM, which
//     leaves it to the HTTP layer)
//   - sessionCookieName → Cookie.Name; cookieDomains (a list of strings) →
//     Cookie.Domains
//
// Other properties (enableDynamicRoles; hmacKey and the keystore settings of IDM 5.x,
// whose keys now come from secrets.json's idm.jwt.session.module.* secret ids) are
// ignored. The returned Config has Profile IDM and leaves Leeway, LimitLifetime, Now and
// the rest at their zero values (IDM's behaviour); the caller may set them before New.
//
// Errors name the JSON path of the bad setting and never contain a property's value.
func LoadIDMConfig(path string, props secrets.Properties) (Config, error) {
	f, err := os.Open(path)
	if err != nil {
		return Config{}, fmt.Errorf("jwtsession: loading IDM authentication config: %w", err)
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, secrets.MaxConfigSize+1))
	if err != nil {
		return Config{}, fmt.Errorf("jwtsession: loading IDM authentication config %s: %w", path, err)
	}
	cfg, err := ParseIDMConfig(data, props)
	if err != nil {
		return Config{}, fmt.Errorf("%s: %w", path, err)
	}
	return cfg, nil
}

// ParseIDMConfig is LoadIDMConfig on the bytes of an authentication.json file.
func ParseIDMConfig(data []byte, props secrets.Properties) (Config, error) {
	v, err := secrets.ResolveJSON(data, props)
	if err != nil {
		return Config{}, fmt.Errorf("jwtsession: authentication.json: %w", err)
	}
	top, ok := v.(map[string]any)
	if !ok {
		return Config{}, errors.New("jwtsession: authentication.json: want an object with serverAuthContext")
	}
	sac, ok := top["serverAuthContext"].(map[string]any)
	if !ok {
		return Config{}, errors.New("jwtsession: authentication.json: /serverAuthContext: missing, or not an object")
	}
	sm, ok := sac["sessionModule"].(map[string]any)
	if !ok {
		return Config{}, errors.New("jwtsession: authentication.json: /serverAuthContext/sessionModule: missing, or not an object")
	}
	const base = "/serverAuthContext/sessionModule"
	if name, ok := sm["name"]; ok {
		if s, _ := name.(string); s != "JWT_SESSION" {
			return Config{}, fmt.Errorf("jwtsession: authentication.json: %s/name: the session module is not JWT_SESSION", base)
		}
	}
	cfg := Config{Profile: IDM}
	pv, ok := sm["properties"]
	if !ok {
		return cfg, nil
	}
	p, ok := pv.(map[string]any)
	if !ok {
		return Config{}, fmt.Errorf("jwtsession: authentication.json: %s/properties: want an object", base)
	}
	at := func(k string) string { return base + "/properties/" + k }
	if cfg.MaxLife, err = idmDuration(p, idmMaxLifeMinutes, idmMaxLifeSeconds, at); err != nil {
		return Config{}, err
	}
	if cfg.IdleTimeout, err = idmDuration(p, idmIdleMinutes, idmIdleSeconds, at); err != nil {
		return Config{}, err
	}
	for _, b := range []struct {
		key string
		dst *bool // set to true when the property is false
	}{{idmSessionOnly, &cfg.Cookie.Persistent}, {idmHTTPOnly, &cfg.Cookie.NoHTTPOnly}, {idmSecure, &cfg.Cookie.Insecure}} {
		raw, ok := p[b.key]
		if !ok {
			continue
		}
		v, err := idmBool(raw)
		if err != nil {
			return Config{}, fmt.Errorf("jwtsession: authentication.json: %s: %v", at(b.key), err)
		}
		*b.dst = !v
	}
	if raw, ok := p[idmCookieName]; ok {
		s, ok := raw.(string)
		if !ok || s == "" || strings.ContainsAny(s, "=;, \t\r\n") {
			return Config{}, fmt.Errorf("jwtsession: authentication.json: %s: want a cookie name (a non-empty token)", at(idmCookieName))
		}
		cfg.Cookie.Name = s
	}
	if raw, ok := p[idmCookieDomains]; ok {
		list, ok := raw.([]any)
		if !ok {
			return Config{}, fmt.Errorf("jwtsession: authentication.json: %s: want an array of domain names", at(idmCookieDomains))
		}
		for i, d := range list {
			s, ok := d.(string)
			if !ok || strings.ContainsAny(s, ";, \t\r\n") {
				return Config{}, fmt.Errorf("jwtsession: authentication.json: %s/%d: want a domain name", at(idmCookieDomains), i)
			}
			if s != "" {
				cfg.Cookie.Domains = append(cfg.Cookie.Domains, s)
			}
		}
	}
	return cfg, nil
}

// maxIDMSeconds bounds a configured lifetime (100 years) so the Duration cannot overflow.
const maxIDMSeconds = 100 * 365 * 24 * 3600

// idmDuration reads the exclusive pair minutes/seconds; absent or 0 gives 0 (the default).
func idmDuration(p map[string]any, minutes, seconds string, at func(string) string) (time.Duration, error) {
	rm, hasM := p[minutes]
	rs, hasS := p[seconds]
	if hasM && hasS {
		return 0, fmt.Errorf("jwtsession: authentication.json: %s and %s are exclusive: set one", at(minutes), seconds)
	}
	key, raw, unit := minutes, rm, int64(60)
	if hasS {
		key, raw, unit = seconds, rs, 1
	} else if !hasM {
		return 0, nil
	}
	n, err := idmInt(raw)
	if err != nil {
		return 0, fmt.Errorf("jwtsession: authentication.json: %s: %v", at(key), err)
	}
	if n < 0 || n > maxIDMSeconds/unit {
		return 0, fmt.Errorf("jwtsession: authentication.json: %s: out of range (0 means the default)", at(key))
	}
	return time.Duration(n*unit) * time.Second, nil
}

func idmInt(v any) (int64, error) {
	switch x := v.(type) {
	case json.Number:
		n, err := strconv.ParseInt(x.String(), 10, 64)
		if err != nil { // not err: strconv quotes the value
			return 0, errors.New("not a whole number")
		}
		return n, nil
	case int64:
		return x, nil
	case float64:
		if x != math.Trunc(x) || math.Abs(x) > maxIDMSeconds {
			return 0, errors.New("not a whole number")
		}
		return int64(x), nil
	case string:
		n, err := strconv.ParseInt(strings.TrimSpace(x), 10, 64)
		if err != nil {
			return 0, errors.New("not a whole number")
		}
		return n, nil
	}
	return 0, errors.New("not a whole number")
}

func idmBool(v any) (bool, error) {
	switch x := v.(type) {
	case bool:
		return x, nil
	case string:
		switch strings.ToLower(strings.TrimSpace(x)) {
		case "true":
			return true, nil
		case "false":
			return false, nil
		}
	}
	return false, errors.New("want true or false")
}
