package web_test

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/blnk-cloud/apikeys/internal/audit"
	"github.com/blnk-cloud/apikeys/internal/blnk"
	"github.com/blnk-cloud/apikeys/internal/mail"
	"github.com/blnk-cloud/apikeys/internal/password"
	"github.com/blnk-cloud/apikeys/internal/testkit"
	"github.com/blnk-cloud/apikeys/web"
)

const publicURL = "https://keys.example.com"

// outbox records the messages the server posts, as web.Mailer.
type outbox struct {
	mu   sync.Mutex
	sent []mail.Message
}

func (o *outbox) Post(m mail.Message, _ string) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.sent = append(o.sent, m)
}

func (o *outbox) messages() []mail.Message {
	o.mu.Lock()
	defer o.mu.Unlock()
	return append([]mail.Message(nil), o.sent...)
}

// withMail serves with m as the mailer and publicURL as the public URL.
func withMail(m web.Mailer) serverOpts {
	return serverOpts{config: func(c *web.Config) { c.Mail, c.PublicURL = m, publicURL }}
}

var resetLinkRE = regexp.MustCompile(`/password/reset/[A-Za-z0-9_-]+`)

// resetPath is the path of the reset link in text (a page or an email).
func resetPath(t *testing.T, text string) string {
	t.Helper()
	p := resetLinkRE.FindString(text)
	if p == "" {
		t.Fatalf("no reset link in:\n%.600s", text)
	}
	return p
}

// memberClient adds a Member to Acme Corp and signs them in.
func memberClient(t *testing.T, ts *testServer, email string) *client {
	t.Helper()
	ts.addMember(email, blnk.RoleMember)
	c := ts.client()
	c.signIn(email, adminPassword)
	return c
}

// addMember makes email a member of Acme Corp with role and adminPassword.
func (ts *testServer) addMember(email string, role blnk.Role) int64 {
	ts.t.Helper()
	hash := ts.fastHash(adminPassword)
	u, _, err := ts.db.AddMember(context.Background(), ts.workspaceID(adminWorkspace), email, hash, role, audit.Actor{Kind: audit.CommandLine}, ts.clock.Now())
	if err != nil {
		ts.t.Fatal(err)
	}
	return u.ID
}

// signedIn reports whether c's session still works.
func signedIn(c *client) bool {
	c.t.Helper()
	r := c.get("/settings/api-keys")
	return r.Code == http.StatusOK
}

// resetLinkFor asks for a reset link of userID as c and returns its path.
func resetLinkFor(t *testing.T, c *client, userID int64) string {
	t.Helper()
	r := c.post(fmt.Sprintf("/settings/members/%d/reset-link", userID), nil)
	if r.Code != http.StatusOK {
		t.Fatalf("reset link: %d\n%.400s", r.Code, textOf(t, r.Body))
	}
	return resetPath(t, parse(t, r.Body).Text("#reset-link"))
}

