package e2e

import (
	"os"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/playwright-community/playwright-go"

	"github.com/blnk-cloud/apikeys/internal/twofactor"
)

// The pages of issues 17 and 18 (Signing in safely, the management API,
// the key policies), each flow completed with the keyboard alone: after a
// navigation, only page.Keyboard() (Tab, Enter, Space, Escape, typing),
// the focus visible at every stop (keyTo, or keyToBox for a checkbox,
// whose card draws the ring).

// keyToBox is keyTo for a checkbox or radio button inside its label
// card: Tab reaches the input, which is :focus-visible, and the card
// (the label, app.css's label:has(> input:focus-visible)) draws the ring.
func keyToBox(t *testing.T, page playwright.Page, input playwright.Locator, what string) {
	t.Helper()
	tabTo(t, page, input, what)
	visible, err := input.Evaluate("el => el.matches(':focus-visible')", nil)
	must(t, err)
	ring, err := input.Evaluate(`el => {
		const s = getComputedStyle(el.closest("label") || el);
		return [s.outlineStyle, s.outlineWidth, s.outlineColor].join(" | ");
	}`, nil)
	must(t, err)
	parts := strings.Split(ring.(string), " | ")
	width, _ := strconv.ParseFloat(strings.TrimSuffix(parts[1], "px"), 64)
	if visible != true || parts[0] == "none" || width < 2 || strings.Contains(parts[2], "rgba(0, 0, 0, 0)") {
		t.Errorf("%s: focused, but the focus does not show (:focus-visible %v, its card's outline %q)", what, visible, ring)
	}
}

// keySignOut signs out through the account menu, by keyboard.
func keySignOut(t *testing.T, page playwright.Page, what string) {
	t.Helper()
	keyTo(t, page, accountMenu(page), what+": the account menu")
	must(t, page.Keyboard().Press("Enter"))
	keyTo(t, page, role(page, "button", "Sign out"), what+": Sign out")
	must(t, page.Keyboard().Press("Enter"))
	must(t, expect.Page(page).ToHaveURL(regexp.MustCompile(`/login$`)))
}

// keySignIn types the email and the password on /login and presses
// Enter.
func keySignIn(t *testing.T, page playwright.Page, email, password, what string) {
	t.Helper()
	keyTo(t, page, page.GetByLabel("Email"), what+": email")
	must(t, page.Keyboard().Type(email))
	keyTo(t, page, page.GetByLabel("Password"), what+": password")
	must(t, page.Keyboard().Type(password))
	keyTo(t, page, exactRole(page, "button", "Sign in"), what+": Sign in")
	must(t, page.Keyboard().Press("Enter"))
}

