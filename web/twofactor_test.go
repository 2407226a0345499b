package web_test

// Signing in safely (issue 18): TOTP set up and used at sign-in with
// codes the test computes from the secret on the page, with the test's
// clock; recovery codes; the limit of wrong codes; the pending sign-in's
// five minutes; the Owner's requirement; sudo mode.

import (
	"context"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/PuerkitoBio/goquery"

	"github.com/blnk-cloud/apikeys/internal/audit"
	"github.com/blnk-cloud/apikeys/internal/blnk"
	"github.com/blnk-cloud/apikeys/internal/password"
	"github.com/blnk-cloud/apikeys/internal/testkit/htmlcheck"
	"github.com/blnk-cloud/apikeys/internal/twofactor"
)

// totpCode is secret's code at t, as a phone would show it.
func totpCode(t *testing.T, secret string, at time.Time) string {
	t.Helper()
	code, err := twofactor.Code(secret, at)
	if err != nil {
		t.Fatal(err)
	}
	return code
}

// enableTOTP sets up an authenticator app for c's person through the
// pages, reading the secret from the set-up page, and returns the
// secret and the recovery codes shown.
func enableTOTP(t *testing.T, ts *testServer, c *client) (string, []string) {
	t.Helper()
	r := c.get("/settings/security/totp")
	if r.Code != http.StatusOK {
		t.Fatalf("GET /settings/security/totp: %d\n%.300s", r.Code, r.Body)
	}
	d := parse(t, r.Body)
	secret, ok := d.Attr("#totp-secret", "data-secret")
	if !ok || len(secret) != 32 {
		t.Fatalf("no secret on the set-up page: %q", secret)
	}
	if src, _ := d.Attr("img.qr", "src"); !strings.HasPrefix(src, "data:image/png;base64,") {
		t.Errorf("the QR code is not a PNG drawn by the server: %.40s", src)
	}
	if got := strings.ReplaceAll(d.Text("#totp-secret"), " ", ""); got != secret {
		t.Errorf("the secret as text %q, want %q", got, secret)
	}
	r = c.post("/settings/security/totp", url.Values{"code": {totpCode(t, secret, ts.clock.Now())}})
	if r.Code != http.StatusOK {
		t.Fatalf("confirm the first code: %d\n%.300s", r.Code, textOf(t, r.Body))
	}
	if r.Header.Get("Cache-Control") != "no-store" {
		t.Errorf("recovery codes page Cache-Control %q", r.Header.Get("Cache-Control"))
	}
	var codes []string
	parse(t, r.Body).Find("#recovery-codes li").Each(func(_ int, s *goquery.Selection) { codes = append(codes, htmlcheck.Text(s)) })
	if len(codes) != 10 {
		t.Fatalf("%d recovery codes shown, want 10", len(codes))
	}
	href, _ := parse(t, r.Body).Attr(`a[download]`, "href")
	if text, err := url.PathUnescape(strings.TrimPrefix(href, "data:text/plain;charset=utf-8,")); err != nil || !strings.Contains(text, codes[9]) {
		t.Errorf("the download link does not hold the codes: %.80s (%v)", href, err)
	}
	return secret, codes
}

// passwordStep signs in with the password, which must lead to the second
// step (and no session).
func passwordStep(t *testing.T, c *client, email string) {
	t.Helper()
	r := c.post("/login", url.Values{"email": {email}, "password": {adminPassword}, "next": {"/settings/members"}})
	if r.Code != http.StatusSeeOther || r.Header.Get("Location") != "/login/two-factor" {
		t.Fatalf("POST /login: %d to %q, want 303 to /login/two-factor", r.Code, r.Header.Get("Location"))
	}
	if r := c.get("/settings/api-keys"); r.Code != http.StatusSeeOther || !strings.HasPrefix(r.Header.Get("Location"), "/login") {
		t.Fatalf("after the password alone the keys answer %d %q, want a redirect to sign in", r.Code, r.Header.Get("Location"))
	}
	if r := c.get("/login/two-factor"); r.Code != http.StatusOK || !parse(t, r.Body).Has(`input[name="code"]`) {
		t.Fatalf("GET /login/two-factor: %d", r.Code)
	}
}

// actionCount counts the audit events of action.
func (ts *testServer) actionCount(action audit.Action) int {
	ts.t.Helper()
	var n int
	if err := ts.raw.QueryRow(`SELECT count(*) FROM audit_events WHERE action = $1`, string(action)).Scan(&n); err != nil {
		ts.t.Fatal(err)
	}
	return n
}