// TestPasswordResetLink: an Owner makes a link for a Member; the page of
// the link sends no Referer and is not cached; a weak password is 422;
// a good one ends every session of the Member, on every server, and
// sends to sign-in; the link then works no more.
func TestPasswordResetLink(t *testing.T) {
	ts, owner := newSignedIn(t, serverOpts{})
	laptop := memberClient(t, ts, "ana@example.com")
	phone := ts.client()
	phone.signIn("ana@example.com", adminPassword)
	id := ts.userID("ana@example.com")

	r := owner.post(fmt.Sprintf("/settings/members/%d/reset-link", id), nil)
	if r.Code != http.StatusOK {
		t.Fatalf("reset link: %d", r.Code)
	}
	if got := r.Header.Get("Cache-Control"); got != "no-store" {
		t.Errorf("Cache-Control %q", got)
	}
	d := parse(t, r.Body)
	link := d.Text("#reset-link")
	if !strings.HasPrefix(link, origin+"/password/reset/") || len(link) < len(origin+"/password/reset/")+43 {
		t.Fatalf("the link %q is not a 256-bit link of this server", link)
	}
	path := resetPath(t, link)
	if ev := ts.events(blnk.AuditFilter{Action: audit.PasswordResetLinkCreated}); len(ev) != 1 || ev[0].Actor.Email != adminEmail || ev[0].WorkspaceID != ts.workspaceID(adminWorkspace) {
		t.Errorf("password.reset_link_created events: %+v", ev)
	}
	var stored int
	if err := ts.raw.QueryRow(`SELECT count(*) FROM password_resets WHERE token_hash = $1`, []byte(path[len("/password/reset/"):])).Scan(&stored); err != nil || stored != 0 {
		t.Errorf("the token is stored as it is (%d rows, %v)", stored, err)
	}

	stranger := ts.client()
	page := stranger.get(path)
	if page.Code != http.StatusOK {
		t.Fatalf("GET the link: %d", page.Code)
	}
	if page.Header.Get("Referrer-Policy") != "no-referrer" || page.Header.Get("Cache-Control") != "no-store" {
		t.Errorf("the link's page: Referrer-Policy %q, Cache-Control %q", page.Header.Get("Referrer-Policy"), page.Header.Get("Cache-Control"))
	}
	pd := parse(t, page.Body)
	if !strings.Contains(pd.Text("main"), "ana@example.com") || pd.Has(`form[action]`) {
		t.Errorf("the form names no person, or posts to an address (the token would be in the page):\n%s", page.Body)
	}
	if strings.Contains(page.Body, path[len("/password/reset/"):]) {
		t.Error("the page holds the token")
	}

	weak := stranger.post(path, url.Values{"password": {"short"}, "confirm": {"short"}})
	if weak.Code != http.StatusUnprocessableEntity || !parse(t, weak.Body).Has("#f-password-problem") {
		t.Fatalf("a weak password: %d", weak.Code)
	}
	mismatch := stranger.post(path, url.Values{"password": {"a new long password"}, "confirm": {"another long password"}})
	if mismatch.Code != http.StatusUnprocessableEntity || !parse(t, mismatch.Body).Has("#f-confirm-problem") {
		t.Fatalf("passwords that differ: %d", mismatch.Code)
	}
	if !signedIn(laptop) || !signedIn(phone) {
		t.Fatal("a refused form ended sessions")
	}

	done := stranger.post(path, url.Values{"password": {"a new long password"}, "confirm": {"a new long password"}})
	if done.Code != http.StatusSeeOther || done.Header.Get("Location") != "/login" {
		t.Fatalf("set the password: %d %s", done.Code, done.Header.Get("Location"))
	}
	if signedIn(laptop) || signedIn(phone) {
		t.Error("a session of the person survived the new password")
	}
	if !signedIn(owner) {
		t.Error("the Owner's session ended")
	}
	login := stranger.get("/login")
	if !strings.Contains(parse(t, login.Body).Text(".alert-info"), "Your password was changed") {
		t.Errorf("the sign-in page does not say the password changed:\n%s", textOf(t, login.Body))
	}
	if r := ts.client().post("/login", url.Values{"email": {"ana@example.com"}, "password": {adminPassword}}); r.Code != http.StatusUnauthorized {
		t.Errorf("the old password: %d, want 401", r.Code)
	}
	ts.client().signIn("ana@example.com", "a new long password")

	again := ts.client().post(path, url.Values{"password": {"yet another password"}, "confirm": {"yet another password"}})
	if again.Code != http.StatusGone || !strings.Contains(textOf(t, again.Body), "used already") {
		t.Errorf("the link used again: %d\n%s", again.Code, textOf(t, again.Body))
	}
	if r := ts.client().get(path); r.Code != http.StatusGone {
		t.Errorf("GET the used link: %d", r.Code)
	}
	if ev := ts.events(blnk.AuditFilter{Action: audit.PasswordChanged}); len(ev) != 1 || ev[0].Actor.Email != "ana@example.com" {
		t.Errorf("password.changed events: %+v", ev)
	}
	if strings.Contains(ts.logs.String(), path[len("/password/reset/"):]) {
		t.Error("the logs hold the token")
	}
}

