package e2e

import (
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/playwright-community/playwright-go"
)

var tokenRE = regexp.MustCompile(`^blnk_[0-9a-f]{8}[0-9A-Za-z]{38}$`)

// signedIn starts a dashboard with one admin and returns a signed-in page.
func signedIn(t *testing.T, o pageOptions) (*app, playwright.Page) {
	t.Helper()
	a := startApp(t)
	a.createAdmin(t, "Acme Payments", "ada@acme.test", "correct horse battery")
	page := newPage(t, a, o)
	signIn(t, page, "ada@acme.test", "correct horse battery")
	return a, page
}

func role(page playwright.Page, r playwright.AriaRole, name string) playwright.Locator {
	return page.GetByRole(r, playwright.PageGetByRoleOptions{Name: name})
}

func exactRole(page playwright.Page, r playwright.AriaRole, name string) playwright.Locator {
	return page.GetByRole(r, playwright.PageGetByRoleOptions{Name: name, Exact: playwright.Bool(true)})
}

// keyRow is the table row of the key named name.
func keyRow(page playwright.Page, name string) playwright.Locator {
	return page.Locator("tbody tr").Filter(playwright.LocatorFilterOptions{
		Has: page.GetByRole("link", playwright.PageGetByRoleOptions{Name: name, Exact: playwright.Bool(true)}),
	})
}

// fillKeyForm fills the create form (modal or page): scopes are the scope
// codes to tick ("*" for all), expires the label of an expiry choice.
func fillKeyForm(t *testing.T, page playwright.Page, name string, scopes []string, expires, date string) {
	t.Helper()
	must(t, page.GetByLabel("Name", playwright.PageGetByLabelOptions{Exact: playwright.Bool(true)}).Fill(name))
	for _, s := range scopes {
		must(t, page.GetByRole("checkbox", playwright.PageGetByRoleOptions{Name: s}).Check())
	}
	must(t, role(page, "radio", expires).Check())
	if date != "" {
		must(t, page.GetByLabel("Expiry date").Fill(date))
	}
}

// createKey creates a key through the modal and returns the token shown
// on the reveal page (which it leaves the browser on).
func createKey(t *testing.T, page playwright.Page, name string, scopes []string, expires, date string) string {
	t.Helper()
	must(t, role(page, "link", "Create API Key").Click())
	dialog := page.GetByRole("dialog", playwright.PageGetByRoleOptions{Name: "Create API Key"})
	must(t, expect.Locator(dialog).ToBeVisible())
	fillKeyForm(t, page, name, scopes, expires, date)
	must(t, dialog.GetByRole("button", playwright.LocatorGetByRoleOptions{Name: "Create API Key"}).Click())
	must(t, expect.Page(page).ToHaveURL(regexp.MustCompile(`/settings/api-keys/key_[0-9a-z]{20}/reveal$`)))
	must(t, expect.Locator(role(page, "heading", "Save your API key")).ToBeVisible())
	token, err := page.GetByLabel("Your new API key").InputValue()
	must(t, err)
	if !tokenRE.MatchString(token) {
		t.Fatalf("revealed token %q does not have the key format", token)
	}
	return token
}

