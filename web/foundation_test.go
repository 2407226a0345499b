package web_test

import (
	"net/http"
	"net/netip"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/blnk-cloud/apikeys/web"
)

// crossSite are the ways a browser says a request comes from elsewhere.
var crossSite = []struct {
	name string
	opts []opt
}{
	{"Sec-Fetch-Site cross-site", []opt{header("Sec-Fetch-Site", "cross-site")}},
	{"Sec-Fetch-Site same-site", []opt{header("Sec-Fetch-Site", "same-site")}},
	{"Origin of another site", []opt{without("Sec-Fetch-Site"), header("Origin", "https://evil.example")}},
	{"Origin of another scheme and port", []opt{without("Sec-Fetch-Site"), header("Origin", "http://dash.test:8443")}},
}

func TestCrossOriginPostsAreRefused(t *testing.T) {
	t.Parallel()
	ts, c := newSignedIn(t, serverOpts{})
	k := c.create("Target key")

	tests := []struct {
		name string
		path string
		form url.Values
	}{
		{"sign in", "/login", url.Values{"email": {adminEmail}, "password": {adminPassword}}},
		{"sign out", "/logout", url.Values{}},
		{"create key", "/settings/api-keys", keyForm("Forged key", "never")},
		{"revoke key", "/settings/api-keys/" + k.ID + "/revoke", url.Values{}},
		{"setup after setup", "/setup", url.Values{"workspace": {"X"}, "email": {"x@example.com"}, "password": {adminPassword}, "confirm": {adminPassword}}},
	}
	for _, tt := range tests {
		for _, cs := range crossSite {
			t.Run(tt.name+"/"+cs.name, func(t *testing.T) {
				before := ts.counts()
				sessions := ts.count("sessions")
				r := c.post(tt.path, tt.form, cs.opts...)
				if r.Code != http.StatusForbidden {
					t.Fatalf("POST %s: got %d, want 403", tt.path, r.Code)
				}
				if !strings.Contains(errorText(t, r.Body), "came from another site") {
					t.Errorf("POST %s: body does not explain the refusal:\n%s", tt.path, r.Body)
				}
				if ck := r.cookie("blnk_session"); ck != nil {
					t.Errorf("POST %s: refused request set a session cookie %v", tt.path, ck)
				}
				ts.checkCounts(t, before)
				if got := ts.count("sessions"); got != sessions {
					t.Errorf("sessions: got %d, want %d", got, sessions)
				}
			})
		}
	}
	// After all that, the key is still active and the session still works.
	if r := c.get("/settings/api-keys"); r.Code != http.StatusOK {
		t.Errorf("GET /settings/api-keys after refused sign-out: got %d, want 200", r.Code)
	}
	if r := c.api("/api/v1/whoami", k.Token); r.Code != http.StatusOK {
		t.Errorf("whoami after refused revoke: got %d, want 200", r.Code)
	}
}

func TestCrossOriginSetupIsRefused(t *testing.T) {
	t.Parallel()
	ts := newTestServer(t, serverOpts{})
	c := ts.client()
	form := url.Values{"workspace": {"Evil"}, "email": {"evil@example.com"}, "password": {adminPassword}, "confirm": {adminPassword}}
	for _, cs := range crossSite {
		t.Run(cs.name, func(t *testing.T) {
			r := c.post("/setup", form, cs.opts...)
			if r.Code != http.StatusForbidden {
				t.Errorf("POST /setup: got %d, want 403", r.Code)
			}
			if got := ts.count("users"); got != 0 {
				t.Errorf("users: got %d, want 0", got)
			}
		})
	}
	if r := c.get("/setup"); r.Code != http.StatusOK {
		t.Errorf("GET /setup after refused posts: got %d, want 200", r.Code)
	}
}

func TestSameOriginPostsAreAccepted(t *testing.T) {
	t.Parallel()
	ts, c := newSignedIn(t, serverOpts{})
	tests := []struct {
		name string
		opts []opt
	}{
		{"Sec-Fetch-Site same-origin", nil},
		{"Sec-Fetch-Site none (typed in the address bar)", []opt{header("Sec-Fetch-Site", "none")}},
		{"Origin of this site", []opt{without("Sec-Fetch-Site"), header("Origin", origin)}},
		{"no browser headers (a script)", []opt{without("Sec-Fetch-Site")}},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := c.post("/settings/api-keys", keyForm("Key "+strconv.Itoa(i), "never"), tt.opts...)
			if r.Code != http.StatusSeeOther {
				t.Errorf("POST /settings/api-keys: got %d, want 303\n%s", r.Code, r.Body)
			}
			if got, want := ts.count("api_keys"), i+1; got != want {
				t.Errorf("api_keys: got %d, want %d", got, want)
			}
		})
	}
}

