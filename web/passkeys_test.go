package web_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/blnk-cloud/apikeys/internal/audit"
	"github.com/blnk-cloud/apikeys/internal/blnk"
	"github.com/blnk-cloud/apikeys/internal/testkit"
	"github.com/blnk-cloud/apikeys/internal/testkit/htmlcheck"
	"github.com/blnk-cloud/apikeys/internal/throttle"
	"github.com/blnk-cloud/apikeys/web"
)

// withPasskeys turns passkeys on for the test server's origin.
func withPasskeys(more ...func(*web.Config)) serverOpts {
	return serverOpts{config: func(c *web.Config) {
		c.Passkeys = web.PasskeyConfig{RPID: "dash.test", Origins: []string{origin}}
		for _, f := range more {
			f(c)
		}
	}}
}

// jsonBody sends b as a JSON request body.
func jsonBody(b []byte) opt { return rawBody(strings.NewReader(string(b)), "application/json") }

// addPasskey adds a passkey named name through the pages, as passkeys.js
// does, and fails the test unless it is added.
func addPasskey(t *testing.T, c *client, auth *testkit.Authenticator, name string) {
	t.Helper()
	r := c.post("/settings/security/passkeys/begin", url.Values{"name": {name}})
	if r.Code != http.StatusOK || r.cookie("blnk_passkey") == nil {
		t.Fatalf("begin: %s", r)
	}
	answer, err := auth.Create([]byte(r.Body))
	if err != nil {
		t.Fatal(err)
	}
	r = c.do(http.MethodPost, "/settings/security/passkeys/finish", nil, jsonBody(answer))
	if r.Code != http.StatusOK || !strings.Contains(r.Body, `"redirect":"/settings/security/passkeys"`) {
		t.Fatalf("finish: %s", r)
	}
}

// passkeySignIn signs c in with a passkey alone and returns the finish
// answer.
func passkeySignIn(t *testing.T, c *client, auth *testkit.Authenticator, next string) (*response, []byte) {
	t.Helper()
	r := c.post("/login/passkey/begin", nil)
	if r.Code != http.StatusOK {
		t.Fatalf("begin: %s", r)
	}
	answer, err := auth.Get([]byte(r.Body))
	if err != nil {
		t.Fatal(err)
	}
	target := "/login/passkey/finish"
	if next != "" {
		target += "?next=" + url.QueryEscape(next)
	}
	return c.do(http.MethodPost, target, nil, jsonBody(answer)), answer
}

func events(t *testing.T, ts *testServer, action audit.Action) []audit.Event {
	t.Helper()
	page, err := ts.db.AuditEvents(context.Background(), blnk.AuditFilter{Action: action}, 0, 0, 100)
	if err != nil {
		t.Fatal(err)
	}
	return page.Events
}

