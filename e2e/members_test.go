package e2e

import (
	"context"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/playwright-community/playwright-go"

	"github.com/blnk-cloud/apikeys/internal/apikey"
	"github.com/blnk-cloud/apikeys/internal/blnk"
)

// TestInviteAcceptInAnotherBrowser: an Owner invites a person, copies
// the link shown once, the person opens it in another browser context,
// sets a name and a password, lands in the workspace, and the Owner sees
// them listed as a Member. axe-core checks the members page, the link
// and the invitation page, on a desktop and a phone.
func TestInviteAcceptInAnotherBrowser(t *testing.T) {
	t.Parallel()
	a := startApp(t)
	a.createAdmin(t, "Acme Payments", "ada@acme.test", "correct horse battery")
	for _, o := range []pageOptions{{width: 1280}, {mobile: true, dark: true}} {
		o.axe = true
		owner := newPage(t, a, o)
		signIn(t, owner, "ada@acme.test", "correct horse battery")
		must(t, owner.GetByRole("link", playwright.PageGetByRoleOptions{Name: "Members"}).Click())
		must(t, expect.Page(owner).ToHaveURL(regexp.MustCompile(`/settings/members$`)))
		checkA11y(t, owner, "members page")

		name := uniq("Grace Hopper")
		email := strings.ReplaceAll(uniq("grace"), " ", "-") + "@acme.test"
		link := invite(t, owner, email, "member")
		checkA11y(t, owner, "the invitation link")

		guest := newPage(t, a, o) // another browser context: no cookie of the Owner's
		goTo(t, guest, link)
		must(t, expect.Locator(guest.GetByRole("heading", playwright.PageGetByRoleOptions{Name: "Join Acme Payments"})).ToBeVisible())
		checkA11y(t, guest, "invitation page")
		must(t, guest.GetByLabel("Your name").Fill(name))
		must(t, guest.GetByLabel("Choose a password").Fill("a long enough password"))
		must(t, guest.GetByRole("button", playwright.PageGetByRoleOptions{Name: "Join workspace"}).Click())
		must(t, expect.Page(guest).ToHaveURL(regexp.MustCompile(`/settings/api-keys$`)))
		must(t, expect.Locator(guest.Locator(".flash")).ToContainText("Welcome to Acme Payments"))

		goTo(t, owner, "/settings/members")
		row := owner.GetByRole("row").Filter(playwright.LocatorFilterOptions{HasText: name})
		must(t, expect.Locator(row).ToHaveCount(1))
		must(t, expect.Locator(row.GetByRole("combobox")).ToHaveValue("member"))
		must(t, expect.Locator(owner.Locator("table.invitations")).ToHaveCount(0)) // accepted: no longer pending
	}
}

// invite makes an invitation of email with role on the members page
// open in owner, and returns its link, shown once.
func invite(t *testing.T, owner playwright.Page, email, role string) string {
	t.Helper()
	must(t, owner.GetByLabel("Email").Fill(email))
	_, err := owner.GetByLabel("Role", playwright.PageGetByLabelOptions{Exact: playwright.Bool(true)}).SelectOption(playwright.SelectOptionValues{Values: &[]string{role}})
	must(t, err)
	must(t, owner.GetByRole("button", playwright.PageGetByRoleOptions{Name: "Create invitation link"}).Click())
	linkField := owner.GetByLabel("Invitation link")
	must(t, expect.Locator(linkField).ToHaveValue(regexp.MustCompile(`/invite/[A-Za-z0-9_-]{43}$`)))
	link, err := linkField.InputValue()
	must(t, err)
	return link
}

