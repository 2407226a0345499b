package e2e

import (
	"fmt"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/playwright-community/playwright-go"
)

// tabTo presses Tab until target has the focus, as a keyboard user would
// reach it, and fails if it never does.
func tabTo(t *testing.T, page playwright.Page, target playwright.Locator, what string) {
	t.Helper()
	must(t, target.WaitFor())
	// A page of keys has several stops a row (its box, name, copy button
	// and menu): a keyboard user may press Tab a few hundred times.
	for range 400 {
		focused, err := target.Evaluate("el => el === document.activeElement", nil)
		must(t, err)
		if focused == true {
			return
		}
		must(t, page.Keyboard().Press("Tab"))
	}
	t.Fatalf("%s: Tab never reached it", what)
}

// ringStyle is what draws a focus ring: the outline and the box shadow.
const ringStyle = `el => {
	const s = getComputedStyle(el);
	return [s.outlineStyle, s.outlineWidth, s.outlineColor, s.boxShadow].join(" | ");
}`

// checkFocusRing reaches target with the keyboard and checks that a ring
// appears: a solid outline at least 2 px wide or a box shadow, that was
// not there before. holder is the element that draws the ring (a card
// around a checkbox), or nil for target itself.
func checkFocusRing(t *testing.T, page playwright.Page, target, holder playwright.Locator, what string) {
	t.Helper()
	if holder == nil {
		holder = target
	}
	must(t, target.WaitFor())
	_, err := page.Evaluate("document.activeElement && document.activeElement.blur()")
	must(t, err)
	before, err := holder.Evaluate(ringStyle, nil)
	must(t, err)
	tabTo(t, page, target, what)
	visible, err := target.Evaluate("el => el.matches(':focus-visible')", nil)
	must(t, err)
	if visible != true {
		t.Errorf("%s: focused from the keyboard, but not :focus-visible", what)
	}
	after, err := holder.Evaluate(ringStyle, nil)
	must(t, err)
	parts := strings.Split(after.(string), " | ")
	width, _ := strconv.ParseFloat(strings.TrimSuffix(parts[1], "px"), 64)
	hasOutline := parts[0] != "none" && width >= 2
	hasShadow := parts[3] != "none"
	if after == before || !(hasOutline || hasShadow) {
		t.Errorf("%s: no visible focus ring: unfocused %q, focused %q", what, before, after)
	}
}

// keyTo reaches target as a keyboard user does, with Tab alone (or
// finds it focused already, by autofocus), and checks that the focus
// shows: the element is :focus-visible and draws the focus ring of
// app.css, an outline at least 2 px wide (links, fields and buttons
// have none otherwise; a box shadow would not tell, buttons have one
// anyway, which is why checkFocusRing compares before and after).
func keyTo(t *testing.T, page playwright.Page, target playwright.Locator, what string) {
	t.Helper()
	tabTo(t, page, target, what)
	visible, err := target.Evaluate("el => el.matches(':focus-visible')", nil)
	must(t, err)
	ring, err := target.Evaluate(ringStyle, nil)
	must(t, err)
	parts := strings.Split(ring.(string), " | ")
	width, _ := strconv.ParseFloat(strings.TrimSuffix(parts[1], "px"), 64)
	if visible != true || parts[0] == "none" || width < 2 || strings.Contains(parts[2], "rgba(0, 0, 0, 0)") {
		t.Errorf("%s: focused, but the focus does not show (:focus-visible %v, outline and shadow %q)", what, visible, ring)
	}
}