// TestTwoFactorKeyboardOnly: an authenticator app set up from
// /settings/security with the keyboard alone (the test reads the setup
// key from the page, as a person reads it into their phone, and computes
// the code); the recovery codes downloaded and left with Done; then
// signing out and in again with the password and a code from the app (a
// wrong code first: the problem shows and the focus is back in the
// field), and once more with a recovery code instead; last, the app
// removed, which asks for sudo (answered with a recovery code).
func TestTwoFactorKeyboardOnly(t *testing.T) {
	t.Parallel()
	a, page := signedIn(t, pageOptions{width: 1280})
	allowStatus(page, 401, 422)
	kb := page.Keyboard()

	goTo(t, page, "/settings/security")
	keyTo(t, page, role(page, "link", "Set up authenticator app"), "security: Set up authenticator app")
	must(t, kb.Press("Enter"))
	must(t, expect.Locator(role(page, "heading", "Set up an authenticator app")).ToBeVisible())
	text, err := page.Locator("#totp-secret").TextContent()
	must(t, err)
	secret := strings.ReplaceAll(strings.TrimSpace(text), " ", "")
	if len(secret) != 32 {
		t.Fatalf("the secret on the page: %q", text)
	}
	enabledAt := time.Now()
	code, err := twofactor.Code(secret, enabledAt)
	must(t, err)
	keyTo(t, page, page.GetByLabel("Code"), "set-up: code")
	must(t, kb.Type(code))
	keyTo(t, page, role(page, "button", "Turn on"), "set-up: Turn on")
	must(t, kb.Press("Enter"))

	// The recovery codes: download them, then Done.
	must(t, expect.Locator(role(page, "heading", "Your recovery codes")).ToBeVisible())
	codes := page.Locator("#recovery-codes li")
	must(t, expect.Locator(codes).ToHaveCount(10))
	all, err := codes.AllTextContents()
	must(t, err)
	recovery, second := strings.TrimSpace(all[0]), strings.TrimSpace(all[1])
	download := role(page, "link", "Download as text")
	keyTo(t, page, download, "recovery codes: Download as text")
	dl, err := page.ExpectDownload(func() error { return kb.Press("Enter") })
	must(t, err)
	path, err := dl.Path()
	must(t, err)
	saved, err := os.ReadFile(path)
	must(t, err)
	if !strings.Contains(string(saved), recovery) {
		t.Errorf("the downloaded text lacks the codes:\n%s", saved)
	}
	keyTo(t, page, role(page, "link", "Done"), "recovery codes: Done")
	must(t, kb.Press("Enter"))
	must(t, expect.Page(page).ToHaveURL(regexp.MustCompile(`/settings/security$`)))
	must(t, expect.Locator(page.GetByText("10 recovery codes left.")).ToBeVisible())

	// Out, and in with the password and a code from the app.
	keySignOut(t, page, "after set-up")
	keySignIn(t, page, "ada@acme.test", "correct horse battery", "sign-in")
	must(t, expect.Page(page).ToHaveURL(regexp.MustCompile(`/login/two-factor$`)))
	codeField := page.GetByLabel("Code")
	keyTo(t, page, codeField, "two-factor: code")
	must(t, kb.Type("000000x"))
	keyTo(t, page, role(page, "button", "Verify"), "two-factor: Verify")
	must(t, kb.Press("Enter"))
	must(t, expect.Locator(page.GetByRole("alert")).ToBeVisible())
	must(t, expect.Locator(codeField).ToBeFocused()) // back where the code is typed
	keyTo(t, page, codeField, "two-factor again: code")
	// The code of set-up is used; the next step's is accepted one step
	// early (skew), so no waiting on the clock.
	at := time.Now()
	if at.Unix()/twofactor.Period == enabledAt.Unix()/twofactor.Period {
		at = at.Add(twofactor.Period * time.Second)
	}
	code, err = twofactor.Code(secret, at)
	must(t, err)
	must(t, kb.Type(code))
	keyTo(t, page, role(page, "button", "Verify"), "two-factor again: Verify")
	must(t, kb.Press("Enter"))
	must(t, expect.Page(page).ToHaveURL(regexp.MustCompile(`/settings/api-keys$`)))

	// Out, and in with a recovery code.
	keySignOut(t, page, "after the code")
	keySignIn(t, page, "ada@acme.test", "correct horse battery", "sign-in with a recovery code")
	must(t, expect.Page(page).ToHaveURL(regexp.MustCompile(`/login/two-factor$`)))
	keyTo(t, page, codeField, "two-factor with a recovery code: code")
	must(t, kb.Type(recovery))
	must(t, kb.Press("Enter"))
	must(t, expect.Page(page).ToHaveURL(regexp.MustCompile(`/settings/api-keys$`)))
	goTo(t, page, "/settings/security")
	must(t, expect.Locator(page.GetByText("9 recovery codes left.")).ToBeVisible())

	// Removing the app needs sudo: its code field (here with a recovery
	// code) is a Tab past the password.
	ageSudo(t, a)
	keyTo(t, page, role(page, "button", "Remove authenticator app"), "security: Remove authenticator app")
	must(t, kb.Press("Enter"))
	must(t, expect.Locator(role(page, "heading", "Confirm access")).ToBeVisible())
	keyTo(t, page, page.GetByLabel("Or a code from your authenticator app"), "sudo: code")
	must(t, kb.Type(second))
	keyTo(t, page, role(page, "button", "Confirm"), "sudo: Confirm")
	must(t, kb.Press("Enter"))
	must(t, expect.Page(page).ToHaveURL(regexp.MustCompile(`/settings/security$`)))
	must(t, expect.Locator(role(page, "link", "Set up authenticator app")).ToBeVisible())
}