// wrongCode is a 6-digit code that is none of secret's codes near now.
func wrongCode(t *testing.T, secret string, now time.Time) string {
	for _, c := range []string{"123456", "654321", "111111"} {
		ok := true
		for d := -2; d <= 2; d++ {
			if totpCode(t, secret, now.Add(time.Duration(d)*30*time.Second)) == c {
				ok = false
			}
		}
		if ok {
			return c
		}
	}
	t.Fatal("no wrong code")
	return ""
}

func TestTOTPSignIn(t *testing.T) {
	t.Parallel()
	ts, admin := newSignedIn(t, serverOpts{})
	secret, _ := enableTOTP(t, ts, admin)
	if n := ts.actionCount(audit.TwoFactorEnabled); n != 1 {
		t.Errorf("%d two_factor.enabled events, want 1", n)
	}
	var sealed []byte
	if err := ts.raw.QueryRow(`SELECT secret FROM totp_factors`).Scan(&sealed); err != nil {
		t.Fatal(err)
	}
	if strings.Contains(strings.ToUpper(string(sealed)), secret) || len(sealed) < 28 {
		t.Error("the TOTP secret is stored in plaintext")
	}
	sec := parse(t, admin.get("/settings/security").Body)
	if !strings.Contains(sec.Text("#totp"), "10 recovery codes left") {
		t.Errorf("the security page says %q", sec.Text("#totp"))
	}
	if got := parse(t, admin.get("/settings/members").Body).Text(".member-factor"); got != "Authenticator app" {
		t.Errorf("the members page's second factor %q", got)
	}

	// The first code, used to confirm, does not sign in.
	first := ts.client()
	passwordStep(t, first, adminEmail)
	if r := first.post("/login/two-factor", url.Values{"code": {totpCode(t, secret, ts.clock.Now())}}); r.Code != http.StatusUnauthorized {
		t.Errorf("the set-up code again: %d, want 401", r.Code)
	}

	ts.clock.Advance(30 * time.Second)
	now := totpCode(t, secret, ts.clock.Now())
	c := ts.client()
	passwordStep(t, c, adminEmail)
	r := c.post("/login/two-factor", url.Values{"code": {now[:3] + " " + now[3:]}})
	if r.Code != http.StatusSeeOther || r.Header.Get("Location") != "/settings/members" {
		t.Fatalf("the right code: %d to %q, want 303 to next\n%.300s", r.Code, r.Header.Get("Location"), textOf(t, r.Body))
	}
	if r := c.get("/settings/api-keys"); r.Code != http.StatusOK {
		t.Fatalf("signed in with the code, the keys answer %d", r.Code)
	}
	if c.cookiesFor("/login") == nil {
		t.Error("no device cookie after the second factor")
	}

	// The same code again, from another browser: refused.
	again := ts.client()
	passwordStep(t, again, adminEmail)
	r = again.post("/login/two-factor", url.Values{"code": {now}})
	if r.Code != http.StatusUnauthorized || !strings.Contains(textOf(t, r.Body), "used already") {
		t.Fatalf("the code reused: %d, want 401\n%.300s", r.Code, textOf(t, r.Body))
	}

	// Three steps on: two steps ago is too old, one step ago is fine.
	ts.clock.Advance(90 * time.Second)
	twoAgo := totpCode(t, secret, ts.clock.Now().Add(-60*time.Second))
	oneAgo := totpCode(t, secret, ts.clock.Now().Add(-30*time.Second))
	if twoAgo == oneAgo {
		t.Skip("the two codes happen to be equal") // one in a million
	}
	if r := again.post("/login/two-factor", url.Values{"code": {twoAgo}}); r.Code != http.StatusUnauthorized {
		t.Errorf("a code of two steps ago: %d, want 401", r.Code)
	}
	if r := again.post("/login/two-factor", url.Values{"code": {oneAgo}}); r.Code != http.StatusSeeOther {
		t.Errorf("a code of one step ago: %d, want 303\n%.300s", r.Code, textOf(t, r.Body))
	}
	if r := again.get("/settings/api-keys"); r.Code != http.StatusOK {
		t.Errorf("after the code of one step ago, the keys answer %d", r.Code)
	}
	// Empty: asked again, not counted.
	other := ts.client()
	passwordStep(t, other, adminEmail)
	if r := other.post("/login/two-factor", url.Values{"code": {""}}); r.Code != http.StatusUnprocessableEntity {
		t.Errorf("no code: %d, want 422", r.Code)
	}
	if r := other.post("/login/two-factor", url.Values{"code": {strings.Repeat("9", 5000)}}); r.Code != http.StatusUnauthorized {
		t.Errorf("a huge code: %d, want 401", r.Code)
	}
}

