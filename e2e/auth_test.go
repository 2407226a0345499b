package e2e

import (
	"regexp"
	"testing"

	"github.com/playwright-community/playwright-go"
)

// TestFirstRunSetupSignOutSignIn walks a new install: setup, sign out, a
// wrong password, and signing in again.
func TestFirstRunSetupSignOutSignIn(t *testing.T) {
	t.Parallel()
	a := startApp(t)
	page := newPage(t, a, pageOptions{})
	allowStatus(page, 401, 404, 422)

	// A fresh install sends every page to setup.
	goTo(t, page, "/")
	must(t, expect.Page(page).ToHaveURL(regexp.MustCompile(`/setup$`)))
	must(t, expect.Locator(page.GetByRole("heading", playwright.PageGetByRoleOptions{Name: "Set up your workspace"})).ToBeVisible())
	shot(t, page, "setup")

	// Too short: the problem, the focus on the summary of problems, and
	// not the hint that says the same. Once long enough, the problem goes
	// and the hint comes back.
	password := page.GetByLabel("Password", playwright.PageGetByLabelOptions{Exact: playwright.Bool(true)})
	hint := page.GetByText("At least 12 characters.", playwright.PageGetByTextOptions{Exact: playwright.Bool(true)})
	must(t, expect.Locator(hint).ToBeVisible())
	must(t, page.GetByLabel("Workspace name").Fill("Acme Payments"))
	must(t, page.GetByLabel("Admin email").Fill("ada@acme.test"))
	must(t, password.Fill("too short"))
	must(t, page.GetByRole("button", playwright.PageGetByRoleOptions{Name: "Create workspace"}).Click())
	must(t, expect.Locator(page.Locator("#f-password-problem")).ToHaveText("Use at least 12 characters."))
	must(t, expect.Locator(page.Locator(".error-summary")).ToBeFocused())
	must(t, expect.Locator(hint).ToBeHidden())
	must(t, expect.Locator(password).ToHaveAttribute("aria-describedby", "f-password-problem"))
	must(t, password.Fill("correct horse"))
	must(t, expect.Locator(page.Locator("#f-password-problem")).ToHaveCount(0))
	must(t, expect.Locator(hint).ToBeVisible())
	must(t, expect.Locator(password).ToHaveAttribute("aria-describedby", "f-password-hint"))
	must(t, expect.Locator(page.Locator(".error-summary")).ToHaveCount(0))

	// Mismatched passwords: a clear message, the input kept.
	must(t, page.GetByLabel("Workspace name").Fill("Acme Payments"))
	must(t, page.GetByLabel("Admin email").Fill("ada@acme.test"))
	must(t, page.GetByLabel("Password", playwright.PageGetByLabelOptions{Exact: playwright.Bool(true)}).Fill("correct horse battery"))
	must(t, page.GetByLabel("Confirm password").Fill("correct horse battery!"))
	must(t, page.GetByRole("button", playwright.PageGetByRoleOptions{Name: "Create workspace"}).Click())
	must(t, expect.Locator(page.Locator("#f-confirm-problem")).ToHaveText("The passwords do not match."))
	must(t, expect.Locator(page.GetByLabel("Workspace name")).ToHaveValue("Acme Payments"))
	shot(t, page, "setup-error")

	must(t, page.GetByLabel("Password", playwright.PageGetByLabelOptions{Exact: playwright.Bool(true)}).Fill("correct horse battery"))
	must(t, page.GetByLabel("Confirm password").Fill("correct horse battery"))
	must(t, page.GetByRole("button", playwright.PageGetByRoleOptions{Name: "Create workspace"}).Click())

	// Signed in, on an empty API keys page.
	must(t, expect.Page(page).ToHaveURL(regexp.MustCompile(`/settings/api-keys$`)))
	must(t, expect.Locator(page.GetByRole("heading", playwright.PageGetByRoleOptions{Name: "API Keys", Level: playwright.Int(1)})).ToBeVisible())
	must(t, expect.Locator(page.GetByText("No API keys yet")).ToBeVisible())
	must(t, expect.Locator(page.GetByRole("link", playwright.PageGetByRoleOptions{Name: "Create API Key"})).ToBeVisible())
	must(t, expect.Locator(page.Locator(".workspace-name")).ToHaveText("Acme Payments"))
	shot(t, page, "keys-empty")

	// Setup is gone for good.
	resp := goTo(t, page, "/setup")
	if resp.Status() != 404 {
		t.Errorf("GET /setup after setup: status %d, want 404", resp.Status())
	}
	must(t, expect.Locator(page.GetByRole("heading", playwright.PageGetByRoleOptions{Name: "Page not found"})).ToBeVisible())
	// Signed in, inside the app: its navigation and account menu stay.
	must(t, expect.Locator(page.GetByRole("navigation", playwright.PageGetByRoleOptions{Name: "Settings"})).ToBeVisible())
	must(t, expect.Locator(accountMenu(page)).ToBeVisible())
	must(t, expect.Locator(page.Locator(".nav-link[aria-current]")).ToHaveCount(0))
	shot(t, page, "not-found")

	// Sign out from the user menu.
	goTo(t, page, "/settings/api-keys")
	must(t, accountMenu(page).Click())
	must(t, page.GetByRole("button", playwright.PageGetByRoleOptions{Name: "Sign out"}).Click())
	must(t, expect.Page(page).ToHaveURL(regexp.MustCompile(`/login$`)))
	must(t, expect.Locator(page.GetByText("You have been signed out.")).ToBeVisible())
	goTo(t, page, "/settings/api-keys")
	must(t, expect.Page(page).ToHaveURL(regexp.MustCompile(`/login\?next=`)))

	// A wrong password: one message that does not say whether the email exists.
	must(t, page.GetByLabel("Email").Fill("ada@acme.test"))
	must(t, page.GetByLabel("Password").Fill("not the password"))
	must(t, page.GetByRole("button", playwright.PageGetByRoleOptions{Name: "Sign in", Exact: playwright.Bool(true)}).Click())
	must(t, expect.Locator(page.GetByRole("alert")).ToContainText("The email or password is not right."))
	must(t, expect.Locator(page.GetByLabel("Email")).ToHaveValue("ada@acme.test"))
	// The email is kept: the password is what to type again.
	must(t, expect.Locator(page.GetByLabel("Password")).ToBeFocused())
	shot(t, page, "login-error")

	must(t, page.GetByLabel("Email").Fill("nobody@acme.test"))
	must(t, page.GetByLabel("Password").Fill("not the password"))
	must(t, page.GetByRole("button", playwright.PageGetByRoleOptions{Name: "Sign in", Exact: playwright.Bool(true)}).Click())
	must(t, expect.Locator(page.GetByRole("alert")).ToContainText("The email or password is not right."))

	// The right one, and back to the page asked for.
	signIn(t, page, "ada@acme.test", "correct horse battery")
}

