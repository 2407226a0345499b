package e2e

import (
	"net/http"
	"strings"
	"testing"

	"github.com/playwright-community/playwright-go"
)

// TestUsageAndWebhooksAccessibility runs axe-core on the pages of usage
// and webhooks, on a desktop in the dark theme and on a phone in the
// light one: a key's details with calls and an
// exposure, the webhooks list, the add dialog and its problems, the
// secret page, an endpoint with deliveries, and the delete page.
func TestUsageAndWebhooksAccessibility(t *testing.T) {
	t.Parallel()
	recv := newHookReceiver(t)
	// Both themes and both sizes in two runs (the whole matrix is
	// TestAccessibility's, on the pages every workspace sees).
	for _, v := range []struct {
		name string
		o    pageOptions
	}{
		{"desktop-dark", pageOptions{width: 1280, dark: true}},
		{"phone-light", pageOptions{mobile: true}},
	} {
		t.Run(v.name, func(t *testing.T) {
			t.Parallel()
			o := v.o
			o.axe = true
			a, page := signedInWith(t, o, "--webhook-allow-private") // the receiver is on loopback
			allowStatus(page, 422)
			check := func(state string) {
				t.Helper()
				checkA11y(t, page, v.name+" "+state)
				shot(t, page, "a11y-"+v.name+"-"+state)
			}

			// A key with calls, then reported leaked.
			name := uniq("Used key")
			token := createKey(t, page, name, []string{"mcp:read"}, "Never", "")
			for _, path := range []string{"/api/v1/verify?scope=mcp:read", "/api/v1/verify?scope=data:write"} {
				req, _ := http.NewRequest("GET", a.URL+path, nil)
				req.Header.Set("Authorization", "Bearer "+token)
				resp, err := http.DefaultClient.Do(req)
				must(t, err)
				resp.Body.Close()
			}
			resp, err := http.Post(a.URL+"/api/v1/keys/leaked", "application/json",
				strings.NewReader(`[{"token":"`+token+`","url":"https://gist.example.com/x","source":"Scanner"}]`))
			must(t, err)
			resp.Body.Close()
			goTo(t, page, "/settings/api-keys")
			must(t, role(page, "link", name).Click())
			panel := page.GetByRole("dialog", playwright.PageGetByRoleOptions{Name: name})
			must(t, expect.Locator(panel.GetByText("Revoked · exposed")).ToBeVisible())
			must(t, panel.GetByText("Calls per day as a table").Click())
			check("usage-panel")
			must(t, page.Keyboard().Press("Escape"))

			// Webhooks.
			must(t, exactRole(page, "link", "Webhooks").First().Click())
			must(t, expect.Locator(role(page, "heading", "No webhook endpoints yet")).ToBeVisible())
			check("webhooks-empty")
			must(t, role(page, "link", "Add endpoint").First().Click())
			dialog := page.GetByRole("dialog", playwright.PageGetByRoleOptions{Name: "Add endpoint"})
			must(t, expect.Locator(dialog).ToBeVisible())
			check("webhook-add")
			must(t, page.GetByLabel("Endpoint URL").Fill("ftp://nope"))
			must(t, dialog.GetByRole("button", playwright.LocatorGetByRoleOptions{Name: "Add endpoint"}).Click())
			must(t, expect.Locator(dialog.GetByText("Choose at least one event.")).ToBeVisible())
			check("webhook-add-errors")
			must(t, page.GetByLabel("Endpoint URL").Fill(recv.URL+"/a11y"))
			must(t, page.GetByRole("checkbox", playwright.PageGetByRoleOptions{Name: "key.expiring"}).Check())
			must(t, dialog.GetByRole("button", playwright.LocatorGetByRoleOptions{Name: "Add endpoint"}).Click())
			must(t, expect.Locator(role(page, "heading", "Save the signing secret")).ToBeVisible())
			check("webhook-secret")
			must(t, role(page, "link", "Done").Click())
			must(t, role(page, "button", "Send test event").Click())
			must(t, expect.Locator(page.Locator("#deliveries").GetByText("HTTP 200")).ToBeVisible())
			check("webhook-deliveries")
			must(t, exactRole(page, "link", "Webhooks").First().Click())
			check("webhooks-list")
			must(t, page.Locator(".endpoint-url").First().Click())
			must(t, role(page, "link", "Delete endpoint").Click())
			must(t, expect.Locator(role(page, "heading", "Delete this endpoint?")).ToBeVisible())
			check("webhook-delete")
		})
	}
}