func TestSessionCookieAttributes(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name       string
		proxies    []netip.Prefix
		opts       []opt
		wantSecure bool
	}{
		{"plain HTTP", nil, nil, false},
		{"TLS", nil, []opt{overTLS()}, true},
		{"X-Forwarded-Proto https behind a trusted proxy", prefixes("127.0.0.1"), []opt{header("X-Forwarded-Proto", "https"), fromAddr("127.0.0.1:5555")}, true},
		{"X-Forwarded-Proto http behind a trusted proxy", prefixes("127.0.0.1"), []opt{header("X-Forwarded-Proto", "http"), fromAddr("127.0.0.1:5555")}, false},
		{"X-Forwarded-Proto https without trusted proxies", nil, []opt{header("X-Forwarded-Proto", "https")}, false},
		// Private and loopback addresses are no proxies unless listed.
		{"X-Forwarded-Proto https from a loopback address not listed", prefixes("10.0.0.2"), []opt{header("X-Forwarded-Proto", "https"), fromAddr("127.0.0.1:5555")}, false},
		{"X-Forwarded-Proto https from a private address not listed", prefixes("127.0.0.1"), []opt{header("X-Forwarded-Proto", "https"), fromAddr("10.1.1.1:5555")}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			ts, _ := newSignedIn(t, serverOpts{proxies: tt.proxies})
			c := ts.client()
			r := c.post("/login", url.Values{"email": {adminEmail}, "password": {adminPassword}}, tt.opts...)
			if r.Code != http.StatusSeeOther {
				t.Fatalf("POST /login: got %d, want 303", r.Code)
			}
			ck := r.cookie("blnk_session")
			if ck == nil {
				t.Fatalf("POST /login: no blnk_session cookie; Set-Cookie: %q", r.Header.Values("Set-Cookie"))
			}
			if !ck.HttpOnly {
				t.Errorf("HttpOnly: got false, want true")
			}
			if got, want := ck.SameSite, http.SameSiteLaxMode; got != want {
				t.Errorf("SameSite: got %v, want %v (Lax)", got, want)
			}
			if got, want := ck.Path, "/"; got != want {
				t.Errorf("Path: got %q, want %q", got, want)
			}
			if got, want := ck.Secure, tt.wantSecure; got != want {
				t.Errorf("Secure: got %v, want %v", got, want)
			}
			if got := r.Header.Get("Strict-Transport-Security"); (got != "") != tt.wantSecure {
				t.Errorf("Strict-Transport-Security: got %q, want it set: %v", got, tt.wantSecure)
			}
		})
	}
}

