package e2e

import (
	"regexp"
	"testing"

	"github.com/playwright-community/playwright-go"
)

// a11yVariants are the screens every page is checked on: desktop and
// phone, each in the light and the dark theme (the system's preference).
var a11yVariants = []struct {
	name string
	o    pageOptions
}{
	{"desktop-light", pageOptions{width: 1280}},
	{"desktop-dark", pageOptions{width: 1280, dark: true}},
	{"phone-light", pageOptions{mobile: true}},
	{"phone-dark", pageOptions{mobile: true, dark: true}},
}

// TestAccessibility runs axe-core on every page and dialog, in every
// variant, and fails on any violation. Each state is also a screenshot,
// artifacts/a11y-VARIANT-STATE.png.
func TestAccessibility(t *testing.T) {
	t.Parallel()
	for _, v := range a11yVariants {
		t.Run(v.name, func(t *testing.T) {
			t.Parallel()
			o := v.o
			o.axe = true
			a := startApp(t)
			page := newPage(t, a, o)
			allowStatus(page, 401, 404, 422)
			check := func(p playwright.Page, state string) {
				t.Helper()
				checkA11y(t, p, v.name+" "+state)
				shot(t, p, "a11y-"+v.name+"-"+state)
			}
			button := func(name string) playwright.Locator { return role(page, "button", name) }

			// Setup, then its problems.
			goTo(t, page, "/")
			must(t, expect.Locator(role(page, "heading", "Set up your workspace")).ToBeVisible())
			check(page, "setup")
			must(t, page.GetByLabel("Admin email").Fill("ada@acme"))
			must(t, page.GetByLabel("Password", playwright.PageGetByLabelOptions{Exact: playwright.Bool(true)}).Fill("short"))
			must(t, button("Create workspace").Click())
			must(t, expect.Locator(page.Locator("#f-password-problem")).ToHaveText("Use at least 12 characters."))
			check(page, "setup-errors")
			must(t, page.GetByLabel("Workspace name").Fill("Acme Payments"))
			must(t, page.GetByLabel("Admin email").Fill("ada@acme.test"))
			must(t, page.GetByLabel("Password", playwright.PageGetByLabelOptions{Exact: playwright.Bool(true)}).Fill("correct horse battery"))
			must(t, page.GetByLabel("Confirm password").Fill("correct horse battery"))
			must(t, button("Create workspace").Click())

			// The empty list, and the account menu.
			must(t, expect.Page(page).ToHaveURL(regexp.MustCompile(`/settings/api-keys$`)))
			must(t, expect.Locator(page.GetByText("No API keys yet")).ToBeVisible())
			check(page, "list-empty")
			must(t, accountMenu(page).Click())
			must(t, expect.Locator(button("Sign out")).ToBeVisible())
			check(page, "account-menu")
			must(t, page.Keyboard().Press("Escape"))

			// The create dialog, empty, with problems, with warnings.
			addKey(t, a, "Production API Key", nil)
			must(t, role(page, "link", "Create API Key").Click())
			dialog := page.GetByRole("dialog", playwright.PageGetByRoleOptions{Name: "Create API Key"})
			must(t, expect.Locator(dialog).ToBeVisible())
			check(page, "create-modal")
			submit := dialog.GetByRole("button", playwright.LocatorGetByRoleOptions{Name: "Create API Key"})
			must(t, role(page, "radio", "A date").Check())
			must(t, page.GetByLabel("Expiry date").Fill("2020-01-01"))
			must(t, submit.Click())
			must(t, expect.Locator(dialog.GetByText("Choose at least one scope.").First()).ToBeVisible())
			check(page, "create-modal-errors")
			must(t, page.GetByLabel("Name", playwright.PageGetByLabelOptions{Exact: playwright.Bool(true)}).Fill("Production API Key"))
			must(t, page.GetByRole("checkbox", playwright.PageGetByRoleOptions{Name: "*"}).Check())
			must(t, role(page, "radio", "Never").Check())
			must(t, expect.Locator(dialog.GetByText("Another active key is already named")).ToBeVisible())
			must(t, expect.Locator(dialog.GetByText("All permissions, and it never expires.")).ToBeVisible())
			check(page, "create-modal-warnings")

			// The one-time reveal, and the page once the key is gone.
			must(t, submit.Click())
			must(t, expect.Locator(role(page, "heading", "Save your API key")).ToBeVisible())
			check(page, "reveal")
			_, err := page.Reload()
			must(t, err)
			must(t, expect.Locator(role(page, "heading", "This key can no longer be displayed")).ToBeVisible())
			check(page, "reveal-gone")

			// The list with keys of every status, the panel, the revoke.
			addExpiredKey(t, a, "Staging (2025)")
			addKey(t, a, "Old CI runner", []string{"proxy:read", "proxy:write", "data:read"})
			must(t, role(page, "link", "Done").Click())
			must(t, expect.Locator(keyRow(page, "Old CI runner")).ToBeVisible())
			check(page, "list")
			must(t, exactRole(page, "link", "Old CI runner").Click())
			panel := page.GetByRole("dialog", playwright.PageGetByRoleOptions{Name: "Old CI runner"})
			must(t, expect.Locator(panel).ToBeVisible())
			check(page, "details-panel")
			must(t, panel.GetByRole("link", playwright.LocatorGetByRoleOptions{Name: "Revoke Key"}).Click())
			confirm := page.GetByRole("alertdialog")
			must(t, expect.Locator(confirm).ToBeVisible())
			check(page, "revoke-confirm")
			must(t, confirm.GetByRole("button", playwright.LocatorGetByRoleOptions{Name: "Revoke Key"}).Click())
			must(t, expect.Locator(confirm).ToHaveCount(0))
			must(t, expect.Locator(panel.GetByText("This key is revoked")).ToBeVisible())
			check(page, "details-revoked")
			must(t, page.Keyboard().Press("Escape"))
			must(t, expect.Locator(keyRow(page, "Old CI runner").Locator(".badge")).ToHaveText("Revoked"))
			check(page, "list-statuses")

			// Not found, inside the app.
			goTo(t, page, "/no/such/page")
			must(t, expect.Locator(role(page, "heading", "Page not found")).ToBeVisible())
			check(page, "not-found")

			// Signed out: sign-in, and a failed sign-in.
			must(t, accountMenu(page).Click())
			must(t, button("Sign out").Click())
			must(t, expect.Page(page).ToHaveURL(regexp.MustCompile(`/login$`)))
			check(page, "sign-in")
			must(t, page.GetByLabel("Email").Fill("ada@acme.test"))
			must(t, page.GetByLabel("Password").Fill("not the password"))
			must(t, button("Sign in").Click())
			must(t, expect.Locator(page.GetByRole("alert")).ToContainText("The email or password is not right."))
			check(page, "sign-in-error")

			// The pages a browser without JavaScript gets.
			o.appScriptsOff = true
			nojs := newPage(t, a, o)
			allowStatus(nojs, 422)
			signIn(t, nojs, "ada@acme.test", "correct horse battery")
			check(nojs, "nojs-list")
			must(t, role(nojs, "link", "Create API Key").Click())
			must(t, expect.Page(nojs).ToHaveURL(regexp.MustCompile(`/settings/api-keys/new$`)))
			check(nojs, "nojs-create")
			must(t, role(nojs, "button", "Create API Key").Click())
			must(t, expect.Locator(nojs.GetByText("Enter a name for the key.").First()).ToBeVisible())
			check(nojs, "nojs-create-errors")
			goTo(t, nojs, "/settings/api-keys")
			must(t, exactRole(nojs, "link", "Production API Key").First().Click())
			must(t, expect.Locator(role(nojs, "heading", "Production API Key")).ToBeVisible())
			check(nojs, "nojs-details")
			must(t, role(nojs, "link", "Revoke Key").Click())
			must(t, expect.Page(nojs).ToHaveURL(regexp.MustCompile(`/revoke$`)))
			check(nojs, "nojs-revoke")
		})
	}
}