func TestPasskeyAddSignInRemove(t *testing.T) {
	ts, c := newSignedIn(t, withPasskeys())
	auth := testkit.NewAuthenticator(origin)

	r := c.get("/settings/security/passkeys")
	doc := htmlcheck.Parse(t, r.Body)
	if r.Code != http.StatusOK || doc.Text(".passkeys-empty") != "You have no passkeys yet." || !doc.Has(`form[data-passkey-add] input[name=name]`) {
		t.Fatalf("empty page: %s", r)
	}
	if !doc.Has(`nav.breadcrumb a[href="/settings/security"]`) {
		t.Errorf("the breadcrumb does not lead back to Security")
	}

	addPasskey(t, c, auth, "  Work laptop  ")
	r = c.get("/settings/security/passkeys")
	doc = htmlcheck.Parse(t, r.Body)
	if got := doc.Text("table.passkeys tbody tr td[data-label=Name]"); got != "Work laptop" {
		t.Errorf("listed name %q", got)
	}
	if got := doc.Text("table.passkeys td[data-label='Last used']"); got != "Never" {
		t.Errorf("last used %q", got)
	}
	if got := doc.Text(".flash"); got != "Passkey “Work laptop” added." {
		t.Errorf("notice %q", got)
	}
	keys, _ := ts.db.ListPasskeys(context.Background(), 1)
	if len(keys) != 1 {
		t.Fatalf("stored %d passkeys", len(keys))
	}
	if evs := events(t, ts, audit.PasskeyAdded); len(evs) != 1 || evs[0].Actor.Email != adminEmail {
		t.Errorf("passkey.added events: %+v", evs)
	}

	// Signed out, a passkey alone signs in, to next.
	c.post("/logout", nil)
	r = c.get("/login")
	if !htmlcheck.Parse(t, r.Body).Has(`[data-passkey-signin] button[data-passkey-login]`) {
		t.Errorf("no passkey button on the sign-in page")
	}
	ts.clock.Advance(time.Minute)
	r, answer := passkeySignIn(t, c, auth, "/settings/audit-log")
	if r.Code != http.StatusOK || !strings.Contains(r.Body, `"redirect":"/settings/audit-log"`) {
		t.Fatalf("passkey sign-in: %s", r)
	}
	if r := c.get("/settings/api-keys"); r.Code != http.StatusOK {
		t.Fatalf("signed in? %d", r.Code)
	}
	signedIn := events(t, ts, audit.UserSignedIn)
	if len(signedIn) == 0 || signedIn[0].DetailsJSON() != `{"method":"passkey"}` {
		t.Errorf("newest user.signed_in: %+v", signedIn)
	}
	keys, _ = ts.db.ListPasskeys(context.Background(), 1)
	if !keys[0].LastUsedAt.Equal(ts.clock.Now()) {
		t.Errorf("last used %v, want %v", keys[0].LastUsedAt, ts.clock.Now())
	}

	// The same answer again, from another browser with a ceremony of its
	// own: the challenge was answered already.
	other := ts.client()
	other.post("/login/passkey/begin", nil)
	r = other.do(http.MethodPost, "/login/passkey/finish", nil, jsonBody(answer))
	if r.Code == http.StatusOK || other.sessionCookie() != "" {
		t.Errorf("replayed answer signs in: %s", r)
	}
	// No ceremony at all.
	r = ts.client().do(http.MethodPost, "/login/passkey/finish", nil, jsonBody(answer))
	if r.Code != http.StatusUnprocessableEntity || !strings.Contains(r.Body, "expired or was used") {
		t.Errorf("without a ceremony: %s", r)
	}

	// Another workspace's admin cannot remove it.
	stranger := ts.addWorkspace("Other", "other@example.com", "another password 123")
	if r := stranger.post("/settings/security/passkeys/"+keys[0].ID+"/remove", nil); r.Code != http.StatusNotFound {
		t.Errorf("a stranger removes the passkey: %d", r.Code)
	}
	if r := c.post("/settings/security/passkeys/pk_../remove", nil); r.Code != http.StatusNotFound {
		t.Errorf("a bad id: %d", r.Code)
	}
	r = c.post("/settings/security/passkeys/"+keys[0].ID+"/remove", nil)
	if r.Code != http.StatusSeeOther || r.Header.Get("Location") != "/settings/security/passkeys" {
		t.Fatalf("remove: %s", r)
	}
	if n, _ := ts.db.CountPasskeys(context.Background(), 1); n != 0 {
		t.Errorf("%d passkeys after removal", n)
	}
	if evs := events(t, ts, audit.PasskeyRemoved); len(evs) != 1 {
		t.Errorf("passkey.removed events: %+v", evs)
	}
	// A removed passkey no longer signs in.
	fresh := ts.client()
	r, _ = passkeySignIn(t, fresh, auth, "")
	if r.Code != http.StatusForbidden || fresh.sessionCookie() != "" {
		t.Errorf("removed passkey signs in: %s", r)
	}
	if evs := events(t, ts, audit.UserSignInFailed); len(evs) == 0 || !strings.Contains(evs[0].DetailsJSON(), "passkey") {
		t.Errorf("user.sign_in_failed: %+v", evs)
	}
}