func TestCreateKeyAllPermissionsCopyAndRevealOnce(t *testing.T) {
	t.Parallel()
	a, page := signedIn(t, pageOptions{})
	name := uniq("Production API Key")

	must(t, role(page, "link", "Create API Key").Click())
	dialog := page.GetByRole("dialog", playwright.PageGetByRoleOptions{Name: "Create API Key"})
	must(t, expect.Locator(dialog).ToBeVisible())
	must(t, expect.Locator(page.GetByLabel("Name", playwright.PageGetByLabelOptions{Exact: playwright.Bool(true)})).ToBeFocused())
	must(t, expect.Locator(page.GetByLabel("Role")).ToBeDisabled())
	must(t, expect.Locator(page.GetByLabel("Role")).ToHaveValue("Member"))
	shot(t, page, "create-modal")
	must(t, dialog.GetByRole("link", playwright.LocatorGetByRoleOptions{Name: "Cancel"}).Click())
	must(t, expect.Locator(dialog).ToHaveCount(0))

	token := createKey(t, page, name, []string{"*"}, "Never", "")
	must(t, expect.Locator(page.GetByText("This is the only time the key will be shown.")).ToBeVisible())
	shot(t, page, "reveal")

	// The copy button really copies.
	copyButton := exactRole(page, "button", "Copy")
	must(t, copyButton.Click())
	must(t, expect.Locator(page.GetByRole("status").Filter(playwright.LocatorFilterOptions{HasText: "Copied to the clipboard."})).ToBeVisible())
	clip, err := page.Evaluate("navigator.clipboard.readText()")
	must(t, err)
	if clip != token {
		t.Errorf("clipboard holds %q, want the token", clip)
	}
	revealURL := page.URL()

	// Reload: gone.
	_, err = page.Reload()
	must(t, err)
	must(t, expect.Locator(role(page, "heading", "This key can no longer be displayed")).ToBeVisible())
	must(t, expect.Locator(page.Locator("#main")).ToContainText(token[:13]+"..."))
	must(t, expect.Locator(page.GetByLabel("Your new API key")).ToHaveCount(0))
	shot(t, page, "reveal-gone")

	// Done, then the back button: still gone.
	must(t, role(page, "link", "Done").Click())
	must(t, expect.Page(page).ToHaveURL(regexp.MustCompile(`/settings/api-keys#key-row-key_[0-9a-z]+$`)))
	_, err = page.GoBack()
	must(t, err)
	must(t, expect.Locator(role(page, "heading", "This key can no longer be displayed")).ToBeVisible())

	// A second tab: gone.
	second, err := page.Context().NewPage()
	must(t, err)
	_, err = second.Goto(revealURL)
	must(t, err)
	must(t, expect.Locator(role(second, "heading", "This key can no longer be displayed")).ToBeVisible())
	body, err := second.Content()
	must(t, err)
	if strings.Contains(body, token) {
		t.Error("the second tab's page contains the token")
	}
	second.Close()

	// The list shows the key by its prefix (web/README.md, "The keys list").
	goTo(t, page, "/settings/api-keys")
	row := keyRow(page, name)
	must(t, expect.Locator(row).ToContainText(token[:13]+"..."))
	must(t, expect.Locator(row).ToContainText("All permissions"))
	must(t, expect.Locator(row).ToContainText("Member"))
	must(t, expect.Locator(row).ToContainText("Never"))
	must(t, expect.Locator(row.Locator("td[data-label='Last used']")).ToHaveText("Never"))
	must(t, expect.Locator(row).ToContainText("Active"))
	shot(t, page, "keys-list")

	if strings.Contains(a.Logs.String(), token) {
		t.Error("the server log contains the token")
	}
}

func TestCreateKeySpecificScopesAndDate(t *testing.T) {
	t.Parallel()
	_, page := signedIn(t, pageOptions{})
	name := uniq("Alerts Integration")
	day := time.Now().UTC().AddDate(0, 2, 0)
	createKey(t, page, name, []string{"mcp:read", "data:write"}, "A date", day.Format("2006-01-02"))
	must(t, role(page, "link", "Done").Click())
	row := keyRow(page, name)
	must(t, expect.Locator(row.Locator("td[data-label='Scopes']")).ToHaveText(regexp.MustCompile(`^\s*mcp:read\s*data:write\s*$`)))
	// The date, then the time left ("Feb 7, 2027 · in 63 days").
	must(t, expect.Locator(row.Locator("td[data-label='Expires']")).ToHaveText(regexp.MustCompile(`^\s*`+regexp.QuoteMeta(day.Format("Jan 2, 2006"))+` · in \d+ days\s*$`)))

	// Thirty days, the default quick choice.
	name30 := uniq("Thirty days")
	createKey(t, page, name30, []string{"proxy:read"}, "30 days", "")
	must(t, role(page, "link", "Done").Click())
	// Done comes back to the new key's row, which is highlighted (:target).
	must(t, expect.Locator(page.Locator("tbody tr:target")).ToContainText(name30))
	must(t, expect.Locator(page.Locator("tbody tr:target")).ToHaveCSS("animation-name", "flash-new"))
	want := time.Now().UTC().AddDate(0, 0, 30).Format("Jan 2, 2006")
	must(t, expect.Locator(keyRow(page, name30).Locator("td[data-label='Expires']")).ToHaveText(regexp.MustCompile(`^\s*`+regexp.QuoteMeta(want)+` · in 3[01] days\s*$`)))
	// Newest first.
	first := page.Locator("tbody tr").First().GetByRole("link")
	must(t, expect.Locator(first).ToHaveText(name30))
}

