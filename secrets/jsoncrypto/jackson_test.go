package jsoncrypto

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"strings"
	"testing"

	"github.com/secretstores/secretstores/secrets"
)

// IDMText against the text Jackson 2.14 wrote for each input (recorded by
// testdata/jackson/gen.sh).
func TestIDMTextMatchesJackson(t *testing.T) {
	data, err := os.ReadFile("testdata/jackson/jackson_text.json")
	if err != nil {
		t.Fatal(err)
	}
	var recs []struct{ In, Out string }
	if err := json.Unmarshal(data, &recs); err != nil {
		t.Fatal(err)
	}
	if len(recs) < 15 {
		t.Fatalf("only %d records", len(recs))
	}
	for _, r := range recs {
		got, err := IDMText(json.RawMessage(r.In))
		if err != nil {
			t.Errorf("%s: %v", r.In, err)
			continue
		}
		want := r.Out
		if strings.HasPrefix(r.In, `"`) { // IDM hashes a string as itself, not its JSON
			if err := json.Unmarshal([]byte(r.Out), &want); err != nil {
				t.Fatal(err)
			}
		}
		if got != want {
			t.Errorf("IDMText(%s)\n got %q\nwant %q", r.In, got, want)
		}
	}
}

// The salted SHA-384 hash of the JSON object {"password":"myPassw0rd"} that PingIDM's
// documentation prints as the output of `cli.sh secureHash --algorithm SHA-384 --json`
// (https://docs.pingidentity.com/pingidm/8.1/setup-guide/chap-cli.html#cli-secure-hash;
// the transcript's log line dates it November 2017): a value made by IDM itself.
const idmDocJSONHash = `{"$crypto":{"value":{"algorithm":"SHA-384","data":"7Caabx7d+vOZ7d3VMwdQObQJdTQ3uGOItsX5AwR4ViygUfARR/XuxRIBQt1LRq58ZOQXFwuw+3rvzK7Kld8pSg=="},"type":"salted-hash"}}`

func TestVerifyHashJSONIDMValue(t *testing.T) {
	obj := json.RawMessage(`{"password":"myPassw0rd"}`)
	if err := VerifyHashJSON([]byte(idmDocJSONHash), obj, VerifyHashOptions{}); err != nil {
		t.Fatalf("IDM's printed hash of %s: %v", obj, err)
	}
	// Whitespace in the input does not matter; the member set and order do.
	if err := VerifyHashJSON([]byte(idmDocJSONHash), json.RawMessage("{ \"password\" :\n \"myPassw0rd\" }"), VerifyHashOptions{}); err != nil {
		t.Fatal(err)
	}
	if err := VerifyHashJSON([]byte(idmDocJSONHash), json.RawMessage(`{"password":"myPassw0rd!"}`), VerifyHashOptions{}); !errors.Is(err, secrets.ErrVerification) {
		t.Fatalf("wrong value: %v", err)
	}
	// The compact text is not what IDM hashed.
	if err := VerifyHash([]byte(idmDocJSONHash), string(obj), VerifyHashOptions{}); !errors.Is(err, secrets.ErrVerification) {
		t.Fatalf("compact JSON: %v", err)
	}
	// Round trip, and a JSON string hashes as the string itself.
	v, err := HashJSON(json.RawMessage(`{"q":[1,2.5,{"a":null}]}`), HashOptions{Algorithm: AlgSHA256})
	if err != nil {
		t.Fatal(err)
	}
	if err := VerifyHash(v, "{\n  \"q\" : [ 1, 2.5, {\n    \"a\" : null\n  } ]\n}", VerifyHashOptions{}); err != nil {
		t.Fatal(err)
	}
	s, err := HashJSON(json.RawMessage(`"Passw0rd"`), HashOptions{Algorithm: AlgSHA256})
	if err != nil {
		t.Fatal(err)
	}
	if err := VerifyHash(s, "Passw0rd", VerifyHashOptions{}); err != nil {
		t.Fatal(err)
	}
	for _, bad := range []string{``, `{`, `{"a":1}x`, `1e400`, strings.Repeat("[", 100) + strings.Repeat("]", 100)} {
		if _, err := HashJSON(json.RawMessage(bad), HashOptions{}); err == nil {
			t.Errorf("HashJSON(%.20q): no error", bad)
		}
	}
}