func TestSessionRotatesAtSignIn(t *testing.T) {
	t.Parallel()
	ts, c := newSignedIn(t, serverOpts{})

	// A browser that signed out and looked at the sign-in page has a
	// session cookie without a session.
	if r := c.post("/logout", nil); r.Code != http.StatusSeeOther {
		t.Fatalf("POST /logout: got %d, want 303", r.Code)
	}
	if r := c.get("/login"); parse(t, r.Body).Text(`.auth-card div.alert.alert-info[role="status"]`) != "You have been signed out." {
		t.Errorf("GET /login after sign-out: no notice\n%s", r.Body)
	}
	pre := c.sessionCookie()
	if pre == "" {
		t.Fatal("no session cookie before signing in")
	}
	preCookies := c.cookiesFor("/")
	c.signIn(adminEmail, adminPassword)
	post := c.sessionCookie()
	if post == pre {
		t.Errorf("session cookie did not change at sign-in")
	}
	if r := c.get("/settings/api-keys"); r.Code != http.StatusOK {
		t.Errorf("GET /settings/api-keys with the new cookie: got %d, want 200", r.Code)
	}
	if r := c.get("/settings/api-keys", withCookies(preCookies)); r.Code != http.StatusSeeOther {
		t.Errorf("GET /settings/api-keys with the pre-login cookie: got %d, want 303", r.Code)
	}

	// Session fixation: a cookie planted in the victim's browser (the
	// attacker's own session) is replaced at sign-in, and ends.
	attacker := ts.client()
	attacker.signIn(adminEmail, adminPassword)
	planted := attacker.cookiesFor("/")
	victim := ts.client()
	beforeLogin := ts.sessionHashes()
	r := victim.post("/login", url.Values{"email": {adminEmail}, "password": {adminPassword}}, withCookies(planted))
	afterLogin := ts.sessionHashes()
	if len(afterLogin) != len(beforeLogin) {
		t.Errorf("sessions: got %d, want %d (the planted one replaced by a new one)", len(afterLogin), len(beforeLogin))
	}
	newIDs := 0
	for h := range afterLogin {
		if !beforeLogin[h] {
			newIDs++
		}
	}
	if newIDs != 1 {
		t.Errorf("new session ids at sign-in: got %d, want 1", newIDs)
	}
	if r.Code != http.StatusSeeOther {
		t.Fatalf("POST /login: got %d, want 303", r.Code)
	}
	ck := r.cookie("blnk_session")
	if ck == nil || ck.Value == planted[0].Value {
		t.Fatalf("POST /login with a planted cookie: the cookie was not replaced (%v)", ck)
	}
	if r := attacker.get("/settings/api-keys"); r.Code != http.StatusSeeOther {
		t.Errorf("GET with the planted cookie after the victim signed in: got %d, want 303", r.Code)
	}
}

func TestSignOutEndsTheSessionOnTheServer(t *testing.T) {
	t.Parallel()
	ts, c := newSignedIn(t, serverOpts{})
	saved := c.cookiesFor("/")
	if got := ts.count("sessions"); got != 1 {
		t.Fatalf("sessions: got %d, want 1", got)
	}
	r := c.post("/logout", nil)
	if r.Code != http.StatusSeeOther || r.Header.Get("Location") != "/login" {
		t.Fatalf("POST /logout: got %d to %q, want 303 to /login", r.Code, r.Header.Get("Location"))
	}
	if got := ts.count("sessions"); got != 0 {
		t.Errorf("sessions after sign-out: got %d, want 0", got)
	}
	for _, path := range []string{"/settings/api-keys", "/settings/api-keys/new", "/"} {
		r := c.get(path, withCookies(saved))
		if r.Code != http.StatusSeeOther || !strings.HasPrefix(r.Header.Get("Location"), "/login") {
			t.Errorf("GET %s with the replayed cookie: got %d to %q, want 303 to /login", path, r.Code, r.Header.Get("Location"))
		}
	}
	r = c.post("/settings/api-keys", keyForm("After sign-out", "never"), withCookies(saved))
	if r.Code != http.StatusSeeOther || !strings.HasPrefix(r.Header.Get("Location"), "/login") {
		t.Errorf("POST /settings/api-keys with the replayed cookie: got %d to %q, want 303 to /login", r.Code, r.Header.Get("Location"))
	}
	if got := ts.count("api_keys"); got != 0 {
		t.Errorf("api_keys: got %d, want 0", got)
	}
	// htmx gets a full-page redirect instead.
	r = c.get("/settings/api-keys/new", withCookies(saved), htmx())
	if r.Code != http.StatusOK || r.Header.Get("HX-Redirect") != "/login" {
		t.Errorf("htmx GET with the replayed cookie: got %d HX-Redirect %q, want 200 and /login", r.Code, r.Header.Get("HX-Redirect"))
	}
}

