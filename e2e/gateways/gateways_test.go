// Package gateways runs the nginx and Caddy configurations the README
// shows, with real nginx and Caddy (Debian packages, installed by `make
// test-deps`), in front of the real dashboard and a small backend that
// echoes what it received, and checks what API clients and the backend
// see. No browser. The tests never skip: a missing gateway fails them.
package gateways

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/blnk-cloud/apikeys/e2e/internal/dashtest"
	"github.com/blnk-cloud/apikeys/internal/apikey"
)

var dashboardBin string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "dashboard-gateways-")
	if err != nil {
		fmt.Fprintln(os.Stderr, "gateways:", err)
		os.Exit(1)
	}
	dashboardBin, err = dashtest.Build(dir)
	if err != nil {
		os.RemoveAll(dir)
		fmt.Fprintln(os.Stderr, "gateways:", err)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

const (
	adminEmail    = "ada@acme.test"
	adminPassword = "correct horse battery"
)

// stack is a gateway in front of a dashboard and a backend, each started
// for the test.
type stack struct {
	gw       gateway
	dash     *dashtest.App
	admin    *dashtest.Client
	backend  *backend
	url      string // the gateway's base URL
	clientIP atomic.Uint32
}

func newStack(t *testing.T, g gateway) *stack {
	t.Helper()
	s := &stack{gw: g, backend: newBackend(t)}
	// A short failure allowance, so that the limiter is quick to reach,
	// and no refill during the test: a limited client stays limited.
	s.dash = dashtest.Start(t, dashboardBin, "--trusted-proxies", "127.0.0.1", "--auth-fail-burst", "3", "--auth-fail-every", "1h")
	s.dash.CreateAdmin(t, "Acme", adminEmail, adminPassword)
	s.admin = s.dash.SignIn(t, adminEmail, adminPassword)
	s.url = startGateway(t, g, s.dash, s.backend.addr)
	s.clientIP.Store(1)
	return s
}

// client returns a client that connects from an address of its own
// (127.0.0.2, 127.0.0.3, ...): the dashboard counts failures per client
// address, as the gateway reports it in X-Forwarded-For, so scenarios do
// not use up each other's allowance.
func (s *stack) client(t *testing.T) *client {
	t.Helper()
	n := s.clientIP.Add(1)
	if n > 254 {
		t.Fatal("out of loopback addresses")
	}
	ip := "127.0.0." + strconv.Itoa(int(n))
	d := &net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(ip)}, Timeout: 5 * time.Second}
	return &client{t: t, s: s, ip: ip, http: &http.Client{
		Timeout:   10 * time.Second,
		Transport: &http.Transport{DialContext: d.DialContext},
	}}
}

type client struct {
	t    *testing.T
	s    *stack
	ip   string
	http *http.Client
}

// answer is what a client of the gateway received.
type answer struct {
	status int
	header http.Header
	body   string
	code   string      // error.code of a JSON error body
	seen   http.Header // on 200, the headers the backend received
}

func (a answer) String() string {
	return fmt.Sprintf("%d %v %s", a.status, a.header, a.body)
}

// get requests /api/orders through the gateway with the given headers
// (name, value, name, value...).
func (c *client) get(headers ...string) answer {
	c.t.Helper()
	req, err := http.NewRequest("GET", c.s.url+"/api/orders", nil)
	if err != nil {
		c.t.Fatal(err)
	}
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Add(headers[i], headers[i+1])
	}
	resp, err := c.http.Do(req)
	if err != nil {
		c.t.Fatalf("GET /api/orders through %s: %v", c.s.gw.name, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		c.t.Fatal(err)
	}
	a := answer{status: resp.StatusCode, header: resp.Header, body: string(body)}
	if resp.StatusCode == http.StatusOK {
		if err := json.Unmarshal(body, &a.seen); err != nil {
			c.t.Fatalf("200 that is not the backend's echo: %v\n%s", err, body)
		}
		return a
	}
	var e struct {
		Error struct{ Code string } `json:"error"`
	}
	if err := json.Unmarshal(body, &e); err != nil {
		c.t.Errorf("%s answered %d with a body that is not a JSON error: %q", c.s.gw.name, resp.StatusCode, body)
	}
	a.code = e.Error.Code
	return a
}