func TestJavaDouble(t *testing.T) {
	for f, want := range map[float64]string{
		1: "1.0", -1.5: "-1.5", 1e7: "1.0E7", 9999999: "9999999.0", 1e-3: "0.001", 1e-4: "1.0E-4",
		5e-324: "4.9E-324", 1.7976931348623157e308: "1.7976931348623157E308", 123.456e10: "1.23456E12",
		0.0015: "0.0015", 1234.5: "1234.5",
	} {
		if got := javaDouble(f); got != want {
			t.Errorf("javaDouble(%v) = %s, want %s", f, got, want)
		}
	}
}

func FuzzIDMText(f *testing.F) {
	f.Add([]byte(`{"password":"myPassw0rd"}`))
	f.Add([]byte(`{"a":[1,-0,1.5e-7,{"b":"\u0001"}],"a":true}`))
	f.Add([]byte(`"s"`))
	f.Fuzz(func(t *testing.T, data []byte) {
		s, err := IDMText(data)
		if err != nil {
			return
		}
		// The streaming writer and the tree writer agree.
		if d := bytes.TrimSpace(data); d[0] != '"' {
			p := jscan{s: data}
			v, err := p.value(0)
			var b strings.Builder
			if err == nil {
				err = jacksonWrite(&b, v, 0)
			}
			if err != nil || b.String() != s {
				t.Fatalf("IDMText(%q) = %q, the tree gives %q (%v)", data, s, b.String(), err)
			}
		}
		if d := bytes.TrimSpace(data); json.Valid(d) && d[0] != '"' && !json.Valid([]byte(s)) {
			t.Fatalf("IDMText(%q) = %q is not JSON", data, s)
		}
	})
}

// PBKDF2 as PingIDM 8.1's CLI reference prints it (cli.sh secureHash --algorithm PBKDF2):
// refused as unsupported, naming the unconfirmed layout, not as malformed.
func TestPBKDF2Unsupported(t *testing.T) {
	const v = `{"$crypto":{"value":{"algorithm":"PBKDF2","data":"9/1IIaAVxAMFdCzlMGtkXMmotKqBafIdx2KFUeKHX0k=","config":{"hashLength":16,"saltLength":16,"iterations":20000,"hmac":"SHA3-256"}},"type":"salted-hash"}}`
	for _, alg := range []string{"PBKDF2", "SCRYPT", "scrypt"} {
		err := VerifyHash([]byte(strings.Replace(v, "PBKDF2", alg, 1)), "mypassword", VerifyHashOptions{})
		if !errors.Is(err, errors.ErrUnsupported) || !strings.Contains(err.Error(), "unconfirmed") {
			t.Errorf("%s: %v", alg, err)
		}
	}
}

// BenchmarkIDMText against its floor in the same call shape: encoding/json's Compact of the
// same document (a parse and re-write without Jackson's layout).
func BenchmarkIDMText(b *testing.B) {
	for _, n := range []int{1, 100} {
		var sb strings.Builder
		sb.WriteString("{")
		for i := range n {
			if i > 0 {
				sb.WriteString(",")
			}
			fmt.Fprintf(&sb, `"k%d":{"a":[1,2.5,"s"],"b":true}`, i)
		}
		sb.WriteString("}")
		doc := json.RawMessage(sb.String())
		name := fmt.Sprintf("members=%d", n)
		b.Run(name+"/IDMText", func(b *testing.B) {
			b.SetBytes(int64(len(doc)))
			for b.Loop() {
				if _, err := IDMText(doc); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run(name+"/floor=json.Compact", func(b *testing.B) {
			b.SetBytes(int64(len(doc)))
			var buf bytes.Buffer
			for b.Loop() {
				buf.Reset()
				if err := json.Compact(&buf, doc); err != nil {
					b.Fatal(err)
				}
				_ = buf.String()
			}
		})
	}
}