func TestSessionTimeouts(t *testing.T) {
	t.Parallel()
	t.Run("idle", func(t *testing.T) {
		t.Parallel()
		tests := []struct {
			name string
			idle time.Duration
			want int
		}{
			{"just under the idle timeout", 2*time.Hour - time.Minute, http.StatusOK},
			{"past the idle timeout", 2*time.Hour + time.Second, http.StatusSeeOther},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				ts, c := newSignedIn(t, serverOpts{})
				ts.clock.Advance(tt.idle)
				if r := c.get("/settings/api-keys"); r.Code != tt.want {
					t.Errorf("GET after %v idle: got %d, want %d", tt.idle, r.Code, tt.want)
				}
			})
		}
	})
	t.Run("activity keeps a session alive until the absolute lifetime", func(t *testing.T) {
		t.Parallel()
		ts, c := newSignedIn(t, serverOpts{})
		step := 90 * time.Minute
		elapsed := time.Duration(0)
		for elapsed+step <= 24*time.Hour {
			ts.clock.Advance(step)
			elapsed += step
			if r := c.get("/settings/api-keys"); r.Code != http.StatusOK {
				t.Fatalf("GET after %v of activity: got %d, want 200", elapsed, r.Code)
			}
		}
		ts.clock.Advance(step)
		r := c.get("/settings/api-keys")
		if r.Code != http.StatusSeeOther || !strings.HasPrefix(r.Header.Get("Location"), "/login") {
			t.Errorf("GET after %v: got %d to %q, want 303 to /login", elapsed+step, r.Code, r.Header.Get("Location"))
		}
		if got := ts.count("sessions"); got != 0 {
			t.Errorf("sessions after expiry: got %d, want 0 (deleted on the way)", got)
		}
	})
	t.Run("an idle timeout of seconds", func(t *testing.T) {
		t.Parallel()
		// Last activity must be written often enough for any idle
		// timeout, not once a minute: else a short one acts as a lifetime.
		ts, c := newSignedIn(t, serverOpts{config: func(cfg *web.Config) { cfg.SessionIdle = 4 * time.Second }})
		idler := ts.client()
		idler.signIn(adminEmail, adminPassword)
		for elapsed := 3 * time.Second; elapsed <= 2*time.Minute; elapsed += 3 * time.Second {
			ts.clock.Advance(3 * time.Second)
			if r := c.get("/settings/api-keys"); r.Code != http.StatusOK {
				t.Fatalf("active user, a request every 3s, after %v: got %d, want 200", elapsed, r.Code)
			}
		}
		r := idler.get("/settings/api-keys")
		if r.Code != http.StatusSeeOther || !strings.HasPrefix(r.Header.Get("Location"), "/login") {
			t.Errorf("idle user after 2m: got %d to %q, want 303 to /login", r.Code, r.Header.Get("Location"))
		}
		ts.clock.Advance(4*time.Second + time.Millisecond)
		if r := c.get("/settings/api-keys"); r.Code != http.StatusSeeOther {
			t.Errorf("active user after 4s idle: got %d, want 303", r.Code)
		}
	})
	t.Run("configured timeouts", func(t *testing.T) {
		t.Parallel()
		ts, c := newSignedIn(t, serverOpts{config: func(cfg *web.Config) {
			cfg.SessionIdle = 10 * time.Minute
			cfg.SessionLifetime = 30 * time.Minute
		}})
		ts.clock.Advance(9 * time.Minute)
		if r := c.get("/settings/api-keys"); r.Code != http.StatusOK {
			t.Fatalf("GET after 9m: got %d, want 200", r.Code)
		}
		ts.clock.Advance(11 * time.Minute)
		if r := c.get("/settings/api-keys"); r.Code != http.StatusSeeOther {
			t.Errorf("GET after 11m idle: got %d, want 303", r.Code)
		}
	})
}

