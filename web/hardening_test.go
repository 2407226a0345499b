package web_test

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/PuerkitoBio/goquery"
	"github.com/blnk-cloud/apikeys/db"
	"github.com/blnk-cloud/apikeys/internal/apikey"
	"github.com/blnk-cloud/apikeys/internal/keyauth"
	"github.com/blnk-cloud/apikeys/internal/testkit/htmlcheck"
	"github.com/blnk-cloud/apikeys/web"
)

// flashes returns the notices a page shows.
func flashes(body string) []string {
	var out []string
	htmlcheck.Read(body).Find(`div.flash[role="status"]`).Each(func(_ int, s *goquery.Selection) {
		out = append(out, s.Text())
	})
	return out
}

// TestRepeatedRevokesKeepOneNotice: a script that revokes keys with full
// page posts, and never loads the page they lead to, must not pile up
// notices until the session cookie is too long (a 500 after revokes that
// succeeded).
func TestRepeatedRevokesKeepOneNotice(t *testing.T) {
	t.Parallel()
	ts, c := newSignedIn(t, serverOpts{})
	var keys []newKey
	for i := range 20 {
		// 100 characters of 4 bytes each: the longest name there is.
		name := strconv.Itoa(100+i) + strings.Repeat("🔑", 97)
		if n := utf8.RuneCountInString(name); n != 100 {
			t.Fatalf("name of %d characters, want 100", n)
		}
		keys = append(keys, c.create(name))
	}
	for i, k := range keys {
		r := c.post("/settings/api-keys/"+k.ID+"/revoke", nil)
		if r.Code != http.StatusSeeOther {
			t.Fatalf("revoke %d: got %d, want 303\n%s", i+1, r.Code, r.Body)
		}
		if ts.revokedAt(k.ID) == 0 {
			t.Errorf("revoke %d: key not revoked", i+1)
		}
	}
	if strings.Contains(ts.logs.String(), "level=ERROR") {
		t.Errorf("errors logged:\n%s", ts.logs.String())
	}
	last := keys[len(keys)-1]
	r := c.get("/settings/api-keys/" + last.ID)
	if r.Code != http.StatusOK {
		t.Fatalf("page after the revokes: got %d, want 200", r.Code)
	}
	want := "The key “" + strconv.Itoa(119) + strings.Repeat("🔑", 97) + "” was revoked."
	if got := flashes(r.Body); len(got) != 1 || got[0] != want {
		t.Errorf("notices: got %q, want only the last one, %q", got, want)
	}
	if got := flashes(c.get("/settings/api-keys").Body); len(got) != 0 {
		t.Errorf("notices on the next page: got %q, want none", got)
	}
}

// TestRequestIDIsNeverAKey: an id sent in X-Request-Id is echoed and
// logged, so one that is, or holds, an API key is replaced by a fresh one.
func TestRequestIDIsNeverAKey(t *testing.T) {
	t.Parallel()
	ts, c := newSignedIn(t, serverOpts{})
	k := c.create("Sent as a request id", "mcp:read")
	anon := ts.client()
	before := ts.mark()
	ids := []string{
		k.Token,
		"req-" + k.Token,
		k.Token + ".1",
		k.Token[:apikey.PrefixLen+20], // a part of the secret is a secret too
	}
	paths := []string{"/healthz", "/readyz", "/api/v1/verify?scope=mcp:read", "/api/v1/whoami", "/login", "/settings/api-keys", "/nope"}
	for _, id := range ids {
		for _, p := range paths {
			for _, cl := range []*client{c, anon} {
				r := cl.get(p, header("X-Request-Id", id), bearer(k.Token))
				got := r.Header.Get("X-Request-Id")
				if got == id || !regexp.MustCompile(`^[0-9a-f]{16}$`).MatchString(got) {
					t.Errorf("GET %s with a key as X-Request-Id: echoed %q, want a fresh id", p, got)
				}
			}
		}
	}
	// Plain ids from a proxy are still kept.
	for _, id := range []string{"abc-123", "0f8fad5b-d9cb-469f-a165-70867728950e", "blnk_fdb796a5", "req.blnk_"} {
		if got := anon.get("/healthz", header("X-Request-Id", id)).Header.Get("X-Request-Id"); got != id {
			t.Errorf("X-Request-Id %q: echoed %q, want it kept", id, got)
		}
	}

	secret := k.Token[apikey.PrefixLen : apikey.PrefixLen+20]
	for _, r := range ts.responsesSince(before) {
		var h strings.Builder
		r.Header.Write(&h)
		if strings.Contains(h.String(), secret) || strings.Contains(r.Body, secret) {
			t.Errorf("%s %s (%d): response contains the key", r.Method, r.Target, r.Code)
		}
	}
	logs := ts.logs.String()
	if !strings.Contains(logs, `path=/settings/api-keys`) {
		t.Errorf("the requests were not logged; is the log being written?")
	}
	if strings.Contains(logs, secret) {
		t.Errorf("the log contains the key")
	}
}