// TestFocusIsVisible walks every kind of control with the keyboard, in
// both themes, and checks that each shows a focus ring.
func TestFocusIsVisible(t *testing.T) {
	t.Parallel()
	for _, dark := range []bool{false, true} {
		name := map[bool]string{false: "light", true: "dark"}[dark]
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			a, page := signedIn(t, pageOptions{width: 1280, dark: dark})
			allowStatus(page, 422)
			addKey(t, a, "Billing export", []string{"data:read"})
			goTo(t, page, "/settings/api-keys")
			ring := func(target playwright.Locator, what string) {
				t.Helper()
				checkFocusRing(t, page, target, nil, name+": "+what)
			}

			ring(role(page, "link", "Create API Key"), "Create API Key")
			ring(exactRole(page, "link", "Billing export"), "a key's name link")
			ring(page.Locator(".nav-link[aria-current=page]"), "the navigation link")
			summary := accountMenu(page)
			ring(summary, "the account menu")
			must(t, page.Keyboard().Press("Enter"))
			ring(role(page, "button", "Dark"), "a theme button")
			ring(role(page, "button", "Sign out"), "Sign out")
			must(t, page.Keyboard().Press("Escape"))

			// The create dialog.
			must(t, role(page, "link", "Create API Key").Click())
			dialog := page.GetByRole("dialog", playwright.PageGetByRoleOptions{Name: "Create API Key"})
			must(t, expect.Locator(dialog).ToBeVisible())
			ring(dialog.GetByRole("link", playwright.LocatorGetByRoleOptions{Name: "Close"}), "the dialog's close button")
			ring(dialog.GetByLabel("Name", playwright.LocatorGetByLabelOptions{Exact: playwright.Bool(true)}), "a text field")
			all := dialog.GetByRole("checkbox", playwright.LocatorGetByRoleOptions{Name: "*"})
			checkFocusRing(t, page, all, dialog.Locator("label.scope-option").First(), name+": a scope's card")
			ring(dialog.GetByRole("link", playwright.LocatorGetByRoleOptions{Name: "Cancel"}), "Cancel")
			submit := dialog.GetByRole("button", playwright.LocatorGetByRoleOptions{Name: "Create API Key"})
			ring(submit, "the form's submit button")
			must(t, page.Keyboard().Press("Enter"))
			ring(dialog.Locator(".error-summary a").First(), "a link of the error summary")
			fillKeyForm(t, page, "Focus key", []string{"mcp:read"}, "Never", "")
			must(t, submit.Click())

			// The reveal page.
			must(t, expect.Locator(role(page, "heading", "Save your API key")).ToBeVisible())
			ring(page.GetByLabel("Your new API key"), "the key's text box")
			ring(exactRole(page, "button", "Copy"), "Copy")
			ring(role(page, "button", "Copy the command"), "Copy the command")
			ring(role(page, "link", "Done"), "Done")
			must(t, role(page, "link", "Done").Click())

			// The panel and the revoke confirmation.
			must(t, exactRole(page, "link", "Focus key").Click())
			panel := page.GetByRole("dialog", playwright.PageGetByRoleOptions{Name: "Focus key"})
			must(t, expect.Locator(panel).ToBeVisible())
			ring(panel.GetByRole("link", playwright.LocatorGetByRoleOptions{Name: "Close"}), "the panel's close button")
			revoke := panel.GetByRole("link", playwright.LocatorGetByRoleOptions{Name: "Revoke Key"})
			ring(revoke, "Revoke Key")
			must(t, page.Keyboard().Press("Enter"))
			confirm := page.GetByRole("alertdialog")
			must(t, expect.Locator(confirm).ToBeVisible())
			// The dialog puts the focus in itself when it opens: the ring
			// is measured once it has, not while it may still arrive.
			must(t, expect.Locator(confirm.Locator(":focus")).ToHaveCount(1))
			ring(confirm.GetByRole("link", playwright.LocatorGetByRoleOptions{Name: "Cancel"}), "the confirmation's Cancel")
			ring(confirm.GetByRole("button", playwright.LocatorGetByRoleOptions{Name: "Revoke Key"}), "the confirmation's Revoke Key")
		})
	}
}