func TestPasskeyRefusedInput(t *testing.T) {
	ts, c := newSignedIn(t, withPasskeys())
	auth := testkit.NewAuthenticator(origin)
	for _, name := range []string{"", "   ", "tab\tname", "bidi\u202Eexe", "zero\u200Bwidth", "<b>" + strings.Repeat("x", 100)} {
		r := c.post("/settings/security/passkeys/begin", url.Values{"name": {name}})
		var body struct{ Error string }
		json.Unmarshal([]byte(r.Body), &body)
		if r.Code != http.StatusUnprocessableEntity || body.Error == "" || r.cookie("blnk_passkey") != nil {
			t.Errorf("name %q: %s", name, r)
		}
	}
	if n := ts.count("passkey_ceremonies"); n != 0 {
		t.Errorf("%d ceremonies kept for bad names", n)
	}

	// An answer from another origin (a phishing page) is refused.
	evil := testkit.NewAuthenticator("http://dash.test.evil.example")
	r := c.post("/settings/security/passkeys/begin", url.Values{"name": {"phished"}})
	answer, _ := evil.Create([]byte(r.Body))
	r = c.do(http.MethodPost, "/settings/security/passkeys/finish", nil, jsonBody(answer))
	if r.Code != http.StatusForbidden || !strings.Contains(r.Body, "not accepted") {
		t.Errorf("another origin's answer: %s", r)
	}
	// Garbage, and too much of it.
	c.post("/settings/security/passkeys/begin", url.Values{"name": {"x"}})
	r = c.do(http.MethodPost, "/settings/security/passkeys/finish", nil, jsonBody([]byte(`{"id":`)))
	if r.Code != http.StatusForbidden {
		t.Errorf("garbage: %s", r)
	}
	c.post("/settings/security/passkeys/begin", url.Values{"name": {"x"}})
	r = c.do(http.MethodPost, "/settings/security/passkeys/finish", nil, jsonBody([]byte(strings.Repeat("x", 70<<10))))
	if r.Code != http.StatusRequestEntityTooLarge {
		t.Errorf("70 KiB answer: %d", r.Code)
	}
	// Another person's ceremony (its cookie, stolen) adds nothing to theirs.
	r = c.post("/settings/security/passkeys/begin", url.Values{"name": {"mine"}})
	stolen := r.cookie("blnk_passkey")
	answer, _ = auth.Create([]byte(r.Body))
	stranger := ts.addWorkspace("Other", "other@example.com", "another password 123")
	cookies := append(stranger.cookiesFor("/"), stolen)
	r = stranger.do(http.MethodPost, "/settings/security/passkeys/finish", nil, jsonBody(answer), withCookies(cookies))
	if r.Code != http.StatusUnprocessableEntity {
		t.Errorf("stranger finishes another's ceremony: %s", r)
	}
	if n := ts.count("passkeys"); n != 0 {
		t.Errorf("%d passkeys stored", n)
	}
	// Not signed in: no adding.
	if r := ts.client().post("/settings/security/passkeys/begin", url.Values{"name": {"x"}}); r.Code != http.StatusSeeOther {
		t.Errorf("signed out begin: %d", r.Code)
	}
}

func TestPasskeySignInThrottled(t *testing.T) {
	ts, c := newSignedIn(t, withPasskeys(func(c *web.Config) {
		c.LoginLimit = throttle.Config{Burst: 1, Every: time.Minute} // 4 per address
	}))
	auth := testkit.NewAuthenticator(origin)
	addPasskey(t, c, auth, "laptop")
	auth.Origin = "http://evil.example" // every answer refused
	b := ts.client()
	for i := range 4 {
		if r, _ := passkeySignIn(t, b, auth, ""); r.Code != http.StatusForbidden {
			t.Fatalf("attempt %d: %s", i+1, r)
		}
	}
	auth.Origin = origin
	r, _ := passkeySignIn(t, b, auth, "")
	if r.Code != http.StatusTooManyRequests || r.Header.Get("Retry-After") == "" || b.sessionCookie() != "" {
		t.Fatalf("fifth attempt: %s", r)
	}
	ts.clock.Advance(time.Minute)
	if r, _ := passkeySignIn(t, b, auth, "//evil.example"); r.Code != http.StatusOK || !strings.Contains(r.Body, `"redirect":"/settings/api-keys"`) {
		t.Fatalf("after a minute: %s", r)
	}
}

// TestPasskeyBeginsAreBounded: anyone may begin a passkey sign-in, and
// each keeps a row for 5 minutes: an address gets 30 in a row.
func TestPasskeyBeginsAreBounded(t *testing.T) {
	ts, _ := newSignedIn(t, withPasskeys())
	c := ts.client()
	for i := range 30 {
		if r := c.post("/login/passkey/begin", nil); r.Code != http.StatusOK {
			t.Fatalf("begin %d: %s", i+1, r)
		}
	}
	r := c.post("/login/passkey/begin", nil)
	if r.Code != http.StatusTooManyRequests || r.Header.Get("Retry-After") != "2" {
		t.Fatalf("begin 31: %s", r)
	}
	if n := ts.count("passkey_ceremonies"); n != 30 {
		t.Errorf("%d ceremonies kept, want 30", n)
	}
	if r := ts.client().post("/login/passkey/begin", nil, fromAddr("198.51.100.7:1234")); r.Code != http.StatusOK {
		t.Errorf("another address: %d", r.Code)
	}
	ts.clock.Advance(2 * time.Second)
	if r := c.post("/login/passkey/begin", nil); r.Code != http.StatusOK {
		t.Errorf("2 s later: %d", r.Code)
	}
}