func TestCreateKeyValidationInModal(t *testing.T) {
	t.Parallel()
	a, page := signedIn(t, pageOptions{})
	allowStatus(page, 422)
	must(t, role(page, "link", "Create API Key").Click())
	dialog := page.GetByRole("dialog", playwright.PageGetByRoleOptions{Name: "Create API Key"})
	submit := dialog.GetByRole("button", playwright.LocatorGetByRoleOptions{Name: "Create API Key"})

	// Nothing filled in.
	must(t, page.GetByLabel("Name", playwright.PageGetByLabelOptions{Exact: playwright.Bool(true)}).Fill("   "))
	must(t, submit.Click())
	must(t, expect.Locator(dialog.Locator("#f-name-problem")).ToHaveText("Enter a name for the key."))
	must(t, expect.Locator(dialog.Locator("#f-scopes-problem")).ToHaveText("Choose at least one scope."))
	shot(t, page, "create-modal-errors")

	// A past date: the message next to the field, the input kept.
	long := strings.Repeat("x", 100)
	fillKeyForm(t, page, long, []string{"mcp:write"}, "A date", "2020-01-01")
	must(t, submit.Click())
	must(t, expect.Locator(dialog.Locator("#f-expires-problem")).ToHaveText("Choose a date after today."))
	must(t, expect.Locator(dialog.GetByText("Enter a name for the key.")).ToHaveCount(0))
	must(t, expect.Locator(page.GetByRole("checkbox", playwright.PageGetByRoleOptions{Name: "mcp:write"})).ToBeChecked())
	must(t, expect.Locator(page.GetByLabel("Expiry date")).ToHaveValue("2020-01-01"))
	must(t, expect.Locator(page.GetByLabel("Name", playwright.PageGetByLabelOptions{Exact: playwright.Bool(true)})).ToHaveValue(long))

	// "All permissions" turns the specific scopes off.
	must(t, page.GetByRole("checkbox", playwright.PageGetByRoleOptions{Name: "*"}).Check())
	must(t, expect.Locator(page.GetByRole("checkbox", playwright.PageGetByRoleOptions{Name: "mcp:write"})).ToBeDisabled())
	must(t, expect.Locator(page.GetByRole("checkbox", playwright.PageGetByRoleOptions{Name: "mcp:write"})).Not().ToBeChecked())

	// Fixed: it is created.
	fillKeyForm(t, page, "Fixed", nil, "Never", "")
	must(t, submit.Click())
	must(t, expect.Locator(role(page, "heading", "Save your API key")).ToBeVisible())
	if out, _ := a.cli(t, "", "keys", "revoke", "nonexistent"); !strings.Contains(out, "no key") {
		t.Errorf("keys revoke of an unknown key said %q", out)
	}
}