// TestFocusAfterRevokeAndMenus: focus never falls to the page's body.
func TestFocusAfterRevokeAndMenus(t *testing.T) {
	t.Parallel()
	a, page := signedIn(t, pageOptions{})
	addKey(t, a, "Old CI runner", []string{"proxy:write"})
	goTo(t, page, "/settings/api-keys")

	// Esc closes the account menu and gives the focus back to it.
	summary := accountMenu(page)
	// Its name holds what it shows (WCAG 2.5.3, axe's label-content-name-mismatch).
	must(t, expect.Locator(summary).ToHaveAccessibleName("ada@acme.test account menu"))
	tabTo(t, page, summary, "the account menu")
	must(t, page.Keyboard().Press("Enter"))
	must(t, expect.Locator(role(page, "button", "Sign out")).ToBeVisible())
	must(t, page.Keyboard().Press("Tab"))
	must(t, page.Keyboard().Press("Escape"))
	must(t, expect.Locator(role(page, "button", "Sign out")).ToBeHidden())
	must(t, expect.Locator(summary).ToBeFocused())
	// So does a click elsewhere.
	must(t, summary.Click())
	must(t, expect.Locator(role(page, "button", "Sign out")).ToBeVisible())
	must(t, page.Locator("h1").Click())
	must(t, expect.Locator(role(page, "button", "Sign out")).ToBeHidden())

	// A revoke, then Esc: back on the key's name in its (new) row.
	link := exactRole(page, "link", "Old CI runner")
	tabTo(t, page, link, "the key's name")
	must(t, page.Keyboard().Press("Enter"))
	panel := page.GetByRole("dialog", playwright.PageGetByRoleOptions{Name: "Old CI runner"})
	must(t, expect.Locator(panel).ToBeVisible())
	must(t, panel.GetByRole("link", playwright.LocatorGetByRoleOptions{Name: "Revoke Key"}).Click())
	confirm := page.GetByRole("alertdialog")
	must(t, confirm.GetByRole("button", playwright.LocatorGetByRoleOptions{Name: "Revoke Key"}).Click())
	must(t, expect.Locator(confirm).ToHaveCount(0))
	must(t, expect.Locator(panel.GetByText("This key is revoked")).ToBeVisible())
	inPanel, err := page.Evaluate("!!document.activeElement.closest('dialog')")
	must(t, err)
	if inPanel != true {
		t.Error("after the revoke, the focus is not in the panel")
	}
	must(t, page.Keyboard().Press("Escape"))
	must(t, expect.Locator(panel).ToHaveCount(0))
	must(t, expect.Locator(keyRow(page, "Old CI runner").Locator(".badge")).ToHaveText("Revoked"))
	must(t, expect.Locator(link).ToBeFocused())

	// The close button does the same.
	must(t, link.Click())
	must(t, panel.GetByRole("link", playwright.LocatorGetByRoleOptions{Name: "Close"}).Click())
	must(t, expect.Locator(link).ToBeFocused())
}

// TestThemeSwitch: the account menu's choice applies at once, is
// remembered, and is drawn by the server (no flash), with or without
// JavaScript.
func TestThemeSwitch(t *testing.T) {
	t.Parallel()
	a, page := signedIn(t, pageOptions{})
	bg := func(p playwright.Page) string {
		t.Helper()
		v, err := p.Evaluate("getComputedStyle(document.body).backgroundColor")
		must(t, err)
		return v.(string)
	}
	// Measured once the stylesheet applies (signIn waits for the address
	// only).
	must(t, page.WaitForLoadState(playwright.PageWaitForLoadStateOptions{State: playwright.LoadStateLoad}))
	light := bg(page)
	html := page.Locator("html")
	must(t, expect.Locator(html).Not().ToHaveAttribute("data-theme", regexp.MustCompile(`.`)))

	must(t, accountMenu(page).Click())
	dark := role(page, "button", "Dark")
	must(t, expect.Locator(role(page, "button", "System")).ToHaveAttribute("aria-pressed", "true"))
	must(t, dark.Click())
	must(t, expect.Locator(html).ToHaveAttribute("data-theme", "dark"))
	must(t, expect.Locator(dark).ToHaveAttribute("aria-pressed", "true"))
	if got := bg(page); got == light {
		t.Errorf("dark theme: body background still %s", got)
	}
	// Remembered, and in the HTML the server sends: the first paint is dark.
	must(t, expect.Locator(accountMenu(page)).ToBeVisible())
	resp, err := page.Context().Request().Get(a.URL + "/settings/api-keys")
	must(t, err)
	body, err := resp.Text()
	must(t, err)
	if !strings.Contains(body, `<html lang="en" data-theme="dark">`) || !strings.Contains(body, `<meta name="color-scheme" content="dark">`) {
		t.Errorf("the server's page is not drawn dark:\n%.400s", body)
	}
	_, err = page.Reload()
	must(t, err)
	must(t, expect.Locator(html).ToHaveAttribute("data-theme", "dark"))

	// System follows the system again.
	must(t, page.EmulateMedia(playwright.PageEmulateMediaOptions{ColorScheme: playwright.ColorSchemeDark}))
	must(t, accountMenu(page).Click())
	must(t, role(page, "button", "System").Click())
	must(t, expect.Locator(html).Not().ToHaveAttribute("data-theme", regexp.MustCompile(`.`)))
	systemDark := bg(page)
	must(t, page.EmulateMedia(playwright.PageEmulateMediaOptions{ColorScheme: playwright.ColorSchemeLight}))
	if systemDark == light || bg(page) != light {
		t.Errorf("System: %s with a dark system, %s with a light one; want dark then %s", systemDark, bg(page), light)
	}

	// Without JavaScript: a plain form, back to the same page.
	nojs := newPage(t, a, pageOptions{noJS: true})
	signIn(t, nojs, "ada@acme.test", "correct horse battery")
	must(t, accountMenu(nojs).Click())
	must(t, role(nojs, "button", "Dark").Click())
	must(t, expect.Page(nojs).ToHaveURL(regexp.MustCompile(`/settings/api-keys$`)))
	must(t, expect.Locator(nojs.Locator("html")).ToHaveAttribute("data-theme", "dark"))
	shot(t, nojs, "theme-dark-nojs")
}