func TestRecoveryCodeOnce(t *testing.T) {
	t.Parallel()
	ts, admin := newSignedIn(t, serverOpts{})
	_, codes := enableTOTP(t, ts, admin)
	c := ts.client()
	passwordStep(t, c, adminEmail)
	// Typed in capitals, without the hyphen: the same code.
	if r := c.post("/login/two-factor", url.Values{"code": {strings.ToUpper(strings.ReplaceAll(codes[3], "-", ""))}}); r.Code != http.StatusSeeOther {
		t.Fatalf("a recovery code: %d, want 303\n%.300s", r.Code, textOf(t, r.Body))
	}
	if n := ts.actionCount(audit.TwoFactorRecoveryUsed); n != 1 {
		t.Errorf("%d two_factor.recovery_used events, want 1", n)
	}
	c2 := ts.client()
	passwordStep(t, c2, adminEmail)
	if r := c2.post("/login/two-factor", url.Values{"code": {codes[3]}}); r.Code != http.StatusUnauthorized {
		t.Fatalf("the recovery code again: %d, want 401", r.Code)
	}
	if n := ts.actionCount(audit.TwoFactorRecoveryUsed); n != 1 {
		t.Errorf("%d two_factor.recovery_used events after the refusal, want 1", n)
	}
	if !strings.Contains(parse(t, admin.get("/settings/security").Body).Text("#totp"), "9 recovery codes left") {
		t.Error("the security page does not count 9 codes left")
	}
}

func TestWrongCodesThrottled(t *testing.T) {
	t.Parallel()
	ts, admin := newSignedIn(t, serverOpts{sharedLogins: true})
	secret, _ := enableTOTP(t, ts, admin)
	ts.clock.Advance(30 * time.Second)
	bad := wrongCode(t, secret, ts.clock.Now())
	c := ts.client()
	passwordStep(t, c, adminEmail)
	var got []int
	for range 10 {
		r := c.post("/login/two-factor", url.Values{"code": {bad}})
		got = append(got, r.Code)
		if r.Code == http.StatusTooManyRequests && r.Header.Get("Retry-After") == "" {
			t.Error("429 without Retry-After")
		}
	}
	want := []int{401, 401, 401, 401, 401, 429, 429, 429, 429, 429}
	if !slices.Equal(got, want) {
		t.Fatalf("ten wrong codes: %v, want %v", got, want)
	}
	right := totpCode(t, secret, ts.clock.Now())
	// The account is limited, not only this pending sign-in: another
	// browser with the password waits too, even with the right code.
	c2 := ts.client()
	passwordStep(t, c2, adminEmail)
	if r := c2.post("/login/two-factor", url.Values{"code": {right}}); r.Code != http.StatusTooManyRequests {
		t.Fatalf("the right code while the account waits: %d, want 429", r.Code)
	}
	ts.clock.Advance(21 * time.Second)
	right = totpCode(t, secret, ts.clock.Now())
	if r := c2.post("/login/two-factor", url.Values{"code": {right}}); r.Code != http.StatusSeeOther {
		t.Fatalf("the right code after the wait: %d, want 303\n%.300s", r.Code, textOf(t, r.Body))
	}
}

func TestPendingSignInExpires(t *testing.T) {
	t.Parallel()
	ts, admin := newSignedIn(t, serverOpts{})
	secret, _ := enableTOTP(t, ts, admin)
	c := ts.client()
	passwordStep(t, c, adminEmail)
	ts.clock.Advance(5*time.Minute + time.Second)
	r := c.post("/login/two-factor", url.Values{"code": {totpCode(t, secret, ts.clock.Now())}})
	if r.Code != http.StatusSeeOther || r.Header.Get("Location") != "/login" {
		t.Fatalf("a code after five minutes: %d to %q, want 303 to /login", r.Code, r.Header.Get("Location"))
	}
	if got := parse(t, c.get("/login").Body).Text(".alert-info"); !strings.Contains(got, "took too long") {
		t.Errorf("the sign-in page says %q", got)
	}
	if r := c.get("/settings/api-keys"); r.Code != http.StatusSeeOther {
		t.Errorf("after the expired step the keys answer %d, want a redirect", r.Code)
	}
	if r := c.get("/login/two-factor"); r.Code != http.StatusSeeOther {
		t.Errorf("GET /login/two-factor without a pending sign-in: %d", r.Code)
	}
}

