package strictjson

import (
	"bytes"
	"encoding/json"
	"errors"
	"reflect"
	"strings"
	"testing"
)

// endOfInput are the inputs whose last bytes decide: a value cut short, or followed by
// something. The expected answer for each is encoding/json's (json.Valid), an independent
// reader: exactly one value, then only white space.
var endOfInput = []string{
	"{}", "{} ", "{}\n", "{}\r\n", "{}\t", "{\"a\":1}\n\n",
	"{}x", "{}}", "{}]", "{} {}", "{}1", "{}\x00", "{}\u00a0", "{}/", "{}\f", "\ufeff{}",
	"{\"a\":1", "{\"a\":", "{\"a\"", "{", "", " ", "{\"a\":1,}", "{\"a\":[1,]}",
	"{\"a\":1}{", "{\"a\":1}\"", "{\"a\":1}n", "{\"a\":1}nul", "{\"a\":1}null", "{\"a\":1},",
	"{\"a\":01}", "{\"a\":1.}", "{\"a\":-}", "{\"a\":1e}", "{\"a\":tru}", "{\"a\":\"x", "{\"a\":\"x\\",
	"[1,2]]", "\"s\" \"t\"", "1 2", "1", "-0", "nul", "null", "true ", "[", "]", "\"\\u12\"",
}

func TestEndOfInput(t *testing.T) {
	for _, in := range endOfInput {
		want := json.Valid([]byte(in))
		err := Valid([]byte(in), Options{ReplaceInvalidUTF8: true})
		if (err == nil) != want {
			t.Errorf("Valid(%q) = %v; encoding/json says valid=%v", in, err, want)
		}
		_, perr := Parse([]byte(in), Options{})
		if (perr == nil) != (err == nil) {
			t.Errorf("Parse(%q) = %v, Valid = %v", in, perr, err)
		}
		if err != nil && !errors.Is(err, ErrSyntax) {
			t.Errorf("Valid(%q): %v does not wrap ErrSyntax", in, err)
		}
	}
}

func TestTrailingData(t *testing.T) {
	for _, in := range []string{"{}x", "{}}", "{}]", "{} {}", "1 2", "{\"a\":1},"} {
		_, err := Parse([]byte(in), Options{})
		if !errors.Is(err, ErrTrailingData) || !errors.Is(err, ErrSyntax) {
			t.Errorf("Parse(%q) = %v, want ErrTrailingData and ErrSyntax", in, err)
		}
	}
	for _, in := range []string{"{", "{\"a\":1", "{}\n"} {
		if _, err := Parse([]byte(in), Options{}); errors.Is(err, ErrTrailingData) {
			t.Errorf("Parse(%q) = %v: not trailing data", in, err)
		}
	}
}

// decodeStd is encoding/json's reading of in with UseNumber, as secrets' loader had it.
func decodeStd(in []byte) (any, error) {
	dec := json.NewDecoder(bytes.NewReader(in))
	dec.UseNumber()
	var v any
	err := dec.Decode(&v)
	return v, err
}

func TestValueMatchesEncodingJSON(t *testing.T) {
	for _, in := range []string{
		`{"a":1,"a":{"b":2},"c":[1,"x",true,false,null,-0.5e3]}`,
		`{"s":"\u00e9\ud83d\ude00\ud800x\n\"\\\/","big":123456789012345678901234567890}`,
		"{\"bad\":\"\xff\xfe\xc3\"}", "{\"bad\\n\":\"a\xc3\\u0041\"}",
		`[]`, `{}`, `"top"`, `12`,
	} {
		want, err := decodeStd([]byte(in))
		if err != nil {
			t.Fatalf("%q: %v", in, err)
		}
		n, err := Parse([]byte(in), Options{ReplaceInvalidUTF8: true})
		if err != nil {
			t.Fatalf("Parse(%q): %v", in, err)
		}
		if got := n.Value(); !reflect.DeepEqual(got, want) {
			t.Errorf("Parse(%q).Value() = %#v, encoding/json = %#v", in, got, want)
		}
	}
	// Without ReplaceInvalidUTF8, invalid UTF-8 in a string is an error.
	if _, err := Parse([]byte("{\"bad\":\"\xff\"}"), Options{}); !errors.Is(err, ErrSyntax) {
		t.Errorf("invalid UTF-8: %v, want ErrSyntax", err)
	}
}