// TestPasswordResetExpiry: a link works for an hour, by the server's
// clock, and not a moment longer.
func TestPasswordResetExpiry(t *testing.T) {
	ts, owner := newSignedIn(t, serverOpts{})
	id := ts.addMember("ana@example.com", blnk.RoleMember)
	path := resetLinkFor(t, owner, id)
	ts.clock.Advance(59 * time.Minute)
	if r := ts.client().get(path); r.Code != http.StatusOK {
		t.Fatalf("after 59 minutes: %d", r.Code)
	}
	ts.clock.Advance(time.Minute)
	c := ts.client()
	if r := c.get(path); r.Code != http.StatusGone || !strings.Contains(textOf(t, r.Body), "expired") {
		t.Errorf("after an hour: %d\n%s", r.Code, textOf(t, r.Body))
	}
	if r := c.post(path, url.Values{"password": {"a new long password"}}); r.Code != http.StatusGone {
		t.Errorf("POST after an hour: %d", r.Code)
	}
	ts.client().signIn("ana@example.com", adminPassword) // unchanged
}

// TestPasswordResetForgedToken: a link that was never made, cut short,
// changed by one character, or made of other bytes finds nothing.
func TestPasswordResetForgedToken(t *testing.T) {
	ts, owner := newSignedIn(t, serverOpts{})
	id := ts.addMember("ana@example.com", blnk.RoleMember)
	path := resetLinkFor(t, owner, id)
	token := path[len("/password/reset/"):]
	flip := []byte(token)
	flip[10] ^= 1
	for _, p := range []string{
		"/password/reset/" + strings.Repeat("A", 43),
		"/password/reset/" + token[:30],
		"/password/reset/" + string(flip),
		"/password/reset/" + token + "x",
		"/password/reset/%00" + token,
		"/password/reset/" + strings.Repeat("A", 5000),
	} {
		for _, m := range []string{http.MethodGet, http.MethodPost} {
			var form url.Values
			if m == http.MethodPost {
				form = url.Values{"password": {"a new long password"}}
			}
			r := ts.client().do(m, p, form)
			if r.Code != http.StatusNotFound && r.Code != http.StatusBadRequest {
				t.Errorf("%s %.60s: %d, want 404", m, p, r.Code)
			}
		}
	}
	ts.client().signIn("ana@example.com", adminPassword)
	if r := ts.client().get(path); r.Code != http.StatusOK {
		t.Errorf("the real link after the forgeries: %d", r.Code)
	}
}

// TestResetLinkRoles: Owners make links for anyone, Admins for everyone
// but Owners; a refused request stores nothing.
func TestResetLinkRoles(t *testing.T) {
	tm := newTeamServer(t)
	count := func() (n int) {
		if err := tm.raw.QueryRow(`SELECT count(*) FROM password_resets`).Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n
	}
	for _, tt := range []struct {
		asker, target string
		want          int
	}{
		{roleOwner, roleAdmin, 200},
		{roleOwner, roleViewer, 200},
		{roleAdmin, roleMember, 200},
		{roleAdmin, roleAdmin, 200},
		{roleAdmin, roleOwner, 403},
		{roleMember, roleViewer, 403},
		{roleViewer, roleMember, 403},
		{roleOther, roleMember, 404},
	} {
		before := count()
		r := tm.clients[tt.asker].post(fmt.Sprintf("/settings/members/%d/reset-link", tm.ids[tt.target]), nil)
		if r.Code != tt.want {
			t.Errorf("%s for %s: %d, want %d", tt.asker, tt.target, r.Code, tt.want)
			continue
		}
		d := parse(t, r.Body)
		if want := tt.want == 200; d.Has("#reset-link") != want || (count() == before+1) != want {
			t.Errorf("%s for %s: link shown %v, stored %d -> %d", tt.asker, tt.target, d.Has("#reset-link"), before, count())
		}
		if tt.want == 403 && !strings.Contains(textOf(t, r.Body), "Owner role") && !strings.Contains(textOf(t, r.Body), "Admin role") {
			t.Errorf("%s for %s: the 403 does not name the role:\n%s", tt.asker, tt.target, textOf(t, r.Body))
		}
	}
	// The members page offers the button where it works.
	admin := parse(t, tm.clients[roleAdmin].get("/settings/members").Body)
	if admin.Has(fmt.Sprintf(`form[action="/settings/members/%d/reset-link"]`, tm.ids[roleOwner])) ||
		!admin.Has(fmt.Sprintf(`form[action="/settings/members/%d/reset-link"]`, tm.ids[roleMember])) {
		t.Error("an Admin's members page: the reset link button is shown for the Owner, or not for the Member")
	}
	if parse(t, tm.clients[roleMember].get("/settings/members").Body).Has(`form[action$="/reset-link"]`) {
		t.Error("a Member's members page offers reset links")
	}
}