func TestSecurityHeaders(t *testing.T) {
	t.Parallel()
	ts, c := newSignedIn(t, serverOpts{})
	k := c.create("Headers")
	anon := ts.client()
	tests := []struct {
		name     string
		do       func() *response
		wantCode int
	}{
		{"sign-in page", func() *response { return anon.get("/login") }, 200},
		{"keys list", func() *response { return c.get("/settings/api-keys") }, 200},
		{"key panel (htmx)", func() *response { return c.get("/settings/api-keys/"+k.ID, htmx()) }, 200},
		{"redirect", func() *response { return anon.get("/settings/api-keys") }, 303},
		{"404 page", func() *response { return c.get("/no/such/page") }, 404},
		{"404 fragment", func() *response { return c.get("/no/such/page", htmx()) }, 404},
		{"405", func() *response { return c.do(http.MethodPut, "/settings/api-keys", nil) }, 405},
		{"403 cross-site", func() *response { return c.post("/logout", nil, header("Sec-Fetch-Site", "cross-site")) }, 403},
		{"static css", func() *response { return anon.get("/static/css/app.css") }, 200},
		{"static js", func() *response { return anon.get("/static/js/app.js") }, 200},
		{"favicon", func() *response { return anon.get("/favicon.ico") }, 200},
		{"static 404", func() *response { return anon.get("/static/nope.js") }, 404},
	}
	// Responses for programs carry the subset that matters outside a page.
	machines := []struct {
		name     string
		do       func() *response
		wantCode int
	}{
		{"healthz", func() *response { return anon.get("/healthz") }, 200},
		{"readyz", func() *response { return anon.get("/readyz") }, 200},
		{"405 on a probe", func() *response { return c.post("/healthz", nil) }, 405},
		{"API 200", func() *response { return anon.api("/api/v1/whoami", k.Token) }, 200},
		{"API verify 200", func() *response { return anon.api("/api/v1/verify?scope=*", k.Token) }, 200},
		{"API 401", func() *response { return anon.api("/api/v1/whoami", "") }, 401},
		{"API 404", func() *response { return anon.api("/api/v1/nope", "") }, 404},
	}
	for _, tt := range machines {
		t.Run(tt.name, func(t *testing.T) {
			r := tt.do()
			if r.Code != tt.wantCode {
				t.Errorf("status: got %d, want %d", r.Code, tt.wantCode)
			}
			csp := r.Header.Get("Content-Security-Policy")
			for _, want := range []string{"frame-ancestors 'none'", "default-src 'none'"} {
				if !strings.Contains(csp, want) {
					t.Errorf("Content-Security-Policy %q: want %q in it", csp, want)
				}
			}
			if got, want := r.Header.Get("X-Content-Type-Options"), "nosniff"; got != want {
				t.Errorf("X-Content-Type-Options: got %q, want %q", got, want)
			}
			if got, want := r.Header.Get("Cache-Control"), "no-store"; got != want {
				t.Errorf("Cache-Control: got %q, want %q", got, want)
			}
		})
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := tt.do()
			if r.Code != tt.wantCode {
				t.Errorf("status: got %d, want %d", r.Code, tt.wantCode)
			}
			csp := r.Header.Get("Content-Security-Policy")
			for _, want := range []string{"frame-ancestors 'none'", "script-src 'self'", "default-src 'none'"} {
				if !strings.Contains(csp, want) {
					t.Errorf("Content-Security-Policy %q: want %q in it", csp, want)
				}
			}
			if strings.Contains(csp, "unsafe-inline") || strings.Contains(csp, "unsafe-eval") {
				t.Errorf("Content-Security-Policy %q allows inline or eval", csp)
			}
			if got, want := r.Header.Get("X-Content-Type-Options"), "nosniff"; got != want {
				t.Errorf("X-Content-Type-Options: got %q, want %q", got, want)
			}
			switch rp := r.Header.Get("Referrer-Policy"); rp {
			case "same-origin", "no-referrer", "strict-origin", "strict-origin-when-cross-origin":
			default:
				t.Errorf("Referrer-Policy: got %q, want a policy that does not leak paths", rp)
			}
			if got, want := r.Header.Get("X-Frame-Options"), "DENY"; got != want {
				t.Errorf("X-Frame-Options: got %q, want %q", got, want)
			}
		})
	}

	t.Run("reveal page", func(t *testing.T) {
		r := c.post("/settings/api-keys", keyForm("Reveal headers", "never"))
		for _, rr := range []*response{c.follow(r), c.follow(r)} { // shown, then gone
			if got, want := rr.Header.Get("Referrer-Policy"), "no-referrer"; got != want {
				t.Errorf("Referrer-Policy: got %q, want %q", got, want)
			}
			if got, want := rr.Header.Get("Cache-Control"), "no-store"; got != want {
				t.Errorf("Cache-Control: got %q, want %q", got, want)
			}
		}
	})
	t.Run("pages are not cached", func(t *testing.T) {
		for _, path := range []string{"/settings/api-keys", "/settings/api-keys/" + k.ID} {
			if got := c.get(path).Header.Get("Cache-Control"); got != "no-store" {
				t.Errorf("GET %s: Cache-Control got %q, want no-store", path, got)
			}
		}
	})
}