func TestParseObject(t *testing.T) {
	in := []byte(` {"a" : [1, 2] ,"b":"x"} `)
	m, err := ParseObject(in, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if string(m["a"]) != "[1, 2]" || string(m["b"]) != `"x"` || len(m) != 2 {
		t.Errorf("ParseObject = %q", m)
	}
	var dup *DuplicateError
	if _, err := ParseObject([]byte(`{"a":1,"a":2}`), Options{}); !errors.As(err, &dup) || dup.Key != "a" {
		t.Errorf("duplicate: %v", err)
	}
	if _, err := ParseObject([]byte(`[1]`), Options{}); !errors.Is(err, ErrNotObject) {
		t.Errorf("array: %v", err)
	}
	// Duplicates are kept in the tree, and Value lets the last one win.
	n, err := Parse([]byte(`{"a":1,"a":2}`), Options{})
	if err != nil || len(n.Members) != 2 || n.Value().(map[string]any)["a"] != json.Number("2") || n.Get("a").Str != "1" {
		t.Errorf("duplicates in the tree: %+v, %v", n, err)
	}
}

func TestMaxDepth(t *testing.T) {
	deep := func(d int) []byte { return []byte(strings.Repeat("[", d) + strings.Repeat("]", d)) }
	if err := Valid(deep(3), Options{MaxDepth: 3}); err != nil {
		t.Errorf("depth 3 at MaxDepth 3: %v", err)
	}
	if err := Valid(deep(4), Options{MaxDepth: 3}); !errors.Is(err, ErrSyntax) || !strings.Contains(err.Error(), "nested too deeply") {
		t.Errorf("depth 4 at MaxDepth 3: %v", err)
	}
	// The default is encoding/json's limit.
	if err := Valid(deep(DefaultMaxDepth), Options{}); err != nil {
		t.Errorf("depth %d: %v", DefaultMaxDepth, err)
	}
	if err := Valid(deep(DefaultMaxDepth+1), Options{}); err == nil || json.Valid(deep(DefaultMaxDepth+1)) {
		t.Errorf("depth %d: strictjson %v, encoding/json valid=%v; both must refuse", DefaultMaxDepth+1, err, json.Valid(deep(DefaultMaxDepth+1)))
	}
}

// FuzzParse checks strictjson against encoding/json: the same inputs are valid (with
// ReplaceInvalidUTF8, as encoding/json reads invalid UTF-8), valid inputs give the same value,
// Parse and Valid agree, and member spans hold exactly the member's text.
func FuzzParse(f *testing.F) {
	for _, in := range endOfInput {
		f.Add([]byte(in))
	}
	f.Add([]byte(`{"a":{"b":[1,2,{"c":"\u00e9"}]},"a":null}`))
	f.Add([]byte("{\"x\":\"\xff\"}"))
	f.Fuzz(func(t *testing.T, in []byte) {
		opts := Options{ReplaceInvalidUTF8: true, MaxDepth: 64}
		n, err := Parse(in, opts)
		if verr := Valid(in, opts); (verr == nil) != (err == nil) {
			t.Fatalf("Parse: %v, Valid: %v", err, verr)
		}
		std, stdErr := decodeStd(in)
		stdValid := json.Valid(in)
		if err != nil {
			if !errors.Is(err, ErrSyntax) {
				t.Fatalf("error %v does not wrap ErrSyntax", err)
			}
			if stdValid && !strings.Contains(err.Error(), "nested too deeply") {
				t.Fatalf("strictjson refuses what encoding/json accepts: %v", err)
			}
			return
		}
		if !stdValid || stdErr != nil {
			t.Fatalf("strictjson accepts what encoding/json refuses (%v)", stdErr)
		}
		if got := n.Value(); !reflect.DeepEqual(got, std) {
			t.Fatalf("Value() = %#v, encoding/json = %#v", got, std)
		}
		if n.Kind == Object {
			for _, m := range n.Members {
				if !json.Valid(in[m.Val.Start:m.Val.End]) {
					t.Fatalf("member %q span %q is not its value", m.Key, in[m.Val.Start:m.Val.End])
				}
			}
		}
	})
}