// TestHEADEveryGETRoute: load balancers and monitors probe with HEAD; every
// GET route answers it as GET would, without a body.
func TestHEADEveryGETRoute(t *testing.T) {
	t.Parallel()
	ts, c := newSignedIn(t, serverOpts{})
	k := c.create("Headed", "mcp:read")

	heads := map[string]bool{}
	var gets []string
	for _, r := range web.Routes(ts.srv) {
		switch r.Method {
		case http.MethodGet:
			gets = append(gets, r.Path)
		case http.MethodHead:
			heads[r.Path] = true
		}
	}
	if len(gets) < 10 {
		t.Fatalf("only %d GET routes: %v", len(gets), gets)
	}
	for _, p := range gets {
		if !heads[p] {
			t.Errorf("GET %s has no HEAD route", p)
		}
	}

	anon := ts.client()
	tests := []struct {
		path string
		cl   *client
		opts []opt
	}{
		{"/healthz", anon, nil},
		{"/readyz", anon, nil},
		{"/favicon.ico", anon, nil},
		{"/static/css/app.css", anon, nil},
		{"/setup", anon, nil},
		{"/login", anon, nil},
		{"/login", c, nil},
		{"/", c, nil},
		{"/settings/api-keys", c, nil},
		{"/settings/api-keys", anon, nil},
		{"/settings/api-keys", c, []opt{htmx()}},
		{"/settings/api-keys/new", c, nil},
		{"/settings/api-keys/" + k.ID, c, nil},
		{"/settings/api-keys/" + k.ID + "/revoke", c, nil},
		{"/settings/api-keys/key_00000000000000000000", c, nil},
		{"/api/v1/whoami", anon, []opt{bearer(k.Token), noCookies()}},
		{"/api/v1/whoami", anon, []opt{noCookies()}},
		{"/api/v1/verify?scope=mcp:read", anon, []opt{bearer(k.Token), noCookies()}},
		{"/api/v1/verify?scope=mcp:write", anon, []opt{bearer(k.Token), noCookies()}},
		{"/api/v1/examples/mcp", anon, []opt{bearer(k.Token), noCookies()}},
	}
	for _, tt := range tests {
		get := tt.cl.do(http.MethodGet, tt.path, nil, tt.opts...)
		head := tt.cl.do(http.MethodHead, tt.path, nil, tt.opts...)
		if head.Code != get.Code {
			t.Errorf("HEAD %s: got %d, want %d as GET", tt.path, head.Code, get.Code)
		}
		for _, h := range []string{"Content-Type", "Location", "Cache-Control", "Content-Security-Policy", "WWW-Authenticate", "X-Blnk-Key-Id"} {
			if got, want := head.Header.Get(h), get.Header.Get(h); got != want {
				t.Errorf("HEAD %s: %s got %q, want %q as GET", tt.path, h, got, want)
			}
		}
	}

	// Over a real connection, HEAD has no body.
	hs := httptest.NewServer(ts.srv)
	defer hs.Close()
	for _, p := range []string{"/healthz", "/readyz", "/login"} {
		res, err := http.Head(hs.URL + p)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(res.Body)
		res.Body.Close()
		if res.StatusCode != http.StatusOK || len(b) != 0 {
			t.Errorf("HEAD %s over HTTP: got %d with %d bytes, want 200 without a body", p, res.StatusCode, len(b))
		}
	}

	t.Run("HEAD of a reveal page does not use it up", func(t *testing.T) {
		r := c.post("/settings/api-keys", keyForm("Revealed after a HEAD", "never"))
		loc := r.Header.Get("Location")
		if r := c.do(http.MethodHead, loc, nil); r.Code != http.StatusOK {
			t.Fatalf("HEAD %s: got %d, want 200", loc, r.Code)
		}
		if token := revealedToken(c.get(loc).Body); token == "" {
			t.Errorf("GET after HEAD: the key is no longer shown")
		}
	})
	t.Run("HEAD leaves the pending notice", func(t *testing.T) {
		c.post("/settings/api-keys/"+k.ID+"/revoke", nil)
		c.do(http.MethodHead, "/settings/api-keys/"+k.ID, nil)
		if got := flashes(c.get("/settings/api-keys/" + k.ID).Body); len(got) != 1 {
			t.Errorf("notices after HEAD then GET: got %q, want the revoke notice", got)
		}
	})
}

