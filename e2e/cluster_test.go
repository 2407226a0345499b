package e2e

import (
	"regexp"
	"testing"

	"github.com/playwright-community/playwright-go"

	"github.com/blnk-cloud/apikeys/e2e/internal/dashtest"
	"github.com/blnk-cloud/apikeys/internal/testkit"
)

// TestBrowserAcrossServers: behind a load balancer, a browser's requests
// go to any server. Signed in through A, it keeps working through B; a
// key revealed through A cannot be revealed again through B; a key
// revoked through B is refused by A at once; signing out through B ends
// the session on A too.
func TestBrowserAcrossServers(t *testing.T) {
	t.Parallel()
	dsn := testkit.PostgresDSN(t)
	a := &app{dashtest.StartOn(t, binPath, dsn)}
	b := &app{dashtest.StartOn(t, binPath, dsn)}
	a.createAdmin(t, "Acme Payments", "ada@acme.test", "correct horse battery")
	page := newPage(t, a, pageOptions{})
	signIn(t, page, "ada@acme.test", "correct horse battery") // on A

	// B knows the session.
	goTo(t, page, b.URL+"/settings/api-keys")
	must(t, expect.Page(page).ToHaveURL(regexp.MustCompile(`^`+regexp.QuoteMeta(b.URL)+`/settings/api-keys$`)))
	must(t, expect.Locator(exactRole(page, "heading", "API Keys")).ToBeVisible())

	// A key made and revealed through A ...
	goTo(t, page, a.URL+"/settings/api-keys")
	name := uniq("Across servers")
	token := createKey(t, page, name, []string{"mcp:read"}, "30 days", "")
	reveal := page.URL()[len(a.URL):]
	// ... cannot be revealed again through B.
	goTo(t, page, b.URL+reveal)
	must(t, expect.Locator(role(page, "heading", "This key can no longer be displayed")).ToBeVisible())

	// It works through B's API; revoked through B's panel, A refuses it.
	if status, _ := call(t, b, "/api/v1/whoami", "Authorization", token); status != 200 {
		t.Fatalf("whoami through B: %d, want 200", status)
	}
	goTo(t, page, b.URL+"/settings/api-keys")
	must(t, exactRole(page, "link", name).Click())
	panel := page.GetByRole("dialog", playwright.PageGetByRoleOptions{Name: name})
	must(t, panel.GetByRole("link", playwright.LocatorGetByRoleOptions{Name: "Revoke Key"}).Click())
	confirm := page.GetByRole("alertdialog", playwright.PageGetByRoleOptions{Name: "Revoke “" + name + "”?"})
	must(t, confirm.GetByRole("button", playwright.LocatorGetByRoleOptions{Name: "Revoke Key"}).Click())
	must(t, expect.Locator(panel.Locator(".details .badge")).ToHaveText("Revoked"))
	must(t, expect.Locator(panel).ToContainText("confirmed by 2 of 2 servers"))
	shot(t, page, "cluster-revoked-panel")
	if status, body := call(t, a, "/api/v1/whoami", "Authorization", token); status != 401 || errorCode(body) != "revoked_key" {
		t.Errorf("whoami through A after the revoke through B: %d %v, want 401 revoked_key", status, body)
	}

	// Signing out through B ends the session everywhere.
	goTo(t, page, b.URL+"/settings/api-keys")
	must(t, accountMenu(page).Click())
	must(t, role(page, "button", "Sign out").Click())
	must(t, expect.Page(page).ToHaveURL(regexp.MustCompile(`/login$`)))
	goTo(t, page, a.URL+"/settings/api-keys")
	must(t, expect.Page(page).ToHaveURL(regexp.MustCompile(`^`+regexp.QuoteMeta(a.URL)+`/login`)))
}