func TestDetailsPanelRevokeInPlace(t *testing.T) {
	t.Parallel()
	_, page := signedIn(t, pageOptions{})
	name := uniq("Testing")
	keep := uniq("Keep me")
	createKey(t, page, keep, []string{"proxy:write"}, "90 days", "")
	must(t, role(page, "link", "Done").Click())
	token := createKey(t, page, name, []string{"mcp:read", "mcp:write"}, "60 days", "")
	must(t, role(page, "link", "Done").Click())

	// A marker that a full page load would wipe out.
	_, err := page.Evaluate("window.__noReload = true")
	must(t, err)

	link := exactRole(page, "link", name)
	must(t, link.Click())
	panel := page.GetByRole("dialog", playwright.PageGetByRoleOptions{Name: name})
	must(t, expect.Locator(panel).ToBeVisible())
	must(t, expect.Locator(panel).ToContainText(token[:13]+"..."))
	must(t, expect.Locator(panel).ToContainText("Let AI agents read workspace data through the MCP server."))
	must(t, expect.Locator(panel).ToContainText("by ada@acme.test"))
	must(t, expect.Locator(panel).ToContainText("Member"))
	shot(t, page, "details-panel")

	// Esc closes it and gives focus back to the link.
	must(t, page.Keyboard().Press("Escape"))
	must(t, expect.Locator(panel).ToHaveCount(0))
	must(t, expect.Locator(link).ToBeFocused())

	// Revoke, but cancel.
	must(t, link.Click())
	must(t, panel.GetByRole("link", playwright.LocatorGetByRoleOptions{Name: "Revoke Key"}).Click())
	confirm := page.GetByRole("alertdialog", playwright.PageGetByRoleOptions{Name: "Revoke “" + name + "”?"})
	must(t, expect.Locator(confirm).ToBeVisible())
	shot(t, page, "revoke-confirm")
	must(t, confirm.GetByRole("link", playwright.LocatorGetByRoleOptions{Name: "Cancel"}).Click())
	must(t, expect.Locator(confirm).ToHaveCount(0))
	must(t, expect.Locator(panel).ToBeVisible())
	must(t, expect.Locator(keyRow(page, name)).ToContainText("Active"))

	// Revoke for real: the dialog closes, the panel and the row change in place.
	must(t, panel.GetByRole("link", playwright.LocatorGetByRoleOptions{Name: "Revoke Key"}).Click())
	must(t, confirm.GetByRole("button", playwright.LocatorGetByRoleOptions{Name: "Revoke Key"}).Click())
	must(t, expect.Locator(confirm).ToHaveCount(0))
	must(t, expect.Locator(panel.Locator(".badge")).ToHaveText("Revoked"))
	must(t, expect.Locator(panel).ToContainText("by ada@acme.test"))
	must(t, expect.Locator(panel.GetByRole("link", playwright.LocatorGetByRoleOptions{Name: "Revoke Key"})).ToHaveCount(0))
	shot(t, page, "details-revoked")
	must(t, page.Keyboard().Press("Escape"))
	must(t, expect.Locator(keyRow(page, name).Locator(".badge")).ToHaveText("Revoked"))
	must(t, expect.Locator(keyRow(page, keep).Locator(".badge")).ToHaveText("Active"))
	still, err := page.Evaluate("window.__noReload === true")
	must(t, err)
	if still != true {
		t.Error("the page was reloaded; the row should change in place")
	}

	// Revoked keys stay viewable but cannot be revoked again.
	goTo(t, page, "/settings/api-keys")
	must(t, expect.Locator(keyRow(page, name)).ToContainText("Revoked"))
	must(t, exactRole(page, "link", name).Click())
	must(t, expect.Locator(panel.GetByText("This key is revoked")).ToBeVisible())
}

func TestHTMLAndEmojiNameIsText(t *testing.T) {
	t.Parallel()
	_, page := signedIn(t, pageOptions{})
	page.OnDialog(func(d playwright.Dialog) {
		t.Errorf("a script ran: %s dialog %q", d.Type(), d.Message())
		d.Dismiss()
	})
	name := `<img src=x onerror=alert(1)> 🚀 “quoted” & <b>bold</b> 👩‍💻`
	createKey(t, page, name, []string{"*"}, "Never", "")
	must(t, expect.Locator(page.Locator("#main")).ToContainText(name))
	must(t, role(page, "link", "Done").Click())
	link := exactRole(page, "link", name)
	must(t, expect.Locator(link).ToHaveText(name))
	must(t, expect.Locator(page.Locator("tbody img, tbody b")).ToHaveCount(0))
	must(t, link.Click())
	must(t, expect.Locator(page.GetByRole("dialog", playwright.PageGetByRoleOptions{Name: name})).ToBeVisible())
	shot(t, page, "html-name")
}

