package main

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/secretstores/secretstores/internal/softhsmtest"
)

func TestMain(m *testing.M) { softhsmtest.Main(m) }

// lockedBuffer is an io.Writer the server goroutine writes while the test reads.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

const testPassword = "correct horse"

// start runs the server in-process on a free loopback port until the test ends.
func start(t *testing.T, args ...string) (base string, stdout *lockedBuffer) {
	t.Helper()
	t.Setenv("WEBSESSION_PASSWORD", testPassword)
	ctx, cancel := context.WithCancel(context.Background())
	stdout = &lockedBuffer{}
	var stderr lockedBuffer
	ready := make(chan string, 1)
	done := make(chan int, 1)
	args = append([]string{"-addr", "127.0.0.1:0", "-data", t.TempDir()}, args...)
	go func() { done <- serve(ctx, args, stdout, &stderr, func(u string) { ready <- u }) }()
	select {
	case base = <-ready:
	case code := <-done:
		cancel()
		t.Fatalf("websession exited %d before listening:\n%s%s", code, stdout, stderr.String())
	case <-time.After(60 * time.Second):
		cancel()
		t.Fatal("websession did not start within 60s")
	}
	t.Cleanup(func() {
		cancel()
		if code := <-done; code != 0 {
			t.Errorf("websession exited %d:\n%s", code, stderr.String())
		}
	})
	return base, stdout
}

func TestFlags(t *testing.T) {
	for _, tc := range []struct {
		args []string
		code int
		want string
	}{
		{[]string{"-h"}, 0, "session-jwt cookie"},
		{[]string{"-nosuch"}, 2, "flag provided but not defined"},
		{[]string{"stray"}, 2, `unexpected argument "stray"`},
		{[]string{"-addr", "0.0.0.0:0"}, 1, "loopback"},
		{[]string{"-addr", "nonsense"}, 1, `-addr "nonsense"`},
		{[]string{"-pin-env", "X"}, 1, "go with -pkcs11"},
		{[]string{"-pkcs11", "x.cfg"}, 1, "needs the PIN"},
		{[]string{"-pkcs11", filepath.Join(t.TempDir(), "none.cfg"), "-pin-env", "HOME"}, 1, "none.cfg"},
	} {
		var out, errb bytes.Buffer
		code := run(append(tc.args, "-data", t.TempDir()), &out, &errb)
		if code != tc.code || !strings.Contains(errb.String(), tc.want) {
			t.Errorf("websession %q: exit %d, stderr:\n%s\nwant %d and %q", tc.args, code, errb.String(), tc.code, tc.want)
		}
	}
}

// session drives the server with net/http: wrong password, login, whoami, logout.
func session(t *testing.T, base string) {
	t.Helper()
	jar, _ := cookiejar.New(nil)
	c := &http.Client{Jar: jar, Timeout: 30 * time.Second}
	get := func(resp *http.Response, err error) (int, string) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	if code, body := get(c.PostForm(base+"login", url.Values{"username": {"demo"}, "password": {"wrong"}})); code != 401 || !strings.Contains(body, "Wrong user or password") {
		t.Fatalf("wrong password: %d %s", code, body)
	}
	if code, body := get(c.Get(base + "whoami")); code != 200 || !strings.Contains(body, `id="username"`) {
		t.Fatalf("whoami without a session should show the login page: %d %s", code, body)
	}
	code, body := get(c.PostForm(base+"login", url.Values{"username": {"demo"}, "password": {testPassword}}))
	if code != 200 || !strings.Contains(body, `<span id="principal">demo</span>`) || !strings.Contains(body, "openidm-jwtsessionhmac-key") {
		t.Fatalf("login: %d %s", code, body)
	}
	u, _ := url.Parse(base)
	var cookie *http.Cookie
	for _, ck := range jar.Cookies(u) {
		if ck.Name == "session-jwt" {
			cookie = ck
		}
	}
	if cookie == nil || strings.Count(cookie.Value, ".") != 2 {
		t.Fatalf("no session-jwt cookie holding a compact JWS: %v", jar.Cookies(u))
	}
	if code, body := get(c.PostForm(base+"logout", nil)); code != 200 || !strings.Contains(body, `id="username"`) {
		t.Fatalf("logout: %d %s", code, body)
	}
	if len(jar.Cookies(u)) != 0 {
		t.Fatalf("cookies after logout: %v", jar.Cookies(u))
	}
}

func TestHTTPOnKeystoreFile(t *testing.T) {
	base, out := start(t)
	if !strings.Contains(out.String(), "keys from the PKCS#12 keystore") {
		t.Fatalf("output: %s", out)
	}
	session(t, base)
}