// addMember adds a Member to Acme Corp and returns their signed-in
// client.
func addMember(t *testing.T, ts *testServer, email string) *client {
	t.Helper()
	ctx := context.Background()
	ws, err := ts.db.FindWorkspace(ctx, adminWorkspace)
	if err != nil {
		t.Fatal(err)
	}
	hash, err := password.FastHasher.Hash(adminPassword)
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := ts.db.AddMember(ctx, ws.ID, email, hash, blnk.RoleMember, audit.Actor{Kind: audit.CommandLine}, ts.clock.Now()); err != nil {
		t.Fatal(err)
	}
	c := ts.client()
	c.signIn(email, adminPassword)
	return c
}

func TestRequireTwoFactor(t *testing.T) {
	t.Parallel()
	ts, admin := newSignedIn(t, serverOpts{})
	member := addMember(t, ts, "member@example.com")

	// An Owner without a factor cannot require one.
	if r := admin.post("/settings/security/require-2fa", url.Values{"require_2fa": {"on"}}); r.Code != http.StatusConflict {
		t.Fatalf("require without a factor of one's own: %d, want 409", r.Code)
	}
	// Nor can a Member.
	if r := member.post("/settings/security/require-2fa", url.Values{"require_2fa": {"on"}}); r.Code != http.StatusForbidden {
		t.Fatalf("a Member requiring: %d, want 403", r.Code)
	}
	if r := admin.post("/settings/security/require-2fa", url.Values{"require_2fa": {"yes<b>"}}); r.Code != http.StatusBadRequest {
		t.Fatalf("a bad value: %d, want 400", r.Code)
	}
	enableTOTP(t, ts, admin)
	if r := admin.post("/settings/security/require-2fa", url.Values{"require_2fa": {"on"}}); r.Code != http.StatusSeeOther {
		t.Fatalf("require: %d, want 303\n%.300s", r.Code, textOf(t, r.Body))
	}
	if n := ts.actionCount(audit.TwoFactorRequired); n != 1 {
		t.Errorf("%d two_factor.required events, want 1", n)
	}
	// Again: no change, no event.
	admin.post("/settings/security/require-2fa", url.Values{"require_2fa": {"on"}})
	if n := ts.actionCount(audit.TwoFactorRequired); n != 1 {
		t.Errorf("%d two_factor.required events after setting it again, want 1", n)
	}
	if r := admin.get("/settings/api-keys"); r.Code != http.StatusOK {
		t.Errorf("the Owner, who has a factor: %d", r.Code)
	}
	if !parse(t, admin.get("/settings/security").Body).Has(`#f-require_2fa[checked]`) {
		t.Error("the switch is not shown on")
	}

	// The Member, signed in already, is sent to set one up first, with
	// and without htmx, from every page of the workspace.
	for _, p := range []string{"/settings/api-keys", "/settings/members", "/settings/audit-log", "/"} {
		if r := member.get(p); r.Code != http.StatusSeeOther || r.Header.Get("Location") != "/settings/security" {
			t.Errorf("GET %s: %d to %q, want 303 to /settings/security", p, r.Code, r.Header.Get("Location"))
		}
		if r := member.get(p, htmx()); r.Header.Get("HX-Redirect") != "/settings/security" {
			t.Errorf("htmx GET %s: %d HX-Redirect %q", p, r.Code, r.Header.Get("HX-Redirect"))
		}
	}
	before := ts.count("api_keys")
	if r := member.post("/settings/api-keys", keyForm("before setting up", "30d")); r.Code != http.StatusSeeOther || r.Header.Get("Location") != "/settings/security" {
		t.Errorf("POST a key: %d to %q", r.Code, r.Header.Get("Location"))
	}
	if ts.count("api_keys") != before {
		t.Error("a key was made by a member without a second factor")
	}
	r := member.get("/settings/security")
	if r.Code != http.StatusOK || !parse(t, r.Body).Has("#two-factor-required") {
		t.Fatalf("the security page: %d, or it does not say why", r.Code)
	}
	if parse(t, r.Body).Has("#require-2fa") {
		t.Error("a Member sees the Owner's switch")
	}
	// Setting it up opens the workspace again.
	ts.clock.Advance(30 * time.Second)
	enableTOTP(t, ts, member)
	if r := member.get("/settings/api-keys"); r.Code != http.StatusOK {
		t.Errorf("after setting up: %d", r.Code)
	}
	if r := member.post("/logout", nil); r.Code != http.StatusSeeOther {
		t.Errorf("sign out: %d", r.Code)
	}
}