// TestForgotWithoutEmail: with no SMTP server, "Forgot password?" says to
// ask an Owner or Admin, and the form is not there.
func TestForgotWithoutEmail(t *testing.T) {
	ts := newTestServer(t, serverOpts{})
	ts.client().setup(adminWorkspace, adminEmail, adminPassword)
	c := ts.client()
	login := parse(t, c.get("/login").Body)
	if !login.Has(`a[href="/password/forgot"]`) {
		t.Error("the sign-in page has no Forgot password? link")
	}
	r := c.get("/password/forgot")
	d := parse(t, r.Body)
	if r.Code != http.StatusOK || !strings.Contains(d.Text("main"), "Ask an Owner or Admin") || d.Has("form") {
		t.Errorf("forgot without email: %d\n%s", r.Code, d.Text("main"))
	}
	if r := c.post("/password/forgot", url.Values{"email": {adminEmail}}); r.Code != http.StatusNotFound {
		t.Errorf("POST forgot without email: %d, want 404", r.Code)
	}
}

// TestForgotAnswersTheSame: an email with an account and one without
// get the same answer, byte for byte; only the first gets a message, and
// its link works.
func TestForgotAnswersTheSame(t *testing.T) {
	box := &outbox{}
	ts, _ := newSignedIn(t, withMail(box))
	c := ts.client()
	form := parse(t, c.get("/password/forgot").Body)
	if !form.Has(`form[action="/password/forgot"] input[name="email"]`) {
		t.Fatal("no forgot form with email on")
	}
	known := c.post("/password/forgot", url.Values{"email": {" Admin@Example.com "}})
	unknown := c.post("/password/forgot", url.Values{"email": {"nobody@example.com"}})
	if known.Code != http.StatusOK || unknown.Code != known.Code {
		t.Fatalf("statuses %d and %d", known.Code, unknown.Code)
	}
	if known.Body != unknown.Body {
		t.Errorf("the answers differ:\n%s\n---\n%s", known.Body, unknown.Body)
	}
	if !strings.Contains(textOf(t, known.Body), "If an account has this email") {
		t.Errorf("the answer:\n%s", textOf(t, known.Body))
	}
	sent := box.messages()
	if len(sent) != 1 || sent[0].To != adminEmail || sent[0].Kind != "password reset" {
		t.Fatalf("messages: %+v", sent)
	}
	if !strings.Contains(sent[0].Text, publicURL+"/password/reset/") || !strings.Contains(sent[0].HTML, publicURL+"/password/reset/") {
		t.Errorf("the message's link does not start with the public URL:\n%s", sent[0].Text)
	}
	if r := ts.client().get(resetPath(t, sent[0].Text)); r.Code != http.StatusOK {
		t.Errorf("the emailed link: %d", r.Code)
	}
	bad := c.post("/password/forgot", url.Values{"email": {"not an email"}})
	if bad.Code != http.StatusUnprocessableEntity || !parse(t, bad.Body).Has("#f-email-problem") {
		t.Errorf("a bad email: %d", bad.Code)
	}
	if ev := ts.events(blnk.AuditFilter{Action: audit.PasswordResetLinkCreated}); len(ev) < 1 || ev[0].WorkspaceID != ts.workspaceID(adminWorkspace) {
		t.Errorf("forgot password records no event in the person's workspace: %+v", ev)
	}
}