func TestKeyboardOnlyCreation(t *testing.T) {
	t.Parallel()
	_, page := signedIn(t, pageOptions{})
	create := role(page, "link", "Create API Key")

	// Open with Enter, close with Esc: focus comes back to the button.
	must(t, create.Focus())
	must(t, page.Keyboard().Press("Enter"))
	dialog := page.GetByRole("dialog", playwright.PageGetByRoleOptions{Name: "Create API Key"})
	must(t, expect.Locator(dialog).ToBeVisible())
	must(t, page.Keyboard().Press("Escape"))
	must(t, expect.Locator(dialog).ToHaveCount(0))
	must(t, expect.Locator(create).ToBeFocused())

	// Open again; Tab stays inside the dialog.
	must(t, page.Keyboard().Press("Enter"))
	must(t, expect.Locator(dialog).ToBeVisible())
	nameField := page.GetByLabel("Name", playwright.PageGetByLabelOptions{Exact: playwright.Bool(true)})
	must(t, expect.Locator(nameField).ToBeFocused())
	must(t, page.Keyboard().Type("Keyboard key"))
	for range 40 {
		must(t, page.Keyboard().Press("Tab"))
		inside, err := page.Evaluate("!!document.activeElement.closest('dialog')")
		must(t, err)
		if inside != true {
			t.Fatal("focus left the dialog")
		}
	}
	// Tick "All permissions" with Space, then submit with Enter from the name field.
	must(t, page.GetByRole("checkbox", playwright.PageGetByRoleOptions{Name: "*"}).Focus())
	must(t, page.Keyboard().Press("Space"))
	must(t, nameField.Focus())
	must(t, page.Keyboard().Press("Enter"))
	must(t, expect.Locator(role(page, "heading", "Save your API key")).ToBeVisible())
	must(t, expect.Locator(page.Locator("#main")).ToContainText("Keyboard key"))
}

func TestWholeFlowWithoutJavaScript(t *testing.T) {
	t.Parallel()
	_, page := signedIn(t, pageOptions{noJS: true})
	allowStatus(page, 422)
	name := uniq("No JS key")

	must(t, role(page, "link", "Create API Key").Click())
	must(t, expect.Page(page).ToHaveURL(regexp.MustCompile(`/settings/api-keys/new$`)))
	must(t, expect.Locator(role(page, "heading", "Create API Key")).ToBeVisible())
	shot(t, page, "nojs-create")

	// A mistake first: the page comes back with the message and the input.
	fillKeyForm(t, page, name, []string{"*", "data:read"}, "Never", "")
	must(t, role(page, "button", "Create API Key").Click())
	must(t, expect.Locator(page.Locator("#f-scopes-problem")).ToContainText("All permissions (*) already includes every scope"))
	must(t, expect.Locator(page.GetByLabel("Name", playwright.PageGetByLabelOptions{Exact: playwright.Bool(true)})).ToHaveValue(name))
	must(t, page.GetByRole("checkbox", playwright.PageGetByRoleOptions{Name: "data:read"}).Uncheck())
	must(t, role(page, "button", "Create API Key").Click())

	must(t, expect.Locator(role(page, "heading", "Save your API key")).ToBeVisible())
	token, err := page.GetByLabel("Your new API key").InputValue()
	must(t, err)
	if !tokenRE.MatchString(token) {
		t.Fatalf("token %q", token)
	}
	must(t, expect.Locator(page.GetByRole("button", playwright.PageGetByRoleOptions{Name: "Copy", IncludeHidden: playwright.Bool(true)})).ToHaveCount(2))
	must(t, expect.Locator(page.Locator("button[data-copy]:visible")).ToHaveCount(0))
	_, err = page.Reload()
	must(t, err)
	must(t, expect.Locator(role(page, "heading", "This key can no longer be displayed")).ToBeVisible())

	must(t, role(page, "link", "Done").Click())
	must(t, exactRole(page, "link", name).Click())
	must(t, expect.Page(page).ToHaveURL(regexp.MustCompile(`/settings/api-keys/key_[0-9a-z]{20}$`)))
	must(t, expect.Locator(role(page, "heading", name)).ToBeVisible())
	shot(t, page, "nojs-details")
	must(t, role(page, "link", "Revoke Key").Click())
	must(t, expect.Page(page).ToHaveURL(regexp.MustCompile(`/revoke$`)))
	must(t, role(page, "button", "Revoke Key").Click())
	must(t, expect.Page(page).ToHaveURL(regexp.MustCompile(`/settings/api-keys/key_[0-9a-z]{20}$`)))
	must(t, expect.Locator(page.GetByText("The key “"+name+"” was revoked.")).ToBeVisible())
	must(t, expect.Locator(page.Locator(".details .badge")).ToHaveText("Revoked"))
	goTo(t, page, "/settings/api-keys")
	must(t, expect.Locator(keyRow(page, name).Locator(".badge")).ToHaveText("Revoked"))
}