func TestSetup(t *testing.T) {
	t.Parallel()
	t.Run("before setup every page leads to it", func(t *testing.T) {
		t.Parallel()
		ts := newTestServer(t, serverOpts{})
		c := ts.client()
		for _, path := range []string{"/", "/login", "/settings/api-keys", "/settings/api-keys/new"} {
			r := c.get(path)
			if r.Code != http.StatusSeeOther || r.Header.Get("Location") != "/setup" {
				t.Errorf("GET %s: got %d to %q, want 303 to /setup", path, r.Code, r.Header.Get("Location"))
			}
		}
		r := c.post("/login", url.Values{"email": {adminEmail}, "password": {adminPassword}})
		if r.Code != http.StatusSeeOther || r.Header.Get("Location") != "/setup" {
			t.Errorf("POST /login: got %d to %q, want 303 to /setup", r.Code, r.Header.Get("Location"))
		}
		r = c.get("/setup")
		if r.Code != http.StatusOK {
			t.Fatalf("GET /setup: got %d, want 200", r.Code)
		}
		for _, id := range []string{"f-workspace", "f-email", "f-password", "f-confirm"} {
			if _, ok := inputValue(r.Body, id); !ok {
				t.Errorf("GET /setup: no input %s", id)
			}
		}
	})
	t.Run("setup signs in and is gone after", func(t *testing.T) {
		t.Parallel()
		ts := newTestServer(t, serverOpts{})
		c := ts.client()
		c.setup(adminWorkspace, "  Admin@Example.com ", adminPassword)
		r := c.get("/settings/api-keys")
		if r.Code != http.StatusOK {
			t.Fatalf("GET /settings/api-keys after setup: got %d, want 200", r.Code)
		}
		d := parse(t, r.Body)
		for sel, want := range map[string]string{"main .flash": "Welcome! Your workspace is ready.", ".workspace-chip .workspace-name": adminWorkspace, ".user-menu .user-email": adminEmail} {
			if got := d.Text(sel); got != want {
				t.Errorf("list after setup: %s says %q, want %q", sel, got, want)
			}
		}
		before := ts.counts()
		anon := ts.client()
		for _, cl := range []*client{c, anon} {
			if r := cl.get("/setup"); r.Code != http.StatusNotFound {
				t.Errorf("GET /setup after setup: got %d, want 404", r.Code)
			}
			r := cl.post("/setup", url.Values{"workspace": {"Second"}, "email": {"second@example.com"}, "password": {adminPassword}, "confirm": {adminPassword}})
			if r.Code != http.StatusNotFound {
				t.Errorf("POST /setup after setup: got %d, want 404", r.Code)
			}
			if ck := r.cookie("blnk_session"); ck != nil {
				t.Errorf("POST /setup after setup set a session cookie")
			}
		}
		ts.checkCounts(t, before)
		// The email was stored cleaned: signing in with it works.
		anon.signIn(adminEmail, adminPassword)
	})
	t.Run("an admin created by the command line ends setup", func(t *testing.T) {
		t.Parallel()
		ts := newTestServer(t, serverOpts{})
		ts.addWorkspace("CLI Workspace", "cli@example.com", adminPassword)
		if r := ts.client().get("/setup"); r.Code != http.StatusNotFound {
			t.Errorf("GET /setup: got %d, want 404", r.Code)
		}
		if r := ts.client().get("/login"); r.Code != http.StatusOK {
			t.Errorf("GET /login: got %d, want 200", r.Code)
		}
	})
}