// TestSudoKeyboardOnly: with the session's sudo time over, saving the key
// policies by keyboard answers with "Confirm access"; a wrong password
// first, then the right one typed and Enter, and the policies are saved
// with the values typed before. Then /sudo?next=... (where a page that
// needs sudo sends the browser) by keyboard lands on next. Last, an htmx
// action (a bulk revoke of two keys): the sudo form swapped in has the
// focus in its password, and Enter completes the revoke.
func TestSudoKeyboardOnly(t *testing.T) {
	t.Parallel()
	a, page := signedIn(t, pageOptions{width: 1280})
	allowStatus(page, 401)
	kb := page.Keyboard()

	ageSudo(t, a)
	goTo(t, page, "/settings/policies")
	keyTo(t, page, page.GetByLabel("Maximum lifetime, in days"), "policies: maximum lifetime")
	must(t, kb.Type("45"))
	expiry := page.GetByRole("checkbox", playwright.PageGetByRoleOptions{Name: "Require an expiry date"})
	keyToBox(t, page, expiry, "policies: Require an expiry date")
	must(t, kb.Press("Space"))
	keyTo(t, page, role(page, "button", "Save policies"), "policies: Save policies")
	must(t, kb.Press("Enter"))

	must(t, expect.Locator(role(page, "heading", "Confirm access")).ToBeVisible())
	password := page.GetByLabel("Password")
	keyTo(t, page, password, "sudo: password")
	must(t, kb.Type("not the password"))
	must(t, kb.Press("Enter"))
	must(t, expect.Locator(page.GetByRole("alert")).ToContainText("That password is not right."))
	keyTo(t, page, password, "sudo again: password")
	must(t, kb.Type("correct horse battery"))
	keyTo(t, page, role(page, "button", "Confirm"), "sudo: Confirm")
	must(t, kb.Press("Enter"))
	must(t, expect.Page(page).ToHaveURL(regexp.MustCompile(`/settings/policies$`)))
	must(t, expect.Locator(page.Locator(".flash")).ToContainText("Key policies saved."))
	must(t, expect.Locator(page.GetByLabel("Maximum lifetime, in days")).ToHaveValue("45"))
	must(t, expect.Locator(expiry).ToBeChecked())

	// A page that needs sudo sends the browser to /sudo?next=...
	ageSudo(t, a)
	goTo(t, page, "/sudo?next=/settings/policies")
	must(t, expect.Locator(role(page, "heading", "Confirm access")).ToBeVisible())
	keyTo(t, page, password, "sudo page: password")
	must(t, kb.Type("correct horse battery"))
	must(t, kb.Press("Enter"))
	must(t, expect.Page(page).ToHaveURL(regexp.MustCompile(`/settings/policies$`)))

	// An htmx form (a bulk revoke, confirmed in a dialog): htmx swaps
	// the sudo form in as the page, and the focus is in its password.
	one, two := uniq("Bulk one"), uniq("Bulk two")
	addKey(t, a, one, nil)
	addKey(t, a, two, nil)
	ageSudo(t, a)
	goTo(t, page, "/settings/api-keys")
	for _, n := range []string{one, two} {
		keyTo(t, page, page.GetByRole("checkbox", playwright.PageGetByRoleOptions{Name: n}), "bulk: the row of "+n)
		must(t, kb.Press("Space"))
	}
	keyTo(t, page, role(page, "button", "Revoke selected"), "bulk: Revoke selected")
	must(t, kb.Press("Enter"))
	bulk := role(page, "button", "Revoke 2 Keys")
	must(t, expect.Locator(page.GetByRole("alertdialog")).ToBeVisible())
	keyTo(t, page, bulk, "bulk: Revoke 2 Keys")
	must(t, kb.Press("Enter"))
	must(t, expect.Locator(role(page, "heading", "Confirm access")).ToBeVisible())
	must(t, expect.Locator(password).ToBeFocused())
	keyTo(t, page, password, "bulk's sudo: password")
	must(t, kb.Type("correct horse battery"))
	must(t, kb.Press("Enter"))
	must(t, expect.Page(page).ToHaveURL(regexp.MustCompile(`/settings/api-keys`)))
	for _, n := range []string{one, two} {
		must(t, expect.Locator(page.GetByRole("row").Filter(playwright.LocatorFilterOptions{HasText: n})).ToContainText("Revoked"))
	}
}