func TestPhoneScreens(t *testing.T) {
	t.Parallel()
	_, page := signedIn(t, pageOptions{mobile: true})
	name := uniq("Phone key")
	shot(t, page, "phone-keys-empty")
	must(t, role(page, "link", "Create API Key").Click())
	must(t, expect.Locator(page.GetByRole("dialog")).ToBeVisible())
	shot(t, page, "phone-create-modal")
	must(t, page.Keyboard().Press("Escape"))
	createKey(t, page, name, []string{"mcp:read", "proxy:write"}, "90 days", "")
	shot(t, page, "phone-reveal")
	must(t, role(page, "link", "Done").Click())
	shot(t, page, "phone-keys-list")
	must(t, exactRole(page, "link", name).Click())
	must(t, expect.Locator(page.GetByRole("dialog", playwright.PageGetByRoleOptions{Name: name})).ToBeVisible())
	shot(t, page, "phone-details-panel")
	must(t, role(page, "link", "Revoke Key").Click())
	must(t, expect.Locator(page.GetByRole("alertdialog")).ToBeVisible())
	shot(t, page, "phone-revoke-confirm")
}

// TestStatusesInTheList shows every status at once: active keys with
// different scopes and expiries, one used through the API, one revoked in
// the dashboard and one that expired (written to the database directly,
// since the form refuses past dates).
func TestStatusesInTheList(t *testing.T) {
	t.Parallel()
	a, page := signedIn(t, pageOptions{})
	addExpiredKey(t, a, "Staging (2025)")
	var prod string
	for _, k := range []struct {
		name    string
		scopes  []string
		expires string
	}{
		{"Old CI runner", []string{"proxy:write"}, "60 days"},
		{"MCP agent", []string{"mcp:read", "mcp:write"}, "30 days"},
		{"Alerts Integration", []string{"data:read"}, "90 days"},
		{"Production API Key", []string{"*"}, "Never"},
	} {
		prod = createKey(t, page, k.name, k.scopes, k.expires, "")
		must(t, role(page, "link", "Done").Click())
	}

	if status, v := call(t, a, "/api/v1/whoami", "Authorization", prod); status != 200 {
		t.Fatalf("whoami: %d %v", status, v)
	}
	goTo(t, page, "/settings/api-keys")
	must(t, exactRole(page, "link", "Old CI runner").Click())
	must(t, role(page, "link", "Revoke Key").Click())
	must(t, page.GetByRole("alertdialog").GetByRole("button", playwright.LocatorGetByRoleOptions{Name: "Revoke Key"}).Click())
	must(t, page.Keyboard().Press("Escape"))

	for name, status := range map[string]string{
		"Production API Key": "Active", "Alerts Integration": "Active", "MCP agent": "Active",
		"Old CI runner": "Revoked", "Staging (2025)": "Expired",
	} {
		must(t, expect.Locator(keyRow(page, name).Locator(".badge")).ToHaveText(status))
		must(t, expect.Locator(keyRow(page, name).Locator(".badge")).ToHaveClass(regexp.MustCompile(`badge-`+strings.ToLower(status))))
	}
	_, err := page.Reload()
	must(t, err)
	must(t, expect.Locator(keyRow(page, "Production API Key").Locator("td[data-label='Last used']")).ToHaveText("just now"))
	must(t, expect.Locator(keyRow(page, "Staging (2025)").Locator("td[data-label='Expires']")).ToHaveText("Jan 31, 2026"))
	shot(t, page, "keys-list-statuses")
}