// TestForgotThrottle: five requests in a row per address and per email,
// then one every two minutes, whether the email has an account or not.
func TestForgotThrottle(t *testing.T) {
	box := &outbox{}
	ts, _ := newSignedIn(t, withMail(box))
	for _, email := range []string{adminEmail, "nobody@example.com"} {
		for i := range 6 {
			// Each from its own address: the email's own count.
			r := ts.client().post("/password/forgot", url.Values{"email": {email}}, fromAddr(fmt.Sprintf("198.51.100.%d:1234", i+1+len(email))))
			want := http.StatusOK
			if i == 5 {
				want = http.StatusTooManyRequests
			}
			if r.Code != want {
				t.Fatalf("%s, request %d: %d, want %d", email, i+1, r.Code, want)
			}
			if want == http.StatusTooManyRequests && r.Header.Get("Retry-After") == "" {
				t.Error("a 429 without Retry-After")
			}
		}
	}
	if n := len(box.messages()); n != 5 {
		t.Errorf("%d messages, want 5", n)
	}
	// One address, many emails.
	for i := range 6 {
		r := ts.client().post("/password/forgot", url.Values{"email": {fmt.Sprintf("x%d@example.com", i)}}, fromAddr("203.0.113.7:1"))
		if want := map[bool]int{true: 429, false: 200}[i == 5]; r.Code != want {
			t.Fatalf("address, request %d: %d, want %d", i+1, r.Code, want)
		}
	}
	ts.clock.Advance(2 * time.Minute)
	if r := ts.client().post("/password/forgot", url.Values{"email": {"x9@example.com"}}, fromAddr("203.0.113.7:1")); r.Code != http.StatusOK {
		t.Errorf("two minutes later: %d", r.Code)
	}
}

// TestForgotThrottleAcrossServers: two servers on one database share
// the "forgot password" counts, as they share the sign-in ones: five
// requests for an email at A, and the sixth at B is refused; so is the
// sixth from one address spread over both. A pruning of the shared
// buckets at the sign-in throttles' pace (full after 100 s) keeps them:
// a third server that has seen none of it still refuses until the two
// minutes are up.
func TestForgotThrottleAcrossServers(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	boxA, boxB := &outbox{}, &outbox{}
	opts := func(box *outbox, dsn string) serverOpts {
		o := withMail(box)
		o.sharedLogins, o.dsn = true, dsn
		return o
	}
	a, _ := newSignedIn(t, opts(boxA, ""))
	b := newTestServer(t, opts(boxB, a.dbPath))
	forgot := func(ts *testServer, email, addr string) *response {
		t.Helper()
		return ts.client().post("/password/forgot", url.Values{"email": {email}}, fromAddr(addr))
	}

	// One email, from five addresses at A, then a sixth at B.
	for i := range 5 {
		if r := forgot(a, adminEmail, fmt.Sprintf("198.51.100.%d:1", i+1)); r.Code != http.StatusOK {
			t.Fatalf("request %d at A: %d, want 200", i+1, r.Code)
		}
	}
	r := forgot(b, adminEmail, "198.51.100.50:1")
	if r.Code != http.StatusTooManyRequests || r.Header.Get("Retry-After") == "" {
		t.Errorf("sixth request, at B: %d (Retry-After %q), want 429 with Retry-After", r.Code, r.Header.Get("Retry-After"))
	}
	if na, nb := len(boxA.messages()), len(boxB.messages()); na != 5 || nb != 0 {
		t.Errorf("messages: %d from A and %d from B, want 5 and 0", na, nb)
	}

	// One address, many emails, over both servers.
	for i := range 5 {
		ts := map[bool]*testServer{true: a, false: b}[i%2 == 0]
		if r := forgot(ts, fmt.Sprintf("x%d@example.com", i), "203.0.113.7:1"); r.Code != http.StatusOK {
			t.Fatalf("address, request %d: %d, want 200", i+1, r.Code)
		}
	}
	for _, ts := range []*testServer{a, b} {
		if r := forgot(ts, "x9@example.com", "203.0.113.7:1"); r.Code != http.StatusTooManyRequests {
			t.Errorf("address, sixth request: %d, want 429", r.Code)
		}
	}

	// A third server, 101 seconds later, prunes the shared buckets and
	// still refuses the email: less than one request has refilled.
	c := newTestServer(t, opts(&outbox{}, a.dbPath))
	c.clock.Advance(101 * time.Second)
	web.Clean(ctx, c.srv)
	if r := forgot(c, adminEmail, "198.51.100.60:1"); r.Code != http.StatusTooManyRequests {
		t.Errorf("after a pruning, at a third server: %d, want 429 (the bucket was pruned while it counted)", r.Code)
	}
	c.clock.Advance(19 * time.Second) // two minutes after the fifth
	if r := forgot(c, adminEmail, "198.51.100.61:1"); r.Code != http.StatusOK {
		t.Errorf("two minutes later, at a third server: %d, want 200", r.Code)
	}
}