// TestReadyzNeedsAWritableDatabase: /readyz is 503 while the database
// cannot be written (here: another connection holds the lock a write
// needs), within its timeout, and 200 again once it can.
func TestReadyzNeedsAWritableDatabase(t *testing.T) {
	t.Parallel()
	ts, _ := newSignedIn(t, serverOpts{config: func(cfg *web.Config) { cfg.ReadyTimeout = 300 * time.Millisecond }})
	anon := ts.client()
	if r := anon.get("/readyz"); r.Code != http.StatusOK {
		t.Fatalf("/readyz: got %d, want 200", r.Code)
	}
	ctx := context.Background()
	conn, err := ts.raw.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	// Take the lock a write of settings needs, from another connection.
	lock := []string{`BEGIN IMMEDIATE`}
	if ts.db.Kind() == db.Postgres {
		lock = []string{`BEGIN`, `LOCK TABLE settings IN EXCLUSIVE MODE`}
	}
	for _, q := range lock {
		if _, err := conn.ExecContext(ctx, q); err != nil {
			t.Fatal(err)
		}
	}
	ts.clock.Advance(time.Second) // past the last probe's second
	t0 := time.Now()
	r := anon.get("/readyz")
	el := time.Since(t0)
	if r.Code != http.StatusServiceUnavailable {
		t.Errorf("/readyz with the write lock held elsewhere: got %d, want 503", r.Code)
	}
	if el > 2*time.Second {
		t.Errorf("/readyz took %v, want about its 300ms timeout", el)
	}
	ts.clock.Advance(time.Second)
	if r := anon.do(http.MethodHead, "/readyz", nil); r.Code != http.StatusServiceUnavailable {
		t.Errorf("HEAD /readyz with the write lock held elsewhere: got %d, want 503", r.Code)
	}
	if r := anon.get("/healthz"); r.Code != http.StatusOK {
		t.Errorf("/healthz with the write lock held elsewhere: got %d, want 200 (alive)", r.Code)
	}
	if _, err := conn.ExecContext(ctx, `ROLLBACK`); err != nil {
		t.Fatal(err)
	}
	// Ready again: within a few probes (a loaded machine may need a new
	// connection, and the probe's timeout is short).
	deadline := time.Now().Add(5 * time.Second)
	for {
		ts.clock.Advance(time.Second)
		r := anon.get("/readyz")
		if r.Code == http.StatusOK {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("/readyz after the lock is released: got %d for 5s, want 200", r.Code)
		}
		time.Sleep(50 * time.Millisecond)
	}
	if !strings.Contains(ts.logs.String(), "readiness: the database cannot be written") {
		t.Errorf("the failed readiness check was not logged")
	}
}

