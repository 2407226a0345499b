package e2e

import (
	"os/exec"
	"regexp"
	"strings"
	"testing"

	"github.com/playwright-community/playwright-go"
)

// panelOf opens the details panel of the key named name from the list.
func panelOf(t *testing.T, page playwright.Page, name string) playwright.Locator {
	t.Helper()
	must(t, exactRole(page, "link", name).Click())
	panel := page.GetByRole("dialog", playwright.PageGetByRoleOptions{Name: name})
	must(t, expect.Locator(panel).ToBeVisible())
	return panel
}

func TestRenameInThePanel(t *testing.T) {
	t.Parallel()
	_, page := signedIn(t, pageOptions{})
	allowStatus(page, 422)
	name := uniq("Billing job")
	createKey(t, page, name, []string{"data:read"}, "90 days", "")
	must(t, role(page, "link", "Done").Click())
	_, err := page.Evaluate("window.__noReload = true")
	must(t, err)

	panel := panelOf(t, page, name)
	must(t, panel.GetByRole("link", playwright.LocatorGetByRoleOptions{Name: "Edit", Exact: playwright.Bool(true)}).Click())
	nameField := panel.GetByLabel("Name", playwright.LocatorGetByLabelOptions{Exact: playwright.Bool(true)})
	must(t, expect.Locator(nameField).ToBeFocused())
	must(t, expect.Locator(nameField).ToHaveValue(name))

	must(t, panel.GetByLabel("Description").Fill("Runs nightly.\nOwner: the billing team."))
	shot(t, page, "edit-form")

	// A mistake: the message in the panel, the input kept.
	must(t, nameField.Fill("   "))
	must(t, panel.GetByRole("button", playwright.LocatorGetByRoleOptions{Name: "Save changes"}).Click())
	must(t, expect.Locator(panel.GetByText("Enter a name for the key.")).ToBeVisible())
	must(t, expect.Locator(panel.GetByLabel("Description")).ToHaveValue("Runs nightly.\nOwner: the billing team."))
	must(t, expect.Locator(nameField).ToBeFocused())
	shot(t, page, "edit-form-error")

	renamed := uniq("Billing job (prod)")
	must(t, nameField.Fill(renamed))
	must(t, panel.GetByRole("button", playwright.LocatorGetByRoleOptions{Name: "Save changes"}).Click())

	// The panel and the row change in place.
	renamedPanel := page.GetByRole("dialog", playwright.PageGetByRoleOptions{Name: renamed})
	must(t, expect.Locator(renamedPanel).ToBeVisible())
	must(t, expect.Locator(renamedPanel.GetByRole("heading", playwright.LocatorGetByRoleOptions{Name: renamed})).ToBeVisible())
	must(t, expect.Locator(renamedPanel.Locator(".description")).ToHaveText("Runs nightly.\nOwner: the billing team."))
	must(t, expect.Locator(renamedPanel).ToContainText("Key edited"))
	must(t, expect.Locator(page.GetByRole("status").Filter(playwright.LocatorFilterOptions{HasText: "Changes saved."})).ToBeVisible())
	shot(t, page, "edit-saved")
	must(t, page.Keyboard().Press("Escape"))
	must(t, expect.Locator(exactRole(page, "link", renamed)).ToBeVisible())
	must(t, expect.Locator(exactRole(page, "link", name)).ToHaveCount(0))
	still, err := page.Evaluate("window.__noReload === true")
	must(t, err)
	if still != true {
		t.Error("the page was reloaded; the row should change in place")
	}

	// Cancel goes back to the details without saving.
	panel = panelOf(t, page, renamed)
	must(t, panel.GetByRole("link", playwright.LocatorGetByRoleOptions{Name: "Edit", Exact: playwright.Bool(true)}).Click())
	must(t, panel.GetByLabel("Name", playwright.LocatorGetByLabelOptions{Exact: playwright.Bool(true)}).Fill("Not saved"))
	must(t, panel.GetByRole("link", playwright.LocatorGetByRoleOptions{Name: "Cancel"}).Click())
	must(t, expect.Locator(panel.GetByRole("link", playwright.LocatorGetByRoleOptions{Name: "Edit", Exact: playwright.Bool(true)})).ToBeVisible())
	must(t, expect.Locator(panel.Locator(".details-list")).ToContainText(renamed))
}