// sudoSubmit fills the sudo form of r as a browser would: its hidden
// fields, and extra.
func sudoSubmit(t *testing.T, c *client, r *response, extra url.Values) *response {
	t.Helper()
	d := parse(t, r.Body)
	action, ok := d.Attr(`form:has(input[name="sudo"])`, "action")
	if !ok {
		t.Fatalf("no sudo form:\n%.400s", textOf(t, r.Body))
	}
	form := url.Values{}
	d.Find(`form:has(input[name="sudo"]) input[type="hidden"]`).Each(func(_ int, s *goquery.Selection) {
		n, _ := s.Attr("name")
		v, _ := s.Attr("value")
		form.Add(n, v)
	})
	for k, v := range extra {
		form[k] = v
	}
	return c.post(action, form)
}

func TestSudoKeepsTheForm(t *testing.T) {
	t.Parallel()
	ts, admin := newSignedIn(t, serverOpts{})
	ks := []newKey{admin.create("sudo one"), admin.create("sudo two"), admin.create("sudo three")}

	// Just signed in: no question.
	if r := admin.post("/settings/api-keys/revoke", idsForm(ks[2].ID)); r.Code != http.StatusSeeOther {
		t.Fatalf("revoke one key: %d", r.Code)
	}
	ts.clock.Advance(11 * time.Minute)
	// One key needs no sudo; more than one does.
	form := idsForm(ks[0].ID, ks[1].ID)
	form.Set("back", "/settings/api-keys?q=sudo")
	r := admin.post("/settings/api-keys/revoke", form)
	if r.Code != http.StatusUnauthorized {
		t.Fatalf("bulk revoke after 11 minutes: %d, want 401 and the sudo form", r.Code)
	}
	if n := ts.revokedEvents(ks[0].ID); n != 0 {
		t.Fatal("revoked before the sudo check")
	}
	// htmx gets the form as the page, swapped in whole.
	hx := admin.post("/settings/api-keys/revoke", form, htmx())
	if hx.Code != http.StatusOK || hx.Header.Get("HX-Retarget") != "body" || !parse(t, hx.Body).Has(`input[name="sudo"]`) {
		t.Errorf("htmx bulk revoke: %d retarget %q", hx.Code, hx.Header.Get("HX-Retarget"))
	}
	// A wrong password: asked again, nothing done.
	wrong := sudoSubmit(t, admin, r, url.Values{"password": {"not the password"}})
	if wrong.Code != http.StatusUnauthorized || ts.revokedEvents(ks[0].ID) != 0 {
		t.Fatalf("a wrong password: %d", wrong.Code)
	}
	if n := ts.actionCount(audit.UserSudo); n != 0 {
		t.Errorf("%d user.sudo events after a wrong password", n)
	}
	done := sudoSubmit(t, admin, wrong, url.Values{"password": {adminPassword}})
	if done.Code != http.StatusSeeOther || done.Header.Get("Location") != "/settings/api-keys?q=sudo" {
		t.Fatalf("the bulk revoke after sudo: %d to %q\n%.300s", done.Code, done.Header.Get("Location"), textOf(t, done.Body))
	}
	if ts.revokedEvents(ks[0].ID) != 1 || ts.revokedEvents(ks[1].ID) != 1 {
		t.Error("the keys of the kept form were not both revoked")
	}
	if n := ts.actionCount(audit.UserSudo); n != 1 {
		t.Errorf("%d user.sudo events, want 1", n)
	}

	// Within ten minutes: no question; after eleven, a role change asks
	// again and keeps its role.
	addMember(t, ts, "sudo-member@example.com")
	u, err := ts.db.FindUser(context.Background(), "sudo-member@example.com")
	if err != nil {
		t.Fatal(err)
	}
	roleURL := "/settings/members/" + strconv.FormatInt(u.ID, 10) + "/role"
	if r := admin.post(roleURL, url.Values{"role": {"admin"}}); r.Code != http.StatusSeeOther {
		t.Fatalf("role change in the window: %d", r.Code)
	}
	ts.clock.Advance(11 * time.Minute)
	r = admin.post(roleURL, url.Values{"role": {"viewer"}})
	if r.Code != http.StatusUnauthorized {
		t.Fatalf("role change after 11 minutes: %d, want 401", r.Code)
	}
	if v, _ := parse(t, r.Body).Attr(`input[name="role"]`, "value"); v != "viewer" {
		t.Errorf("the sudo form keeps role %q", v)
	}
	if r := sudoSubmit(t, admin, r, url.Values{"password": {adminPassword}}); r.Code != http.StatusSeeOther {
		t.Fatalf("role change after sudo: %d", r.Code)
	}
	ws, err := ts.db.FindWorkspace(context.Background(), adminWorkspace)
	if err != nil {
		t.Fatal(err)
	}
	m, err := ts.db.FindMember(context.Background(), ws.ID, u.ID)
	if err != nil || m.Role != blnk.RoleViewer {
		t.Errorf("role after sudo %q (%v), want viewer", m.Role, err)
	}
}

