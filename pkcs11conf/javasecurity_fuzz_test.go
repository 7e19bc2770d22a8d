package pkcs11conf

import (
	"bytes"
	"errors"
	"sort"
	"strings"
	"testing"
)

// FuzzParseJavaSecurity checks that ParseJavaSecurity never panics and never fails on input
// within MaxSize, that what it returns is consistent (providers numbered 1, 2, ... with a
// class; ignored entries after the gap in number order, one ErrProviderGap warning each), and
// that the inline ("--") SunPKCS11 configurations it yields parse to a Config or a
// *ParseError. File arguments are not opened: the fuzzer must not read arbitrary paths. The
// seed corpus runs in plain go test.
func FuzzParseJavaSecurity(f *testing.F) {
	for _, s := range []string{
		"security.provider.1=SUN\nsecurity.provider.2=SunRsaSign\nsecurity.provider.4=SunPKCS11 /opt/idm/security/pkcs11.cfg\n",
		"! comment\n   security.provider.1 = SUN\nsecurity.provider.2:SunPKCS11 \\\n     --name=inline\\\\nlibrary=/usr/lib/softhsm/libsofthsm2.so\n" +
			"security.provider.3 SunPKCS11 ${/}etc${/}p11.cfg\r\nsecurity.provider.4=\nsecurity.provider.5=Late\nsecurity.provider.07=NotANumber\nsec\\u0075rity.provider.6=Escaped\n",
		"security.provider.1=sun.security.pkcs11.SunPKCS11 --name=x\\nlibrary=${p}\\nslot=1\\nslotListIndex=0\n",
		"security.provider.1=SunPKCS11 --name=${{x}}\\nlibrary=/l${/}x.so\\nattributes(*,*,*)={CKA_TOKEN=true}\n",
		"security.provider.1=SunPKCS11 --${unknown}\n",
		"security.provider.0=a\nsecurity.provider.-1=b\nsecurity.provider.+1=c\nsecurity.provider.1=d\\\n",
		"security.provider.1=SunPKCS11 \\u00e9\\uZZZZ\\\r\n  --name=a\\\\nlibrary=b\n#\n",
		"security.provider.99999999999999999999=x\nsecurity.provider.2147483648=y\n",
	} {
		f.Add([]byte(s))
	}
	props := func(name string) (string, bool) {
		switch name {
		case "p":
			return "/usr/lib/p.so", true
		case "java.home", "user.home", "user.dir", "user.name":
			return "/home", true // not the machine's: the fuzzer must not depend on it
		}
		return "", false
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		js, err := ParseJavaSecurity(bytes.NewReader(data), "java.security")
		if err != nil {
			if len(data) <= MaxSize || !errors.Is(err, ErrTooLarge) {
				t.Fatalf("ParseJavaSecurity failed on %d bytes: %v", len(data), err)
			}
			return
		}
		js.Options.Properties = props
		for i, e := range js.Providers {
			if e.N != i+1 || e.Class == "" || strings.ContainsAny(e.Class, " ") {
				t.Fatalf("provider %d is %+v", i+1, e)
			}
			if e.Line < 1 || e.Line > bytes.Count(data, []byte{'\n'})+bytes.Count(data, []byte{'\r'})+1 {
				t.Fatalf("provider %d on line %d", e.N, e.Line)
			}
		}
		if len(js.Warnings) != len(js.Ignored) {
			t.Fatalf("%d ignored entries, %d warnings", len(js.Ignored), len(js.Warnings))
		}
		if !sort.SliceIsSorted(js.Ignored, func(i, j int) bool { return js.Ignored[i].N < js.Ignored[j].N }) {
			t.Fatal("ignored entries not in number order")
		}
		for i, e := range js.Ignored {
			if e.N <= len(js.Providers)+1 {
				t.Fatalf("entry %d with class %q ignored though providers 1..%d are present", e.N, e.Class, len(js.Providers))
			}
			w := js.Warnings[i]
			if !errors.Is(w, ErrProviderGap) || w.Error() == "" {
				t.Fatalf("warning %v", w)
			}
		}
		inline := true
		for _, e := range js.SunPKCS11() {
			arg, err := e.ConfigArg(js.Options)
			if err != nil {
				var pe *ParseError
				if !errors.As(err, &pe) || !errors.Is(err, ErrUnknownProperty) {
					t.Fatalf("ConfigArg error %T %v", err, err)
				}
				continue
			}
			if !strings.HasPrefix(arg, "--") {
				inline = false
				continue
			}
			c, err := ParseProviderArg(arg, js.Options)
			if (c == nil) == (err == nil) {
				t.Fatalf("ParseProviderArg returned config %v and error %v", c, err)
			}
			if err != nil {
				var pe *ParseError
				if !errors.As(err, &pe) || pe.Err == nil {
					t.Fatalf("ParseProviderArg error %T %v", err, err)
				}
				continue
			}
			_ = c.ProviderName()
		}
		if inline {
			cfgs, err := js.Configs()
			if err == nil && len(cfgs) != len(js.SunPKCS11()) {
				t.Fatalf("Configs returned %d configurations for %d providers and no error", len(cfgs), len(js.SunPKCS11()))
			}
			for _, c := range cfgs {
				got, err := js.Lookup(c.ProviderName())
				if err != nil || got == nil {
					t.Fatalf("Lookup(%q) of a parsed provider: %v", c.ProviderName(), err)
				}
			}
		}
	})
}
