package e2e

import (
	"fmt"
	"net"
	"regexp"
	"strings"
	"testing"

	"github.com/playwright-community/playwright-go"

	"github.com/blnk-cloud/apikeys/internal/testkit"
)

// startMailApp starts the dashboard with email through a fresh mailpit,
// its public URL its own address (a port chosen before it starts), as
// http://localhost:PORT.
func startMailApp(t *testing.T) (*app, *testkit.Mailpit) {
	t.Helper()
	mp := testkit.StartMailpit(t)
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	// localhost, not 127.0.0.1: the public URL is passkeys' too, and
	// browsers refuse passkeys on an IP address (the start says so).
	port := addr[strings.LastIndex(addr, ":")+1:]
	a := startApp(t, "--listen", addr, "--public-url", "http://localhost:"+port,
		"--smtp-url", "smtp://"+mp.SMTP, "--smtp-from", "Blnk Cloud <keys@acme.test>")
	return atLocalhost(t, a), mp
}

// emailedLink is the link of path's kind ("/invite/", "/password/reset/")
// in an email's text.
func emailedLink(t *testing.T, a *app, text, path string) string {
	t.Helper()
	m := regexp.MustCompile(regexp.QuoteMeta(a.URL+path) + `[A-Za-z0-9_-]{43}`).FindString(text)
	if m == "" {
		t.Fatalf("no %s link of %s in the email:\n%s", path, a.URL, text)
	}
	return m
}

// TestInviteAndResetByEmail: an Owner invites a person by email through
// a real SMTP server (mailpit); the person opens the emailed link in
// another browser context, sets a password and joins; the Owner sees
// them. Then the person forgets their password: "Forgot password?"
// emails a link, which sets a new one and signs out their session.
func TestInviteAndResetByEmail(t *testing.T) {
	t.Parallel()
	a, mp := startMailApp(t)
	a.createAdmin(t, "Acme Payments", "ada@acme.test", "correct horse battery")
	owner := newPage(t, a, pageOptions{axe: true, width: 1280})
	signIn(t, owner, "ada@acme.test", "correct horse battery")
	goTo(t, owner, "/settings/members")

	name := uniq("Grace Hopper")
	email := strings.ReplaceAll(uniq("grace"), " ", "-") + "@acme.test"
	must(t, owner.GetByLabel("Email").Fill(email))
	must(t, owner.GetByRole("button", playwright.PageGetByRoleOptions{Name: "Create invitation link"}).Click())
	must(t, expect.Locator(owner.GetByLabel("Invitation link")).ToHaveValue(regexp.MustCompile(`/invite/[A-Za-z0-9_-]{43}$`)))
	must(t, expect.Locator(owner.Locator("#invitation-emailed")).ToContainText("also emailed to "+email))
	checkA11y(t, owner, "members page with an emailed invitation")

	invitation := mp.WaitFor(t, email, 1)
	if !strings.Contains(invitation.Subject, "Acme Payments") || invitation.HTML == "" {
		t.Errorf("the invitation email: %q, HTML %d bytes", invitation.Subject, len(invitation.HTML))
	}
	guest := newPage(t, a, pageOptions{axe: true, mobile: true})
	goTo(t, guest, emailedLink(t, a, invitation.Text, "/invite/"))
	must(t, guest.GetByLabel("Your name").Fill(name))
	must(t, guest.GetByLabel("Choose a password").Fill("a long enough password"))
	must(t, guest.GetByRole("button", playwright.PageGetByRoleOptions{Name: "Join workspace"}).Click())
	must(t, expect.Page(guest).ToHaveURL(regexp.MustCompile(`/settings/api-keys$`)))

	goTo(t, owner, "/settings/members")
	must(t, expect.Locator(owner.GetByRole("row").Filter(playwright.LocatorFilterOptions{HasText: name})).ToHaveCount(1))

	// Forgot password, in a third browser.
	lost := newPage(t, a, pageOptions{axe: true, width: 1024})
	goTo(t, lost, "/login")
	must(t, lost.GetByRole("link", playwright.PageGetByRoleOptions{Name: "Forgot password?"}).Click())
	must(t, expect.Page(lost).ToHaveURL(regexp.MustCompile(`/password/forgot$`)))
	checkA11y(t, lost, "forgot password page")
	must(t, lost.GetByLabel("Email").Fill(email))
	must(t, lost.GetByRole("button", playwright.PageGetByRoleOptions{Name: "Email me a link"}).Click())
	must(t, expect.Locator(lost.GetByRole("status")).ToContainText("If an account has this email"))

	reset := mp.WaitFor(t, email, 2)
	if reset.Subject != "Choose a new password for Blnk Cloud" {
		t.Errorf("the reset email: %q", reset.Subject)
	}
	goTo(t, lost, emailedLink(t, a, reset.Text, "/password/reset/"))
	must(t, expect.Locator(lost.GetByRole("heading", playwright.PageGetByRoleOptions{Name: "Choose a new password"})).ToBeVisible())
	checkA11y(t, lost, "reset password page")
	must(t, lost.GetByLabel("New password", playwright.PageGetByLabelOptions{Exact: playwright.Bool(true)}).Fill("a brand new password"))
	must(t, lost.GetByLabel("Confirm new password").Fill("a brand new password"))
	must(t, lost.GetByRole("button", playwright.PageGetByRoleOptions{Name: "Set password"}).Click())
	must(t, expect.Page(lost).ToHaveURL(regexp.MustCompile(`/login$`)))
	must(t, expect.Locator(lost.GetByRole("status")).ToContainText("Your password was changed"))

	// The session of the invitation ended; the new password signs in.
	must(t, guest.GetByRole("link", playwright.PageGetByRoleOptions{Name: "Audit log"}).Click())
	must(t, expect.Page(guest).ToHaveURL(regexp.MustCompile(`/login`)))
	signIn(t, lost, email, "a brand new password")
	if strings.Contains(a.Logs.String(), emailedLink(t, a, reset.Text, "/password/reset/")[len(a.URL+"/password/reset/"):]) {
		t.Error("the server's log holds the reset token")
	}
}

