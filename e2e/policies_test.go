package e2e

import (
	"fmt"
	"regexp"
	"testing"

	"github.com/playwright-community/playwright-go"
)

// TestKeyPoliciesInBrowser: the Owner sets a maximum lifetime on the key
// policies page; the create form then refuses "Never" with the policy's
// message next to the Expires field, and a key made before shows
// "Non-compliant" in the list. The policies page is drawn at 390, 1024
// and 1440 px, light and dark, each checked by axe-core
// (artifacts/policies-WIDTH[-dark].png).
func TestKeyPoliciesInBrowser(t *testing.T) {
	t.Parallel()
	a := startApp(t)
	a.createAdmin(t, "Acme Payments", "ada@acme.test", "correct horse battery")
	old := uniq("Old CI key")
	addKey(t, a, old, []string{"*"}) // never expires

	page := newPage(t, a, pageOptions{width: 1360, axe: true})
	signIn(t, page, "ada@acme.test", "correct horse battery")
	must(t, page.GetByRole("link", playwright.PageGetByRoleOptions{Name: "Key policies"}).Click())
	must(t, expect.Page(page).ToHaveURL(regexp.MustCompile(`/settings/policies$`)))
	must(t, page.GetByLabel("Maximum lifetime, in days").Fill("30"))
	must(t, page.GetByRole("button", playwright.PageGetByRoleOptions{Name: "Save policies"}).Click())
	must(t, expect.Locator(page.Locator(".flash")).ToContainText("Key policies saved."))
	must(t, expect.Locator(page.Locator("#policy-banner")).ToContainText("1 working key breaks these policies"))
	checkA11y(t, page, "key policies page")

	goTo(t, page, "/settings/api-keys")
	row := page.GetByRole("row").Filter(playwright.LocatorFilterOptions{HasText: old})
	must(t, expect.Locator(row.Locator(".badge-noncompliant")).ToHaveText("Non-compliant"))

	must(t, page.GetByRole("link", playwright.PageGetByRoleOptions{Name: "Create API Key"}).First().Click())
	dialog := page.Locator("dialog[open]")
	must(t, expect.Locator(dialog.Locator("#policy-note")).ToContainText("Keys expire within 30 days"))
	must(t, dialog.GetByLabel("Name", playwright.LocatorGetByLabelOptions{Exact: playwright.Bool(true)}).Fill(uniq("Forever key")))
	must(t, dialog.Locator(`input[name=scopes][value="mcp:read"]`).Check())
	must(t, dialog.Locator("input[name=expires][value=never]").Check())
	allowStatus(page, 422)
	must(t, dialog.GetByRole("button", playwright.LocatorGetByRoleOptions{Name: "Create API Key"}).Click())
	problem := dialog.Locator("#f-expires #f-expires-problem")
	must(t, expect.Locator(problem).ToContainText("Your workspace's policy allows keys to live at most 30 days"))
	must(t, expect.Locator(problem).ToContainText("(Key policies)"))
	checkA11y(t, page, "create form refused by the key policies")

	for _, dark := range []bool{false, true} {
		for _, w := range []int{390, 1024, 1440} {
			o := pageOptions{width: w, dark: dark, axe: true, mobile: w == 390}
			p := newPage(t, a, o)
			signIn(t, p, "ada@acme.test", "correct horse battery")
			goTo(t, p, "/settings/policies")
			must(t, expect.Locator(p.GetByLabel("Maximum lifetime, in days")).ToHaveValue("30"))
			name := fmt.Sprintf("policies-%d", w)
			if dark {
				name += "-dark"
			}
			checkA11y(t, p, name)
			shot(t, p, name)
		}
	}
}