// TestCreateFormProblemsGoOnceFixed: the error summary, links to the
// fields, problems that go as soon as they are fixed, and the warnings.
func TestCreateFormProblemsGoOnceFixed(t *testing.T) {
	t.Parallel()
	a, page := signedIn(t, pageOptions{})
	allowStatus(page, 422)
	addKey(t, a, "Production API Key", nil)
	goTo(t, page, "/settings/api-keys")
	must(t, role(page, "link", "Create API Key").Click())
	dialog := page.GetByRole("dialog", playwright.PageGetByRoleOptions{Name: "Create API Key"})
	submit := dialog.GetByRole("button", playwright.LocatorGetByRoleOptions{Name: "Create API Key"})
	nameField := dialog.GetByLabel("Name", playwright.LocatorGetByLabelOptions{Exact: playwright.Bool(true)})
	summary := dialog.Locator(".error-summary")
	scopeProblem := dialog.Locator("#f-scopes-problem")
	dateProblem := dialog.Locator("#f-expires-problem")

	must(t, role(page, "radio", "A date").Check())
	must(t, page.GetByLabel("Expiry date").Fill("2020-01-01"))
	must(t, submit.Click())

	// The summary lists the three problems, in the form's order, and has the focus.
	must(t, expect.Locator(summary).ToBeFocused())
	must(t, expect.Locator(summary.Locator("h2")).ToHaveText("There are 3 problems"))
	must(t, expect.Locator(summary.GetByRole("link")).ToHaveText([]string{"Enter a name for the key.", "Choose at least one scope.", "Choose a date after today."}))
	must(t, expect.Locator(nameField).ToHaveAttribute("aria-invalid", "true"))
	must(t, expect.Locator(dialog.GetByText("Something that tells you where it is used")).ToBeHidden())

	// Its links focus their field.
	must(t, summary.GetByRole("link", playwright.LocatorGetByRoleOptions{Name: "Choose at least one scope."}).Click())
	must(t, expect.Locator(dialog.GetByRole("checkbox", playwright.LocatorGetByRoleOptions{Name: "*"})).ToBeFocused())
	must(t, summary.GetByRole("link", playwright.LocatorGetByRoleOptions{Name: "Choose a date after today."}).Click())
	must(t, expect.Locator(page.GetByLabel("Expiry date")).ToBeFocused())
	checkClearOfFooter(t, page, "the date field, from the summary")

	// Fixed one by one, each problem goes at once.
	must(t, dialog.GetByRole("checkbox", playwright.LocatorGetByRoleOptions{Name: "mcp:read"}).Check())
	must(t, expect.Locator(scopeProblem).ToHaveCount(0))
	must(t, expect.Locator(summary.Locator("h2")).ToHaveText("There are 2 problems"))
	must(t, role(page, "radio", "Never").Check())
	must(t, expect.Locator(dateProblem).ToHaveCount(0))
	must(t, expect.Locator(summary.Locator("h2")).ToHaveText("There is a problem"))
	must(t, nameField.Fill("Production API Key"))
	must(t, expect.Locator(nameField).Not().ToHaveAttribute("aria-invalid", "true"))
	must(t, expect.Locator(summary).ToHaveCount(0))
	must(t, expect.Locator(dialog.GetByText("Something that tells you where it is used")).ToBeVisible())
	must(t, expect.Locator(nameField).ToHaveAttribute("aria-describedby", "f-name-hint"))

	// A duplicate name: said while typing, and allowed.
	must(t, expect.Locator(dialog.Locator("#f-name-warning")).ToContainText("Another active key is already named “Production API Key”."))
	must(t, nameField.Fill("Production API Key v2"))
	must(t, expect.Locator(dialog.Locator("#f-name-warning")).ToHaveText(""))
	must(t, nameField.Fill("production api key"))
	must(t, expect.Locator(dialog.Locator("#f-name-warning")).ToContainText("already named"))

	// All permissions with Never: a warning, not an error.
	risk := dialog.GetByText("All permissions, and it never expires.")
	must(t, expect.Locator(risk).ToBeHidden())
	must(t, dialog.GetByRole("checkbox", playwright.LocatorGetByRoleOptions{Name: "*"}).Check())
	must(t, expect.Locator(risk).ToBeVisible())
	must(t, role(page, "radio", "90 days").Check())
	must(t, expect.Locator(risk).ToBeHidden())
	must(t, role(page, "radio", "Never").Check())
	must(t, expect.Locator(risk).ToBeVisible())
	shot(t, page, "create-modal-warnings")

	must(t, submit.Click())
	must(t, expect.Locator(role(page, "heading", "Save your API key")).ToBeVisible())
	must(t, expect.Locator(page.GetByText("Another active key has the same name.")).ToBeVisible())
}

