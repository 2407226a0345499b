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
//     A: submitting the form is refused, and no key is written. Without
//     JavaScript the post gets the 403 page; with it, the dialog stays
//     and a notice says the server's sentence, which names the role.
func TestMemberChangesAcrossServers(t *testing.T) {
	t.Parallel()
	dsn := testkit.PostgresDSN(t)
	a := &app{dashtest.StartOn(t, binPath, dsn)}
	b := &app{dashtest.StartOn(t, binPath, dsn)}
	a.createAdmin(t, "Acme Payments", "ada@acme.test", "correct horse battery")
	for _, email := range []string{"leaving@acme.test", "plain@acme.test", "scripted@acme.test"} {
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

	// With JavaScript: the form is a dialog, and the refusal is said in
	// place, in the server's words. The name's live check answers before
	// the demotion (the test waits for it), so the submit is the only
	// request refused; were the check to meet the 403 too, its notice
	// would say the same sentence and not show twice (GetByText is
	// strict: two would fail).
	js := newPage(t, b, pageOptions{})
	allowStatus(js, 403)
	signIn(t, js, "scripted@acme.test", "correct horse battery")
	must(t, role(js, "link", "Create API Key").Click())
	dialog := js.GetByRole("dialog", playwright.PageGetByRoleOptions{Name: "Create API Key"})
	must(t, expect.Locator(dialog).ToBeVisible())
	jsName := uniq("Made after demotion, JS")
	_, err := js.ExpectResponse(regexp.MustCompile(`/settings/api-keys/name-check\?`), func() error {
		fillKeyForm(t, js, jsName, []string{"mcp:read"}, "30 days", "")
		return nil
	})
	must(t, err)
	demote("scripted@acme.test")
	refused, err := js.ExpectResponse(regexp.MustCompile(`^`+regexp.QuoteMeta(b.URL)+`/settings/api-keys$`), func() error {
		return dialog.GetByRole("button", playwright.LocatorGetByRoleOptions{Name: "Create API Key"}).Click()
	})
	must(t, err)
	if m, st := refused.Request().Method(), refused.Status(); m != "POST" || st != 403 {
		t.Errorf("the create request after the demotion: %s %d, want POST 403", m, st)
	}
	const sentence = "Creating keys needs the Member role or higher in this workspace. Ask an Owner or Admin to change your role."
	toast := js.Locator("#toasts").GetByText(sentence, playwright.LocatorGetByTextOptions{Exact: playwright.Bool(true)})
	must(t, expect.Locator(toast).ToBeVisible())
	must(t, expect.Locator(toast).ToHaveAttribute("role", "alert"))
	must(t, expect.Locator(dialog).ToBeVisible()) // what was typed is still there
	must(t, expect.Locator(js.GetByLabel("Name", playwright.PageGetByLabelOptions{Exact: playwright.Bool(true)})).ToHaveValue(jsName))
	must(t, expect.Page(js).ToHaveURL(regexp.MustCompile(`^`+regexp.QuoteMeta(b.URL)+`/settings/api-keys$`)))
	// Typing on makes the live name check meet the 403 as well: the same
	// sentence, so no second notice. The listener added after app.js's
	// runs after it: once it has counted the error, the notice is shown.
	_, err = js.Evaluate(`() => { window.refusals = 0; document.addEventListener("htmx:responseError", () => window.refusals++); }`)
	must(t, err)
	must(t, js.GetByLabel("Name", playwright.PageGetByLabelOptions{Exact: playwright.Bool(true)}).Fill(jsName+" again"))
	// (A promise, not WaitForFunction: the page's CSP forbids eval.)
	_, err = js.Evaluate(`() => new Promise(done => { const check = () => window.refusals >= 1 ? done() : setTimeout(check, 20); check(); })`)
	must(t, err)
	// Counted at once, not with a retrying assertion, which would wait
	// for the first notice to go (6 s). One, whether the first is still
	// there (and the second was not added) or had gone already.
	if n, err := js.Locator("#toasts .toast").Count(); err != nil || n != 1 {
		t.Errorf("notices after the second refusal: %d (%v), want 1", n, err)
	}
	must(t, expect.Locator(toast).ToBeVisible())

	// No key written, by either.
	store, err := db.Open(context.Background(), dsn)
	must(t, err)
	defer store.Close()
	for _, name := range []string{nojsName, jsName} {
		var n int
		must(t, store.SQL().QueryRow(`SELECT count(*) FROM api_keys WHERE name = $1`, name).Scan(&n))
		if n != 0 {
			t.Errorf("%d keys named %q written after the demotion, want 0", n, name)
		}
	}
	// The list on A agrees.
	goTo(t, owner, "/settings/api-keys")
	must(t, expect.Locator(owner.GetByRole("heading", playwright.PageGetByRoleOptions{Name: "API Keys", Exact: playwright.Bool(true)})).ToBeVisible())
	for _, name := range []string{nojsName, jsName} {
		must(t, expect.Locator(owner.GetByRole("row").Filter(playwright.LocatorFilterOptions{HasText: name})).ToHaveCount(0))
	}
}