func TestPasskeysOff(t *testing.T) {
	ts, c := newSignedIn(t, serverOpts{})
	doc := htmlcheck.Parse(t, c.get("/settings/security/passkeys").Body)
	if !strings.Contains(doc.Text(".passkeys-section .alert"), "--public-url") || doc.Has("form[data-passkey-add]") {
		t.Errorf("passkeys off: the page offers them")
	}
	if htmlcheck.Parse(t, ts.client().get("/login").Body).Has("[data-passkey-signin]") {
		t.Errorf("passkeys off: the sign-in page offers them")
	}
	if r := ts.client().post("/login/passkey/begin", nil); r.Code != http.StatusNotFound {
		t.Errorf("begin with passkeys off: %d", r.Code)
	}
}

// A person with a passkey gives it after the password: the two-factor
// page offers it, a right answer signs in (to next), and wrong answers
// are charged to the same limit as codes.
func TestPasskeyAsSecondFactor(t *testing.T) {
	t.Parallel()
	ts, c := newSignedIn(t, withPasskeys())
	auth := testkit.NewAuthenticator(origin)
	addPasskey(t, c, auth, "Work laptop")
	c.post("/logout", nil)

	passwordStep(t, c, adminEmail)
	if !parse(t, c.get("/login/two-factor").Body).Has(`[data-passkey-signin] button[data-passkey-login]`) {
		t.Fatal("the second step does not offer the passkey")
	}
	// Another authenticator's passkey is refused, five times, then the
	// account waits, as for wrong codes.
	stranger := testkit.NewAuthenticator(origin)
	if _, err := stranger.Create([]byte(`{"publicKey":{"challenge":"AAAA","rp":{"id":"dash.test","name":"x"},"user":{"id":"AAAA","name":"x","displayName":"x"},"pubKeyCredParams":[{"type":"public-key","alg":-7}]}}`)); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 5; i++ {
		r := c.post("/login/passkey/begin", nil)
		if r.Code != http.StatusOK {
			t.Fatalf("begin %d: %s", i, r)
		}
		cred := stranger.Credentials()[0]
		var opts struct {
			PublicKey struct{ Challenge string } `json:"publicKey"`
		}
		if err := json.Unmarshal([]byte(r.Body), &opts); err != nil {
			t.Fatal(err)
		}
		answer, err := stranger.Sign(cred, opts.PublicKey.Challenge)
		if err != nil {
			t.Fatal(err)
		}
		if r := c.do(http.MethodPost, "/login/passkey/finish", nil, jsonBody(answer)); r.Code == http.StatusOK || c.sessionCookie() != "" && r.Code == http.StatusOK {
			t.Fatalf("a stranger's passkey as the second factor: %s", r)
		}
	}
	r, _ := passkeySignIn(t, c, auth, "")
	if r.Code != http.StatusTooManyRequests || r.Header.Get("Retry-After") == "" {
		t.Fatalf("after 5 refused passkeys the right one: %d, want 429 with Retry-After", r.Code)
	}
	ts.clock.Advance(time.Minute)
	r, _ = passkeySignIn(t, c, auth, "")
	if r.Code != http.StatusOK || !strings.Contains(r.Body, `"redirect":"/settings/members"`) {
		t.Fatalf("the passkey as second factor: %s", r)
	}
	if r := c.get("/settings/api-keys"); r.Code != http.StatusOK {
		t.Fatalf("signed in? %d", r.Code)
	}
	if ev := events(t, ts, audit.UserSignedIn); len(ev) == 0 || ev[0].DetailsJSON() != `{"method":"passkey"}` {
		t.Errorf("newest user.signed_in: %+v", ev)
	}
}

