package e2e

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/playwright-community/playwright-go"
)

// TestManagementTokenFromTheBrowser: a token made at /settings/tokens,
// copied from the page with its Copy button, works with Go's HTTP client
// against the management API, and acts as its person.
func TestManagementTokenFromTheBrowser(t *testing.T) {
	t.Parallel()
	a := startApp(t)
	a.createAdmin(t, "Acme Payments", "ada@acme.test", "correct horse battery")
	page := newPage(t, a, pageOptions{width: 1280})
	signIn(t, page, "ada@acme.test", "correct horse battery")
	// Tokens are the person's own: the account menu leads to them.
	must(t, accountMenu(page).Click())
	must(t, page.GetByRole("link", playwright.PageGetByRoleOptions{Name: "Management tokens"}).Click())
	must(t, page.GetByLabel("Name").Fill("Deploy pipeline"))
	must(t, page.Locator(`input[name=scopes][value="keys:write"]`).Check())
	must(t, page.GetByRole("button", playwright.PageGetByRoleOptions{Name: "Create token"}).Click())
	must(t, expect.Locator(page.GetByText("This token is shown once.")).ToBeVisible())
	must(t, page.GetByRole("button", playwright.PageGetByRoleOptions{Name: "Copy", Exact: playwright.Bool(true)}).Click())
	must(t, expect.Locator(page.GetByRole("status").Filter(playwright.LocatorFilterOptions{HasText: "Copied to the clipboard."})).ToBeVisible())
	clip, err := page.Evaluate("navigator.clipboard.readText()")
	must(t, err)
	token, _ := clip.(string)
	if !strings.HasPrefix(token, "blnkm_") {
		t.Fatalf("the clipboard holds %q", clip)
	}

	call := func(method, path, body string) (int, map[string]any) {
		req, err := http.NewRequest(method, a.URL+path, strings.NewReader(body))
		must(t, err)
		req.Header.Set("Authorization", "Bearer "+token)
		if body != "" {
			req.Header.Set("Content-Type", "application/json")
		}
		resp, err := http.DefaultClient.Do(req)
		must(t, err)
		defer resp.Body.Close()
		var out map[string]any
		must(t, json.NewDecoder(resp.Body).Decode(&out))
		return resp.StatusCode, out
	}
	code, created := call("POST", "/api/v1/keys", `{"name": "made with a token", "scopes": ["mcp:read"]}`)
	if code != http.StatusCreated || !strings.HasPrefix(fmt.Sprint(created["secret"]), "blnk_") {
		t.Fatalf("create with the copied token: %d %v", code, created)
	}
	code, list := call("GET", "/api/v1/keys", "")
	if code != http.StatusOK || len(list["data"].([]any)) != 1 {
		t.Fatalf("list: %d %v", code, list)
	}

	// The page lists the token as used, and the audit log says via it.
	goTo(t, page, "/settings/tokens")
	row := page.GetByRole("row").Filter(playwright.LocatorFilterOptions{HasText: "Deploy pipeline"})
	must(t, expect.Locator(row).Not().ToContainText("Never"))
	must(t, expect.Locator(page.Locator("#token-secret")).ToHaveCount(0))
	goTo(t, page, "/settings/audit-log?action=key.created")
	must(t, expect.Locator(page.Locator(".event-via").First()).ToHaveText("via token Deploy pipeline"))
}

// TestTokensPageScreenshots draws /settings/tokens with a new token's
// secret and a list, at 390, 1024 and 1440 px, light and dark, and checks
// each with axe-core.
func TestTokensPageScreenshots(t *testing.T) {
	t.Parallel()
	a := startApp(t)
	a.createAdmin(t, "Acme Payments", "ada@acme.test", "correct horse battery")
	for _, width := range []int{390, 1024, 1440} {
		for _, dark := range []bool{false, true} {
			page := newPage(t, a, pageOptions{width: width, mobile: width == 390, dark: dark, axe: true})
			signIn(t, page, "ada@acme.test", "correct horse battery")
			goTo(t, page, "/settings/tokens")
			must(t, page.GetByLabel("Name").Fill(fmt.Sprintf("CI %d", width)))
			must(t, page.Locator(`input[name=scopes][value="keys:read"]`).Check())
			must(t, page.Locator(`input[name=scopes][value="audit:read"]`).Check())
			must(t, page.GetByRole("button", playwright.PageGetByRoleOptions{Name: "Create token"}).Click())
			must(t, expect.Locator(page.Locator("#token-secret")).ToBeVisible())
			theme := "light"
			if dark {
				theme = "dark"
			}
			what := fmt.Sprintf("tokens %d %s", width, theme)
			checkA11y(t, page, what)
			shot(t, page, fmt.Sprintf("tokens-%d-%s", width, theme))
		}
	}
}

// TestTokenFormExpiryDate: the token form's "Expiry date" shows, and is
// a stop of Tab, only while "A date" is chosen, as on the key form;
// without JavaScript it stays in view (the server ignores it unless "A
// date" is chosen).
func TestTokenFormExpiryDate(t *testing.T) {
	t.Parallel()
	a := startApp(t)
	a.createAdmin(t, "Acme Payments", "ada@acme.test", "correct horse battery")
	page := newPage(t, a, pageOptions{width: 1280})
	signIn(t, page, "ada@acme.test", "correct horse battery")
	goTo(t, page, "/settings/tokens")
	date := page.GetByLabel("Expiry date")
	days90 := page.GetByRole("radio", playwright.PageGetByRoleOptions{Name: "90 days"})
	must(t, expect.Locator(days90).ToBeChecked())
	must(t, expect.Locator(date).ToBeHidden())
	// From the chosen expiry, Tab goes to the button, not the date.
	must(t, days90.Focus())
	must(t, page.Keyboard().Press("Tab"))
	must(t, expect.Locator(page.GetByRole("button", playwright.PageGetByRoleOptions{Name: "Create token"})).ToBeFocused())
	// "A date" shows it; another choice hides it again.
	must(t, page.GetByRole("radio", playwright.PageGetByRoleOptions{Name: "A date"}).Check())
	must(t, expect.Locator(date).ToBeVisible())
	must(t, page.GetByRole("radio", playwright.PageGetByRoleOptions{Name: "30 days"}).Check())
	must(t, expect.Locator(date).ToBeHidden())

	// Without JavaScript, the field is there to fill.
	nojs := newPage(t, a, pageOptions{width: 1280, noJS: true})
	signIn(t, nojs, "ada@acme.test", "correct horse battery")
	goTo(t, nojs, "/settings/tokens")
	must(t, expect.Locator(nojs.GetByLabel("Expiry date")).ToBeVisible())
}