func TestRollWithAnHourOfOverlap(t *testing.T) {
	t.Parallel()
	a, page := signedIn(t, pageOptions{})
	name := uniq("Payments webhook")
	oldToken := createKey(t, page, name, []string{"mcp:read", "proxy:write"}, "30 days", "")
	must(t, role(page, "link", "Done").Click())

	panel := panelOf(t, page, name)
	must(t, panel.GetByRole("link", playwright.LocatorGetByRoleOptions{Name: "Roll key"}).Click())
	dialog := page.GetByRole("dialog", playwright.PageGetByRoleOptions{Name: "Roll “" + name + "”"})
	must(t, expect.Locator(dialog).ToBeVisible())
	must(t, expect.Locator(dialog).ToContainText("made to expire 30 days after its creation"))
	must(t, expect.Locator(dialog.GetByRole("radio", playwright.LocatorGetByRoleOptions{Name: "24 hours"})).ToBeChecked())
	must(t, dialog.GetByRole("radio", playwright.LocatorGetByRoleOptions{Name: "1 hour"}).Check())
	shot(t, page, "roll-dialog")
	must(t, dialog.GetByRole("button", playwright.LocatorGetByRoleOptions{Name: "Roll key"}).Click())

	// The new key, once, with a copy button that copies it.
	must(t, expect.Page(page).ToHaveURL(regexp.MustCompile(`/settings/api-keys/key_[0-9a-z]{20}/reveal$`)))
	must(t, expect.Locator(role(page, "heading", "Save your API key")).ToBeVisible())
	must(t, expect.Locator(page.GetByRole("note").Filter(playwright.LocatorFilterOptions{HasText: "This key replaces"})).ToContainText("stops working in 1 hour"))
	newToken, err := page.GetByLabel("Your new API key").InputValue()
	must(t, err)
	if !tokenRE.MatchString(newToken) || newToken == oldToken {
		t.Fatalf("new token %q", newToken)
	}
	must(t, exactRole(page, "button", "Copy").Click())
	clip, err := page.Evaluate("navigator.clipboard.readText()")
	must(t, err)
	if clip != newToken {
		t.Errorf("clipboard holds %q, want the new key", clip)
	}
	shot(t, page, "roll-reveal")

	// Both keys in the list, linked, with their statuses.
	must(t, role(page, "link", "Done").Click())
	rowOf := func(prefix string) playwright.Locator {
		return page.Locator("tbody tr").Filter(playwright.LocatorFilterOptions{Has: page.Locator("td[data-label='Key']", playwright.PageLocatorOptions{HasText: prefix + "..."})})
	}
	oldRow, newRow := rowOf(oldToken[:13]), rowOf(newToken[:13])
	must(t, expect.Locator(oldRow.Locator(".badge")).ToHaveText("Rolled"))
	must(t, expect.Locator(oldRow.Locator(".roll-note")).ToContainText("Stops working in 1 hour"))
	must(t, expect.Locator(oldRow.GetByRole("link", playwright.LocatorGetByRoleOptions{Name: "New key " + newToken[:13]})).ToBeVisible())
	must(t, expect.Locator(newRow.Locator(".badge")).ToHaveText("Active"))
	must(t, expect.Locator(newRow.GetByRole("link", playwright.LocatorGetByRoleOptions{Name: "Old key " + oldToken[:13]})).ToBeVisible())
	must(t, expect.Locator(newRow.Locator("td[data-label='Expires']")).ToHaveText(regexp.MustCompile(`\w{3} \d+, \d{4}`)))
	shot(t, page, "rolled-in-list")

	// Both keys work; the old one says what replaces it.
	status, who := call(t, a, "/api/v1/whoami", "Authorization", oldToken)
	into, _ := who["rolled_into"].(map[string]any)
	if status != 200 || into["prefix"] != newToken[:13] {
		t.Errorf("whoami of the old key: %d %v", status, who)
	}
	if status, who := call(t, a, "/api/v1/whoami", "Authorization", newToken); status != 200 || who["rolled_into"] != nil {
		t.Errorf("whoami of the new key: %d %v", status, who)
	}

	// The old key's link leads to the new key's panel; its activity to
	// the audit log, filtered.
	must(t, oldRow.GetByRole("link", playwright.LocatorGetByRoleOptions{Name: "New key " + newToken[:13]}).Click())
	must(t, expect.Locator(page.GetByRole("dialog").Filter(playwright.LocatorFilterOptions{HasText: "Replaces"})).ToBeVisible())
	must(t, page.Keyboard().Press("Escape"))
	must(t, oldRow.GetByRole("link", playwright.LocatorGetByRoleOptions{Name: name, Exact: playwright.Bool(true)}).Click())
	panel = page.GetByRole("dialog", playwright.PageGetByRoleOptions{Name: name})
	must(t, expect.Locator(panel.Locator(".badge")).ToHaveText("Rolled"))
	shot(t, page, "rolled-panel")
	must(t, panel.GetByRole("link", playwright.LocatorGetByRoleOptions{Name: "View all activity of this key in the audit log"}).Click())
	must(t, expect.Page(page).ToHaveURL(regexp.MustCompile(`/settings/audit-log\?key=key_[0-9a-z]{20}$`)))
	rows := page.Locator(".audit-event")
	must(t, expect.Locator(rows).ToHaveCount(3))
	must(t, expect.Locator(rows.Nth(0)).ToContainText("Key rolled"))
	must(t, expect.Locator(rows.Nth(0)).ToContainText("overlap 1h"))
	must(t, expect.Locator(rows.Nth(1)).ToContainText("Key revealed"))
	must(t, expect.Locator(rows.Nth(2)).ToContainText("Key created"))
	must(t, expect.Locator(rows.Nth(2)).ToContainText("ada@acme.test"))
	must(t, expect.Locator(page.GetByLabel("Key", playwright.PageGetByLabelOptions{Exact: playwright.Bool(true)})).ToHaveValue(regexp.MustCompile(`^key_`)))
	shot(t, page, "audit-log-key")

	// Filter by action with htmx: the URL follows.
	goTo(t, page, "/settings/audit-log")
	shot(t, page, "audit-log")
	_, err = page.GetByLabel("Action").SelectOption(playwright.SelectOptionValues{Values: &[]string{"key.created"}})
	must(t, err)
	must(t, expect.Page(page).ToHaveURL(regexp.MustCompile(`action=key.created`)))
	must(t, expect.Locator(page.Locator(".audit-event")).ToHaveCount(2))
	must(t, expect.Locator(page.GetByRole("link", playwright.PageGetByRoleOptions{Name: "Export CSV"})).ToHaveAttribute("href", "/settings/audit-log.csv?action=key.created"))
	_, err = page.GoBack()
	must(t, err)
	// Signed in; created, revealed, rolled; the new key created, revealed.
	must(t, expect.Locator(page.Locator(".audit-event")).ToHaveCount(6))
}

