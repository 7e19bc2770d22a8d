package secrets

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"github.com/secretstores/secretstores/internal/strictjson"
)

// MaxConfigSize bounds a secrets.json file.
const MaxConfigSize = 4 << 20

// LoadConfig reads IDM's secrets.json: "stores" (name, class, config with per-store
// "mappings") and "populateDefaults", with every &{name|default} expression expanded from
// props (nil means EnvProperties()) and IDM's type wrappers ($int, $bool, $number, $list,
// $array, $base64:encode, $base64:decode) applied. Each string expands at most 1000
// expressions; all the strings of the file share a budget of 10,000 expressions and MaxConfigSize
// bytes of expanded output. Errors name the JSON path and, for expressions, the property;
// they never contain a property's value.
func LoadConfig(path string, props Properties) (*Config, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("secrets: loading config: %w", err)
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, MaxConfigSize+1))
	if err != nil {
		return nil, fmt.Errorf("secrets: loading config %s: %w", path, err)
	}
	cfg, err := ParseConfig(data, props)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	dir, err := filepath.Abs(filepath.Dir(path))
	if err != nil {
		return nil, err
	}
	for i := range cfg.Stores {
		cfg.Stores[i].Dir = dir
	}
	return cfg, nil
}

// ParseConfig is LoadConfig on the bytes of a secrets.json file; StoreConfig.Dir stays "".
func ParseConfig(data []byte, props Properties) (*Config, error) {
	v, err := resolveFile(data, props, "secrets.json")
	if err != nil {
		return nil, err
	}
	top, ok := v.(map[string]any)
	if !ok {
		return nil, errors.New(`secrets: secrets.json must be an object with "stores"`)
	}
	cfg := &Config{}
	for k := range top {
		if k != "stores" && k != "populateDefaults" {
			return nil, fmt.Errorf(`secrets: /%s: unknown key (secrets.json has "stores" and "populateDefaults")`, k)
		}
	}
	if pd, ok := top["populateDefaults"]; ok {
		b, ok := pd.(bool)
		if !ok {
			return nil, errors.New("secrets: /populateDefaults: want true or false")
		}
		cfg.PopulateDefaults = b
	}
	stores, ok := top["stores"].([]any)
	if !ok {
		return nil, errors.New(`secrets: /stores: missing, or not an array of stores`)
	}
	seen := map[string]bool{}
	for i, s := range stores {
		path := "/stores/" + strconv.Itoa(i)
		obj, ok := s.(map[string]any)
		if !ok {
			return nil, fmt.Errorf("secrets: %s: want an object with name, class and config", path)
		}
		sc := StoreConfig{PopulateDefaults: cfg.PopulateDefaults}
		for k, v := range obj {
			switch k {
			case "name", "class":
				str, ok := v.(string)
				if !ok || str == "" {
					return nil, fmt.Errorf("secrets: %s/%s: want a non-empty string", path, k)
				}
				if k == "name" {
					sc.Name = str
				} else {
					sc.Class = str
				}
			case "config":
				conf, ok := v.(map[string]any)
				if !ok {
					return nil, fmt.Errorf("secrets: %s/config: want an object", path)
				}
				sc.Settings = make(map[string]any, len(conf))
				for ck, cv := range conf {
					if ck == "mappings" {
						continue
					}
					sc.Settings[ck] = cv
				}
				if m, ok := conf["mappings"]; ok {
					ms, err := parseMappings(m, path+"/config/mappings")
					if err != nil {
						return nil, err
					}
					sc.Mappings = ms
				}
			default:
				return nil, fmt.Errorf("secrets: %s/%s: unknown key (a store has name, class and config)", path, k)
			}
		}
		if sc.Name == "" || sc.Class == "" {
			return nil, fmt.Errorf("secrets: %s: a store needs a name and a class", path)
		}
		if seen[sc.Name] {
			return nil, fmt.Errorf("secrets: %s: two stores are named %q", path, sc.Name)
		}
		seen[sc.Name] = true
		if sc.Settings == nil {
			sc.Settings = map[string]any{}
		}
		for j := range sc.Mappings {
			sc.Mappings[j].Store = sc.Name
		}
		cfg.Stores = append(cfg.Stores, sc)
	}
	return cfg, nil
}