// TestReadyzProbesTheDatabaseAtMostOnceASecond: /readyz is answered to
// anyone, so it writes to the database at most once a second, however
// many ask: requests during a probe wait for it and share its result,
// requests within the second after it get that result, and the first one
// after the second probes again. A failed probe is 503 until the next
// one succeeds.
func TestReadyzProbesTheDatabaseAtMostOnceASecond(t *testing.T) {
	t.Parallel()
	ts, _ := newSignedIn(t, serverOpts{})
	var writes atomic.Int32
	var fail atomic.Bool
	entered := make(chan struct{}, 1)
	gate := make(chan struct{}) // the first probe waits for it
	web.WrapReadinessProbe(ts.srv, func(write func(context.Context, time.Time) error) func(context.Context, time.Time) error {
		return func(ctx context.Context, now time.Time) error {
			writes.Add(1)
			select {
			case entered <- struct{}{}:
			default:
			}
			<-gate
			if fail.Load() {
				return errors.New("disk full")
			}
			return write(ctx, now)
		}
	})
	ready := func(want int) {
		t.Helper()
		if r := ts.client().get("/readyz"); r.Code != want {
			t.Errorf("/readyz at %v: got %d, want %d", ts.clock.Now().Sub(start), r.Code, want)
		}
	}
	checkWrites := func(want int32) {
		t.Helper()
		if got := writes.Load(); got != want {
			t.Fatalf("probes at %v: got %d, want %d", ts.clock.Now().Sub(start), got, want)
		}
	}

	// 20 at once while the first probe runs: one write, shared.
	codes := make(chan int, 20)
	var wg sync.WaitGroup
	for range 20 {
		c := ts.client()
		wg.Go(func() { codes <- c.get("/readyz").Code })
	}
	<-entered
	close(gate)
	wg.Wait()
	close(codes)
	for code := range codes {
		if code != http.StatusOK {
			t.Errorf("/readyz during the first probe: got %d, want 200", code)
		}
	}
	checkWrites(1)

	// 99 more within the second: no write.
	for range 99 {
		ts.clock.Advance(10 * time.Millisecond)
		ready(http.StatusOK)
	}
	checkWrites(1)
	// A second after the first probe: another, and the database has it.
	ts.clock.Advance(10 * time.Millisecond)
	ready(http.StatusOK)
	checkWrites(2)
	var stored []byte
	if err := ts.raw.QueryRow(`SELECT value FROM settings WHERE name = 'readiness_checked_at'`).Scan(&stored); err != nil {
		t.Fatal(err)
	}
	if want := strconv.FormatInt(ts.clock.Now().UnixMilli(), 10); string(stored) != want {
		t.Errorf("readiness_checked_at: got %s, want %s (the second probe's time)", stored, want)
	}
	ready(http.StatusOK)
	checkWrites(2)

	// A failing probe: 503 for its second, without writing again; the
	// next successful one: 200.
	fail.Store(true)
	ts.clock.Advance(time.Second)
	ready(http.StatusServiceUnavailable)
	checkWrites(3)
	ts.clock.Advance(900 * time.Millisecond)
	ready(http.StatusServiceUnavailable)
	checkWrites(3)
	fail.Store(false)
	ts.clock.Advance(100 * time.Millisecond)
	ready(http.StatusOK)
	checkWrites(4)
	if n := strings.Count(ts.logs.String(), "readiness: the database cannot be written"); n != 1 {
		t.Errorf("the failed probe was logged %d times, want once", n)
	}

}

// TestReadyzFailingClosedMakesNoProbe: a server that fails closed says so
// at once, without writing to the database.
func TestReadyzFailingClosedMakesNoProbe(t *testing.T) {
	t.Parallel()
	// Any view is too old for a staleness bound of a nanosecond.
	ts := newTestServer(t, serverOpts{keyauth: keyauth.Config{MaxStaleness: time.Nanosecond}})
	var writes atomic.Int32
	web.WrapReadinessProbe(ts.srv, func(write func(context.Context, time.Time) error) func(context.Context, time.Time) error {
		return func(ctx context.Context, now time.Time) error {
			writes.Add(1)
			return write(ctx, now)
		}
	})
	for range 3 {
		r := ts.client().get("/readyz")
		if r.Code != http.StatusServiceUnavailable || !strings.HasPrefix(r.Body, "failing closed") {
			t.Errorf("/readyz failing closed: got %d %q, want 503 failing closed", r.Code, r.Body)
		}
		ts.clock.Advance(time.Second)
	}
	if n := writes.Load(); n != 0 {
		t.Errorf("probes while failing closed: %d, want 0", n)
	}
}