func TestKeyboardOnlyRoll(t *testing.T) {
	t.Parallel()
	_, page := signedIn(t, pageOptions{})
	name := uniq("Keyboard roll")
	createKey(t, page, name, []string{"*"}, "Never", "")
	must(t, role(page, "link", "Done").Click())

	link := exactRole(page, "link", name)
	must(t, link.Focus())
	must(t, page.Keyboard().Press("Enter"))
	panel := page.GetByRole("dialog", playwright.PageGetByRoleOptions{Name: name})
	must(t, expect.Locator(panel).ToBeVisible())
	rollLink := panel.GetByRole("link", playwright.LocatorGetByRoleOptions{Name: "Roll key"})
	for i := 0; ; i++ {
		if focused, _ := rollLink.Evaluate("el => el === document.activeElement", nil); focused == true {
			break
		}
		if i == 30 {
			t.Fatal("Tab never reached Roll key")
		}
		must(t, page.Keyboard().Press("Tab"))
	}
	must(t, page.Keyboard().Press("Enter"))
	dialog := page.GetByRole("dialog", playwright.PageGetByRoleOptions{Name: "Roll “" + name + "”"})
	must(t, expect.Locator(dialog).ToBeVisible())
	// Focus starts in the dialog; the overlap is chosen with the arrows.
	checked := dialog.GetByRole("radio", playwright.LocatorGetByRoleOptions{Name: "24 hours"})
	must(t, checked.Focus())
	must(t, page.Keyboard().Press("ArrowLeft"))
	must(t, expect.Locator(dialog.GetByRole("radio", playwright.LocatorGetByRoleOptions{Name: "1 hour"})).ToBeChecked())
	must(t, page.Keyboard().Press("Tab")) // Cancel
	must(t, page.Keyboard().Press("Tab")) // Roll key
	must(t, expect.Locator(dialog.GetByRole("button", playwright.LocatorGetByRoleOptions{Name: "Roll key"})).ToBeFocused())
	must(t, page.Keyboard().Press("Enter"))
	must(t, expect.Locator(role(page, "heading", "Save your API key")).ToBeVisible())
	must(t, expect.Locator(page.GetByRole("note").Filter(playwright.LocatorFilterOptions{HasText: "This key replaces"})).ToContainText("stops working in 1 hour"))
}