func TestSudoPageAndRemovingAFactor(t *testing.T) {
	t.Parallel()
	ts, admin := newSignedIn(t, serverOpts{})
	secret, _ := enableTOTP(t, ts, admin)
	ts.clock.Advance(11 * time.Minute)

	// The page for GETs: next must be a path of this site.
	for _, tt := range []struct{ next, want string }{
		{"/settings/members", "/settings/members"},
		{"//evil.example/x", ""},
		{"https://evil.example/", ""},
	} {
		r := admin.get("/sudo?next=" + url.QueryEscape(tt.next))
		if r.Code != http.StatusOK {
			t.Fatalf("GET /sudo: %d", r.Code)
		}
		got, _ := parse(t, r.Body).Attr(`input[name="next"]`, "value")
		if got != tt.want {
			t.Errorf("next %q kept as %q, want %q", tt.next, got, tt.want)
		}
		if !parse(t, r.Body).Has(`input[name="code"]`) {
			t.Error("a person with an authenticator app is not offered the code")
		}
	}
	// Removing the factor asks; a code of the app completes it.
	r := admin.post("/settings/security/totp/remove", nil)
	if r.Code != http.StatusUnauthorized {
		t.Fatalf("remove after 11 minutes: %d, want 401", r.Code)
	}
	if r := sudoSubmit(t, admin, r, url.Values{"code": {wrongCode(t, secret, ts.clock.Now())}}); r.Code != http.StatusUnauthorized {
		t.Fatalf("a wrong code: %d", r.Code)
	}
	if n := ts.count("totp_factors"); n != 1 {
		t.Fatal("removed after a wrong code")
	}
	done := sudoSubmit(t, admin, r, url.Values{"code": {totpCode(t, secret, ts.clock.Now())}})
	if done.Code != http.StatusSeeOther || done.Header.Get("Location") != "/settings/security" {
		t.Fatalf("remove with a code: %d to %q", done.Code, done.Header.Get("Location"))
	}
	if ts.count("totp_factors") != 0 || ts.count("recovery_codes") != 0 {
		t.Error("the factor or its codes are left")
	}
	if n := ts.actionCount(audit.TwoFactorDisabled); n != 1 {
		t.Errorf("%d two_factor.disabled events", n)
	}
	// Then the password alone signs in.
	c := ts.client()
	c.signIn(adminEmail, adminPassword)
	if r := c.get("/settings/api-keys"); r.Code != http.StatusOK {
		t.Errorf("after removing the factor, the password alone: %d", r.Code)
	}
	// POST /sudo goes to next.
	ts.clock.Advance(11 * time.Minute)
	r = admin.post("/sudo", url.Values{"password": {adminPassword}, "next": {"/settings/members"}})
	if r.Code != http.StatusSeeOther || r.Header.Get("Location") != "/settings/members" {
		t.Errorf("POST /sudo: %d to %q", r.Code, r.Header.Get("Location"))
	}
}

