package e2e

import (
	"encoding/json"
	"io"
	"net/http"
	"regexp"
	"strings"
	"testing"

	"github.com/playwright-community/playwright-go"
)

// call makes an API request with the key in the given header and returns
// the status and the decoded JSON body.
func call(t *testing.T, a *app, path, header, token string) (int, map[string]any) {
	t.Helper()
	req, err := http.NewRequest("GET", a.URL+path, nil)
	must(t, err)
	switch header {
	case "Authorization":
		req.Header.Set("Authorization", "Bearer "+token)
	case "X-Blnk-Key":
		req.Header.Set("X-Blnk-Key", token)
	}
	resp, err := http.DefaultClient.Do(req)
	must(t, err)
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	must(t, err)
	var v map[string]any
	if err := json.Unmarshal(body, &v); err != nil {
		t.Fatalf("%s: body is not JSON: %q", path, body)
	}
	return resp.StatusCode, v
}

func errorCode(v map[string]any) string {
	e, _ := v["error"].(map[string]any)
	code, _ := e["code"].(string)
	return code
}

// TestKeyOpensDoorsUntilRevoked: a key made in the browser works against
// the API, its use shows as "Last used", and revoking it in the browser
// shuts the API to it at once.
func TestKeyOpensDoorsUntilRevoked(t *testing.T) {
	t.Parallel()
	a, page := signedIn(t, pageOptions{})
	name := uniq("Agent key")
	token := createKey(t, page, name, []string{"mcp:write"}, "Never", "")
	must(t, role(page, "link", "Done").Click())
	row := keyRow(page, name)
	must(t, expect.Locator(row.Locator("td[data-label='Last used']")).ToHaveText("Never"))

	status, who := call(t, a, "/api/v1/whoami", "Authorization", token)
	if status != 200 {
		t.Fatalf("whoami: status %d %v", status, who)
	}
	if who["name"] != name || who["role"] != "member" || who["prefix"] != token[:13] {
		t.Errorf("whoami = %v", who)
	}
	if ws, _ := who["workspace"].(map[string]any); ws["name"] != "Acme Payments" {
		t.Errorf("whoami workspace = %v", who["workspace"])
	}
	// mcp:write includes mcp:read; it does not include data:read.
	if status, v := call(t, a, "/api/v1/verify?scope=mcp:read", "X-Blnk-Key", token); status != 200 {
		t.Errorf("verify mcp:read: %d %v", status, v)
	}
	if status, v := call(t, a, "/api/v1/verify?scope=data:read", "X-Blnk-Key", token); status != 403 || errorCode(v) != "insufficient_scope" {
		t.Errorf("verify data:read: %d %v", status, v)
	}

	// Last used shows up without waiting for the flush.
	_, err := page.Reload()
	must(t, err)
	must(t, expect.Locator(row.Locator("td[data-label='Last used']")).ToHaveText("just now"))
	must(t, expect.Locator(row.Locator("td[data-label='Last used'] time")).ToHaveAttribute("title", regexp.MustCompile(`^\w{3} \d{1,2}, \d{4} \d\d:\d\d:\d\d UTC$`)))
	shot(t, page, "keys-last-used")

	// Revoke in the browser; the very next API call is refused.
	must(t, exactRole(page, "link", name).Click())
	panel := page.GetByRole("dialog", playwright.PageGetByRoleOptions{Name: name})
	must(t, expect.Locator(panel).ToContainText("from 127.0.0.1"))
	must(t, panel.GetByRole("link", playwright.LocatorGetByRoleOptions{Name: "Revoke Key"}).Click())
	confirm := page.GetByRole("alertdialog")
	must(t, confirm.GetByRole("button", playwright.LocatorGetByRoleOptions{Name: "Revoke Key"}).Click())
	must(t, expect.Locator(panel.Locator(".badge")).ToHaveText("Revoked"))

	status, v := call(t, a, "/api/v1/whoami", "Authorization", token)
	if status != 401 || errorCode(v) != "revoked_key" {
		t.Errorf("whoami after revoke: %d %v, want 401 revoked_key", status, v)
	}
	if strings.Contains(a.Logs.String(), token) {
		t.Error("the server log contains the token")
	}
}

// TestCommandLineRevokeIsImmediate: the admin command revokes a key in
// another process; the running server refuses it on the next request.
func TestCommandLineRevokeIsImmediate(t *testing.T) {
	t.Parallel()
	a, page := signedIn(t, pageOptions{})
	name := uniq("Incident key")
	token := createKey(t, page, name, []string{"*"}, "Never", "")

	out, err := a.cli(t, token+"\n", "keys", "verify", "--scope", "data:write")
	if err != nil || !strings.Contains(out, "valid: key_") {
		t.Fatalf("keys verify: %v\n%s", err, out)
	}
	if status, v := call(t, a, "/api/v1/verify?scope=proxy:write", "Authorization", token); status != 200 {
		t.Fatalf("verify before revoke: %d %v", status, v)
	}
	out, err = a.cli(t, "", "keys", "revoke", token[:13])
	if err != nil || !strings.Contains(out, "revoked key_") {
		t.Fatalf("keys revoke: %v\n%s", err, out)
	}
	if status, v := call(t, a, "/api/v1/verify?scope=proxy:write", "Authorization", token); status != 401 || errorCode(v) != "revoked_key" {
		t.Errorf("verify right after the command: %d %v, want 401 revoked_key", status, v)
	}
	out, err = a.cli(t, token+"\n", "keys", "verify")
	if err == nil || !strings.Contains(out, "revoked_key") {
		t.Errorf("keys verify of a revoked key: %v\n%s", err, out)
	}

	// The dashboard shows who revoked it: the command line.
	goTo(t, page, "/settings/api-keys")
	must(t, expect.Locator(keyRow(page, name).Locator(".badge")).ToHaveText("Revoked"))
	must(t, exactRole(page, "link", name).Click())
	must(t, expect.Locator(page.GetByRole("dialog")).ToContainText("from the command line"))
}