// TestSessionsInBrowser: a person signed in twice sees both sessions,
// this one marked, signs the other out, and the other browser's next
// click lands on sign-in.
func TestSessionsInBrowser(t *testing.T) {
	t.Parallel()
	a := startApp(t)
	a.createAdmin(t, "Acme Payments", "ada@acme.test", "correct horse battery")
	other := newPage(t, a, pageOptions{mobile: true})
	signIn(t, other, "ada@acme.test", "correct horse battery")
	me := newPage(t, a, pageOptions{axe: true, width: 1280})
	signIn(t, me, "ada@acme.test", "correct horse battery")
	goTo(t, me, "/settings/security/sessions")
	rows := me.Locator("table.sessions tbody tr")
	must(t, expect.Locator(rows).ToHaveCount(2))
	must(t, expect.Locator(rows.First()).ToContainText("This session"))
	must(t, expect.Locator(rows.First()).ToContainText("Chrome on Linux"))
	checkA11y(t, me, "sessions page")
	must(t, rows.Nth(1).GetByRole("button", playwright.LocatorGetByRoleOptions{Name: "Sign out"}).Click())
	must(t, expect.Locator(me.Locator(".flash")).ToContainText("That session was signed out"))
	must(t, expect.Locator(rows).ToHaveCount(1))
	must(t, other.GetByRole("link", playwright.PageGetByRoleOptions{Name: "Audit log"}).Click())
	must(t, expect.Page(other).ToHaveURL(regexp.MustCompile(`/login`)))
}