func TestRegenerateRecoveryCodes(t *testing.T) {
	t.Parallel()
	ts, admin := newSignedIn(t, serverOpts{})
	_, old := enableTOTP(t, ts, admin)
	r := admin.post("/settings/security/recovery-codes", nil)
	if r.Code != http.StatusOK {
		t.Fatalf("new codes: %d", r.Code)
	}
	var codes []string
	parse(t, r.Body).Find("#recovery-codes li").Each(func(_ int, s *goquery.Selection) { codes = append(codes, htmlcheck.Text(s)) })
	if len(codes) != 10 || slices.Contains(codes, old[0]) {
		t.Fatalf("new codes %v", codes)
	}
	c := ts.client()
	passwordStep(t, c, adminEmail)
	if r := c.post("/login/two-factor", url.Values{"code": {old[0]}}); r.Code != http.StatusUnauthorized {
		t.Errorf("an old code after new ones: %d, want 401", r.Code)
	}
	if r := c.post("/login/two-factor", url.Values{"code": {codes[0]}}); r.Code != http.StatusSeeOther {
		t.Errorf("a new code: %d, want 303", r.Code)
	}
}

// TestSecondStepCost measures what the second step adds to a sign-in:
// the same person signs in 40 times with the password alone, then 40
// times with the password and a TOTP code (the clock moves a step
// each time), through the router, on this test's database. The medians
// are logged; the hashing is the fast test hasher, so the password's own
// cost (argon2id, tens of ms) is not in either.
func TestSecondStepCost(t *testing.T) {
	ts, admin := newSignedIn(t, serverOpts{})
	const n = 40
	median := func(d []time.Duration) time.Duration {
		slices.Sort(d)
		return d[len(d)/2]
	}
	var pw, step []time.Duration
	for range n {
		c := ts.client()
		began := time.Now()
		c.signIn(adminEmail, adminPassword)
		pw = append(pw, time.Since(began))
	}
	secret, _ := enableTOTP(t, ts, admin)
	for range n {
		ts.clock.Advance(30 * time.Second)
		c := ts.client()
		r := c.post("/login", url.Values{"email": {adminEmail}, "password": {adminPassword}})
		if r.Code != http.StatusSeeOther {
			t.Fatalf("password: %d", r.Code)
		}
		code := totpCode(t, secret, ts.clock.Now())
		began := time.Now()
		if r := c.post("/login/two-factor", url.Values{"code": {code}}); r.Code != http.StatusSeeOther {
			t.Fatalf("code: %d", r.Code)
		}
		step = append(step, time.Since(began))
	}
	t.Logf("sign-in, password only (fast test hash): median %v; the TOTP step (POST /login/two-factor, a second request): median %v",
		median(pw), median(step))
}

// The key policies form carries the workspace's two-factor switch
// (SPEC: require_2fa is a key policies field): refused, with nothing
// saved, while the Owner has no factor; then saved with the policies.
func TestPoliciesFormRequiresTwoFactor(t *testing.T) {
	t.Parallel()
	ts, admin := newSignedIn(t, serverOpts{})
	form := url.Values{"max_lifetime_days": {"30"}, "member_scopes": {"*"}, "require_2fa": {"on"}}
	r := admin.post("/settings/policies", form)
	if r.Code != http.StatusUnprocessableEntity {
		t.Fatalf("require without a factor: %d, want 422", r.Code)
	}
	if !parse(t, r.Body).Has(`#f-require_2fa[checked]`) || !parse(t, r.Body).Has(`.field-invalid #f-require_2fa`) {
		t.Error("the refused switch is not kept, or no problem is shown next to it")
	}
	if n := ts.actionCount(audit.PolicyChanged); n != 0 {
		t.Errorf("%d policy.changed events after a refused form, want 0 (a partial write)", n)
	}
	if r := admin.post("/settings/policies", url.Values{"member_scopes": {"*"}, "require_2fa": {"yes"}}); r.Code != http.StatusUnprocessableEntity {
		t.Errorf("a bad value: %d, want 422", r.Code)
	}
	enableTOTP(t, ts, admin)
	if r := admin.post("/settings/policies", form); r.Code != http.StatusSeeOther {
		t.Fatalf("save with a factor: %d, want 303\n%.300s", r.Code, textOf(t, r.Body))
	}
	if ts.actionCount(audit.PolicyChanged) != 1 || ts.actionCount(audit.TwoFactorRequired) != 1 {
		t.Errorf("events: policy.changed %d, two_factor.required %d, want 1 and 1",
			ts.actionCount(audit.PolicyChanged), ts.actionCount(audit.TwoFactorRequired))
	}
	if !parse(t, admin.get("/settings/policies").Body).Has(`#f-require_2fa[checked]`) {
		t.Error("the policies page does not show the switch on")
	}
	// Off again through the same form.
	delete(form, "require_2fa")
	if r := admin.post("/settings/policies", form); r.Code != http.StatusSeeOther {
		t.Fatalf("switch off: %d", r.Code)
	}
	if parse(t, admin.get("/settings/policies").Body).Has(`#f-require_2fa[checked]`) {
		t.Error("the switch stayed on")
	}
}

