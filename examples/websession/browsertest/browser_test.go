// Package browsertest drives the websession example with headless Chromium. It is a module
// of its own so that the browser tooling it needs (chromedp) stays out of the library's module
// graph: a program that imports secretstores never requires it.
package browsertest

import (
	"bufio"
	"context"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"

	"github.com/secretstores/secretstores/internal/testenv"
)

const testPassword = "correct horse"

// start builds the websession example, runs it on a free loopback port with args and returns
// its base URL; the server is stopped (SIGINT, as by Ctrl-C) when the test ends.
func start(t *testing.T, args ...string) string {
	t.Helper()
	root, err := filepath.Abs("../../..") // the library module, which holds the example
	if err != nil {
		t.Fatal(err)
	}
	bin := filepath.Join(t.TempDir(), "websession")
	build := exec.Command("go", "build", "-o", bin, "./examples/websession")
	build.Dir = root
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build websession: %v\n%s", err, out)
	}
	cmd := exec.Command(bin, append([]string{"-addr", "127.0.0.1:0", "-data", t.TempDir()}, args...)...)
	cmd.Env = append(os.Environ(), "WEBSESSION_PASSWORD="+testPassword)
	cmd.Stderr = os.Stderr
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	t.Cleanup(func() {
		_ = cmd.Process.Signal(os.Interrupt)
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("websession: %v", err)
			}
		case <-time.After(30 * time.Second):
			_ = cmd.Process.Kill()
			t.Errorf("websession did not stop within 30s of SIGINT")
		}
	})
	ready := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			if u, ok := strings.CutPrefix(sc.Text(), "websession: listening on "); ok {
				ready <- u
			}
		}
		_, _ = io.Copy(io.Discard, stdout)
		done <- cmd.Wait()
	}()
	select {
	case u := <-ready:
		return u
	case <-time.After(60 * time.Second):
		t.Fatal("websession did not start within 60s")
	}
	return ""
}

// TestBrowser logs in with headless Chromium, reloads (the session survives), waits until
// the middleware refreshes the cookie (new iat, same jti), and logs out.
func TestBrowser(t *testing.T) {
	chromium := testenv.LookPath(t, testenv.Chromium, "chromium")
	base := start(t, "-refresh-after", "1s")

	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(chromium),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.NoSandbox, // as root Chromium refuses to start with its sandbox
		chromedp.Headless,
		chromedp.DisableGPU,
		chromedp.NoFirstRun,
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
	)
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	defer cancelAlloc()
	bctx, cancelBrowser := chromedp.NewContext(actx)
	defer cancelBrowser()
	ctx, cancel := context.WithTimeout(bctx, 2*time.Minute)
	defer cancel()

	cookie := func() *network.Cookie {
		t.Helper()
		res, err := chromedp.Call(ctx, network.GetCookies, network.GetCookiesParams{URLs: []string{base}})
		if err != nil {
			t.Fatalf("Network.getCookies: %v", err)
		}
		for _, c := range res.Cookies {
			if c.Name == "session-jwt" {
				return c
			}
		}
		return nil
	}
	text := func(id string) string {
		t.Helper()
		s, err := chromedp.Run(ctx, chromedp.Text(chromedp.ID(id)))
		if err != nil {
			t.Fatalf("text of #%s: %v", id, err)
		}
		return s
	}
	do := func(what string, steps ...chromedp.Action[chromedp.Void]) {
		t.Helper()
		if err := chromedp.Do(ctx, steps...); err != nil {
			t.Fatalf("%s: %v", what, err)
		}
	}

	// A wrong password, then the right one.
	do("wrong password",
		chromedp.Navigate(base),
		chromedp.WaitVisible(chromedp.ID("username")),
		chromedp.SendKeys(chromedp.ID("password"), "wrong"),
		chromedp.Click(chromedp.ID("login")),
		chromedp.WaitVisible(chromedp.ID("error")))
	if e := text("error"); !strings.Contains(e, "Wrong user or password") {
		t.Fatalf("error text %q", e)
	}
	do("login",
		chromedp.SendKeys(chromedp.ID("password"), testPassword),
		chromedp.Click(chromedp.ID("login")),
		chromedp.WaitVisible(chromedp.ID("principal")))
	jti, issued := text("jti"), text("issued")
	if p := text("principal"); p != "demo" || jti == "" {
		t.Fatalf("whoami: principal %q, jti %q", p, jti)
	}
	c1 := cookie()
	if c1 == nil || !c1.HTTPOnly || c1.Path != "/" || !c1.Session || c1.SameSite != network.CookieSameSiteLax || strings.Count(c1.Value, ".") != 2 {
		t.Fatalf("session-jwt cookie: %+v", c1)
	}

	// A reload keeps the session; one after the refresh interval gets a new token of the same
	// session (same jti, later iat) in a new cookie.
	do("reload", chromedp.Reload(), chromedp.WaitVisible(chromedp.ID("principal")))
	if j := text("jti"); j != jti || cookie() == nil {
		t.Fatalf("after reload: jti %q (was %q)", j, jti)
	}
	do("reload after the refresh interval",
		chromedp.Sleep(2100*time.Millisecond),
		chromedp.Reload(),
		chromedp.WaitVisible(chromedp.ID("principal")))
	jti3, issued3, c3 := text("jti"), text("issued"), cookie()
	if jti3 != jti || issued3 <= issued || c3 == nil || c3.Value == c1.Value {
		t.Fatalf("no refresh: jti %q (was %q), iat %s (was %s), cookie %v", jti3, jti, issued3, issued, c3)
	}

	// Logout clears the cookie; /whoami then shows the login page.
	do("logout", chromedp.Click(chromedp.ID("logout")), chromedp.WaitVisible(chromedp.ID("username")))
	if c := cookie(); c != nil {
		t.Fatalf("session-jwt cookie after logout: %+v", c)
	}
	do("whoami after logout", chromedp.Navigate(base+"whoami"), chromedp.WaitVisible(chromedp.ID("username")))
}
