package web_test

import (
	"html"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
)

func TestNameCheckWarnsOfActiveKeysOfTheSameName(t *testing.T) {
	ts, c := newSignedIn(t, serverOpts{})
	c.create("Production API Key", "mcp:read")
	c.create("Production API Key", "data:read")
	revoked := c.create("Old runner", "mcp:read")
	if r := c.post("/settings/api-keys/"+revoked.ID+"/revoke", nil); r.Code != http.StatusSeeOther {
		t.Fatalf("revoke: %d", r.Code)
	}
	other := ts.addWorkspace("Globex", "hank@globex.test", "a long enough password")
	other.create("Staging", "mcp:read")

	for _, tc := range []struct {
		name, query string
		want        string // "" : no warning
	}{
		{"two active keys, any case", "  production API key ", "2 active keys are already named “production API key”."},
		{"a revoked key is not a duplicate", "Old runner", ""},
		{"another workspace's keys do not count", "Staging", ""},
		{"a new name", "Billing", ""},
		{"empty", "", ""},
		{"too long to be a name", strings.Repeat("x", 101), ""},
		{"control characters", "Production\tAPI Key", ""},
		{"markup is text", "<b>Production API Key</b>", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := c.get("/settings/api-keys/name-check?name="+url.QueryEscape(tc.query), htmx())
			if r.Code != http.StatusOK {
				t.Fatalf("status %d, want 200\n%s", r.Code, r.Body)
			}
			if isFullPage(r.Body) {
				t.Error("answered a whole page, want a fragment")
			}
			got := strings.TrimSpace(html.UnescapeString(regexp.MustCompile(`<[^>]+>`).ReplaceAllString(r.Body, "")))
			if tc.want == "" && got != "" || tc.want != "" && !strings.HasPrefix(got, tc.want) {
				t.Errorf("warning %q, want %q", got, tc.want)
			}
			checkEscaped(t, r.Body, tc.query)
		})
	}
	one := c.get("/settings/api-keys/name-check?name=Production+API+Key&name=other", htmx())
	if !strings.Contains(html.UnescapeString(one.Body), "2 active keys") {
		t.Errorf("repeated name parameter: %s", one.Body)
	}
	// Signed out: nothing to learn.
	if r := ts.client().get("/settings/api-keys/name-check?name=Production+API+Key", htmx()); r.Code != http.StatusOK || r.Header.Get("HX-Redirect") == "" || strings.Contains(r.Body, "already") {
		t.Errorf("signed out: %d, HX-Redirect %q, body %q; want a redirect to sign in", r.Code, r.Header.Get("HX-Redirect"), r.Body)
	}
}

func TestCreateFormShowsASummaryAndWarnings(t *testing.T) {
	_, c := newSignedIn(t, serverOpts{})
	c.create("Production API Key", "mcp:read")

	form := url.Values{"name": {"Production API Key"}, "expires": {"date"}, "expires_on": {"2020-01-01"}, "form_token": {formToken()}}
	for _, full := range []bool{true, false} {
		var opts []opt
		if !full {
			opts = append(opts, htmx())
		}
		r := c.post("/settings/api-keys", form, opts...)
		if r.Code != http.StatusUnprocessableEntity {
			t.Fatalf("full page %v: status %d, want 422", full, r.Code)
		}
		body := html.UnescapeString(r.Body)
		summary := regexp.MustCompile(`(?s)<div class="error-summary"[^>]*>.*?</div>`).FindString(body)
		for _, want := range []string{`autofocus`, `<h2 id="error-summary-title">There are 2 problems</h2>`,
			`<a href="#f-scopes" data-focus="f-scopes">Choose at least one scope.</a>`,
			`<a href="#f-expires_on" data-focus="f-expires_on">Choose a date after today.</a>`} {
			if !strings.Contains(summary, want) {
				t.Errorf("full page %v: the error summary lacks %s:\n%s", full, want, summary)
			}
		}
		if strings.Index(summary, "f-scopes") > strings.Index(summary, "f-expires_on") {
			t.Errorf("full page %v: the summary is not in the form's order", full)
		}
		if strings.Contains(body, `id="f-name" name="name" type="text" value="Production API Key" required maxlength="100" autocomplete="off" autofocus`) {
			t.Errorf("full page %v: the name field takes the focus from the summary", full)
		}
		if !strings.Contains(body, "Another active key is already named “Production API Key”.") {
			t.Errorf("full page %v: no duplicate-name warning", full)
		}
		if !strings.Contains(body, `<fieldset id="f-scopes" class="field field-invalid" aria-describedby="f-scopes-problem"`) {
			t.Errorf("full page %v: the scopes are not described by their problem", full)
		}
		if !strings.Contains(body, `<p class="hint" id="f-scopes-hint" hidden>`) {
			t.Errorf("full page %v: the scopes' hint shows next to their problem", full)
		}
	}
	// The warning and the risk of * with Never are warnings: the key is made.
	k := c.createKey(keyForm("Production API Key", "never", "*"))
	if !strings.Contains(html.UnescapeString(k.Reveal.Body), "Another active key has the same name.") {
		t.Error("the reveal page does not say another key has the same name")
	}
}