// TestSudoCancel: the sudo form's Cancel goes back to a page of the app,
// never to another site: next when it is a page, else the page the form
// was sent from (its same-origin Referer), else the page above the
// action, else the keys list.
func TestSudoCancel(t *testing.T) {
	t.Parallel()
	ts, admin := newSignedIn(t, serverOpts{})
	addMember(t, ts, "cancel-member@example.com")
	u, err := ts.db.FindUser(context.Background(), "cancel-member@example.com")
	if err != nil {
		t.Fatal(err)
	}
	roleURL := "/settings/members/" + strconv.FormatInt(u.ID, 10) + "/role"
	ts.clock.Advance(11 * time.Minute)

	cancel := func(t *testing.T, r *response) string {
		t.Helper()
		d := parse(t, r.Body)
		link := d.Find(`section a.button:not(.button-primary)`).FilterFunction(func(_ int, s *goquery.Selection) bool {
			return strings.TrimSpace(s.Text()) == "Cancel"
		})
		if link.Length() != 1 {
			t.Fatalf("%d Cancel links on the sudo form, want 1", link.Length())
		}
		href, _ := link.Attr("href")
		return href
	}
	for _, tt := range []struct{ name, next, want string }{
		{"a page", "/settings/members", "/settings/members"},
		{"a page and its query", "/settings/api-keys?status=revoked&q=x", "/settings/api-keys?status=revoked&q=x"},
		{"a key's page", "/settings/api-keys/abc123", "/settings/api-keys/abc123"},
		{"no page there: the one above", "/settings/webhooks/abc/nothing", "/settings/webhooks/abc"},
		{"no page at all", "/settings/nothing/here", "/settings/api-keys"},
		{"not the app's", "/logout", "/settings/api-keys"},
		{"another site", "https://evil.example/settings/members", "/settings/api-keys"},
		{"another site, no scheme", "//evil.example/settings/members", "/settings/api-keys"},
		{"backslashes", "/\\evil.example/settings/members", "/settings/api-keys"},
		{"none", "", "/settings/api-keys"},
	} {
		t.Run("next/"+tt.name, func(t *testing.T) {
			r := admin.get("/sudo?next=" + url.QueryEscape(tt.next))
			if r.Code != http.StatusOK {
				t.Fatalf("GET /sudo: %d", r.Code)
			}
			if got := cancel(t, r); got != tt.want {
				t.Errorf("next %q: Cancel goes to %q, want %q", tt.next, got, tt.want)
			}
		})
	}
	for _, tt := range []struct {
		name, action, referer, want string
		hx                          bool
	}{
		{"from the members' page", roleURL, origin + "/settings/members?role=admin", "/settings/members?role=admin", false},
		{"from the keys list, htmx", "/settings/api-keys/revoke", origin + "/settings/api-keys?q=sudo", "/settings/api-keys?q=sudo", true},
		{"no Referer: the page above", roleURL, "", "/settings/members", false},
		{"a Referer of another site", roleURL, "https://evil.example/settings/members", "/settings/members", false},
		{"a Referer not a page", roleURL, origin + roleURL, "/settings/members", false},
		{"a passkey's removal", "/settings/security/passkeys/xyz/remove", "", "/settings/security/passkeys", false},
		{"recovery codes", "/settings/security/recovery-codes", "", "/settings/security", false},
	} {
		t.Run("post/"+tt.name, func(t *testing.T) {
			opts := []opt{}
			if tt.referer != "" {
				opts = append(opts, header("Referer", tt.referer))
			}
			if tt.hx {
				opts = append(opts, htmx())
			}
			form := url.Values{"role": {"viewer"}}
			if tt.action == "/settings/api-keys/revoke" {
				form = idsForm("k1", "k2")
			}
			r := admin.post(tt.action, form, opts...)
			if r.Code != http.StatusUnauthorized && !(tt.hx && r.Code == http.StatusOK) {
				t.Fatalf("POST %s after 11 minutes: %d, want the sudo form", tt.action, r.Code)
			}
			if got := cancel(t, r); got != tt.want {
				t.Errorf("Cancel goes to %q, want %q", got, tt.want)
			}
		})
	}
}
