// Package dashtest runs the real dashboard binary for end-to-end tests:
// build it once, start it per test on a free port with a fresh database,
// create an admin with its command line, and drive it over HTTP as a
// signed-in client would (create and revoke keys through its forms).
// The browser tests (e2e) and the gateway tests (e2e/gateways) share it.
package dashtest

import (
	"bufio"
	"fmt"
	"html"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/blnk-cloud/apikeys/internal/apikey"
	"github.com/blnk-cloud/apikeys/internal/testkit"
)

// Build compiles cmd/dashboard into dir and returns the binary's path.
// It names the package by import path, so it works from any test
// directory of the module.
func Build(dir string) (string, error) {
	bin := filepath.Join(dir, "dashboard")
	cmd := exec.Command("go", "build", "-o", bin, "github.com/blnk-cloud/apikeys/cmd/dashboard")
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("build dashboard: %v\n%s", err, out)
	}
	return bin, nil
}

// App is a running dashboard.
type App struct {
	URL     string             // http://127.0.0.1:PORT
	DB      string             // its --db: the database file, or a PostgreSQL URL
	Logs    *testkit.LogBuffer // everything it logged
	Process *os.Process        // to stop it (SIGSTOP) or kill it in a test
	bin     string
}

var listening = regexp.MustCompile(`msg=listening url=(http://\S+)`)

// Start runs "bin serve" on a free port with a fresh SQLite database and
// debug logs, plus args, and stops it (SIGTERM, then a clean exit is
// asserted) when the test ends. Its log is printed if the test failed.
func Start(t testing.TB, bin string, args ...string) *App {
	t.Helper()
	return StartOn(t, bin, filepath.Join(t.TempDir(), "data", "dashboard.db"), args...)
}

// StartOn is Start on the database dsn (a file, or a PostgreSQL URL that
// other servers may share).
func StartOn(t testing.TB, bin, dsn string, args ...string) *App {
	t.Helper()
	a := &App{DB: dsn, Logs: &testkit.LogBuffer{}, bin: bin}
	cmd := exec.Command(bin, append([]string{"serve", "--listen", "127.0.0.1:0", "--db", a.DB, "--log-level", "debug"}, args...)...)
	cmd.Env = append(os.Environ(), "BLNK_SESSION_SECRET=")
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	a.Process = cmd.Process
	found := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			line := sc.Text()
			fmt.Fprintln(a.Logs, line)
			if m := listening.FindStringSubmatch(line); m != nil {
				found <- m[1]
			}
		}
		io.Copy(a.Logs, stderr)
	}()
	select {
	case a.URL = <-found:
	case <-time.After(20 * time.Second):
		cmd.Process.Kill()
		t.Fatalf("dashboard did not start:\n%s", a.Logs)
	}
	t.Cleanup(func() {
		cmd.Process.Signal(syscall.SIGCONT) // in case a test left it stopped
		cmd.Process.Signal(syscall.SIGTERM)
		done := make(chan error, 1)
		go func() { done <- cmd.Wait() }()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("dashboard exited with %v", err)
			}
		case <-time.After(15 * time.Second):
			cmd.Process.Kill()
			t.Errorf("dashboard did not stop on SIGTERM")
		}
		if t.Failed() {
			t.Logf("dashboard log:\n%s", a.Logs)
		}
	})
	return a
}

// CreateAdmin creates a workspace and its admin with the admin command,
// the password on stdin.
func (a *App) CreateAdmin(t testing.TB, workspace, email, password string) {
	t.Helper()
	cmd := exec.Command(a.bin, "admin", "create", "--db", a.DB, "--workspace", workspace, "--email", email)
	cmd.Stdin = strings.NewReader(password + "\n")
	cmd.Env = os.Environ()
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("admin create: %v\n%s", err, out)
	}
}

// CLI runs "dashboard CMD SUB --db DB ARGS..." with stdin and returns its
// combined output.
func (a *App) CLI(t testing.TB, stdin, cmd, sub string, args ...string) (string, error) {
	t.Helper()
	c := exec.Command(a.bin, append([]string{cmd, sub, "--db", a.DB}, args...)...)
	c.Stdin = strings.NewReader(stdin)
	out, err := c.CombinedOutput()
	return string(out), err
}

// Client is a signed-in admin: an HTTP client with a cookie jar that uses
// the dashboard's forms, as a browser without JavaScript would.
type Client struct {
	t    testing.TB
	base string
	http *http.Client
}