// TestPasswordPagesScreens: the forgot password page, a reset link's
// page, the members page with a reset link shown, and the sessions page,
// at 390, 1024 and 1440 px, light and dark, each checked by axe-core
// and saved in artifacts/.
func TestPasswordPagesScreens(t *testing.T) {
	t.Parallel()
	a, _ := startMailApp(t)
	a.createAdmin(t, "Acme Payments", "ada@acme.test", "correct horse battery")
	if out, err := a.cli(t, "correct horse battery\n", "members", "add", "--workspace", "Acme Payments", "--email", "grace@acme.test", "--role", "member"); err != nil {
		t.Fatalf("members add: %v\n%s", err, out)
	}
	out, err := a.cli(t, "", "members", "reset-link", "--email", "grace@acme.test", "--public-url", a.URL)
	if err != nil {
		t.Fatalf("members reset-link: %v\n%s", err, out)
	}
	link := emailedLink(t, a, out, "/password/reset/")
	for _, width := range []int{390, 1024, 1440} {
		for _, dark := range []bool{false, true} {
			o := pageOptions{axe: true, width: width, dark: dark, mobile: width == 390}
			theme := map[bool]string{false: "light", true: "dark"}[dark]
			name := func(page string) string { return fmt.Sprintf("password-%s-%d-%s", page, width, theme) }

			anon := newPage(t, a, o)
			goTo(t, anon, "/password/forgot")
			checkA11y(t, anon, name("forgot"))
			shot(t, anon, name("forgot"))
			goTo(t, anon, link)
			must(t, expect.Locator(anon.GetByLabel("New password", playwright.PageGetByLabelOptions{Exact: playwright.Bool(true)})).ToBeVisible())
			checkA11y(t, anon, name("reset"))
			shot(t, anon, name("reset"))

			me := newPage(t, a, o)
			signIn(t, me, "ada@acme.test", "correct horse battery")
			goTo(t, me, "/settings/members")
			row := me.GetByRole("row").Filter(playwright.LocatorFilterOptions{HasText: "grace@acme.test"})
			must(t, row.GetByRole("button", playwright.LocatorGetByRoleOptions{Name: "Reset link"}).Click())
			must(t, expect.Locator(me.GetByRole("textbox", playwright.PageGetByRoleOptions{Name: "Password reset link"})).ToHaveValue(regexp.MustCompile(`/password/reset/[A-Za-z0-9_-]{43}$`)))
			checkA11y(t, me, name("members-reset-link"))
			shot(t, me, name("members-reset-link"))
			goTo(t, me, "/settings/security/sessions")
			must(t, expect.Locator(me.Locator("table.sessions tbody tr").First()).ToContainText("This session"))
			checkA11y(t, me, name("sessions"))
			shot(t, me, name("sessions"))
		}
	}
}