func TestSignInThrottling(t *testing.T) {
	t.Parallel()
	ts, _ := newSignedIn(t, serverOpts{})
	ts.addWorkspace("Other", "other@example.com", adminPassword)
	attacker := ts.client()
	attacker.remoteAddr = "203.0.113.7:1234"
	wrong := url.Values{"email": {adminEmail}, "password": {"not the password"}}

	for i := 1; i <= 5; i++ {
		r := attacker.post("/login", wrong)
		if r.Code != http.StatusUnauthorized || problemText(r.Body) != "The email or password is not right." {
			t.Fatalf("failure %d: got %d, want 401 with the sign-in problem", i, r.Code)
		}
	}

	right := url.Values{"email": {adminEmail}, "password": {adminPassword}}
	r := attacker.post("/login", right)
	if r.Code != http.StatusTooManyRequests {
		t.Fatalf("sign-in after 5 failures: got %d, want 429", r.Code)
	}
	ra, err := strconv.Atoi(r.Header.Get("Retry-After"))
	if err != nil || ra <= 0 {
		t.Errorf("Retry-After: got %q, want a positive number of seconds", r.Header.Get("Retry-After"))
	}
	if want := "Too many failed sign-ins. Wait " + strconv.Itoa(ra) + " seconds"; !strings.HasPrefix(problemText(r.Body), want) {
		t.Errorf("429 page: want %q in it", want)
	}
	if ck := r.cookie("blnk_session"); ck != nil && ck.Value != "" && ck.MaxAge >= 0 {
		t.Errorf("throttled sign-in set a session cookie")
	}
	if v, _ := inputValue(r.Body, "f-email"); v != adminEmail {
		t.Errorf("429 page email input: got %q, want %q", v, adminEmail)
	}
	// A different email from a different address is not slowed down.
	other := ts.client()
	other.remoteAddr = "198.51.100.20:999"
	other.signIn("other@example.com", adminPassword)

	// Nor is the same email from another address: one address cannot
	// fill the account's count (TestSignInLockout has the rest).
	elsewhere := ts.client()
	elsewhere.remoteAddr = "198.51.100.21:999"
	if r := elsewhere.post("/login", right); r.Code != http.StatusSeeOther {
		t.Errorf("same email from another address: got %d, want 303", r.Code)
	}

	ts.clock.Advance(time.Duration(ra) * time.Second)
	r = attacker.post("/login", right)
	if r.Code != http.StatusSeeOther {
		t.Fatalf("sign-in after waiting %ds: got %d, want 303", ra, r.Code)
	}
	// Success forgets the failures: the next mistake is a plain 401.
	r = ts.client().post("/login", wrong, fromAddr("203.0.113.8:1"))
	if r.Code != http.StatusUnauthorized {
		t.Errorf("failure after a success: got %d, want 401", r.Code)
	}
}

func TestSignInFailuresLookAlike(t *testing.T) {
	t.Parallel()
	ts, _ := newSignedIn(t, serverOpts{})
	tests := []struct {
		name, email, password string
	}{
		{"wrong password", adminEmail, "wrong password here"},
		{"unknown email", "nobody@example.com", "wrong password here"},
		{"unknown email with the admin's password", "nobody@example.com", adminPassword},
		{"malformed email", "not-an-email", adminPassword},
	}
	var first *response
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := ts.client().post("/login", url.Values{"email": {tt.email}, "password": {tt.password}}, fromAddr("192.0.2."+strconv.Itoa(50+i)+":1"))
			if r.Code != http.StatusUnauthorized {
				t.Errorf("status: got %d, want 401", r.Code)
			}
			if problemText(r.Body) != "The email or password is not right." {
				t.Errorf("body: want the one sign-in problem")
			}
			if first == nil {
				first = r
				return
			}
			if got, want := problemText(r.Body), problemText(first.Body); got != want {
				t.Errorf("problem: got %q, want the same as for a wrong password, %q", got, want)
			}
		})
	}
	t.Run("email is case-insensitive", func(t *testing.T) {
		ts.client().signIn("ADMIN@example.COM", adminPassword)
	})
	t.Run("next leads only to this site", func(t *testing.T) {
		for next, want := range map[string]string{
			"/settings/api-keys/new": "/settings/api-keys/new",
			"//evil.example/x":       "/settings/api-keys",
			"https://evil.example":   "/settings/api-keys",
			"/\\evil.example":        "/settings/api-keys",
		} {
			r := ts.client().post("/login", url.Values{"email": {adminEmail}, "password": {adminPassword}, "next": {next}})
			if got := r.Header.Get("Location"); got != want {
				t.Errorf("next=%q: Location got %q, want %q", next, got, want)
			}
		}
	})
	t.Run("a page asked for comes back after sign-in", func(t *testing.T) {
		c := ts.client()
		r := c.get("/settings/api-keys/new")
		if got, want := r.Header.Get("Location"), "/login?next=/settings/api-keys/new"; got != want {
			t.Fatalf("Location: got %q, want %q", got, want)
		}
		r = c.follow(r)
		if v, _ := inputValueByName(r.Body, "next"); v != "/settings/api-keys/new" {
			t.Errorf("sign-in form next: got %q, want /settings/api-keys/new", v)
		}
	})
}