// TestInviteAcceptKeyboardOnly: an invitation accepted with the keyboard
// alone (Tab, Enter, Space, typing, after opening the link), the focus
// showing at every stop, once with JavaScript and once without: a new
// person sets a name and a password (a too short one first); a person
// with an account in another workspace signs in and joins.
func TestInviteAcceptKeyboardOnly(t *testing.T) {
	t.Parallel()
	a := startApp(t)
	a.createAdmin(t, "Acme Payments", "ada@acme.test", "correct horse battery")
	a.createAdmin(t, "Other Co", "olga@other.test", "correct horse battery")
	owner := newPage(t, a, pageOptions{})
	signIn(t, owner, "ada@acme.test", "correct horse battery")
	for _, noJS := range []bool{false, true} {
		mode := map[bool]string{false: "JavaScript", true: "no JavaScript"}[noJS]
		at := func(what string) string { return mode + ": " + what }

		// A new person.
		name := uniq("Grace Hopper")
		email := strings.ReplaceAll(uniq("grace"), " ", "-") + "@acme.test"
		goTo(t, owner, "/settings/members")
		link := invite(t, owner, email, "member")
		guest := newPage(t, a, pageOptions{noJS: noJS})
		allowStatus(guest, 422)
		kb := guest.Keyboard()
		goTo(t, guest, link)
		must(t, expect.Locator(guest.GetByRole("heading", playwright.PageGetByRoleOptions{Name: "Join Acme Payments"})).ToBeVisible())
		keyTo(t, guest, guest.GetByLabel("Your name"), at("invitation: name"))
		must(t, kb.Type(name))
		keyTo(t, guest, guest.GetByLabel("Choose a password"), at("invitation: password"))
		must(t, kb.Type("short"))
		must(t, kb.Press("Enter"))
		must(t, expect.Locator(guest.Locator("#f-password-problem")).ToBeVisible())
		keyTo(t, guest, guest.GetByLabel("Choose a password"), at("invitation again: password"))
		must(t, kb.Type("a long enough password"))
		keyTo(t, guest, guest.GetByRole("button", playwright.PageGetByRoleOptions{Name: "Join workspace"}), at("invitation: Join workspace"))
		must(t, kb.Press("Enter"))
		must(t, expect.Page(guest).ToHaveURL(regexp.MustCompile(`/settings/api-keys$`)))
		must(t, expect.Locator(guest.Locator(".flash")).ToContainText("Welcome to Acme Payments"))

		// A person with an account elsewhere.
		existing := strings.ReplaceAll(uniq("olaf"), " ", "-") + "@other.test"
		if out, err := a.cli(t, "correct horse battery\n", "members", "add", "--workspace", "Other Co", "--email", existing, "--role", "member"); err != nil {
			t.Fatalf("members add: %v\n%s", err, out)
		}
		goTo(t, owner, "/settings/members")
		link = invite(t, owner, existing, "viewer")
		known := newPage(t, a, pageOptions{noJS: noJS})
		kb = known.Keyboard()
		goTo(t, known, link)
		must(t, expect.Locator(known.GetByLabel("Email")).ToHaveValue(existing))
		keyTo(t, known, known.GetByLabel("Password"), at("invitation of an existing person: password"))
		must(t, kb.Type("correct horse battery"))
		keyTo(t, known, known.GetByRole("button", playwright.PageGetByRoleOptions{Name: "Sign in and join"}), at("invitation: Sign in and join"))
		must(t, kb.Press("Space"))
		must(t, expect.Page(known).ToHaveURL(regexp.MustCompile(`/settings/api-keys$`)))
		must(t, expect.Locator(known.Locator(".flash")).ToContainText("Welcome to Acme Payments"))

		goTo(t, owner, "/settings/members")
		for email, role := range map[string]string{email: "member", existing: "viewer"} {
			row := owner.GetByRole("row").Filter(playwright.LocatorFilterOptions{HasText: email})
			must(t, expect.Locator(row.GetByRole("combobox")).ToHaveValue(role))
		}
	}
}