// On returns the same signed-in client talking to another server (its
// cookies go along, as a browser's do behind a load balancer).
func (c *Client) On(a *App) *Client {
	d := *c
	d.base = a.URL
	return &d
}

// Get fetches path and returns the status and the body.
func (c *Client) Get(path string) (int, string) {
	c.t.Helper()
	resp, body := c.do("GET", path, nil)
	return resp.StatusCode, body
}

// SignIn signs in through POST /login and returns the signed-in client.
func (a *App) SignIn(t testing.TB, email, password string) *Client {
	t.Helper()
	jar, err := cookiejar.New(nil)
	if err != nil {
		t.Fatal(err)
	}
	c := &Client{t: t, base: a.URL, http: &http.Client{
		Jar:     jar,
		Timeout: 10 * time.Second,
		// Redirects are asserted, not followed.
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}}
	resp, _ := c.do("POST", "/login", url.Values{"email": {email}, "password": {password}})
	if resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("POST /login: got %d, want 303", resp.StatusCode)
	}
	return c
}

func (c *Client) do(method, path string, form url.Values) (*http.Response, string) {
	c.t.Helper()
	resp, body, err := c.Try(method, path, form)
	if err != nil {
		c.t.Fatalf("%s %s: %v", method, path, err)
	}
	return resp, body
}

// Try sends a request (a form if form is not nil) and returns the
// response and its body, or the error, without failing the test: for
// requests to a server that may be gone (a crash test).
func (c *Client) Try(method, path string, form url.Values) (*http.Response, string, error) {
	var body io.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	}
	req, err := http.NewRequest(method, c.base+path, body)
	if err != nil {
		return nil, "", err
	}
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return nil, "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, "", err
	}
	return resp, string(b), nil
}

// Key is a key created through the dashboard.
type Key struct {
	ID    string // key_...
	Token string // the secret, as the reveal page showed it
}

var (
	formTokens  atomic.Uint64
	revealPath  = regexp.MustCompile(`^/settings/api-keys/(key_[0-9a-z]{20})/reveal$`)
	revealedKey = regexp.MustCompile(`<textarea[^>]*\bid="reveal-key"[^>]*>([^<]*)</textarea>`)
)

// CreateKey creates a key that never expires through the create form,
// follows the redirect to the one-time reveal page and returns the key.
func (c *Client) CreateKey(name string, scopes ...string) Key {
	c.t.Helper()
	return c.createKey(url.Values{"name": {name}, "scopes": scopes, "expires": {"never"}})
}

// CreateKeyAllowing is CreateKey for a key usable only from the addresses
// of allowlist (CIDRs separated by commas).
func (c *Client) CreateKeyAllowing(name, allowlist string, scopes ...string) Key {
	c.t.Helper()
	return c.createKey(url.Values{"name": {name}, "scopes": scopes, "expires": {"never"}, "allowlist": {allowlist}})
}

func (c *Client) createKey(form url.Values) Key {
	c.t.Helper()
	form.Set("form_token", fmt.Sprintf("%032x", formTokens.Add(1)))
	resp, body := c.do("POST", "/settings/api-keys", form)
	loc := resp.Header.Get("Location")
	m := revealPath.FindStringSubmatch(loc)
	if resp.StatusCode != http.StatusSeeOther || m == nil {
		c.t.Fatalf("POST /settings/api-keys: got %d Location %q, want 303 to the reveal page\n%s", resp.StatusCode, loc, body)
	}
	resp, body = c.do("GET", loc, nil)
	r := revealedKey.FindStringSubmatch(body)
	if resp.StatusCode != http.StatusOK || r == nil {
		c.t.Fatalf("GET %s: got %d, want 200 with the key\n%s", loc, resp.StatusCode, body)
	}
	token := html.UnescapeString(r[1])
	if _, err := apikey.Parse(token); err != nil {
		c.t.Fatalf("revealed key %q does not parse: %v", token, err)
	}
	return Key{ID: m[1], Token: token}
}

// Revoke revokes a key through the revoke form, as the no-JavaScript page
// does (303 back to the key's page). It returns once the revoke has been
// answered.
func (c *Client) Revoke(id string) {
	c.t.Helper()
	path := "/settings/api-keys/" + id + "/revoke"
	resp, body := c.do("POST", path, url.Values{})
	if resp.StatusCode != http.StatusSeeOther {
		c.t.Fatalf("POST %s: got %d, want 303\n%s", path, resp.StatusCode, body)
	}
}