func bearer(token string) []string { return []string{"Authorization", "Bearer " + token} }

// WWW-Authenticate as web/README.md says ("Error codes"; RFC 6750).
const (
	challengeMissing = `Bearer realm="blnk"`
	challengeInvalid = `Bearer realm="blnk", error="invalid_token"`
	challengeScope   = `Bearer realm="blnk", error="insufficient_scope", scope="proxy:read"`
)

// refused checks a refusal: status, WWW-Authenticate, the code the client
// reads, and that the backend was not reached.
func (c *client) refused(a answer, status int, challenge, code string, backendBefore int) {
	c.t.Helper()
	if a.status != status {
		c.t.Fatalf("got %s, want %d", a, status)
	}
	if got := a.header.Values("WWW-Authenticate"); len(got) != 1 || got[0] != challenge {
		c.t.Errorf("WWW-Authenticate: got %q, want exactly %q", got, challenge)
	}
	if want := c.s.gw.code(code); a.code != want {
		c.t.Errorf("error code: got %q, want %q (%s)", a.code, want, a.body)
	}
	if n := c.s.backend.count(); n != backendBefore {
		c.t.Errorf("the backend got %d requests for a refused one", n-backendBefore)
	}
}

// passed checks that a request with key reached the backend with the
// key's identity (its id, workspace and scopes, space-separated), and
// nothing the client made up.
func (c *client) passed(a answer, key dashtest.Key, workspaceID, scopes string) {
	c.t.Helper()
	if a.status != http.StatusOK {
		c.t.Fatalf("got %s, want 200", a)
	}
	want := map[string]string{
		"X-Blnk-Key-Id":       key.ID,
		"X-Blnk-Workspace-Id": workspaceID,
		"X-Blnk-Scopes":       scopes,
		"X-Forwarded-For":     c.ip, // set by the gateway, whatever the client sent
	}
	for name, v := range want {
		if got := a.seen.Values(name); len(got) != 1 || got[0] != v {
			c.t.Errorf("the backend got %s %q, want exactly %q", name, got, v)
		}
	}
	for _, name := range []string{"Authorization", "X-Blnk-Key"} {
		if got := a.seen.Values(name); len(got) != 0 {
			c.t.Errorf("the backend got the key in %s: %q", name, got)
		}
	}
}