// TestRemoveMemberInBrowser removes a member with their keys transferred,
// and another with their keys revoked: the confirmation lists the keys
// and chooses nothing by itself; the removed person's next click lands
// on sign-in.
func TestRemoveMemberInBrowser(t *testing.T) {
	t.Parallel()
	a := startApp(t)
	a.createAdmin(t, "Acme Payments", "ada@acme.test", "correct horse battery")
	for _, handOff := range []string{"transfer", "revoke"} {
		email := handOff + "@acme.test"
		if out, err := a.cli(t, "correct horse battery\n", "members", "add", "--workspace", "Acme Payments", "--email", email, "--role", "member"); err != nil {
			t.Fatalf("members add: %v\n%s", err, out)
		}
		keyNames := storeMemberKeys(t, a, email, 3)

		member := newPage(t, a, pageOptions{})
		signIn(t, member, email, "correct horse battery")

		owner := newPage(t, a, pageOptions{axe: true, width: 1280})
		signIn(t, owner, "ada@acme.test", "correct horse battery")
		goTo(t, owner, "/settings/members")
		row := owner.GetByRole("row").Filter(playwright.LocatorFilterOptions{HasText: email})
		must(t, row.GetByRole("link", playwright.LocatorGetByRoleOptions{Name: "Remove"}).Click())
		must(t, expect.Locator(owner.GetByRole("heading", playwright.PageGetByRoleOptions{Name: "Remove " + email})).ToBeVisible())
		keys := owner.Locator("table.member-keys tbody tr")
		must(t, expect.Locator(keys).ToHaveCount(3))
		for _, name := range keyNames {
			must(t, expect.Locator(keys.Filter(playwright.LocatorFilterOptions{HasText: name})).ToHaveCount(1))
		}
		checkA11y(t, owner, "removal confirmation")
		// No choice made: the form says so.
		allowStatus(owner, 422)
		must(t, owner.GetByRole("button", playwright.PageGetByRoleOptions{Name: "Remove member"}).Click())
		must(t, expect.Locator(owner.GetByRole("alert")).ToContainText("Choose what happens"))
		label := "Transfer them to me"
		if handOff == "revoke" {
			label = "Revoke them now"
		}
		must(t, owner.GetByLabel(label).Check())
		must(t, owner.GetByRole("button", playwright.PageGetByRoleOptions{Name: "Remove member"}).Click())
		must(t, expect.Page(owner).ToHaveURL(regexp.MustCompile(`/settings/members$`)))
		must(t, expect.Locator(owner.Locator(".flash")).ToContainText("3 keys"))
		must(t, expect.Locator(owner.GetByRole("row").Filter(playwright.LocatorFilterOptions{HasText: email})).ToHaveCount(0))

		goTo(t, owner, "/settings/api-keys")
		for _, name := range keyNames {
			status := "Active"
			if handOff == "revoke" {
				status = "Revoked"
			}
			must(t, expect.Locator(owner.GetByRole("row").Filter(playwright.LocatorFilterOptions{HasText: name})).ToContainText(status))
		}
		// The removed person's next click lands on sign-in.
		must(t, member.GetByRole("link", playwright.PageGetByRoleOptions{Name: "Audit log"}).Click())
		must(t, expect.Page(member).ToHaveURL(regexp.MustCompile(`/login`)))
	}
}

// storeMemberKeys stores n active keys made by the person of email
// straight into the app's database, and returns their names.
func storeMemberKeys(t *testing.T, a *app, email string, n int) []string {
	t.Helper()
	ctx := context.Background()
	store, login := openAsAdmin(t, a)
	defer store.Close()
	u, err := store.FindUser(ctx, email)
	must(t, err)
	var names []string
	for i := range n {
		token, err := apikey.Generate()
		must(t, err)
		prefix, _ := apikey.Parse(token)
		name := strings.SplitN(email, "@", 2)[0] + " key " + strconv.Itoa(i)
		_, _, err = store.CreateKey(ctx, blnk.NewKey{
			Key: apikey.Key{ID: apikey.NewID(), WorkspaceID: login.Workspace.ID, Name: name, Prefix: prefix,
				Scopes: apikey.Set(1), CreatedAt: time.Now().Add(-time.Hour)},
			Hash: apikey.HashOf(token), CreatedBy: u.ID, CreateToken: apikey.NewID(),
		})
		must(t, err)
		names = append(names, name)
	}
	return names
}

