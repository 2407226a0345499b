package web_test

import (
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"

	"github.com/PuerkitoBio/goquery"
	"github.com/blnk-cloud/apikeys/internal/testkit/htmlcheck"
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
			d := parse(t, r.Body)
			if tc.want == "" {
				if got := htmlcheck.Text(d.Selection); got != "" {
					t.Errorf("warning %q, want none", got)
				}
			} else if got := d.Text("p.warning"); !strings.HasPrefix(got, tc.want) {
				t.Errorf("warning %q, want %q", got, tc.want)
			}
			checkEscaped(t, r.Body, tc.query)
		})
	}
	one := c.get("/settings/api-keys/name-check?name=Production+API+Key&name=other", htmx())
	if !strings.HasPrefix(parse(t, one.Body).Text("p.warning"), "2 active keys") {
		t.Errorf("repeated name parameter: %s", one.Body)
	}
	// Signed out: nothing to learn.
	if r := ts.client().get("/settings/api-keys/name-check?name=Production+API+Key", htmx()); r.Code != http.StatusOK || r.Header.Get("HX-Redirect") == "" || strings.Contains(textOf(t, r.Body), "already") {
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
		d := parse(t, r.Body)
		summary := d.One("div.error-summary")
		if _, ok := summary.Attr("autofocus"); !ok {
			t.Errorf("full page %v: the error summary does not take the focus", full)
		}
		if got, want := htmlcheck.Text(summary.Find("h2#error-summary-title")), "There are 2 problems"; got != want {
			t.Errorf("full page %v: the error summary's title is %q, want %q", full, got, want)
		}
		// The links, in the form's order: each to its field, saying its problem.
		var links []string
		summary.Find("a").Each(func(_ int, a *goquery.Selection) {
			href, _ := a.Attr("href")
			focus, _ := a.Attr("data-focus")
			links = append(links, href+" "+focus+" "+htmlcheck.Text(a))
		})
		if want := []string{"#f-scopes f-scopes Choose at least one scope.", "#f-expires_on f-expires_on Choose a date after today."}; !slices.Equal(links, want) {
			t.Errorf("full page %v: the error summary's links are %q, want %q", full, links, want)
		}
		if _, ok := d.One("input#f-name").Attr("autofocus"); ok {
			t.Errorf("full page %v: the name field takes the focus from the summary", full)
		}
		if got := d.Text("#f-name-warning p.warning"); !strings.HasPrefix(got, "Another active key is already named “Production API Key”.") {
			t.Errorf("full page %v: no duplicate-name warning, got %q", full, got)
		}
		scopes := d.One("fieldset#f-scopes")
		if by, _ := scopes.Attr("aria-describedby"); !scopes.HasClass("field-invalid") || by != "f-scopes-problem" {
			t.Errorf("full page %v: the scopes are not described by their problem (described by %q)", full, by)
		}
		if _, hidden := scopes.Find("p.hint#f-scopes-hint").Attr("hidden"); !hidden {
			t.Errorf("full page %v: the scopes' hint shows next to their problem", full)
		}
	}
	// The warning and the risk of * with Never are warnings: the key is made.
	k := c.createKey(keyForm("Production API Key", "never", "*"))
	if !strings.HasPrefix(parse(t, k.Reveal.Body).Text("p.warning"), "Another active key has the same name.") {
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
	if strings.Contains(textOf(t, k.Reveal.Body), "same name") {
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

// textareaValue returns the text of the textarea with HTML id id, as the
// browser fills it, and whether there is one.
func textareaValue(body, id string) (string, bool) {
	ta := htmlcheck.Read(body).Find("textarea" + htmlcheck.ID(id)).First()
	if ta.Length() == 0 {
		return "", false
	}
	return ta.Text(), true
}

func TestNotFoundInsideTheAppWhenSignedIn(t *testing.T) {
	ts, c := newSignedIn(t, serverOpts{})
	for _, path := range []string{"/no/such/page", "/settings/api-keys/key_00000000000000000000", "/setup"} {
		r := c.get(path)
		if r.Code != http.StatusNotFound {
			t.Errorf("%s: status %d, want 404", path, r.Code)
		}
		d := parse(t, r.Body)
		for _, sel := range []string{"aside.sidebar", "details.user-menu"} {
			if !d.Has(sel) {
				t.Errorf("%s: the page lacks %s", path, sel)
			}
		}
		if got := d.Text(".error-card h1"); got != "Page not found" {
			t.Errorf("%s: heading %q, want Page not found", path, got)
		}
		if got := d.Text("details.user-menu .user-email"); got != adminEmail {
			t.Errorf("%s: the user menu names %q, want %s", path, got, adminEmail)
		}
		if d.Has(`[aria-current="page"]`) {
			t.Errorf("%s: a navigation entry claims to be this page", path)
		}
	}
	// The pending notice is kept for the next real page.
	c.post("/settings/api-keys/"+c.create("Flash", "mcp:read").ID+"/revoke", nil)
	if r := c.get("/nowhere"); strings.Contains(textOf(t, r.Body), "was revoked") {
		t.Error("the 404 page took the one-time notice")
	}
	if r := c.get("/settings/api-keys"); !strings.Contains(parse(t, r.Body).Text("main .flash"), "was revoked") {
		t.Error("the one-time notice is lost after a 404")
	}
	// Signed out: the page on its own.
	r := ts.client().get("/no/such/page")
	if d := parse(t, r.Body); r.Code != http.StatusNotFound || d.Has(".sidebar") || d.Text(".error-card h1") != "Page not found" {
		t.Errorf("signed out: %d, with the app's shell: %v", r.Code, d.Has(".sidebar"))
	}
	// htmx still gets a fragment.
	if r := c.get("/no/such/page", htmx()); isFullPage(r.Body) || parse(t, r.Body).Has(".sidebar") {
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
	d := parse(t, r.Body)
	hint := d.One("p.hint#f-password-hint")
	if _, hidden := hint.Attr("hidden"); !hidden || htmlcheck.Text(hint) != "At least 12 characters." {
		t.Error("setup: the password's hint is not hidden while its problem shows")
	}
	if by, _ := d.Attr("input#f-password", "aria-describedby"); by != "f-password-problem" {
		t.Error("setup: the password is described by its hint as well as its problem")
	}
	c.setup(adminWorkspace, adminEmail, adminPassword)
	c.post("/logout", nil)

	login := c.post("/login", url.Values{"email": {adminEmail}, "password": {"wrong password!"}})
	if login.Code != http.StatusUnauthorized {
		t.Fatalf("login: %d", login.Code)
	}
	if d := parse(t, login.Body); !d.Has("input#f-password[autofocus]") || d.Has("input#f-email[autofocus]") {
		t.Error("after a wrong password, the focus is not on Password alone")
	}
	fresh := ts.client().get("/login")
	if !parse(t, fresh.Body).Has("input#f-email[autofocus]") {
		t.Error("the sign-in page does not start in Email")
	}
}