// ResolveJSON decodes one IDM configuration file (any conf/*.json: authentication.json,
// managed.json, ...) and returns its value with every &{name|default} expression expanded
// from props (nil means EnvProperties()) and IDM's type wrappers applied, exactly as
// LoadConfig does for secrets.json. Objects come back as map[string]any, arrays as []any,
// numbers as json.Number (or int64, float64 from $int, $number), so callers read the
// settings they know. Errors are LoadConfig's: they name the JSON path and the property,
// never a property's value. data is bounded by MaxConfigSize, and its expressions by
// LoadConfig's budget.
func ResolveJSON(data []byte, props Properties) (any, error) {
	return resolveFile(data, props, "configuration file")
}

func resolveFile(data []byte, props Properties, name string) (any, error) {
	if len(data) > MaxConfigSize {
		return nil, fmt.Errorf("secrets: %s is larger than %d bytes", name, MaxConfigSize)
	}
	if props == nil {
		props = EnvProperties()
	}
	// Duplicate names: the last one wins, as in Jackson (IDM) and encoding/json; invalid
	// UTF-8 reads as U+FFFD, as encoding/json reads it. Only white space may follow the value.
	n, err := strictjson.Parse(data, strictjson.Options{ReplaceInvalidUTF8: true})
	if errors.Is(err, strictjson.ErrTrailingData) {
		return nil, fmt.Errorf("secrets: %s has data after the top-level value: remove it (a stray '}' or ']'?)", name)
	}
	if err != nil {
		return nil, fmt.Errorf("secrets: %s is not valid JSON: %w", name, err)
	}
	return resolve(n.Value(), "", props, new(exprBudget), 0)
}

func parseMappings(v any, path string) ([]Mapping, error) {
	arr, ok := v.([]any)
	if !ok {
		return nil, fmt.Errorf("secrets: %s: want an array of mappings", path)
	}
	out := make([]Mapping, 0, len(arr))
	for i, m := range arr {
		mp := path + "/" + strconv.Itoa(i)
		obj, ok := m.(map[string]any)
		if !ok {
			return nil, fmt.Errorf("secrets: %s: want an object with secretId, types and aliases", mp)
		}
		var mapping Mapping
		for k, v := range obj {
			switch k {
			case "secretId":
				s, ok := v.(string)
				if !ok || s == "" {
					return nil, fmt.Errorf("secrets: %s/secretId: want a non-empty string", mp)
				}
				mapping.SecretID = s
			case "types":
				list, err := stringList(v, mp+"/types")
				if err != nil {
					return nil, err
				}
				for j, t := range list {
					p := Purpose(t)
					if !p.valid() {
						return nil, fmt.Errorf("secrets: %s/types/%d: %q is not a purpose: want ENCRYPT, DECRYPT, SIGN, VERIFY or GENERIC", mp, j, t)
					}
					mapping.Types = append(mapping.Types, p)
				}
			case "aliases":
				list, err := stringList(v, mp+"/aliases")
				if err != nil {
					return nil, err
				}
				for j, a := range list {
					if a == "" {
						return nil, fmt.Errorf("secrets: %s/aliases/%d: empty alias", mp, j)
					}
					if slices.Contains(mapping.Aliases, a) {
						return nil, fmt.Errorf("secrets: %s/aliases/%d: alias %q is listed twice", mp, j, a)
					}
					mapping.Aliases = append(mapping.Aliases, a)
				}
			default:
				return nil, fmt.Errorf("secrets: %s/%s: unknown key (a mapping has secretId, types and aliases)", mp, k)
			}
		}
		if mapping.SecretID == "" || len(mapping.Types) == 0 {
			return nil, fmt.Errorf("secrets: %s: a mapping needs a secretId and types", mp)
		}
		out = append(out, mapping)
	}
	return out, nil
}

func stringList(v any, path string) ([]string, error) {
	arr, ok := v.([]any)
	if !ok {
		return nil, fmt.Errorf("secrets: %s: want an array of strings", path)
	}
	out := make([]string, len(arr))
	for i, x := range arr {
		s, ok := x.(string)
		if !ok {
			return nil, fmt.Errorf("secrets: %s/%d: want a string", path, i)
		}
		out[i] = s
	}
	return out, nil
}

const maxJSONDepth = 64

