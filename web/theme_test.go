package web_test

import (
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/PuerkitoBio/goquery"
)

// themeOf returns the data-theme of a page's <html> ("" when it follows
// the system) and its color-scheme meta tag.
func themeOf(t *testing.T, body string) (theme, scheme string) {
	t.Helper()
	if !isFullPage(body) {
		t.Fatalf("no <html> page in\n%s", body)
	}
	d := parse(t, body)
	theme, _ = d.Attr("html", "data-theme")
	scheme, _ = d.Attr(`head > meta[name="color-scheme"]`, "content")
	return theme, scheme
}

// pressedTheme returns the values of the theme switch's buttons shown as
// pressed.
func pressedTheme(t *testing.T, body string) []string {
	t.Helper()
	var out []string
	parse(t, body).Find(`form.theme-form button[name="theme"][aria-pressed="true"]`).Each(func(_ int, b *goquery.Selection) {
		v, _ := b.Attr("value")
		out = append(out, v)
	})
	return out
}

func TestThemeIsRememberedAndRenderedByTheServer(t *testing.T) {
	ts, c := newSignedIn(t, serverOpts{})

	r := c.get("/settings/api-keys")
	if theme, scheme := themeOf(t, r.Body); theme != "" || scheme != "light dark" {
		t.Errorf("before any choice: data-theme %q, color-scheme %q; want none and \"light dark\"", theme, scheme)
	}
	if got := pressedTheme(t, r.Body); len(got) != 1 || got[0] != "system" {
		t.Error("the System button is not shown as pressed before any choice")
	}

	for _, tc := range []struct {
		name, value     string
		opts            []opt
		wantCode        int
		wantTheme       string
		wantScheme      string
		wantCookieValue string // "" : the cookie is deleted
	}{
		{"dark, plain form from the list", "dark", []opt{header("Referer", origin+"/settings/api-keys?q=prod")}, http.StatusSeeOther, "dark", "dark", "dark"},
		{"light, from htmx", "light", []opt{htmx()}, http.StatusNoContent, "light", "light", "light"},
		{"system deletes the cookie", "system", nil, http.StatusSeeOther, "", "light dark", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := c.post("/settings/theme", url.Values{"theme": {tc.value}}, tc.opts...)
			if r.Code != tc.wantCode {
				t.Fatalf("POST /settings/theme: status %d, want %d\n%s", r.Code, tc.wantCode, r)
			}
			ck := r.cookie("blnk_theme")
			if ck == nil {
				t.Fatal("no blnk_theme cookie set")
			}
			if tc.wantCookieValue == "" {
				if ck.MaxAge >= 0 {
					t.Errorf("cookie %v: want it deleted", ck)
				}
			} else if ck.Value != tc.wantCookieValue || ck.MaxAge < 300*24*3600 || !ck.HttpOnly || ck.Path != "/" || ck.SameSite != http.SameSiteLaxMode {
				t.Errorf("cookie %v: want %s, long-lived, HttpOnly, Path=/, SameSite=Lax", ck, tc.wantCookieValue)
			}
			page := c.get("/settings/api-keys")
			if theme, scheme := themeOf(t, page.Body); theme != tc.wantTheme || scheme != tc.wantScheme {
				t.Errorf("then data-theme %q, color-scheme %q; want %q, %q", theme, scheme, tc.wantTheme, tc.wantScheme)
			}
			if got := pressedTheme(t, page.Body); len(got) != 1 || got[0] != tc.value {
				t.Errorf("the %s button is not shown as pressed", tc.value)
			}
			// Pages that are not signed in, and error pages, follow it too.
			other := ts.client()
			for _, ck := range c.cookiesFor("/") {
				if ck.Name == "blnk_theme" {
					other.jar.SetCookies(mustURL(t, origin+"/"), []*http.Cookie{ck})
				}
			}
			for _, p := range []string{"/login", "/no/such/page"} {
				if theme, _ := themeOf(t, other.get(p).Body); theme != tc.wantTheme {
					t.Errorf("%s: data-theme %q, want %q", p, theme, tc.wantTheme)
				}
			}
		})
	}

	// The plain form goes back where it came from, on this site only.
	for _, tc := range []struct{ referer, want string }{
		{origin + "/settings/api-keys?status=active&sort=name", "/settings/api-keys?status=active&sort=name"},
		{"https://evil.test/settings/api-keys", "/settings/api-keys"},
		{"", "/settings/api-keys"},
		{origin + "//evil.test/x", "/settings/api-keys"},
	} {
		r := c.post("/settings/theme", url.Values{"theme": {"dark"}}, header("Referer", tc.referer))
		if got := r.Header.Get("Location"); r.Code != http.StatusSeeOther || got != tc.want {
			t.Errorf("Referer %q: %d to %q, want 303 to %q", tc.referer, r.Code, got, tc.want)
		}
	}

	// Nonsense is refused, and changes nothing.
	for _, v := range []string{"", "blue", "DARK", "dark; Path=/x"} {
		r := c.post("/settings/theme", url.Values{"theme": {v}})
		if r.Code != http.StatusBadRequest || r.cookie("blnk_theme") != nil {
			t.Errorf("theme %q: %d with cookie %v, want 400 and no cookie", v, r.Code, r.cookie("blnk_theme"))
		}
	}
	// A forged cookie value is ignored.
	forged := []*http.Cookie{{Name: "blnk_theme", Value: `x" onload="alert(1)`}}
	for _, ck := range c.cookiesFor("/") {
		if ck.Name != "blnk_theme" {
			forged = append(forged, ck)
		}
	}
	r = c.get("/settings/api-keys", withCookies(forged))
	if theme, scheme := themeOf(t, r.Body); r.Code != http.StatusOK || theme != "" || scheme != "light dark" {
		t.Errorf("forged cookie: %d, data-theme %q, color-scheme %q; want 200 and the system's", r.Code, theme, scheme)
	}
	// Signed out, the switch is not there to use.
	if r := ts.client().post("/settings/theme", url.Values{"theme": {"dark"}}); r.Code != http.StatusSeeOther || !strings.HasPrefix(r.Header.Get("Location"), "/login") {
		t.Errorf("signed out: %d to %q, want 303 to the sign-in page", r.Code, r.Header.Get("Location"))
	}
	// Another site cannot change it.
	if r := c.post("/settings/theme", url.Values{"theme": {"light"}}, header("Sec-Fetch-Site", "cross-site")); r.Code != http.StatusForbidden {
		t.Errorf("cross-site: %d, want 403", r.Code)
	}
}

func mustURL(t *testing.T, s string) *url.URL {
	t.Helper()
	u, err := url.Parse(s)
	if err != nil {
		t.Fatal(err)
	}
	return u
}