// TestPasswordFlowsKeyboardOnly: "Forgot password?", the emailed reset
// link and the sessions on /settings/security, each reached and
// completed with the keyboard alone (Tab, Enter, Space, typing; the
// test navigates only to open the emailed link and the security page),
// the focus showing at every stop; once with JavaScript and once
// without, where every form is a plain post.
func TestPasswordFlowsKeyboardOnly(t *testing.T) {
	t.Parallel()
	a, mp := startMailApp(t)
	a.createAdmin(t, "Acme Payments", "ada@acme.test", "correct horse battery")
	for _, noJS := range []bool{false, true} {
		mode := map[bool]string{false: "JavaScript", true: "no JavaScript"}[noJS]
		email := strings.ReplaceAll(uniq("kim"), " ", "-") + "@acme.test"
		if out, err := a.cli(t, "correct horse battery\n", "members", "add", "--workspace", "Acme Payments", "--email", email, "--role", "member"); err != nil {
			t.Fatalf("members add: %v\n%s", err, out)
		}
		page := newPage(t, a, pageOptions{noJS: noJS})
		allowStatus(page, 422)
		kb := page.Keyboard()
		at := func(what string) string { return mode + ": " + what }

		// Forgot password, from the sign-in page.
		goTo(t, page, "/login")
		forgot := page.GetByRole("link", playwright.PageGetByRoleOptions{Name: "Forgot password?"})
		keyTo(t, page, forgot, at("Forgot password? link"))
		must(t, kb.Press("Enter"))
		must(t, expect.Page(page).ToHaveURL(regexp.MustCompile(`/password/forgot$`)))
		keyTo(t, page, page.GetByLabel("Email"), at("forgot: email"))
		must(t, kb.Type(email))
		keyTo(t, page, page.GetByRole("button", playwright.PageGetByRoleOptions{Name: "Email me a link"}), at("forgot: Email me a link"))
		must(t, kb.Press("Enter"))
		must(t, expect.Locator(page.GetByRole("status")).ToContainText("If an account has this email"))

		// The emailed link: a mismatch first, then a new password.
		goTo(t, page, emailedLink(t, a, mp.WaitFor(t, email, 1).Text, "/password/reset/"))
		newPassword := page.GetByLabel("New password", playwright.PageGetByLabelOptions{Exact: playwright.Bool(true)})
		confirm := page.GetByLabel("Confirm new password")
		keyTo(t, page, newPassword, at("reset: new password"))
		must(t, kb.Type("a brand new password"))
		keyTo(t, page, confirm, at("reset: confirm"))
		must(t, kb.Type("another new password"))
		must(t, kb.Press("Enter"))
		summary := page.Locator("[data-error-summary]")
		must(t, expect.Locator(summary).ToContainText("The passwords do not match."))
		must(t, expect.Locator(summary).ToBeFocused()) // what to fix is read first
		keyTo(t, page, newPassword, at("reset again: new password"))
		must(t, kb.Type("a brand new password"))
		keyTo(t, page, confirm, at("reset again: confirm"))
		must(t, kb.Type("a brand new password"))
		keyTo(t, page, page.GetByRole("button", playwright.PageGetByRoleOptions{Name: "Set password"}), at("reset: Set password"))
		must(t, kb.Press("Space"))
		must(t, expect.Page(page).ToHaveURL(regexp.MustCompile(`/login$`)))
		must(t, expect.Locator(page.GetByRole("status")).ToContainText("Your password was changed"))

		// Sign in with it; two other browsers sign in too.
		keyTo(t, page, page.GetByLabel("Email"), at("sign-in: email"))
		must(t, kb.Type(email))
		keyTo(t, page, page.GetByLabel("Password"), at("sign-in: password"))
		must(t, kb.Type("a brand new password"))
		must(t, kb.Press("Enter"))
		must(t, expect.Page(page).ToHaveURL(regexp.MustCompile(`/settings/api-keys$`)))
		others := []playwright.Page{newPage(t, a, pageOptions{}), newPage(t, a, pageOptions{})}
		for _, o := range others {
			signIn(t, o, email, "a brand new password")
		}

		// Sessions: sign out one, then all the others.
		goTo(t, page, "/settings/security")
		rows := page.Locator("#sessions tbody tr")
		must(t, expect.Locator(rows).ToHaveCount(3))
		other := rows.Filter(playwright.LocatorFilterOptions{HasNotText: "This session"}).First()
		keyTo(t, page, other.GetByRole("button", playwright.LocatorGetByRoleOptions{Name: "Sign out"}), at("sessions: Sign out"))
		must(t, kb.Press("Enter"))
		must(t, expect.Locator(page.Locator(".flash")).ToContainText("That session was signed out"))
		must(t, expect.Page(page).ToHaveURL(regexp.MustCompile(`/settings/security$`)))
		must(t, expect.Locator(rows).ToHaveCount(2))
		keyTo(t, page, page.GetByRole("button", playwright.PageGetByRoleOptions{Name: "Sign out all other sessions"}), at("sessions: Sign out all other sessions"))
		must(t, kb.Press("Space"))
		must(t, expect.Locator(page.Locator(".flash")).ToContainText("1 other session was signed out"))
		must(t, expect.Locator(rows).ToHaveCount(1))
		must(t, expect.Locator(page.Locator("#sessions")).ToContainText("This is your only session."))
		for _, o := range others {
			must(t, o.GetByRole("link", playwright.PageGetByRoleOptions{Name: "Audit log"}).Click())
			must(t, expect.Page(o).ToHaveURL(regexp.MustCompile(`/login`)))
		}
	}
}