// resolve expands expressions in every string of v and applies IDM's $-wrappers.
func resolve(v any, path string, props Properties, fb *exprBudget, depth int) (any, error) {
	if depth > maxJSONDepth {
		return nil, fmt.Errorf("secrets: %s: JSON nests more than %d deep", path, maxJSONDepth)
	}
	switch x := v.(type) {
	case string:
		s, err := expandIn(x, props, fb)
		if err != nil {
			var ee *ExprError
			if errors.As(err, &ee) {
				ee.Path = pathOrRoot(path)
			}
			return nil, err
		}
		return s, nil
	case []any:
		out := make([]any, len(x))
		for i, e := range x {
			r, err := resolve(e, path+"/"+strconv.Itoa(i), props, fb, depth+1)
			if err != nil {
				return nil, err
			}
			out[i] = r
		}
		return out, nil
	case map[string]any:
		if len(x) == 1 {
			for k, inner := range x {
				if strings.HasPrefix(k, "$") {
					return wrapper(k, inner, path, props, fb, depth)
				}
			}
		}
		out := make(map[string]any, len(x))
		for k, e := range x {
			r, err := resolve(e, path+"/"+escapePointer(k), props, fb, depth+1)
			if err != nil {
				return nil, err
			}
			out[k] = r
		}
		return out, nil
	}
	return v, nil
}

func pathOrRoot(p string) string {
	if p == "" {
		return "/"
	}
	return p
}

func escapePointer(k string) string {
	return strings.ReplaceAll(strings.ReplaceAll(k, "~", "~0"), "/", "~1")
}

// wrapper applies IDM's type wrappers: {"$int": "&{port|8443}"} and the like.
func wrapper(kind string, inner any, path string, props Properties, fb *exprBudget, depth int) (any, error) {
	p := path + "/" + escapePointer(kind)
	r, err := resolve(inner, p, props, fb, depth+1)
	if err != nil {
		return nil, err
	}
	switch kind {
	case "$array", "$object":
		return r, nil
	}
	s, ok := r.(string)
	if !ok {
		return nil, fmt.Errorf("secrets: %s: %s wraps a string", p, kind)
	}
	switch kind {
	case "$int":
		n, err := strconv.ParseInt(strings.TrimSpace(s), 10, 64)
		if err != nil {
			return nil, fmt.Errorf("secrets: %s: not an integer", p)
		}
		return n, nil
	case "$number":
		n, err := strconv.ParseFloat(strings.TrimSpace(s), 64)
		if err != nil {
			return nil, fmt.Errorf("secrets: %s: not a number", p)
		}
		return n, nil
	case "$bool":
		b, err := strconv.ParseBool(strings.TrimSpace(s))
		if err != nil {
			return nil, fmt.Errorf("secrets: %s: not true or false", p)
		}
		return b, nil
	case "$list":
		var out []any
		for _, e := range strings.Split(s, ",") {
			out = append(out, strings.TrimSpace(e))
		}
		return out, nil
	case "$base64:encode":
		return base64.StdEncoding.EncodeToString([]byte(s)), nil
	case "$base64:decode":
		b, err := base64.StdEncoding.DecodeString(s)
		if err != nil {
			return nil, fmt.Errorf("secrets: %s: not valid base64", p)
		}
		return string(b), nil
	}
	return nil, fmt.Errorf("secrets: %s: unknown wrapper (IDM has $int, $number, $bool, $list, $array, $object, $base64:encode, $base64:decode)", p)
}

// Open opens every store of cfg with the opener registered for its class, in file order, and
// returns a Provider over them with the stores' mappings; the Provider's Close closes the
// stores. A class without an opener is an error naming it; if a store fails to open, those
// already opened are closed. The zero ProviderOptions are the defaults.
func Open(ctx context.Context, cfg *Config, openers Openers, opts ProviderOptions) (*Provider, error) {
	var stores []Store
	var mappings []Mapping
	fail := func(err error) (*Provider, error) {
		for _, s := range stores {
			s.Close()
		}
		return nil, err
	}
	for i := range cfg.Stores {
		sc := &cfg.Stores[i]
		if err := ctx.Err(); err != nil {
			return fail(err)
		}
		op, ok := openers[sc.Class]
		if !ok || op == nil {
			known := make([]string, 0, len(openers))
			for k := range openers {
				known = append(known, k)
			}
			slices.Sort(known)
			return fail(fmt.Errorf("secrets: store %s: no opener for class %s (openers given for: %s)", sc.Name, sc.Class, strings.Join(known, ", ")))
		}
		s, err := op(ctx, sc)
		if err != nil {
			return fail(fmt.Errorf("secrets: opening store %s (%s): %w", sc.Name, sc.Class, err))
		}
		if s.Name() != sc.Name {
			s.Close()
			return fail(fmt.Errorf("secrets: the opener of %s returned a store named %q", sc.Name, s.Name()))
		}
		stores = append(stores, s)
		mappings = append(mappings, sc.Mappings...)
	}
	p, err := NewProvider(stores, mappings, opts)
	if err != nil {
		return fail(err)
	}
	p.owned = true
	return p, nil
}