func TestEditAndRollWithoutJavaScript(t *testing.T) {
	t.Parallel()
	_, page := signedIn(t, pageOptions{noJS: true})
	allowStatus(page, 422, 409)
	name := uniq("No JS roll")
	must(t, role(page, "link", "Create API Key").Click())
	fillKeyForm(t, page, name, []string{"proxy:read"}, "Never", "")
	must(t, page.GetByLabel("Description").Fill("made without JavaScript"))
	must(t, role(page, "button", "Create API Key").Click())
	must(t, role(page, "link", "Done").Click())
	must(t, exactRole(page, "link", name).Click())

	must(t, exactRole(page, "link", "Edit").Click())
	must(t, expect.Page(page).ToHaveURL(regexp.MustCompile(`/edit$`)))
	must(t, expect.Locator(page.GetByLabel("Description")).ToHaveValue("made without JavaScript"))
	renamed := name + " (renamed)"
	must(t, page.GetByLabel("Name", playwright.PageGetByLabelOptions{Exact: playwright.Bool(true)}).Fill(renamed))
	must(t, role(page, "button", "Save changes").Click())
	must(t, expect.Locator(page.GetByText("Changes saved.")).ToBeVisible())
	must(t, expect.Locator(role(page, "heading", renamed)).ToBeVisible())

	must(t, role(page, "link", "Roll key").Click())
	must(t, expect.Page(page).ToHaveURL(regexp.MustCompile(`/roll$`)))
	must(t, role(page, "radio", "Stop it now").Check())
	shot(t, page, "nojs-roll")
	must(t, role(page, "button", "Roll key").Click())
	must(t, expect.Locator(role(page, "heading", "Save your API key")).ToBeVisible())
	must(t, expect.Locator(page.GetByRole("note").Filter(playwright.LocatorFilterOptions{HasText: "This key replaces"})).ToContainText("no longer works"))
	// Rolling the old key again is refused, and says why.
	_, err := page.GoBack()
	must(t, err)
	_, err = page.Reload()
	must(t, err)
	must(t, expect.Locator(page.GetByText("cannot be rolled")).ToBeVisible())
}