func TestProbesAndErrors(t *testing.T) {
	t.Parallel()
	ts, c := newSignedIn(t, serverOpts{})
	anon := ts.client()
	tests := []struct {
		name     string
		do       func() *response
		wantCode int
		wantType string // Content-Type prefix
		want     string // in the body; of HTML, in the error's text
		wantPage bool   // a whole HTML document
	}{
		{"healthz", func() *response { return anon.get("/healthz") }, 200, "text/plain", "ok", false},
		{"readyz", func() *response { return anon.get("/readyz") }, 200, "text/plain", "ready", false},
		{"404 page signed in", func() *response { return c.get("/nope") }, 404, "text/html", "Page not found", true},
		{"404 page signed out", func() *response { return anon.get("/nope") }, 404, "text/html", "Page not found", true},
		{"404 fragment for htmx", func() *response { return c.get("/nope", htmx()) }, 404, "text/html", "There is nothing at this address", false},
		{"404 of a key that does not exist", func() *response { return c.get("/settings/api-keys/key_00000000000000000000") }, 404, "text/html", "Page not found", true},
		{"404 JSON under /api/", func() *response { return anon.get("/api/v1/nope") }, 404, "application/json", `{"error":{"code":"not_found"`, false},
		{"405 page", func() *response { return c.post("/healthz", nil) }, 405, "text/html", "This address does not accept that kind of request.", true},
		{"405 for a page route", func() *response { return c.do(http.MethodPut, "/settings/api-keys", url.Values{}) }, 405, "text/html", "does not accept", true},
		{"405 signed out", func() *response { return anon.do(http.MethodDelete, "/settings/api-keys/new", nil) }, 405, "text/html", "does not accept", true},
		{"405 fragment for htmx", func() *response { return c.do(http.MethodPut, "/settings/api-keys", url.Values{}, htmx()) }, 405, "text/html", "does not accept", false},
		{"405 JSON under /api/", func() *response { return anon.do(http.MethodPost, "/api/v1/whoami", url.Values{}) }, 405, "application/json", `{"error":{"code":"method_not_allowed"`, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := tt.do()
			if r.Code != tt.wantCode {
				t.Errorf("status: got %d, want %d", r.Code, tt.wantCode)
			}
			if got := r.Header.Get("Content-Type"); !strings.HasPrefix(got, tt.wantType) {
				t.Errorf("Content-Type: got %q, want %s", got, tt.wantType)
			}
			got := r.Body
			if tt.wantType == "text/html" {
				// A page's error card, or htmx's error fragment alone.
				sel := ".error-card"
				if !tt.wantPage {
					sel = "p.error-fragment"
				}
				if !parse(t, r.Body).Has(sel) {
					t.Errorf("body: no %s in it\n%s", sel, r.Body)
				}
				// A 404's or 405's sentence is a page's: app.js has
				// better words for a notice.
				if !tt.wantPage && !parse(t, r.Body).Has("p.error-fragment[data-generic]") {
					t.Errorf("the fragment is not marked generic\n%s", r.Body)
				}
				got = errorText(t, r.Body)
			}
			if !strings.Contains(got, tt.want) {
				t.Errorf("body: want %q in it\n%s", tt.want, r.Body)
			}
			if got := isFullPage(r.Body); got != tt.wantPage {
				t.Errorf("whole page: got %v, want %v", got, tt.wantPage)
			}
			if r.Code == 405 && r.Header.Get("Allow") == "" {
				t.Errorf("405 without an Allow header")
			}
		})
	}
}

func TestSignInThrottlingPerAddress(t *testing.T) {
	t.Parallel()
	ts, _ := newSignedIn(t, serverOpts{})
	sprayer := ts.client()
	sprayer.remoteAddr = "203.0.113.70:1"
	// Password spraying: one try for each of many emails, from one address.
	for i := 1; i <= 20; i++ {
		r := sprayer.post("/login", url.Values{"email": {"user" + strconv.Itoa(i) + "@example.com"}, "password": {"Summer2026!"}})
		if r.Code != http.StatusUnauthorized {
			t.Fatalf("failure %d: got %d, want 401", i, r.Code)
		}
	}
	r := sprayer.post("/login", url.Values{"email": {adminEmail}, "password": {adminPassword}})
	if r.Code != http.StatusTooManyRequests || r.Header.Get("Retry-After") == "" {
		t.Errorf("sign-in from the spraying address: got %d (Retry-After %q), want 429 with Retry-After", r.Code, r.Header.Get("Retry-After"))
	}
	// The admin, elsewhere, is not locked out by it.
	ts.client().signIn(adminEmail, adminPassword)
}
