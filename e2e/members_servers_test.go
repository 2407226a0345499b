package e2e

import (
	"context"
	"regexp"
	"testing"

	"github.com/playwright-community/playwright-go"

	"github.com/blnk-cloud/apikeys/db"
	"github.com/blnk-cloud/apikeys/e2e/internal/dashtest"
	"github.com/blnk-cloud/apikeys/internal/testkit"
)

// TestMemberChangesAcrossServers: two servers on one PostgreSQL
// database, as behind a load balancer. A removal or a role change made
// through server A takes effect on the person's very next request
// through server B: sessions and roles are rows of the shared database,
// read on every request, so nothing has to travel between the servers.
//   - A member with a page open on B is removed by the Owner on A: their
//     next click on B lands on sign-in.
//   - A Member with the create-key form open on B is made a Viewer on
//     A: submitting the form (without JavaScript) gets the 403 page,
//     and no key is written. With JavaScript the dialog's live checks
//     meet the 403 at moments the test cannot choose, so that case is
//     left to the HTTP role matrix (htmx requests included).
func TestMemberChangesAcrossServers(t *testing.T) {
	t.Parallel()
	dsn := testkit.PostgresDSN(t)
	a := &app{dashtest.StartOn(t, binPath, dsn)}
	b := &app{dashtest.StartOn(t, binPath, dsn)}
	a.createAdmin(t, "Acme Payments", "ada@acme.test", "correct horse battery")
	for _, email := range []string{"leaving@acme.test", "plain@acme.test"} {
		if out, err := a.cli(t, "correct horse battery\n", "members", "add", "--workspace", "Acme Payments", "--email", email, "--role", "member"); err != nil {
			t.Fatalf("members add %s: %v\n%s", email, err, out)
		}
	}
	storeMemberKeys(t, a, "leaving@acme.test", 2)

	owner := newPage(t, a, pageOptions{})
	signIn(t, owner, "ada@acme.test", "correct horse battery") // on A

	// Removed on A while a page is open on B.
	leaving := newPage(t, b, pageOptions{})
	signIn(t, leaving, "leaving@acme.test", "correct horse battery") // on B
	must(t, expect.Page(leaving).ToHaveURL(regexp.MustCompile(`^`+regexp.QuoteMeta(b.URL)+`/settings/api-keys$`)))
	goTo(t, owner, "/settings/members")
	row := owner.GetByRole("row").Filter(playwright.LocatorFilterOptions{HasText: "leaving@acme.test"})
	must(t, row.GetByRole("link", playwright.LocatorGetByRoleOptions{Name: "Remove"}).Click())
	must(t, owner.GetByLabel("Revoke them now").Check())
	must(t, owner.GetByRole("button", playwright.PageGetByRoleOptions{Name: "Remove member"}).Click())
	must(t, expect.Locator(owner.Locator(".flash")).ToContainText("2 keys"))
	must(t, expect.Page(owner).ToHaveURL(regexp.MustCompile(`^`+regexp.QuoteMeta(a.URL)+`/settings/members$`)))
	must(t, leaving.GetByRole("link", playwright.PageGetByRoleOptions{Name: "Audit log"}).Click())
	must(t, expect.Page(leaving).ToHaveURL(regexp.MustCompile(`^`+regexp.QuoteMeta(b.URL)+`/login`)))
	must(t, expect.Locator(leaving.GetByLabel("Password")).ToBeVisible())

	// Made a Viewer on A while the create-key form is open on B.
	demote := func(email string) {
		t.Helper()
		goTo(t, owner, "/settings/members")
		row := owner.GetByRole("row").Filter(playwright.LocatorFilterOptions{HasText: email})
		_, err := row.GetByLabel("Role of " + email).SelectOption(playwright.SelectOptionValues{Values: &[]string{"viewer"}})
		must(t, err)
		must(t, row.GetByRole("button", playwright.LocatorGetByRoleOptions{Name: "Change role"}).Click())
		must(t, expect.Locator(owner.GetByRole("row").Filter(playwright.LocatorFilterOptions{HasText: email}).GetByLabel("Role of "+email)).ToHaveValue("viewer"))
	}

	// Without JavaScript: the form is a page, and the post gets the 403
	// page.
	nojs := newPage(t, b, pageOptions{noJS: true})
	signIn(t, nojs, "plain@acme.test", "correct horse battery")
	goTo(t, nojs, b.URL+"/settings/api-keys/new")
	nojsName := uniq("Made after demotion, no JS")
	fillKeyForm(t, nojs, nojsName, []string{"mcp:read"}, "30 days", "")
	demote("plain@acme.test")
	allowStatus(nojs, 403)
	must(t, nojs.GetByRole("button", playwright.PageGetByRoleOptions{Name: "Create API Key"}).Click())
	must(t, expect.Locator(nojs.GetByRole("heading", playwright.PageGetByRoleOptions{Name: "Forbidden"})).ToBeVisible())
	must(t, expect.Locator(nojs.Locator(".error-card")).ToContainText("Creating keys needs the Member role or higher"))
	must(t, expect.Page(nojs).ToHaveURL(regexp.MustCompile(`^`+regexp.QuoteMeta(b.URL)+`/settings/api-keys$`)))

	// No key written.
	store, err := db.Open(context.Background(), dsn)
	must(t, err)
	defer store.Close()
	for _, name := range []string{nojsName} {
		var n int
		must(t, store.SQL().QueryRow(`SELECT count(*) FROM api_keys WHERE name = $1`, name).Scan(&n))
		if n != 0 {
			t.Errorf("%d keys named %q written after the demotion, want 0", n, name)
		}
	}
	// The list on A agrees.
	goTo(t, owner, "/settings/api-keys")
	must(t, expect.Locator(owner.GetByRole("heading", playwright.PageGetByRoleOptions{Name: "API Keys", Exact: playwright.Bool(true)})).ToBeVisible())
	for _, name := range []string{nojsName} {
		must(t, expect.Locator(owner.GetByRole("row").Filter(playwright.LocatorFilterOptions{HasText: name})).ToHaveCount(0))
	}
}