// sudoPasskey answers the sudo form's "Use a passkey" with a passkey of
// auth (cred: which one; nil: the first that fits) as passkeys.js does,
// and returns the finish answer.
func sudoPasskey(t *testing.T, c *client, auth *testkit.Authenticator, cred *testkit.SoftCredential) *response {
	t.Helper()
	r := c.post("/sudo/passkey/begin", nil)
	if r.Code != http.StatusOK {
		t.Fatalf("sudo begin: %s", r)
	}
	var answer []byte
	var err error
	if cred == nil {
		answer, err = auth.Get([]byte(r.Body))
	} else {
		var opts struct {
			PublicKey struct{ Challenge string } `json:"publicKey"`
		}
		if err := json.Unmarshal([]byte(r.Body), &opts); err != nil {
			t.Fatal(err)
		}
		answer, err = auth.Sign(cred, opts.PublicKey.Challenge)
	}
	if err != nil {
		t.Fatal(err)
	}
	return c.do(http.MethodPost, "/sudo/passkey/finish", nil, jsonBody(answer))
}

// A passkey confirms access as the password does: the sudo form offers
// it to a person who has one, another authenticator's is refused (and
// charged to the code limit: 5, then wait), the person's own puts the session in sudo
// mode (user.sudo with the method), and the form, sent again as it is,
// carries the action through with its values.
func TestSudoWithPasskey(t *testing.T) {
	t.Parallel()
	ts, c := newSignedIn(t, withPasskeys())
	auth := testkit.NewAuthenticator(origin)

	// No passkey yet: the form offers none, and begin says so.
	ts.clock.Advance(11 * time.Minute)
	form := url.Values{"name": {"CI deploy"}, "scopes": {"keys:read"}, "expires": {"30d"}}
	r := c.post("/settings/tokens", form)
	if r.Code != http.StatusUnauthorized || parse(t, r.Body).Has(`[data-passkey-sudo]`) {
		t.Fatalf("the sudo form without a passkey: %d, passkey offered %v", r.Code, parse(t, r.Body).Has(`[data-passkey-sudo]`))
	}
	if r := c.post("/sudo/passkey/begin", nil); r.Code != http.StatusConflict {
		t.Errorf("sudo begin without a passkey: %s", r)
	}
	if r := sudoSubmit(t, c, r, url.Values{"password": {adminPassword}}); r.Code != http.StatusCreated {
		t.Fatalf("token create with the password: %d", r.Code)
	}
	addPasskey(t, c, auth, "Work laptop")
	ts.clock.Advance(11 * time.Minute)

	form.Set("name", "Deploy from CI")
	r = c.post("/settings/tokens", form)
	doc := parse(t, r.Body)
	if r.Code != http.StatusUnauthorized || !doc.Has(`form#sudo-form input[name="sudo"]`) {
		t.Fatalf("token create after 11 minutes: %d, want 401 and the sudo form", r.Code)
	}
	box := `[data-passkey-sudo="/sudo/passkey"][data-form="sudo-form"][data-origin="` + origin + `"]`
	if !doc.Has(box + ` button[data-passkey-login]`) {
		t.Fatal("the sudo form does not offer the passkey")
	}
	if got := doc.Text(".auth-card > p.muted"); !strings.Contains(got, "or a passkey") {
		t.Errorf("the sudo form says %q", got)
	}
	// htmx gets the same form, with the same offer.
	if hx := c.post("/settings/tokens", form, htmx()); !parse(t, hx.Body).Has(box) {
		t.Error("the htmx sudo form does not offer the passkey")
	}

	// Another authenticator's passkey: refused, no sudo.
	stranger := testkit.NewAuthenticator(origin)
	if _, err := stranger.Create([]byte(`{"publicKey":{"challenge":"AAAA","rp":{"id":"dash.test","name":"x"},"user":{"id":"AAAA","name":"x","displayName":"x"},"pubKeyCredParams":[{"type":"public-key","alg":-7}]}}`)); err != nil {
		t.Fatal(err)
	}
	if r := sudoPasskey(t, c, stranger, stranger.Credentials()[0]); r.Code != http.StatusForbidden {
		t.Fatalf("a stranger's passkey for sudo: %s, want 403", r)
	}
	if n := ts.actionCount(audit.UserSudo); n != 1 {
		t.Errorf("%d user.sudo events after a refused passkey, want 1 (the password's)", n)
	}
	if r := sudoSubmit(t, c, r, nil); r.Code != http.StatusUnprocessableEntity || ts.count("management_tokens") != 1 {
		t.Fatalf("the form sent after a refused passkey: %d, %d tokens", r.Code, ts.count("management_tokens"))
	}
	// Refused passkeys count against the account's second-factor limit,
	// as wrong codes do: 5 in all, then even the right one waits.
	for i := 0; i < 4; i++ {
		if r := sudoPasskey(t, c, stranger, stranger.Credentials()[0]); r.Code != http.StatusForbidden {
			t.Fatalf("refused passkey %d: %s", i+2, r)
		}
	}
	if r := sudoPasskey(t, c, auth, nil); r.Code != http.StatusTooManyRequests || r.Header.Get("Retry-After") == "" {
		t.Fatalf("after 5 refused passkeys the right one: %s, want 429 with Retry-After", r)
	}
	ts.clock.Advance(time.Minute)
	// A finish without its begin: no ceremony, no sudo.
	if r := c.do(http.MethodPost, "/sudo/passkey/finish", nil, jsonBody([]byte(`{}`))); r.Code != http.StatusUnprocessableEntity {
		t.Errorf("finish without a ceremony: %s", r)
	}

	// The person's own passkey: sudo, then the kept form goes through.
	if r := sudoPasskey(t, c, auth, nil); r.Code != http.StatusOK || strings.TrimSpace(r.Body) != `{"sudo":true}` {
		t.Fatalf("sudo with the passkey: %s", r)
	}
	evs := events(t, ts, audit.UserSudo)
	if len(evs) != 2 || evs[0].DetailsJSON() != `{"with":"passkey"}` || evs[0].Actor.Email != adminEmail {
		t.Errorf("user.sudo events: %+v", evs)
	}
	done := sudoSubmit(t, c, r, nil)
	if done.Code != http.StatusCreated {
		t.Fatalf("token create after the passkey: %d\n%.300s", done.Code, textOf(t, done.Body))
	}
	var name string
	if err := ts.raw.QueryRow(`SELECT name FROM management_tokens ORDER BY created_at DESC, id DESC LIMIT 1`).Scan(&name); err != nil || name != "Deploy from CI" {
		t.Errorf("the newest token is named %q (%v), want the form's %q", name, err, "Deploy from CI")
	}

	// GET /sudo?next= after a passkey: POST /sudo goes to next.
	ts.clock.Advance(11 * time.Minute)
	page := c.get("/sudo?next=" + url.QueryEscape("/settings/members"))
	if !parse(t, page.Body).Has(box) {
		t.Fatal("GET /sudo does not offer the passkey")
	}
	if r := sudoPasskey(t, c, auth, nil); r.Code != http.StatusOK {
		t.Fatalf("sudo with the passkey: %s", r)
	}
	if r := sudoSubmit(t, c, page, nil); r.Code != http.StatusSeeOther || r.Header.Get("Location") != "/settings/members" {
		t.Errorf("POST /sudo in sudo mode: %d to %q", r.Code, r.Header.Get("Location"))
	}
}