// TestSignInPageAndNotFound covers an admin made by the command line, the
// sign-in page, and the 404 page in the same look.
func TestSignInPageAndNotFound(t *testing.T) {
	t.Parallel()
	a := startApp(t)
	a.createAdmin(t, "Globex", "hank@globex.test", "a long enough password")
	page := newPage(t, a, pageOptions{})
	allowStatus(page, 404)

	// Signed out, a wrong address gets the page on its own.
	resp := goTo(t, page, "/no/such/page")
	if resp.Status() != 404 {
		t.Errorf("status %d, want 404", resp.Status())
	}
	must(t, expect.Locator(page.GetByRole("heading", playwright.PageGetByRoleOptions{Name: "Page not found"})).ToBeVisible())
	must(t, expect.Locator(page.Locator(".sidebar")).ToHaveCount(0))

	goTo(t, page, "/")
	must(t, expect.Page(page).ToHaveURL(regexp.MustCompile(`/login$`)))
	shot(t, page, "login")
	signIn(t, page, "HANK@globex.test", "a long enough password")

	resp = goTo(t, page, "/no/such/page")
	if resp.Status() != 404 {
		t.Errorf("status %d, want 404", resp.Status())
	}
	must(t, expect.Locator(page.GetByRole("heading", playwright.PageGetByRoleOptions{Name: "Page not found"})).ToBeVisible())
	must(t, expect.Locator(page.GetByRole("navigation", playwright.PageGetByRoleOptions{Name: "Settings"})).ToBeVisible())
	must(t, page.GetByRole("link", playwright.PageGetByRoleOptions{Name: "Go to API Keys"}).Click())
	must(t, expect.Page(page).ToHaveURL(regexp.MustCompile(`/settings/api-keys$`)))
}