func TestLifecyclePhoneScreens(t *testing.T) {
	t.Parallel()
	_, page := signedIn(t, pageOptions{mobile: true})
	name := uniq("Phone roll")
	createKey(t, page, name, []string{"mcp:read"}, "60 days", "")
	must(t, role(page, "link", "Done").Click())
	panel := panelOf(t, page, name)
	must(t, panel.GetByRole("link", playwright.LocatorGetByRoleOptions{Name: "Edit", Exact: playwright.Bool(true)}).Click())
	must(t, expect.Locator(panel.GetByLabel("Description")).ToBeVisible())
	shot(t, page, "phone-edit-form")
	must(t, panel.GetByRole("link", playwright.LocatorGetByRoleOptions{Name: "Cancel"}).Click())
	must(t, panel.GetByRole("link", playwright.LocatorGetByRoleOptions{Name: "Roll key"}).Click())
	dialog := page.GetByRole("dialog", playwright.PageGetByRoleOptions{Name: "Roll “" + name + "”"})
	must(t, expect.Locator(dialog).ToBeVisible())
	shot(t, page, "phone-roll-dialog")
	must(t, dialog.GetByRole("radio", playwright.LocatorGetByRoleOptions{Name: "7 days"}).Check())
	must(t, dialog.GetByRole("button", playwright.LocatorGetByRoleOptions{Name: "Roll key"}).Click())
	must(t, expect.Locator(role(page, "heading", "Save your API key")).ToBeVisible())
	must(t, role(page, "link", "Done").Click())
	must(t, expect.Locator(page.Locator(".badge-rolled")).ToHaveCount(1))
	shot(t, page, "phone-rolled-in-list")
	goTo(t, page, "/settings/audit-log")
	must(t, expect.Locator(page.GetByRole("heading", playwright.PageGetByRoleOptions{Name: "Audit log"})).ToBeVisible())
	shot(t, page, "phone-audit-log")
}

// TestCommandLineRollAndExport: keys roll prints the new key and nothing
// else on standard output; audit export writes the log.
func TestCommandLineRollAndExport(t *testing.T) {
	t.Parallel()
	a, page := signedIn(t, pageOptions{})
	name := uniq("CLI roll")
	oldToken := createKey(t, page, name, []string{"*"}, "Never", "")

	cmd := exec.Command(binPath, "keys", "roll", "--db", a.DB, "--overlap", "24h", oldToken[:13])
	var stdout, stderr strings.Builder
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("keys roll: %v\n%s", err, stderr.String())
	}
	out := stdout.String()
	if !tokenRE.MatchString(strings.TrimSuffix(out, "\n")) || strings.Count(out, "\n") != 1 {
		t.Fatalf("keys roll printed %q on standard output, want the new key alone", out)
	}
	newToken := strings.TrimSuffix(out, "\n")
	if !strings.Contains(stderr.String(), "the old key stops working at") || !strings.Contains(stderr.String(), "confirmed by 1 of 1") {
		t.Errorf("keys roll told on standard error: %q", stderr.String())
	}
	// The running server applied it before the command returned.
	if status, who := call(t, a, "/api/v1/whoami", "Authorization", oldToken); status != 200 || who["rolled_into"].(map[string]any)["prefix"] != newToken[:13] {
		t.Errorf("whoami of the old key: %d %v", status, who)
	}
	if status, _ := call(t, a, "/api/v1/whoami", "Authorization", newToken); status != 200 {
		t.Errorf("whoami of the new key: %d", status)
	}
	// Rolling it again is refused on standard error, nothing on standard output.
	again := exec.Command(binPath, "keys", "roll", "--db", a.DB, oldToken[:13])
	var out2, err2 strings.Builder
	again.Stdout, again.Stderr = &out2, &err2
	if err := again.Run(); err == nil || out2.Len() != 0 || !strings.Contains(err2.String(), "rolled already") {
		t.Errorf("second roll: %v, stdout %q, stderr %q", err, out2.String(), err2.String())
	}

	for _, format := range []string{"csv", "json"} {
		exp := exec.Command(binPath, "audit", "export", "--db", a.DB, "--since", "1d", "--format", format)
		var eo, ee strings.Builder
		exp.Stdout, exp.Stderr = &eo, &ee
		if err := exp.Run(); err != nil {
			t.Fatalf("audit export: %v\n%s", err, ee.String())
		}
		for _, want := range []string{"key.rolled", "command line", "key.created", "user.signed_in", "ada@acme.test"} {
			if !strings.Contains(eo.String(), want) {
				t.Errorf("%s export: no %q in it", format, want)
			}
		}
		if strings.Contains(eo.String(), newToken) || strings.Contains(eo.String(), oldToken) {
			t.Errorf("%s export holds a key", format)
		}
	}
}