// TestKeyPoliciesKeyboardOnly: the key policies changed and saved with
// the keyboard: a wrong maximum lifetime first (the error summary takes
// the focus; its link leads to the field), then a right one, a Member
// scope ticked with Space, and Save.
func TestKeyPoliciesKeyboardOnly(t *testing.T) {
	t.Parallel()
	_, page := signedIn(t, pageOptions{width: 1280})
	allowStatus(page, 422)
	kb := page.Keyboard()

	goTo(t, page, "/settings/policies")
	lifetime := page.GetByLabel("Maximum lifetime, in days")
	keyTo(t, page, lifetime, "policies: maximum lifetime")
	must(t, kb.Type("9999"))
	save := role(page, "button", "Save policies")
	keyTo(t, page, save, "policies: Save policies")
	must(t, kb.Press("Enter"))
	summary := page.Locator("[data-error-summary]")
	must(t, expect.Locator(summary).ToBeVisible())
	must(t, expect.Locator(summary).ToBeFocused()) // what to fix is read first
	keyTo(t, page, summary.GetByRole("link").First(), "policies: the error summary's link")
	must(t, kb.Press("Enter"))
	must(t, expect.Locator(lifetime).ToBeFocused())
	must(t, kb.Press("Control+a"))
	must(t, kb.Type("60"))
	scope := page.Locator(`input[name=member_scopes][value="data:read"]`)
	keyToBox(t, page, scope, "policies: a Member scope")
	must(t, kb.Press("Space"))
	keyTo(t, page, save, "policies again: Save policies")
	must(t, kb.Press("Enter"))
	must(t, expect.Page(page).ToHaveURL(regexp.MustCompile(`/settings/policies$`)))
	must(t, expect.Locator(page.Locator(".flash")).ToContainText("Key policies saved."))
	must(t, expect.Locator(lifetime).ToHaveValue("60"))
	must(t, expect.Locator(scope).ToBeChecked())
}

