package e2e

import (
	"fmt"
	"os"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/playwright-community/playwright-go"

	"github.com/blnk-cloud/apikeys/internal/twofactor"
)

// TestTwoFactorSignIn sets up an authenticator app in Chromium with the
// keyboard, reading the secret from the page as a person would type it
// into their phone, signs out, and signs in again with the password and
// a code computed from that secret. The security page, the recovery
// codes and the second step are checked by axe-core and photographed at
// 390, 1024 and 1440 px, light and dark.
func TestTwoFactorSignIn(t *testing.T) {
	t.Parallel()
	_, page := signedInWith(t, pageOptions{axe: true, width: 1440})

	// The account menu leads to Security; the set-up link is reachable
	// with Tab.
	must(t, accountMenu(page).Click())
	must(t, role(page, "link", "Security").Click())
	must(t, expect.Locator(role(page, "heading", "Security")).ToBeVisible())
	tabTo(t, page, role(page, "link", "Set up authenticator app"), "the set-up link")
	must(t, page.Keyboard().Press("Enter"))
	must(t, expect.Locator(role(page, "heading", "Set up an authenticator app")).ToBeVisible())
	must(t, expect.Locator(page.GetByRole("img", playwright.PageGetByRoleOptions{Name: "QR code"})).ToBeVisible())
	everyLook(t, page, "totp-setup")

	text, err := page.Locator("#totp-secret").TextContent()
	must(t, err)
	secret := strings.ReplaceAll(strings.TrimSpace(text), " ", "")
	if len(secret) != 32 {
		t.Fatalf("the secret on the page: %q", text)
	}
	enabledAt := time.Now()
	code, err := twofactor.Code(secret, enabledAt)
	must(t, err)
	// The code field has the focus (autofocus): type it, then Enter.
	must(t, expect.Locator(page.GetByLabel("Code")).ToBeFocused())
	must(t, page.Keyboard().Type(code))
	must(t, page.Keyboard().Press("Enter"))
	must(t, expect.Locator(role(page, "heading", "Your recovery codes")).ToBeVisible())
	must(t, expect.Locator(page.Locator("#recovery-codes li")).ToHaveCount(10))
	first, err := page.Locator("#recovery-codes li").First().TextContent()
	must(t, err)
	dl, err := page.ExpectDownload(func() error { return role(page, "link", "Download as text").Click() })
	must(t, err)
	path, err := dl.Path()
	must(t, err)
	saved, err := os.ReadFile(path)
	must(t, err)
	if !strings.Contains(string(saved), strings.TrimSpace(first)) {
		t.Errorf("the downloaded text lacks the codes:\n%s", saved)
	}
	everyLook(t, page, "recovery-codes")
	must(t, role(page, "link", "Done").Click())
	must(t, expect.Locator(page.GetByText("10 recovery codes left.")).ToBeVisible())
	everyLook(t, page, "security")

	// Sign out, then in: the password, then the code.
	must(t, accountMenu(page).Click())
	must(t, role(page, "button", "Sign out").Click())
	must(t, expect.Page(page).ToHaveURL(regexp.MustCompile(`/login$`)))
	must(t, page.GetByLabel("Email").Fill("ada@acme.test"))
	must(t, page.GetByLabel("Password").Fill("correct horse battery"))
	must(t, page.GetByLabel("Password").Press("Enter"))
	must(t, expect.Page(page).ToHaveURL(regexp.MustCompile(`/login/two-factor$`)))
	must(t, expect.Locator(page.GetByLabel("Code")).ToBeFocused())
	everyLook(t, page, "two-factor")
	// The code of set-up is used; the next step's code is accepted one
	// step early (skew), so no waiting on the clock.
	at := time.Now()
	if at.Unix()/twofactor.Period == enabledAt.Unix()/twofactor.Period {
		at = at.Add(twofactor.Period * time.Second)
	}
	code, err = twofactor.Code(secret, at)
	must(t, err)
	must(t, page.Keyboard().Type(code))
	started := time.Now()
	must(t, page.Keyboard().Press("Enter"))
	must(t, expect.Page(page).ToHaveURL(regexp.MustCompile(`/settings/api-keys$`)))
	t.Logf("second step, Enter to the keys page: %v", time.Since(started).Round(time.Millisecond))
}

// everyLook checks the page with axe-core and photographs it at 390,
// 1024 and 1440 px wide, light and dark; it leaves the page at 1440 px,
// light.
func everyLook(t *testing.T, page playwright.Page, name string) {
	t.Helper()
	for _, dark := range []bool{false, true} {
		scheme, theme := playwright.ColorSchemeLight, "light"
		if dark {
			scheme, theme = playwright.ColorSchemeDark, "dark"
		}
		must(t, page.EmulateMedia(playwright.PageEmulateMediaOptions{ColorScheme: scheme}))
		for _, w := range []int{390, 1024, 1440} {
			must(t, page.SetViewportSize(w, 900))
			if w == 390 || w == 1440 {
				checkA11y(t, page, fmt.Sprintf("%s %d %s", name, w, theme))
			}
			shot(t, page, fmt.Sprintf("2fa-%s-%d-%s", name, w, theme))
		}
	}
	must(t, page.EmulateMedia(playwright.PageEmulateMediaOptions{ColorScheme: playwright.ColorSchemeLight}))
	must(t, page.SetViewportSize(1440, 900))
}