// TestLifecycleAccessibility runs axe-core on what the key lifecycle
// adds: the edit form in the panel (and its problems), the roll dialog,
// the reveal page of a roll, the list with a rolled key, the refusal to
// roll it again and the audit log, on every screen and theme.
func TestLifecycleAccessibility(t *testing.T) {
	t.Parallel()
	for _, v := range a11yVariants {
		t.Run(v.name, func(t *testing.T) {
			t.Parallel()
			o := v.o
			o.axe = true
			a := startApp(t)
			a.createAdmin(t, "Acme Payments", "ada@acme.test", "correct horse battery")
			addKey(t, a, "Billing job", []string{"data:read"})
			page := newPage(t, a, o)
			allowStatus(page, 422)
			signIn(t, page, "ada@acme.test", "correct horse battery")
			check := func(state string) {
				t.Helper()
				checkA11y(t, page, v.name+" "+state)
				shot(t, page, "a11y-"+v.name+"-"+state)
			}

			panel := panelOf(t, page, "Billing job")
			must(t, panel.GetByRole("link", playwright.LocatorGetByRoleOptions{Name: "Edit", Exact: playwright.Bool(true)}).Click())
			name := panel.GetByLabel("Name", playwright.LocatorGetByLabelOptions{Exact: playwright.Bool(true)})
			must(t, expect.Locator(name).ToBeFocused())
			check("edit-form")
			must(t, name.Fill(""))
			must(t, panel.GetByRole("button", playwright.LocatorGetByRoleOptions{Name: "Save changes"}).Click())
			must(t, expect.Locator(panel.GetByText("Enter a name for the key.")).ToBeVisible())
			check("edit-form-errors")
			must(t, name.Fill("Billing job (prod)"))
			must(t, panel.GetByLabel("Description").Fill("Runs nightly."))
			must(t, panel.GetByRole("button", playwright.LocatorGetByRoleOptions{Name: "Save changes"}).Click())
			panel = page.GetByRole("dialog", playwright.PageGetByRoleOptions{Name: "Billing job (prod)"})
			must(t, expect.Locator(panel.Locator(".description")).ToHaveText("Runs nightly."))
			check("panel-edited")

			must(t, panel.GetByRole("link", playwright.LocatorGetByRoleOptions{Name: "Roll key"}).Click())
			dialog := page.GetByRole("dialog", playwright.PageGetByRoleOptions{Name: "Roll “Billing job (prod)”"})
			must(t, expect.Locator(dialog).ToBeVisible())
			check("roll-dialog")
			must(t, dialog.GetByRole("button", playwright.LocatorGetByRoleOptions{Name: "Roll key"}).Click())
			must(t, expect.Locator(page.GetByRole("note").Filter(playwright.LocatorFilterOptions{HasText: "This key replaces"})).ToBeVisible())
			check("roll-reveal")
			must(t, role(page, "link", "Done").Click())
			must(t, expect.Locator(page.Locator(".badge-rolled")).ToHaveCount(1))
			check("list-rolled")
			id, err := page.Locator("tr.status-rolled a.key-name").GetAttribute("href")
			must(t, err)
			goTo(t, page, id+"/roll")
			must(t, expect.Locator(page.GetByText("cannot be rolled")).ToBeVisible())
			check("roll-refused")
			goTo(t, page, "/settings/audit-log")
			must(t, expect.Locator(page.Locator(".audit-event")).ToHaveCount(6))
			check("audit-log")
			goTo(t, page, "/settings/audit-log?action=key.expired")
			must(t, expect.Locator(page.GetByText("No event matches this filter.")).ToBeVisible())
			check("audit-log-empty")
		})
	}
}
