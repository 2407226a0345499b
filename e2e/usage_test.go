package e2e

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/playwright-community/playwright-go"

	"github.com/blnk-cloud/apikeys/db"
)

// hookReceiver is a webhook endpoint on loopback that keeps what it gets.
type hookReceiver struct {
	*httptest.Server
	mu  sync.Mutex
	got []http.Header
	bod [][]byte
}

func newHookReceiver(t *testing.T) *hookReceiver {
	rc := &hookReceiver{}
	rc.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		rc.mu.Lock()
		rc.got = append(rc.got, r.Header.Clone())
		rc.bod = append(rc.bod, b)
		rc.mu.Unlock()
		io.WriteString(w, "thanks")
	}))
	t.Cleanup(rc.Close)
	return rc
}

// signedInWith starts a dashboard with extra flags and signs in a page.
func signedInWith(t *testing.T, o pageOptions, args ...string) (*app, playwright.Page) {
	t.Helper()
	a := startApp(t, args...)
	a.createAdmin(t, "Acme Payments", "ada@acme.test", "correct horse battery")
	page := newPage(t, a, o)
	signIn(t, page, "ada@acme.test", "correct horse battery")
	return a, page
}

// TestWebhookTestEvent: add an endpoint in the browser, save its secret,
// send a test event and watch the delivery arrive, signed.
func TestWebhookTestEvent(t *testing.T) {
	t.Parallel()
	recv := newHookReceiver(t)
	a, page := signedInWith(t, pageOptions{}, "--webhook-allow-private") // the receiver is on loopback

	must(t, role(page, "link", "Webhooks").Click())
	must(t, expect.Locator(role(page, "heading", "No webhook endpoints yet")).ToBeVisible())
	must(t, role(page, "link", "Add endpoint").First().Click())
	dialog := page.GetByRole("dialog", playwright.PageGetByRoleOptions{Name: "Add endpoint"})
	must(t, expect.Locator(dialog).ToBeVisible())
	must(t, expect.Locator(page.GetByLabel("Endpoint URL")).ToBeFocused())
	// Refused first: no event chosen.
	allowStatus(page, 422)
	must(t, page.GetByLabel("Endpoint URL").Fill(recv.URL+"/blnk"))
	must(t, dialog.GetByRole("button", playwright.LocatorGetByRoleOptions{Name: "Add endpoint"}).Click())
	must(t, expect.Locator(dialog.GetByText("Choose at least one event.")).ToBeVisible())
	must(t, page.GetByRole("checkbox", playwright.PageGetByRoleOptions{Name: "key.leaked"}).Check())
	must(t, page.GetByRole("checkbox", playwright.PageGetByRoleOptions{Name: "key.revoked"}).Check())
	must(t, page.GetByLabel("Description").Fill("Security channel"))
	shot(t, page, "webhook-add")
	must(t, dialog.GetByRole("button", playwright.LocatorGetByRoleOptions{Name: "Add endpoint"}).Click())

	must(t, expect.Locator(role(page, "heading", "Save the signing secret")).ToBeVisible())
	secret, err := page.GetByLabel("Signing secret").InputValue()
	must(t, err)
	if !regexp.MustCompile(`^whsec_[A-Za-z0-9+/]{32}$`).MatchString(secret) {
		t.Fatalf("secret %q", secret)
	}
	secretURL := page.URL()
	shot(t, page, "webhook-secret")
	must(t, role(page, "link", "Done").Click())

	must(t, expect.Locator(role(page, "heading", recv.URL+"/blnk")).ToBeVisible())
	must(t, role(page, "button", "Send test event").Click())
	deliveries := page.Locator("#deliveries")
	must(t, expect.Locator(deliveries.GetByText("webhook.test")).ToBeVisible())
	// The list refreshes itself until the delivery is done.
	must(t, expect.Locator(deliveries.Locator("tbody tr").First().GetByText("Delivered")).ToBeVisible())
	must(t, expect.Locator(deliveries.GetByText("HTTP 200")).ToBeVisible())
	shot(t, page, "webhook-deliveries")

	recv.mu.Lock()
	if len(recv.got) != 1 {
		t.Fatalf("the receiver got %d requests, want 1", len(recv.got))
	}
	h, body := recv.got[0], recv.bod[0]
	recv.mu.Unlock()
	key, err := base64.StdEncoding.DecodeString(strings.TrimPrefix(secret, "whsec_"))
	must(t, err)
	mac := hmac.New(sha256.New, key)
	fmt.Fprintf(mac, "%s.%s.%s", h.Get("webhook-id"), h.Get("webhook-timestamp"), body)
	if want := "v1," + base64.StdEncoding.EncodeToString(mac.Sum(nil)); h.Get("webhook-signature") != want {
		t.Errorf("webhook-signature %q, want %q", h.Get("webhook-signature"), want)
	}
	if !strings.Contains(string(body), `"type":"webhook.test"`) {
		t.Errorf("body %s", body)
	}

	// The secret is not shown again.
	goTo(t, page, secretURL)
	must(t, expect.Locator(role(page, "heading", "This secret can no longer be displayed")).ToBeVisible())

	// Dark, for the screenshot.
	dark := newPage(t, a, pageOptions{dark: true})
	signIn(t, dark, "ada@acme.test", "correct horse battery")
	goTo(t, dark, strings.TrimSuffix(strings.TrimPrefix(secretURL, a.URL), "/secret"))
	must(t, expect.Locator(dark.GetByText("HTTP 200")).ToBeVisible())
	shot(t, dark, "webhook-deliveries-dark")
}