// workspaceOf asks the dashboard itself (not through the gateway) which
// workspace a key belongs to.
func workspaceOf(t *testing.T, s *stack, token string) string {
	t.Helper()
	req, _ := http.NewRequest("GET", s.dash.URL+"/api/v1/whoami", nil)
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var who struct {
		Workspace struct{ ID int64 } `json:"workspace"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&who); err != nil || resp.StatusCode != http.StatusOK || who.Workspace.ID == 0 {
		t.Fatalf("whoami: %d %v %+v", resp.StatusCode, err, who)
	}
	return strconv.FormatInt(who.Workspace.ID, 10)
}

// unknownKey returns a well-formed key (valid checksum) that no database
// holds.
func unknownKey(t *testing.T) string {
	t.Helper()
	k, err := apikey.Generate()
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func TestGateways(t *testing.T) {
	for _, g := range gateways {
		t.Run(g.name, func(t *testing.T) {
			t.Parallel()
			testGateway(t, g)
		})
	}
}

func testGateway(t *testing.T, g gateway) {
	start := time.Now()
	s := newStack(t, g)
	t.Logf("%s, dashboard, backend and keys ready in %v", g.name, time.Since(start).Round(time.Millisecond))
	good := s.admin.CreateKey("Gateway "+g.name, "proxy:read")
	ws := workspaceOf(t, s, good.Token)

	t.Run("no key: 401", func(t *testing.T) {
		c := s.client(t)
		before := s.backend.count()
		c.refused(c.get(), 401, challengeMissing, "missing_key", before)
		// Only Bearer is a scheme: Basic credentials are no key.
		c.refused(c.get("Authorization", "Basic YWRhOnNlY3JldA=="), 401, challengeMissing, "missing_key", before)
	})

	t.Run("bad key: 401", func(t *testing.T) {
		c := s.client(t)
		before := s.backend.count()
		c.refused(c.get(bearer(unknownKey(t))...), 401, challengeInvalid, "invalid_key", before)
		c.refused(c.get("X-Blnk-Key", "blnk_not_a_key"), 401, challengeInvalid, "invalid_key", before)
	})

	t.Run("wrong scope: 403", func(t *testing.T) {
		c := s.client(t)
		other := s.admin.CreateKey("No proxy "+g.name, "data:write", "mcp:read")
		before := s.backend.count()
		c.refused(c.get(bearer(other.Token)...), 403, challengeScope, "insufficient_scope", before)
	})

	t.Run("good key: 200 with its identity", func(t *testing.T) {
		c := s.client(t)
		c.passed(c.get(bearer(good.Token)...), good, ws, "proxy:read")
		c.passed(c.get("X-Blnk-Key", good.Token), good, ws, "proxy:read")
		// What a client says about itself never reaches the backend.
		c.passed(c.get(append(bearer(good.Token),
			"X-Blnk-Key-Id", "key_00000000000000000000", "X-Blnk-Workspace-Id", "999",
			"X-Blnk-Scopes", "*", "X-Forwarded-For", "203.0.113.9")...), good, ws, "proxy:read")
	})

	t.Run("revoked in the dashboard: refused on the next request", func(t *testing.T) {
		c := s.client(t)
		k := s.admin.CreateKey("Revoke me "+g.name, "proxy:write")
		c.passed(c.get(bearer(k.Token)...), k, ws, "proxy:write")
		s.admin.Revoke(k.ID)
		before := s.backend.count()
		c.refused(c.get(bearer(k.Token)...), 401, challengeInvalid, "revoked_key", before)

		// And from the command line, another process on the database.
		k = s.admin.CreateKey("Revoke me by CLI "+g.name, "proxy:read")
		c.passed(c.get(bearer(k.Token)...), k, ws, "proxy:read")
		if out, err := s.dash.CLI(t, "", "keys", "revoke", k.ID); err != nil {
			t.Fatalf("keys revoke: %v\n%s", err, out)
		}
		before = s.backend.count()
		c.refused(c.get(bearer(k.Token)...), 401, challengeInvalid, "revoked_key", before)
	})

	t.Run("rate limited: 401, never 500", func(t *testing.T) {
		c := s.client(t)
		before := s.backend.count()
		var limited answer
		for i := 1; limited.code == ""; i++ {
			if i > 10 {
				t.Fatalf("no rate_limited answer after %d bad keys (burst is 3)", i-1)
			}
			a := c.get(bearer(unknownKey(t))...)
			if a.status != 401 {
				t.Fatalf("bad key #%d: got %s, want 401", i, a)
			}
			if a.code == c.s.gw.code("rate_limited") && a.header.Get("Retry-After") != "" {
				limited = a
			}
		}
		c.refused(limited, 401, challengeInvalid, "rate_limited", before)
		if n, err := strconv.Atoi(limited.header.Get("Retry-After")); err != nil || n < 1 {
			t.Errorf("Retry-After: got %q, want a number of seconds", limited.header.Get("Retry-After"))
		}

		// The gateway sets X-Forwarded-For itself: a client cannot name
		// another address to get a fresh allowance.
		a := c.get(append(bearer(unknownKey(t)), "X-Forwarded-For", "203.0.113.7")...)
		c.refused(a, 401, challengeInvalid, "rate_limited", before)

		// Failures count per client: another client is not limited...
		other := s.client(t)
		other.refused(other.get(bearer(unknownKey(t))...), 401, challengeInvalid, "invalid_key", before)
		// ...and a valid key always gets in, from the limited client too.
		c.passed(c.get(bearer(good.Token)...), good, ws, "proxy:read")
	})
}

// backend is the API behind the gateway: it answers every request with
// the headers it received, as JSON, and counts requests.
type backend struct {
	addr string
	mu   sync.Mutex
	n    int
}

func newBackend(t *testing.T) *backend {
	t.Helper()
	b := &backend{}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	b.addr = l.Addr().String()
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b.mu.Lock()
		b.n++
		b.mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		json.NewEncoder(w).Encode(r.Header)
	}), ReadHeaderTimeout: 5 * time.Second}
	go srv.Serve(l)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		srv.Shutdown(ctx)
	})
	return b
}

func (b *backend) count() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.n
}