// TestEmailThroughMailpit: with a real SMTP server, an invitation and a
// "forgot password" link arrive with a text and an HTML part, and the
// emailed links work.
func TestEmailThroughMailpit(t *testing.T) {
	mp := testkit.StartMailpit(t)
	smtp, err := mail.NewSMTP("smtp://"+mp.SMTP, "", "Blnk Cloud <keys@example.com>")
	if err != nil {
		t.Fatal(err)
	}
	logs := &testkit.LogBuffer{}
	box := mail.NewOutbox(smtp, 10*time.Second, slogTo(logs))
	ts, owner := newSignedIn(t, withMail(box))

	r := owner.post("/settings/members/invitations", url.Values{"email": {"new@example.com"}, "role": {"member"}})
	if r.Code != http.StatusOK || !parse(t, r.Body).Has("#invitation-emailed") {
		t.Fatalf("invite: %d", r.Code)
	}
	shown := parse(t, r.Body).Text("#invitation-link")
	inv := mp.WaitFor(t, "new@example.com", 1)
	if !strings.Contains(inv.Text, shown) || !strings.Contains(inv.HTML, shown) || !strings.HasPrefix(shown, publicURL+"/invite/") {
		t.Errorf("the emailed invitation lacks the link shown (%s):\n%s", shown, inv.Text)
	}
	join := ts.client()
	if r := join.post(strings.TrimPrefix(shown, publicURL), url.Values{"name": {"New Person"}, "password": {"a long new password"}}); r.Code != http.StatusSeeOther {
		t.Fatalf("accept the emailed invitation: %d\n%s", r.Code, textOf(t, r.Body))
	}

	c := ts.client()
	c.post("/password/forgot", url.Values{"email": {adminEmail}})
	msg := mp.WaitFor(t, adminEmail, 1)
	if msg.Subject != "Choose a new password for Blnk Cloud" || msg.HTML == "" {
		t.Errorf("the reset email: %q, HTML %d bytes", msg.Subject, len(msg.HTML))
	}
	path := resetPath(t, msg.Text)
	if r := c.post(path, url.Values{"password": {"my brand new password"}, "confirm": {"my brand new password"}}); r.Code != http.StatusSeeOther {
		t.Fatalf("the emailed reset link: %d", r.Code)
	}
	if signedIn(owner) {
		t.Error("the Owner's session survived the reset")
	}
	ts.client().signIn(adminEmail, "my brand new password")
	box.Wait()
	if got := logs.String(); strings.Contains(got, path[len("/password/reset/"):]) || strings.Count(got, "email sent") != 2 {
		t.Errorf("the mail log:\n%s", got)
	}
}

// userID is the id of the person with email.
func (ts *testServer) userID(email string) int64 {
	ts.t.Helper()
	u, err := ts.db.FindUser(context.Background(), email)
	if err != nil {
		ts.t.Fatal(err)
	}
	return u.ID
}

// fastHash hashes pw with the tests' fast hasher.
func (ts *testServer) fastHash(pw string) string {
	ts.t.Helper()
	h, err := password.FastHasher.Hash(pw)
	if err != nil {
		ts.t.Fatal(err)
	}
	return h
}

func slogTo(w *testkit.LogBuffer) *slog.Logger { return slog.New(slog.NewTextHandler(w, nil)) }