// waitForAddress waits (10 s at most) until the server has written ip
// among the key's recent addresses.
func waitForAddress(t *testing.T, store *db.DB, keyID, ip string) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		uses, err := store.KeyAddresses(context.Background(), keyID, 10)
		must(t, err)
		for _, u := range uses {
			if u.IP == ip {
				return
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s not among the key's addresses after 10 s: %v", ip, uses)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// TestUsageChartAndLeak: a key's calls show in its details as a chart,
// its table and its recent addresses; a leak report revokes it and the
// list says so.
func TestUsageChartAndLeak(t *testing.T) {
	t.Parallel()
	a, page := signedInWith(t, pageOptions{}, "--trusted-proxies", "127.0.0.1", "--usage-flush", "200ms")
	name := uniq("Gateway key")
	token := createKey(t, page, name, []string{"mcp:read"}, "Never", "")
	must(t, role(page, "link", "Done").Click())

	// 30 calls from three clients behind this proxy, 4 refused for scope.
	// A server keeps a key's last address and writes it at each flush,
	// so the test waits for each client's address to be written before
	// the next client calls (all 30 calls fit in one 200 ms flush on a
	// fast machine, which would leave only the last address).
	store, _ := openAsAdmin(t, a)
	defer store.Close()
	key, err := store.FindKey(context.Background(), token[:13])
	must(t, err)
	client := &http.Client{}
	for i := range 34 {
		path, want := "/api/v1/verify?scope=mcp:read", 200
		if i >= 30 {
			path, want = "/api/v1/verify?scope=data:write", 403
		}
		ip := fmt.Sprintf("203.0.113.%d", i%3+10)
		if i < 30 {
			ip = fmt.Sprintf("203.0.113.%d", i/10+10)
		}
		req, err := http.NewRequest("GET", a.URL+path, nil)
		must(t, err)
		req.Header.Set("Authorization", "Bearer "+token)
		req.Header.Set("X-Forwarded-For", ip)
		resp, err := client.Do(req)
		must(t, err)
		resp.Body.Close()
		if resp.StatusCode != want {
			t.Fatalf("call %d: %d, want %d", i, resp.StatusCode, want)
		}
		if i%10 == 9 && i < 30 {
			waitForAddress(t, store, key.ID, ip)
		}
	}

	must(t, role(page, "link", name).Click())
	panel := page.GetByRole("dialog", playwright.PageGetByRoleOptions{Name: name})
	must(t, expect.Locator(panel).ToBeVisible())
	usage := panel.GetByRole("region", playwright.LocatorGetByRoleOptions{Name: "Usage"})
	must(t, expect.Locator(usage).ToContainText("Calls34Accepted30Refused4"))
	must(t, expect.Locator(usage.Locator("svg.chart-main")).ToHaveAttribute("aria-label", regexp.MustCompile(`30 accepted, 4 refused`)))
	for _, ip := range []string{"203.0.113.10", "203.0.113.11", "203.0.113.12"} {
		must(t, expect.Locator(usage.GetByRole("cell", playwright.LocatorGetByRoleOptions{Name: ip})).ToBeVisible())
	}
	must(t, usage.GetByText("Calls per day as a table").Click())
	today := usage.Locator(".usage-table tbody tr").Last()
	must(t, expect.Locator(today).ToContainText("30"))
	must(t, expect.Locator(today).ToContainText("4 (4 lacked the scope)"))
	must(t, usage.ScrollIntoViewIfNeeded())
	shot(t, page, "usage-panel")

	for _, o := range []pageOptions{{dark: true}, {mobile: true}} {
		p := newPage(t, a, o)
		signIn(t, p, "ada@acme.test", "correct horse battery")
		must(t, role(p, "link", name).Click())
		u := p.GetByRole("dialog", playwright.PageGetByRoleOptions{Name: name}).GetByRole("region", playwright.LocatorGetByRoleOptions{Name: "Usage"})
		must(t, expect.Locator(u).ToContainText("Calls34"))
		must(t, u.ScrollIntoViewIfNeeded())
		suffix := ""
		if o.mobile {
			suffix += "-phone"
		}
		if o.dark {
			suffix += "-dark"
		}
		shot(t, p, "usage-panel"+suffix)
	}

	// Reported leaked: revoked at once, and the list says exposed.
	resp, err := http.Post(a.URL+"/api/v1/keys/leaked", "application/json",
		strings.NewReader(`[{"token":"`+token+`","url":"https://gist.example.com/ada/1","source":"Gist secret scanning"}]`))
	must(t, err)
	resp.Body.Close()
	if resp.StatusCode != http.StatusAccepted {
		t.Fatalf("leak report: %d", resp.StatusCode)
	}
	if status, v := call(t, a, "/api/v1/whoami", "Authorization", token); status != 401 || errorCode(v) != "revoked_key" {
		t.Errorf("after the report: %d %v", status, v)
	}
	goTo(t, page, "/settings/api-keys")
	must(t, expect.Locator(keyRow(page, name).Locator("td[data-label='Status']")).ToHaveText("Revoked · exposed"))
	must(t, role(page, "link", name).Click())
	panel = page.GetByRole("dialog", playwright.PageGetByRoleOptions{Name: name})
	must(t, expect.Locator(panel).ToContainText("by Gist secret scanning"))
	must(t, expect.Locator(panel.GetByRole("link", playwright.LocatorGetByRoleOptions{Name: "https://gist.example.com/ada/1"})).ToBeVisible())
	shot(t, page, "key-exposed")
}