// TestPasskeysOffWithoutPublicURL: a server without a public URL answers
// every ceremony route with the same JSON sentence (404), after the
// route's own checks (sign-in for a person's own passkeys), and writes no
// ceremony cookie.
func TestPasskeysOffWithoutPublicURL(t *testing.T) {
	ts, c := newSignedIn(t, serverOpts{})
	anon := ts.client()
	for _, tc := range []struct {
		who  *client
		path string
	}{
		{c, "/settings/security/passkeys/begin"},
		{c, "/settings/security/passkeys/finish"},
		{c, "/sudo/passkey/begin"},
		{c, "/sudo/passkey/finish"},
		{anon, "/login/passkey/begin"},
		{anon, "/login/passkey/finish"},
	} {
		r := tc.who.do(http.MethodPost, tc.path, nil, jsonBody([]byte("{}")))
		var got map[string]string
		if err := json.Unmarshal([]byte(r.Body), &got); err != nil || r.Code != http.StatusNotFound ||
			got["error"] != "Passkeys are off on this server (it has no --public-url)." {
			t.Errorf("%s: %d %q", tc.path, r.Code, r.Body)
		}
		for _, ck := range r.Cookies {
			if ck.Name == "blnk_passkey" {
				t.Errorf("%s set a ceremony cookie", tc.path)
			}
		}
	}
	// Signed out, a person's own ceremony is the sign-in redirect, as
	// before: passkeysOn runs after the session check.
	if r := anon.do(http.MethodPost, "/settings/security/passkeys/begin", nil, jsonBody([]byte("{}"))); r.Code == http.StatusNotFound {
		t.Errorf("signed out: %d, want the session check's answer first", r.Code)
	}
}