// TestWorkspaceSwitchInBrowser: a person of two workspaces opens the
// sidebar's workspace card, picks the other one, and the pages are that
// workspace's, with their role there; axe-core checks the open card.
func TestWorkspaceSwitchInBrowser(t *testing.T) {
	t.Parallel()
	a := startApp(t)
	a.createAdmin(t, "Acme Payments", "ada@acme.test", "correct horse battery")
	a.createAdmin(t, "Globex", "hank@globex.test", "correct horse battery")
	if out, err := a.cli(t, "", "members", "add", "--workspace", "Globex", "--email", "ada@acme.test", "--role", "viewer"); err != nil {
		t.Fatalf("members add: %v\n%s", err, out)
	}
	for _, o := range []pageOptions{{width: 1280}, {mobile: true, dark: true}} {
		o.axe = true
		page := newPage(t, a, o)
		signIn(t, page, "ada@acme.test", "correct horse battery")
		card := page.Locator("details.workspace-switch > summary")
		must(t, expect.Locator(card).ToContainText("Acme Payments"))
		must(t, card.Click())
		globex := page.GetByRole("button", playwright.PageGetByRoleOptions{Name: "Globex"})
		must(t, expect.Locator(globex).ToBeVisible())
		checkA11y(t, page, "the workspace card, open")
		must(t, globex.Click())
		must(t, expect.Page(page).ToHaveURL(regexp.MustCompile(`/settings/api-keys$`)))
		must(t, expect.Locator(card).ToContainText("Globex"))
		// A Viewer there: no Create API Key.
		must(t, expect.Locator(page.GetByRole("link", playwright.PageGetByRoleOptions{Name: "Create API Key"})).ToHaveCount(0))
		goTo(t, page, "/settings/audit-log")
		must(t, expect.Locator(card).ToContainText("Globex"))
	}
}

// TestMembersScreenshot draws the members page with a pending invitation
// (artifacts/members.png) for a look.
func TestMembersScreenshot(t *testing.T) {
	t.Parallel()
	a := startApp(t)
	a.createAdmin(t, "Acme Payments", "ada@acme.test", "correct horse battery")
	for _, who := range []string{"grace@acme.test member", "linus@acme.test viewer", "ken@acme.test admin"} {
		f := strings.Fields(who)
		if out, err := a.cli(t, "correct horse battery\n", "members", "add", "--workspace", "Acme Payments", "--email", f[0], "--role", f[1]); err != nil {
			t.Fatalf("members add: %v\n%s", err, out)
		}
	}
	storeMemberKeys(t, a, "grace@acme.test", 2)
	page := newPage(t, a, pageOptions{width: 1280})
	signIn(t, page, "ada@acme.test", "correct horse battery")
	goTo(t, page, "/settings/members")
	must(t, page.GetByLabel("Email").Fill("new@acme.test"))
	must(t, page.GetByRole("button", playwright.PageGetByRoleOptions{Name: "Create invitation link"}).Click())
	must(t, expect.Locator(page.GetByLabel("Invitation link")).ToBeVisible())
	shot(t, page, "members")
	row := page.GetByRole("row").Filter(playwright.LocatorFilterOptions{HasText: "grace@acme.test"})
	must(t, row.GetByRole("link", playwright.LocatorGetByRoleOptions{Name: "Remove"}).Click())
	must(t, expect.Locator(page.Locator("table.member-keys tbody tr")).ToHaveCount(2))
	shot(t, page, "members-remove")
}