func TestRevealShowsAUsageLineWithoutTheKey(t *testing.T) {
	_, c := newSignedIn(t, serverOpts{})
	k := c.create("Usage", "mcp:read")
	line, ok := textareaValue(k.Reveal.Body, "usage-line")
	if !ok {
		t.Fatalf("no usage line on the reveal page:\n%s", k.Reveal.Body)
	}
	if want := `curl -H "Authorization: Bearer $BLNK_API_KEY" ` + origin + `/api/v1/whoami`; line != want {
		t.Errorf("usage line %q, want %q", line, want)
	}
	if strings.Contains(line, k.Token) || strings.Contains(line, k.Prefix) {
		t.Errorf("usage line %q holds the key", line)
	}
	if strings.Contains(k.Reveal.Body, "same name") {
		t.Error("a key with a new name is said to have another's name")
	}

	// Over TLS the line says https. (The reveal cookie is Secure then,
	// and the jar keeps it from this http:// test origin: sent by hand.)
	r := c.post("/settings/api-keys", keyForm("Usage TLS", "never"), overTLS())
	page := c.get(r.Header.Get("Location"), overTLS(), withCookies(append(c.cookiesFor("/"), r.cookie("blnk_reveal"))))
	if line, _ := textareaValue(page.Body, "usage-line"); !strings.HasPrefix(line, `curl -H "Authorization: Bearer $BLNK_API_KEY" https://`) {
		t.Errorf("over TLS: usage line %q", line)
	}

	// Once gone, no key, and no line.
	again := c.get(k.Reveal.Target)
	if _, ok := textareaValue(again.Body, "usage-line"); ok || revealedToken(again.Body) != "" {
		t.Error("the reveal page, once used, still shows the key or the usage line")
	}
}

func textareaValue(body, id string) (string, bool) {
	m := regexp.MustCompile(`<textarea[^>]*\bid="` + regexp.QuoteMeta(id) + `"[^>]*>([^<]*)</textarea>`).FindStringSubmatch(body)
	if m == nil {
		return "", false
	}
	return html.UnescapeString(m[1]), true
}

func TestNotFoundInsideTheAppWhenSignedIn(t *testing.T) {
	ts, c := newSignedIn(t, serverOpts{})
	for _, path := range []string{"/no/such/page", "/settings/api-keys/key_00000000000000000000", "/setup"} {
		r := c.get(path)
		if r.Code != http.StatusNotFound {
			t.Errorf("%s: status %d, want 404", path, r.Code)
		}
		for _, want := range []string{`<aside class="sidebar"`, `<details class="user-menu">`, "Page not found", adminEmail} {
			if !strings.Contains(r.Body, want) {
				t.Errorf("%s: the page lacks %s", path, want)
			}
		}
		if strings.Contains(r.Body, `aria-current="page"`) {
			t.Errorf("%s: a navigation entry claims to be this page", path)
		}
	}
	// The pending notice is kept for the next real page.
	c.post("/settings/api-keys/"+c.create("Flash", "mcp:read").ID+"/revoke", nil)
	if r := c.get("/nowhere"); strings.Contains(r.Body, "was revoked") {
		t.Error("the 404 page took the one-time notice")
	}
	if r := c.get("/settings/api-keys"); !strings.Contains(r.Body, "was revoked") {
		t.Error("the one-time notice is lost after a 404")
	}
	// Signed out: the page on its own.
	r := ts.client().get("/no/such/page")
	if r.Code != http.StatusNotFound || strings.Contains(r.Body, `class="sidebar"`) || !strings.Contains(r.Body, "Page not found") {
		t.Errorf("signed out: %d, with the app's shell: %v", r.Code, strings.Contains(r.Body, `class="sidebar"`))
	}
	// htmx still gets a fragment.
	if r := c.get("/no/such/page", htmx()); isFullPage(r.Body) || strings.Contains(r.Body, "sidebar") {
		t.Errorf("htmx: a whole page for a 404")
	}
}

func TestAuthFormsFocusAndHints(t *testing.T) {
	ts := newTestServer(t, serverOpts{})
	c := ts.client()
	r := c.post("/setup", url.Values{"workspace": {"Acme"}, "email": {"ada@acme.test"}, "password": {"short"}, "confirm": {"short"}})
	if r.Code != http.StatusUnprocessableEntity {
		t.Fatalf("setup: %d", r.Code)
	}
	if !strings.Contains(r.Body, `<p class="hint" id="f-password-hint" hidden>At least 12 characters.</p>`) {
		t.Error("setup: the password's hint is not hidden while its problem shows")
	}
	if !strings.Contains(r.Body, `aria-describedby="f-password-problem"`) || strings.Contains(r.Body, `aria-describedby="f-password-hint f-password-problem"`) {
		t.Error("setup: the password is described by its hint as well as its problem")
	}
	c.setup(adminWorkspace, adminEmail, adminPassword)
	c.post("/logout", nil)

	login := c.post("/login", url.Values{"email": {adminEmail}, "password": {"wrong password!"}})
	if login.Code != http.StatusUnauthorized {
		t.Fatalf("login: %d", login.Code)
	}
	if !regexp.MustCompile(`<input id="f-password"[^>]*autofocus`).MatchString(login.Body) || regexp.MustCompile(`<input id="f-email"[^>]*autofocus`).MatchString(login.Body) {
		t.Error("after a wrong password, the focus is not on Password alone")
	}
	fresh := ts.client().get("/login")
	if !regexp.MustCompile(`<input id="f-email"[^>]*autofocus`).MatchString(fresh.Body) {
		t.Error("the sign-in page does not start in Email")
	}
}