// checkClearOfFooter fails if the focused element is hidden, even in part,
// under the create dialog's sticky footer (WCAG 2.4.11).
func checkClearOfFooter(t *testing.T, page playwright.Page, what string) {
	t.Helper()
	v, err := page.Evaluate(`() => {
		const el = document.activeElement;
		const footer = el.closest("dialog").querySelector(".form-actions");
		const r = el.getBoundingClientRect(), f = footer.getBoundingClientRect();
		return footer.contains(el) || r.bottom <= f.top + 0.5 ? "" : "field " + r.top + "-" + r.bottom + ", footer from " + f.top;
	}`)
	must(t, err)
	if v != "" {
		t.Errorf("%s: hidden under the sticky footer: %s", what, v)
	}
}

// TestStickyFooterNeverHidesTheFocus tabs through the create dialog and
// chooses "A date", on a phone and on a short desktop window.
func TestStickyFooterNeverHidesTheFocus(t *testing.T) {
	t.Parallel()
	for _, o := range []pageOptions{{mobile: true}, {width: 1280}} {
		a := startApp(t)
		a.createAdmin(t, "Acme Payments", "ada@acme.test", "correct horse battery")
		page := newPage(t, a, o)
		must(t, page.SetViewportSize(map[bool]int{true: 390, false: 1280}[o.mobile], map[bool]int{true: 844, false: 640}[o.mobile]))
		signIn(t, page, "ada@acme.test", "correct horse battery")
		must(t, role(page, "link", "Create API Key").Click())
		dialog := page.GetByRole("dialog", playwright.PageGetByRoleOptions{Name: "Create API Key"})
		must(t, expect.Locator(dialog).ToBeVisible())
		label := fmt.Sprintf("%v", map[bool]string{true: "phone", false: "desktop"}[o.mobile])

		// Choosing "A date" moves the focus to the date field, in view.
		must(t, role(page, "radio", "A date").Check())
		must(t, expect.Locator(page.GetByLabel("Expiry date")).ToBeFocused())
		checkClearOfFooter(t, page, label+": the date field after choosing A date")
		shot(t, page, "sticky-footer-date-"+label)

		// Every stop of Tab, from the top, is in view.
		must(t, dialog.GetByLabel("Name", playwright.LocatorGetByLabelOptions{Exact: playwright.Bool(true)}).Focus())
		for i := range 16 {
			must(t, page.Keyboard().Press("Tab"))
			checkClearOfFooter(t, page, fmt.Sprintf("%s: Tab stop %d", label, i+1))
		}
	}
}