// TestTokensKeyboardOnly: a management token created at /settings/tokens
// with the keyboard (a name, Enter: the error summary takes the focus and
// its link leads to the scopes; a scope ticked with Space, Enter), shown
// once with the focus on it, and copied with its Copy button; then revoked: the row's Revoke
// opens the confirmation, Esc closes it and gives the focus back to that
// Revoke, and the confirmation's Revoke token revokes it. Once with
// JavaScript and once without (no Copy button; the confirmation is a
// page).
func TestTokensKeyboardOnly(t *testing.T) {
	t.Parallel()
	a := startApp(t)
	a.createAdmin(t, "Acme Payments", "ada@acme.test", "correct horse battery")
	for _, noJS := range []bool{false, true} {
		mode := map[bool]string{false: "JavaScript", true: "no JavaScript"}[noJS]
		at := func(what string) string { return mode + ": " + what }
		page := newPage(t, a, pageOptions{noJS: noJS, width: 1280, axe: !noJS})
		allowStatus(page, 422)
		signIn(t, page, "ada@acme.test", "correct horse battery")
		kb := page.Keyboard()

		goTo(t, page, "/settings/tokens")
		name := uniq("Deploy pipeline")
		keyTo(t, page, page.GetByLabel("Name"), at("tokens: name"))
		must(t, kb.Type(name))
		create := role(page, "button", "Create token")
		keyTo(t, page, create, at("tokens: Create token"))
		must(t, kb.Press("Enter"))
		// No scope: the error summary has the focus and leads there.
		summary := page.Locator("[data-error-summary]")
		must(t, expect.Locator(summary).ToContainText("scope"))
		must(t, expect.Locator(summary).ToBeFocused())
		if !noJS {
			checkA11y(t, page, "tokens form with a problem")
			shot(t, page, "tokens-problem")
		}
		keyTo(t, page, summary.GetByRole("link"), at("tokens: the error summary's link"))
		must(t, kb.Press("Enter"))
		if !noJS {
			must(t, expect.Locator(page.Locator(`input[name=scopes][value="keys:read"]`)).ToBeFocused())
		}
		scope := page.Locator(`input[name=scopes][value="keys:write"]`)
		keyToBox(t, page, scope, at("tokens: the keys:write scope"))
		must(t, kb.Press("Space"))
		must(t, expect.Locator(scope).ToBeChecked())
		must(t, expect.Locator(page.GetByLabel("Name")).ToHaveValue(name)) // kept
		keyTo(t, page, create, at("tokens again: Create token"))
		must(t, kb.Press("Enter"))
		must(t, expect.Locator(page.GetByText("This token is shown once.")).ToBeVisible())
		secret := page.GetByLabel("Management token")
		must(t, expect.Locator(secret).ToHaveValue(regexp.MustCompile(`^blnkm_`)))
		must(t, expect.Locator(secret).ToBeFocused()) // the focus starts on what is shown once
		keyTo(t, page, secret, at("tokens: the secret"))
		if !noJS {
			keyTo(t, page, exactRole(page, "button", "Copy"), at("tokens: Copy"))
			must(t, kb.Press("Enter"))
			must(t, expect.Locator(page.Locator("#copy-status")).ToHaveText("Copied to the clipboard."))
			clip, err := page.Evaluate("navigator.clipboard.readText()")
			must(t, err)
			want, err := secret.InputValue()
			must(t, err)
			if clip != want {
				t.Errorf("%s: the clipboard holds %q, want the token", mode, clip)
			}
		}

		// Revoke it.
		row := page.GetByRole("row").Filter(playwright.LocatorFilterOptions{HasText: name})
		revoke := row.GetByRole("link", playwright.LocatorGetByRoleOptions{Name: "Revoke the token " + name})
		keyTo(t, page, revoke, at("tokens: the row's Revoke"))
		must(t, kb.Press("Enter"))
		confirm := role(page, "button", "Revoke token")
		if !noJS {
			dialog := page.GetByRole("alertdialog", playwright.PageGetByRoleOptions{Name: "Revoke the token “" + name + "”?"})
			must(t, expect.Locator(dialog).ToBeVisible())
			must(t, expect.Locator(dialog.Locator(":focus")).ToHaveCount(1)) // the focus moved in
			checkA11y(t, page, "the token's revoke confirmation")
			shot(t, page, "tokens-revoke-dialog")
			keyTo(t, page, dialog.GetByRole("link", playwright.LocatorGetByRoleOptions{Name: "Cancel"}), at("confirmation: Cancel"))
			keyTo(t, page, confirm, at("confirmation: Revoke token"))
			must(t, kb.Press("Escape"))
			must(t, expect.Locator(dialog).ToHaveCount(0))
			must(t, expect.Locator(revoke).ToBeFocused())
			keyTo(t, page, revoke, at("tokens: the row's Revoke, after Esc"))
			must(t, kb.Press("Enter"))
			must(t, expect.Locator(dialog).ToBeVisible())
		} else {
			must(t, expect.Page(page).ToHaveURL(regexp.MustCompile(`/settings/tokens/[^/]+/revoke$`)))
			must(t, expect.Locator(role(page, "heading", "Revoke the token “"+name+"”?")).ToBeVisible())
			shot(t, page, "tokens-revoke-page")
		}
		keyTo(t, page, confirm, at("confirmation: Revoke token"))
		must(t, kb.Press("Enter"))
		must(t, expect.Page(page).ToHaveURL(regexp.MustCompile(`/settings/tokens$`)))
		must(t, expect.Locator(page.Locator(".flash")).ToContainText("was revoked: it no longer works"))
		must(t, expect.Locator(row).ToContainText("Revoked"))
		must(t, expect.Locator(revoke).ToHaveCount(0))
	}
}