// TestPhoneAppBar: on a phone, a compact bar of two rows above the page:
// the workspace and the account menu, then the sections' icons.
func TestPhoneAppBar(t *testing.T) {
	t.Parallel()
	_, page := signedIn(t, pageOptions{mobile: true})
	// Measured once the stylesheet applies: on a loaded machine the URL
	// can change before it has loaded.
	must(t, page.WaitForLoadState(playwright.PageWaitForLoadStateOptions{State: playwright.LoadStateLoad}))
	v, err := page.Evaluate(`() => {
		const bars = [".sidebar", ".topbar"].map(s => document.querySelector(s).getBoundingClientRect());
		return Math.max(...bars.map(b => b.bottom));
	}`)
	must(t, err)
	if bottom := toFloat(v); bottom > 108 {
		t.Errorf("the bars above the page end %.0f px down, want at most 108", bottom)
	}
	h1, err := page.Locator("h1").BoundingBox()
	must(t, err)
	if h1.Y > 215 { // the two rows of the bar, the welcome notice, the page's padding
		t.Errorf("the page's heading starts %.0f px down", h1.Y)
	}
	// The workspace and the account menu share the first row; the
	// sections are on the second.
	for _, r := range []struct {
		l        playwright.Locator
		top, end float64
	}{
		{page.Locator(".workspace-name"), 0, 56},
		{accountMenu(page), 0, 56},
		{page.Locator(".nav-link").First(), 56, 108},
		{page.Locator(".nav-link").Last(), 56, 108},
	} {
		must(t, expect.Locator(r.l).ToBeInViewport())
		box, err := r.l.BoundingBox()
		must(t, err)
		if box.Y < r.top || box.Y+box.Height > r.end || box.X+box.Width > 390 {
			t.Errorf("%v at %+v: not inside its row of the bar (%v–%v px)", r.l, box, r.top, r.end)
		}
	}
	// The empty list has one primary button.
	must(t, expect.Locator(page.Locator(".button-primary:visible")).ToHaveCount(1))
	must(t, expect.Locator(role(page, "link", "Create API Key")).ToHaveCount(1))
	shot(t, page, "phone-app-bar")
}

func toFloat(v any) float64 {
	switch n := v.(type) {
	case float64:
		return n
	case int:
		return float64(n)
	}
	return -1
}

// TestRevealUsageLine: the reveal page offers a command to try the key,
// which does not hold the key and works once the key is in the
// environment.
func TestRevealUsageLine(t *testing.T) {
	t.Parallel()
	a, page := signedIn(t, pageOptions{})
	token := createKey(t, page, uniq("Usage"), []string{"mcp:read"}, "30 days", "")
	line := page.GetByLabel("Try it")
	want := `curl -H "Authorization: Bearer $BLNK_API_KEY" ` + a.URL + "/api/v1/whoami"
	must(t, expect.Locator(line).ToHaveValue(want))
	must(t, role(page, "button", "Copy the command").Click())
	must(t, expect.Locator(page.Locator("#usage-status")).ToHaveText("Copied to the clipboard."))
	clip, err := page.Evaluate("navigator.clipboard.readText()")
	must(t, err)
	if clip != want || strings.Contains(clip.(string), token) {
		t.Errorf("clipboard holds %q, want %q", clip, want)
	}
	// The command, with the key in its variable, is answered.
	req, err := http.NewRequest("GET", a.URL+"/api/v1/whoami", nil)
	must(t, err)
	header := strings.TrimSuffix(strings.TrimPrefix(want, `curl -H "`), `" `+a.URL+"/api/v1/whoami")
	k, v, _ := strings.Cut(strings.ReplaceAll(header, "$BLNK_API_KEY", token), ": ")
	req.Header.Set(k, v)
	c := &http.Client{Timeout: 5 * time.Second}
	resp, err := c.Do(req)
	must(t, err)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Errorf("the usage line's request: %d, want 200", resp.StatusCode)
	}
}
