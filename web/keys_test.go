package web_test

import (
	"context"
	"database/sql"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/PuerkitoBio/goquery"
	"github.com/blnk-cloud/apikeys/internal/apikey"
	"github.com/blnk-cloud/apikeys/internal/testkit/htmlcheck"
)

// revokedAt returns the stored revocation time of a key (0: none).
func (ts *testServer) revokedAt(id string) int64 {
	ts.t.Helper()
	var at sql.NullInt64
	if err := ts.raw.QueryRow(`SELECT revoked_at FROM api_keys WHERE id = $1`, id).Scan(&at); err != nil {
		ts.t.Fatalf("revoked_at of %s: %v", id, err)
	}
	return at.Int64
}

func TestKeyListEmpty(t *testing.T) {
	t.Parallel()
	_, c := newSignedIn(t, serverOpts{})
	for _, opts := range [][]opt{nil, {htmx()}} {
		r := c.get("/settings/api-keys", opts...)
		if r.Code != http.StatusOK {
			t.Fatalf("status: got %d, want 200", r.Code)
		}
		d := parse(t, r.Body)
		empty := d.Find("section.empty-state")
		if got := htmlcheck.Text(empty.Find("h2")); got != "No API keys yet" {
			t.Errorf("empty list heading: got %q, want No API keys yet", got)
		}
		if got := htmlcheck.Text(empty.Find(`a[href="/settings/api-keys/new"]`)); got != "Create API Key" {
			t.Errorf("empty list: link to the form %q, want Create API Key", got)
		}
		if d.Has("table") {
			t.Errorf("empty list: has a table")
		}
	}
}

func TestKeyList(t *testing.T) {
	t.Parallel()
	ts, c := newSignedIn(t, serverOpts{})
	// Valid through Mar 11, 2026 (UTC): expired from Mar 12, 00:00.
	expiring := c.createKey(url.Values{"name": {"Expiring"}, "scopes": {"mcp:read", "mcp:write"}, "expires": {"date"}, "expires_on": {"2026-03-11"}, "form_token": {formToken()}})
	ts.clock.Advance(time.Minute)
	forever := c.createKey(keyForm("Forever", "never", "data:read"))
	ts.clock.Advance(time.Minute)
	thirty := c.createKey(keyForm("Thirty days", "30d", "*"))
	ts.clock.Advance(time.Minute)
	revoked := c.create("Revoked one", "proxy:write")
	if r := c.post("/settings/api-keys/"+revoked.ID+"/revoke", nil); r.Code != http.StatusSeeOther {
		t.Fatalf("revoke: got %d, want 303", r.Code)
	}

	check := func(t *testing.T, body string, wantStatus map[string]string) {
		t.Helper()
		d := parse(t, body)
		// Newest first.
		order := []newKey{revoked, thirty, forever, expiring}
		var rows []string
		d.Find("table.keys > tbody > tr").Each(func(_ int, s *goquery.Selection) {
			id, _ := s.Attr("id")
			rows = append(rows, strings.TrimPrefix(id, "key-row-"))
		})
		var want []string
		for _, k := range order {
			want = append(want, k.ID)
		}
		if !slices.Equal(rows, want) {
			t.Errorf("rows: got %q, want %q (newest first)", rows, want)
		}
		var cols []string
		d.Find("table.keys > thead th").Each(func(_ int, s *goquery.Selection) {
			th := s.Clone()
			th.Find(".sort-arrow").Remove()
			cols = append(cols, htmlcheck.Text(th))
		})
		// The first column holds "select all on this page", the last the
		// rows' action menus.
		if want := []string{"Select", "Name", "Key", "Scopes", "Role", "Expires", "Last used", "Created", "Created by", "Status", "Actions"}; !slices.Equal(cols, want) {
			t.Errorf("columns: got %q, want %q", cols, want)
		}
		// Role is always Member: a column on wide screens, said once under
		// the table for the narrower ones.
		if got := d.Text("#list-count"); !strings.HasSuffix(got, "Every key has the Member role.") {
			t.Errorf("the list does not say the keys' role under the table: %q", got)
		}
		for _, k := range order {
			if got, want := htmlcheck.Text(keyCell(d, k.ID, "Key")), k.Prefix+"..."; got != want {
				t.Errorf("%s Key cell: got %q, want %q", k.ID, got, want)
			}
			if got := htmlcheck.Text(keyCell(d, k.ID, "Role")); got != "Member" {
				t.Errorf("%s Role cell: got %q, want Member", k.ID, got)
			}
			// Narrower screens show the prefix under the name instead.
			if got := htmlcheck.Text(keyCell(d, k.ID, "Name").Find(".prefix-under code.prefix")); got != k.Prefix+"..." {
				t.Errorf("%s Name cell's prefix: got %q, want %s...", k.ID, got, k.Prefix)
			}
			if got := htmlcheck.Text(keyCell(d, k.ID, "Last used")); got != "Never" {
				t.Errorf("%s Last used: got %q, want Never", k.ID, got)
			}
			if !hasLink(keyCell(d, k.ID, "Name"), "/settings/api-keys/"+k.ID) {
				t.Errorf("%s Name is not a link to the details", k.ID)
			}
			if got, want := htmlcheck.Text(keyCell(d, k.ID, "Status")), wantStatus[k.ID]; got != want {
				t.Errorf("%s Status: got %q, want %q", k.ID, got, want)
			}
			// Anywhere in the response, markup included: a leak scan.
			if strings.Contains(body, k.Token) {
				t.Errorf("the list shows the token of %s", k.ID)
			}
		}
		if got := htmlcheck.Text(keyCell(d, forever.ID, "Expires")); got != "Never" {
			t.Errorf("Expires of a key without expiry: got %q, want Never", got)
		}
		if got := htmlcheck.Text(keyCell(d, expiring.ID, "Expires")); got != "Mar 11, 2026" {
			t.Errorf("Expires of the dated key: got %q, want Mar 11, 2026", got)
		}
		if got := htmlcheck.Text(keyCell(d, thirty.ID, "Expires")); !strings.HasPrefix(got, "Apr 9, 2026 · in ") {
			t.Errorf("Expires of a 30-day key: got %q, want Apr 9, 2026 and the time left (TestExpiryTimeLeft)", got)
		}
		if got := htmlcheck.Text(keyCell(d, forever.ID, "Created").Find("time")); got != "Mar 10, 2026" {
			t.Errorf("Created: got %q, want Mar 10, 2026", got)
		}
		chips := func(id string) []string {
			var out []string
			keyCell(d, id, "Scopes").Find("ul.chips > li").Each(func(_ int, s *goquery.Selection) { out = append(out, htmlcheck.Text(s)) })
			return out
		}
		if got := chips(thirty.ID); !slices.Equal(got, []string{"All permissions"}) {
			t.Errorf("Scopes of the * key: got %q", got)
		}
		if got := chips(expiring.ID); !slices.Contains(got, "mcp:read") || !slices.Contains(got, "mcp:write") {
			t.Errorf("Scopes of the MCP key: got %q", got)
		}
	}

	for _, mode := range []string{"page", "htmx"} {
		t.Run("now/"+mode, func(t *testing.T) {
			var opts []opt
			if mode == "htmx" {
				opts = append(opts, htmx())
			}
			r := c.get("/settings/api-keys", opts...)
			if r.Code != http.StatusOK {
				t.Fatalf("status: got %d, want 200", r.Code)
			}
			// The dated key stops working in 36 hours: it says so (in days).
			check(t, r.Body, map[string]string{revoked.ID: "Revoked", thirty.ID: "Active", forever.ID: "Active", expiring.ID: "Expires in 2 days"})
		})
	}

	t.Run("after the dated key expires", func(t *testing.T) {
		ts.clock.Advance(36 * time.Hour) // Mar 12, 00:03 UTC
		c.signIn(adminEmail, adminPassword)
		r := c.get("/settings/api-keys")
		check(t, r.Body, map[string]string{revoked.ID: "Revoked", thirty.ID: "Active", forever.ID: "Active", expiring.ID: "Expired"})
	})
}

func TestNewKeyForm(t *testing.T) {
	t.Parallel()
	_, c := newSignedIn(t, serverOpts{})
	tests := []struct {
		name     string
		opts     []opt
		wantPage bool
		wantHead string // the fragment's first element ("": a page, whose doctype isFullPage checks)
	}{
		{"page", nil, true, ""},
		{"htmx", []opt{htmx()}, false, "dialog.modal[data-modal]"},
		{"htmx history restore", []opt{htmx(), header("HX-History-Restore-Request", "true")}, true, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := c.get("/settings/api-keys/new", tt.opts...)
			if r.Code != http.StatusOK {
				t.Fatalf("status: got %d, want 200", r.Code)
			}
			if tt.wantHead != "" && !parse(t, r.Body).Children().First().Is(tt.wantHead) {
				t.Errorf("body starts %.60q, want %s", r.Body, tt.wantHead)
			}
			if got := isFullPage(r.Body); got != tt.wantPage {
				t.Errorf("whole page: got %v, want %v", got, tt.wantPage)
			}
			d := parse(t, r.Body)
			if tt.wantPage && !d.Has("body.app") {
				t.Errorf("page without the signed-in layout")
			}
			if !strings.Contains(strings.Join(r.Header.Values("Vary"), ","), "HX-Request") {
				t.Errorf("Vary: got %q, want HX-Request in it", r.Header.Values("Vary"))
			}
			form := d.Find(`form#create-key-form[action="/settings/api-keys"][hx-post="/settings/api-keys"]`)
			if form.Length() != 1 {
				t.Errorf("form: got %d create forms posting to /settings/api-keys, want 1", form.Length())
			}
			if got := htmlcheck.Text(form.Find("select#f-role[disabled] > option[selected]")); got != "Member" {
				t.Errorf("role: got %q selected in a disabled select, want Member", got)
			}
			tok, _ := form.Find(`input[name="form_token"]`).Attr("value")
			if len(tok) != 32 || strings.Trim(tok, "0123456789abcdef") != "" {
				t.Errorf("form token: got %q, want 32 hex characters", tok)
			}
			var defaults []string
			form.Find(`input[type="radio"][name="expires"][checked]`).Each(func(_ int, s *goquery.Selection) {
				v, _ := s.Attr("value")
				defaults = append(defaults, v)
			})
			if !slices.Equal(defaults, []string{"30d"}) {
				t.Errorf("expiry checked by default: got %q, want 30d", defaults)
			}
			if got := checkedScopes(r.Body); len(got) != 0 {
				t.Errorf("scopes ticked by default: %q", got)
			}
		})
	}
	t.Run("two forms have different tokens", func(t *testing.T) {
		a, _ := inputValueByName(c.get("/settings/api-keys/new").Body, "form_token")
		b, _ := inputValueByName(c.get("/settings/api-keys/new").Body, "form_token")
		if a == b {
			t.Errorf("form tokens: both %q", a)
		}
	})
}

func TestCreateKey(t *testing.T) {
	t.Parallel()
	ts, c := newSignedIn(t, serverOpts{})
	t.Run("without htmx: 303 to the reveal page", func(t *testing.T) {
		r := c.post("/settings/api-keys", keyForm("Plain", "never"))
		if r.Code != http.StatusSeeOther {
			t.Fatalf("status: got %d, want 303", r.Code)
		}
		loc := r.Header.Get("Location")
		if !revealPathRE.MatchString(loc) {
			t.Fatalf("Location: got %q, want /settings/api-keys/{id}/reveal", loc)
		}
		ck := r.cookie("blnk_reveal")
		if ck == nil {
			t.Fatalf("no reveal cookie")
		}
		if ck.Path != loc {
			t.Errorf("reveal cookie Path: got %q, want %q", ck.Path, loc)
		}
		if !ck.HttpOnly {
			t.Errorf("reveal cookie HttpOnly: got false, want true")
		}
		if ck.MaxAge <= 0 || ck.MaxAge > 3600 {
			t.Errorf("reveal cookie MaxAge: got %d, want a few minutes", ck.MaxAge)
		}
		if ck.SameSite != http.SameSiteStrictMode && ck.SameSite != http.SameSiteLaxMode {
			t.Errorf("reveal cookie SameSite: got %v, want Strict or Lax", ck.SameSite)
		}
		if len(c.cookiesFor("/settings/api-keys")) != 1 {
			t.Errorf("the reveal cookie is sent to other pages than the reveal page")
		}
	})
	t.Run("with htmx: HX-Redirect to the reveal page", func(t *testing.T) {
		r := c.post("/settings/api-keys", keyForm("htmx", "never"), htmx())
		if r.Code != http.StatusOK {
			t.Fatalf("status: got %d, want 200", r.Code)
		}
		if !revealPathRE.MatchString(r.Header.Get("HX-Redirect")) {
			t.Errorf("HX-Redirect: got %q, want /settings/api-keys/{id}/reveal", r.Header.Get("HX-Redirect"))
		}
		if r.cookie("blnk_reveal") == nil {
			t.Errorf("no reveal cookie")
		}
		page := c.follow(r)
		if tok := revealedToken(page.Body); tok == "" {
			t.Errorf("the reveal page after an htmx create shows no token")
		}
	})
	t.Run("the stored key is what was asked", func(t *testing.T) {
		k := c.createKey(url.Values{"name": {"  Trimmed name  "}, "scopes": {"data:write", "mcp:read", "mcp:read"}, "expires": {"90d"}, "form_token": {formToken()}})
		var name, scopes string
		var expires sql.NullInt64
		if err := ts.raw.QueryRow(`SELECT name, scopes, expires_at FROM api_keys WHERE id = $1`, k.ID).Scan(&name, &scopes, &expires); err != nil {
			t.Fatal(err)
		}
		if name != "Trimmed name" {
			t.Errorf("name: got %q, want %q", name, "Trimmed name")
		}
		if scopes != "mcp:read data:write" {
			t.Errorf("scopes: got %q, want %q", scopes, "mcp:read data:write")
		}
		if got, want := time.UnixMilli(expires.Int64).UTC(), time.Date(2026, 6, 9, 0, 0, 0, 0, time.UTC); !got.Equal(want) {
			t.Errorf("expires_at: got %v, want %v", got, want)
		}
	})
	t.Run("a date without the date choice", func(t *testing.T) {
		// A client without JavaScript may send only the date.
		r := c.post("/settings/api-keys", url.Values{"name": {"Dated"}, "scopes": {"*"}, "expires_on": {"2027-01-31"}, "form_token": {formToken()}})
		if r.Code != http.StatusSeeOther {
			t.Errorf("status: got %d, want 303", r.Code)
		}
	})
}

func TestCreateKeyDoubleSubmit(t *testing.T) {
	t.Parallel()
	for _, mode := range []string{"page", "htmx", "concurrent"} {
		t.Run(mode, func(t *testing.T) {
			t.Parallel()
			ts, c := newSignedIn(t, serverOpts{})
			form := keyForm("Double", "never")
			var opts []opt
			if mode == "htmx" {
				opts = append(opts, htmx())
			}
			n := 2
			if mode == "concurrent" {
				n = 6
			}
			rs := make([]*response, n)
			var wg sync.WaitGroup
			for i := range rs {
				if mode == "concurrent" {
					wg.Go(func() { rs[i] = c.post("/settings/api-keys", form, opts...) })
				} else {
					rs[i] = c.post("/settings/api-keys", form, opts...)
				}
			}
			wg.Wait()
			if got := ts.count("api_keys"); got != 1 {
				t.Fatalf("api_keys: got %d, want 1", got)
			}
			target := func(r *response) string { return r.Header.Get("Location") + r.Header.Get("HX-Redirect") }
			reveals := 0
			for i, r := range rs {
				if r.Code != http.StatusSeeOther && r.Code != http.StatusOK {
					t.Errorf("response %d: got %d, want a redirect", i, r.Code)
				}
				if !revealPathRE.MatchString(target(r)) {
					t.Errorf("response %d: redirect %q, want the reveal page", i, target(r))
				}
				if target(r) != target(rs[0]) {
					t.Errorf("response %d: redirect %q, want the same as the first, %q", i, target(r), target(rs[0]))
				}
				if r.cookie("blnk_reveal") != nil {
					reveals++
				}
			}
			if reveals != 1 {
				t.Errorf("responses with a reveal cookie: got %d, want 1", reveals)
			}
		})
	}
}

func TestRevealOnce(t *testing.T) {
	t.Parallel()
	ts, c := newSignedIn(t, serverOpts{})
	r := c.post("/settings/api-keys", keyForm("Reveal me", "never"))
	loc := r.Header.Get("Location")
	original := c.cookiesFor(loc) // the session and the reveal cookie
	if len(original) != 2 {
		t.Fatalf("cookies for the reveal page: got %d, want 2 (session and reveal)", len(original))
	}

	first := c.get(loc)
	token := revealedToken(first.Body)
	if len(token) != 51 {
		t.Fatalf("revealed token: got %q (%d characters), want 51 characters", token, len(token))
	}
	prefix, err := apikey.Parse(token)
	if err != nil {
		t.Fatalf("revealed token does not parse: %v", err)
	}
	rd := parse(t, first.Body)
	if got := rd.Text("section.reveal-card h1"); got != "Save your API key" {
		t.Errorf("reveal page heading: got %q, want Save your API key", got)
	}
	if got := rd.Text(`.alert-warning[role="note"] strong`); got != "This is the only time the key will be shown." {
		t.Errorf("reveal page warning: got %q", got)
	}
	if !rd.Has(`button[data-copy="reveal-key"]`) {
		t.Errorf("reveal page: no copy button for the key")
	}
	if got := detail(rd, "Prefix"); got != prefix+"..." {
		t.Errorf("reveal page's prefix: got %q, want %s...", got, prefix)
	}
	if got := first.Header.Get("Cache-Control"); got != "no-store" {
		t.Errorf("Cache-Control: got %q, want no-store", got)
	}
	if ck := first.cookie("blnk_reveal"); ck == nil || ck.MaxAge >= 0 || ck.Path != loc {
		t.Errorf("the reveal page does not delete its cookie: %v", ck)
	}

	other := ts.client()
	other.signIn(adminEmail, adminPassword)
	tests := []struct {
		name string
		do   func() *response
	}{
		{"reload", func() *response { return c.get(loc) }},
		{"replay of the original cookies", func() *response { return c.get(loc, withCookies(original)) }},
		{"another session of the workspace", func() *response { return other.get(loc) }},
		{"htmx", func() *response { return c.get(loc, htmx(), withCookies(original)) }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := tt.do()
			if r.Code != http.StatusOK {
				t.Fatalf("status: got %d, want 200", r.Code)
			}
			d := parse(t, r.Body)
			if got := d.Text("section.reveal-card h1"); got != "This key can no longer be displayed" {
				t.Errorf("heading: got %q, want the key gone", got)
			}
			if got := d.Text(".reveal-head p code.prefix"); got != prefix+"..." {
				t.Errorf("the gone key's prefix: got %q, want %s...", got, prefix)
			}
			// A leak scan: anywhere in the response, markup included.
			if strings.Contains(r.Body, token) || strings.Contains(r.Body, token[13:45]) || d.Has("#reveal-key") {
				t.Errorf("body shows the token again")
			}
			if got := r.Header.Get("Cache-Control"); got != "no-store" {
				t.Errorf("Cache-Control: got %q, want no-store", got)
			}
			if got := r.Header.Get("Referrer-Policy"); got != "no-referrer" {
				t.Errorf("Referrer-Policy: got %q, want no-referrer", got)
			}
		})
	}

	t.Run("another session first does not use up the reveal", func(t *testing.T) {
		r := c.post("/settings/api-keys", keyForm("Second", "never"))
		loc := r.Header.Get("Location")
		if got := other.get(loc); revealedToken(got.Body) != "" {
			t.Fatalf("another session sees the token")
		}
		if got := c.get(loc); revealedToken(got.Body) == "" {
			t.Errorf("the creating browser does not see its token after another session looked")
		}
	})
	t.Run("the reveal waits ten minutes at most", func(t *testing.T) {
		// The browser drops the cookie after ten minutes; a copy of it
		// must not work later either.
		r := c.post("/settings/api-keys", keyForm("Late", "never"))
		loc := r.Header.Get("Location")
		ts.clock.Advance(10*time.Minute + time.Second)
		got := c.get(loc)
		if revealedToken(got.Body) != "" {
			t.Errorf("the reveal page shows the token after more than ten minutes")
		}
		if h := parse(t, got.Body).Text("section.reveal-card h1"); h != "This key can no longer be displayed" {
			t.Errorf("heading: got %q, want the key gone", h)
		}
		r = c.post("/settings/api-keys", keyForm("Just in time", "never"))
		ts.clock.Advance(10*time.Minute - time.Second)
		if got := c.follow(r); revealedToken(got.Body) == "" {
			t.Errorf("the reveal page shows no token after 9m59s")
		}
	})
	t.Run("a reveal cookie of one key does not reveal another", func(t *testing.T) {
		a := c.post("/settings/api-keys", keyForm("A", "never"))
		b := c.post("/settings/api-keys", keyForm("B", "never"))
		aLoc, bLoc := a.Header.Get("Location"), b.Header.Get("Location")
		var aCookie *http.Cookie
		for _, ck := range c.cookiesFor(aLoc) {
			if ck.Name == "blnk_reveal" {
				aCookie = ck
			}
		}
		cookies := append([]*http.Cookie{aCookie}, c.cookiesFor("/")...)
		if got := c.get(bLoc, withCookies(cookies)); revealedToken(got.Body) != "" {
			t.Errorf("key B's reveal page shows a token with key A's cookie")
		}
		if got := c.get(bLoc); revealedToken(got.Body) == "" {
			t.Errorf("key B's own cookie no longer reveals it")
		}
	})
}

func TestTokenNeverLeaksAfterTheReveal(t *testing.T) {
	t.Parallel()
	ts, c := newSignedIn(t, serverOpts{})
	before := ts.mark()
	k := c.create("Secret holder", "mcp:write")
	shown := ts.mark() - 1 // the reveal page

	anon := ts.client()
	c.get("/settings/api-keys")
	c.get("/settings/api-keys", htmx())
	c.get("/settings/api-keys/" + k.ID)
	c.get("/settings/api-keys/"+k.ID, htmx())
	c.get("/settings/api-keys/" + k.ID + "/reveal")
	c.get("/settings/api-keys/" + k.ID + "/revoke")
	for _, p := range []string{"/api/v1/whoami", "/api/v1/verify?scope=mcp:read", "/api/v1/examples/mcp", "/api/v1/verify?scope=data:read"} {
		anon.api(p, k.Token)
		anon.get(p, header("X-Blnk-Key", k.Token), noCookies())
	}
	anon.get("/api/v1/whoami?key="+k.Token, noCookies())
	anon.get("/api/v1/verify?api_key="+k.Token, noCookies())
	anon.get("/api/v1/whoami", header("Authorization", "Bearer "+k.Token+"x"), noCookies())
	pasted := ts.mark() // the user pastes the key into a form: the form shows what was typed
	c.post("/settings/api-keys", url.Values{"name": {k.Token}, "scopes": {"nope"}})
	c.post("/settings/api-keys/"+k.ID+"/revoke", nil, htmx(), header("HX-Current-URL", origin+"/settings/api-keys"))
	c.post("/settings/api-keys/"+k.ID+"/revoke", nil)
	c.get("/settings/api-keys/" + k.ID)
	anon.api("/api/v1/whoami", k.Token)
	anon.api("/api/v1/verify", k.Token)
	if err := ts.auth.Flush(context.Background()); err != nil {
		t.Fatal(err)
	}

	secret := k.Token[apikey.PrefixLen : apikey.PrefixLen+32]
	if got := ts.responsesSince(shown)[0]; !strings.Contains(got.Body, secret) {
		t.Fatalf("response %d (%s %s) is not the reveal page", shown, got.Method, got.Target)
	}
	for i, r := range ts.responsesSince(before) {
		all := r.String()
		switch before + i {
		case shown:
			continue
		case pasted:
			var hb strings.Builder
			r.Header.Write(&hb)
			all = hb.String()
		}
		if strings.Contains(all, secret) {
			t.Errorf("%s %.60s (%d): response contains the token", r.Method, r.Target, r.Code)
		}
	}
	logs := ts.logs.String()
	if !strings.Contains(logs, k.ID) {
		t.Errorf("the log does not mention the key at all; is it being written?")
	}
	if strings.Contains(logs, secret) {
		t.Errorf("the log contains the token")
	}
	for name, b := range ts.dbFiles() {
		if strings.Contains(string(b), secret) {
			t.Errorf("database file %s contains the token", name)
		}
	}
}

func TestKeyDetails(t *testing.T) {
	t.Parallel()
	ts, c := newSignedIn(t, serverOpts{})
	k := c.createKey(url.Values{"name": {"Details key"}, "scopes": {"mcp:write", "data:read"}, "expires": {"date"}, "expires_on": {"2026-12-31"}, "form_token": {formToken()}})
	tests := []struct {
		name     string
		opts     []opt
		wantPage bool
		wantHead string // the fragment's first element ("": a page, whose doctype isFullPage checks)
	}{
		{"page", nil, true, ""},
		{"htmx", []opt{htmx()}, false, "dialog.panel"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := c.get("/settings/api-keys/"+k.ID, tt.opts...)
			if r.Code != http.StatusOK {
				t.Fatalf("status: got %d, want 200", r.Code)
			}
			if tt.wantHead != "" && !parse(t, r.Body).Children().First().Is(tt.wantHead) {
				t.Errorf("body starts %.60q, want %s", r.Body, tt.wantHead)
			}
			if got := isFullPage(r.Body); got != tt.wantPage {
				t.Errorf("whole page: got %v, want %v", got, tt.wantPage)
			}
			if !strings.Contains(strings.Join(r.Header.Values("Vary"), ","), "HX-Request") {
				t.Errorf("Vary: got %q, want HX-Request in it", r.Header.Values("Vary"))
			}
			d := parse(t, r.Body)
			var scopes []string
			d.Find("ul.scope-list > li").Each(func(_ int, s *goquery.Selection) { scopes = append(scopes, htmlcheck.Text(s)) })
			for term, want := range map[string]string{
				"Name":       "Details key",
				"Key":        k.Prefix + "...",
				"Role":       "Member",
				"Created":    "Mar 10, 2026 12:00:00 UTC",
				"Created by": adminEmail,
				"Expires":    "Dec 31, 2026 · in 297 days (end of day, UTC)",
				"Last used":  "Never used",
				"Status":     "Active",
			} {
				if got := detail(d, term); got != want {
					t.Errorf("details %s: got %q, want %q", term, got, want)
				}
			}
			if want := []string{"mcp:write Let AI agents create and change data through the MCP server. Includes MCP read.", "data:read Read ledgers, balances and transactions."}; !slices.Equal(scopes, want) {
				t.Errorf("details scopes: got %q, want %q", scopes, want)
			}
			if got := htmlcheck.Text(d.Find(".danger-zone a").FilterFunction(func(_ int, s *goquery.Selection) bool {
				href, _ := s.Attr("href")
				return href == "/settings/api-keys/"+k.ID+"/revoke"
			})); got != "Revoke Key" {
				t.Errorf("details of an active key: Revoke Key link %q", got)
			}
			if strings.Contains(r.Body, k.Token) {
				t.Errorf("details show the token")
			}
		})
	}

	t.Run("last use shows up at once", func(t *testing.T) {
		ts.clock.Advance(10 * time.Minute)
		if r := c.api("/api/v1/whoami", k.Token, fromAddr("198.51.100.7:4321")); r.Code != http.StatusOK {
			t.Fatalf("whoami: got %d", r.Code)
		}
		if got := detail(parse(t, c.get("/settings/api-keys/"+k.ID, htmx()).Body), "Last used"); got != "just now from 198.51.100.7" {
			t.Errorf("details Last used: got %q, want just now from 198.51.100.7", got)
		}
	})

	t.Run("no Revoke Key for revoked or expired keys", func(t *testing.T) {
		rk := c.create("To revoke")
		c.post("/settings/api-keys/"+rk.ID+"/revoke", nil)
		ek := c.createKey(url.Values{"name": {"To expire"}, "scopes": {"*"}, "expires": {"date"}, "expires_on": {"2026-03-11"}, "form_token": {formToken()}})
		ts.clock.Advance(48 * time.Hour)
		c.signIn(adminEmail, adminPassword)
		for id, want := range map[string]string{rk.ID: "This key is revoked", ek.ID: "This key has expired"} {
			for _, opts := range [][]opt{nil, {htmx()}} {
				d := parse(t, c.get("/settings/api-keys/"+id, opts...).Body)
				if d.Has(`a[href$="/revoke"], [hx-get$="/revoke"], .danger-zone`) {
					t.Errorf("details of %s: has a Revoke Key link", id)
				}
				if got := d.Text("p.notice-revoked"); !strings.HasPrefix(got, want) {
					t.Errorf("details of %s: notice %q, want %q", id, got, want)
				}
			}
		}
		got := detail(parse(t, c.get("/settings/api-keys/"+rk.ID).Body), "Revoked")
		if !strings.HasPrefix(got, "Mar 10, 2026") || !strings.Contains(got, "by "+adminEmail) {
			t.Errorf("details of a revoked key: want when and by whom, got %q", got)
		}
	})
}

func TestRevoke(t *testing.T) {
	t.Parallel()
	ts, c := newSignedIn(t, serverOpts{})

	t.Run("confirmation", func(t *testing.T) {
		k := c.create("Confirm me")
		tests := []struct {
			name     string
			opts     []opt
			wantPage bool
			want     []string // selectors
		}{
			{"page", nil, true, []string{`form[method="post"][action="/settings/api-keys/` + k.ID + `/revoke"]`}},
			{"htmx", []opt{htmx()}, false, []string{`dialog.modal.modal-sm[data-modal][role="alertdialog"] form[hx-post="/settings/api-keys/` + k.ID + `/revoke"][hx-target="#key-details-` + k.ID + `"]`}},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				r := c.get("/settings/api-keys/"+k.ID+"/revoke", tt.opts...)
				if r.Code != http.StatusOK {
					t.Fatalf("status: got %d, want 200", r.Code)
				}
				if got := isFullPage(r.Body); got != tt.wantPage {
					t.Errorf("whole page: got %v, want %v", got, tt.wantPage)
				}
				if !strings.Contains(strings.Join(r.Header.Values("Vary"), ","), "HX-Request") {
					t.Errorf("Vary: got %q, want HX-Request in it", r.Header.Values("Vary"))
				}
				d := parse(t, r.Body)
				if got := d.Text("#revoke-title"); got != "Revoke “Confirm me”?" {
					t.Errorf("confirmation title: got %q, want Revoke “Confirm me”?", got)
				}
				if got := d.Text("#revoke-desc code.prefix"); got != k.Prefix+"..." {
					t.Errorf("confirmation names the prefix %q, want %s...", got, k.Prefix)
				}
				for _, want := range tt.want {
					if !d.Has(want) {
						t.Errorf("confirmation: want %s in it", want)
					}
				}
				if ts.revokedAt(k.ID) != 0 {
					t.Errorf("GET of the confirmation revoked the key")
				}
			})
		}
	})

	t.Run("without htmx", func(t *testing.T) {
		k := c.create("Plain revoke")
		r := c.post("/settings/api-keys/"+k.ID+"/revoke", nil)
		if r.Code != http.StatusSeeOther || r.Header.Get("Location") != "/settings/api-keys/"+k.ID {
			t.Fatalf("POST revoke: got %d to %q, want 303 to the key", r.Code, r.Header.Get("Location"))
		}
		// Refused from the very next request.
		checkAPIError(t, c.api("/api/v1/whoami", k.Token), http.StatusUnauthorized, "revoked_key")
		page := parse(t, c.follow(r).Body)
		if got := detail(page, "Status"); got != "Revoked" {
			t.Errorf("key page after revoke: Status %q, want Revoked", got)
		}
		if got := page.Text(`.flash[role="status"]`); got != "The key “Plain revoke” was revoked." {
			t.Errorf("key page after revoke: notice %q", got)
		}
		if got := cellText(t, c.get("/settings/api-keys").Body, k.ID, "Status"); got != "Revoked" {
			t.Errorf("list status: got %q, want Revoked", got)
		}
		first := ts.revokedAt(k.ID)
		ts.clock.Advance(time.Minute)
		r = c.post("/settings/api-keys/"+k.ID+"/revoke", nil)
		if r.Code != http.StatusSeeOther {
			t.Errorf("second revoke: got %d, want 303", r.Code)
		}
		if got := ts.revokedAt(k.ID); got != first {
			t.Errorf("revoked_at after a second revoke: got %d, want %d (unchanged)", got, first)
		}
		if n := strings.Count(ts.logs.String(), "key_id="+k.ID+" "); n != 2 { // created, revoked
			t.Errorf("log lines about the key: got %d, want 2 (a second revoke changes nothing)", n)
		}
		if got := parse(t, c.get("/settings/api-keys/"+k.ID+"/revoke").Body).Text("#revoke-title"); got != "“Plain revoke” is already revoked" {
			t.Errorf("confirmation of a revoked key: got %q, want 'is already revoked'", got)
		}
	})

	t.Run("with htmx from the list", func(t *testing.T) {
		k := c.create("List revoke")
		r := c.post("/settings/api-keys/"+k.ID+"/revoke", nil, htmx(), header("HX-Current-URL", origin+"/settings/api-keys"))
		if r.Code != http.StatusOK {
			t.Fatalf("status: got %d, want 200", r.Code)
		}
		checkAPIError(t, c.api("/api/v1/verify", k.Token), http.StatusUnauthorized, "revoked_key")
		if !parse(t, r.Body).Children().First().Is("div.details.key-dead" + htmlcheck.ID("key-details-"+k.ID)) {
			t.Errorf("body: want the details first, got %.100q", r.Body)
		}
		d := parse(t, r.Body)
		if got := htmlcheck.Text(d.Find(htmlcheck.ID("key-details-" + k.ID)).Find("dl.details-list > div").First()); got != "Status Revoked" {
			t.Errorf("details: got %q, want Status Revoked", got)
		}
		if !d.Has(rowSel(k.ID) + `[hx-swap-oob="true"]`) {
			t.Fatalf("no out-of-band row for the key in %q", r.Body)
		}
		if got := htmlcheck.Text(keyCell(d, k.ID, "Status")); got != "Revoked" {
			t.Errorf("out-of-band row status: got %q, want Revoked", got)
		}
		if got := r.Header.Get("HX-Trigger"); !strings.Contains(got, "toast") {
			t.Errorf("HX-Trigger: got %q, want a toast", got)
		}
		if d.Has(".danger-zone") || d.Find("a, button").FilterFunction(func(_ int, s *goquery.Selection) bool { return htmlcheck.Text(s) == "Revoke Key" }).Length() > 0 {
			t.Errorf("the swapped details still offer Revoke Key")
		}
		// Again: harmless.
		first := ts.revokedAt(k.ID)
		ts.clock.Advance(time.Minute)
		r = c.post("/settings/api-keys/"+k.ID+"/revoke", nil, htmx(), header("HX-Current-URL", origin+"/settings/api-keys/"))
		if r.Code != http.StatusOK || !parse(t, r.Body).Has(rowSel(k.ID)+`[hx-swap-oob="true"]`) {
			t.Errorf("second htmx revoke: got %d, want 200 with the row", r.Code)
		}
		if got := ts.revokedAt(k.ID); got != first {
			t.Errorf("revoked_at after a second revoke: got %d, want %d", got, first)
		}
	})

	t.Run("with htmx from the details page", func(t *testing.T) {
		k := c.create("Page revoke")
		for _, current := range []string{origin + "/settings/api-keys/" + k.ID, "", "::not a url"} {
			r := c.post("/settings/api-keys/"+k.ID+"/revoke", nil, htmx(), header("HX-Current-URL", current))
			if r.Code != http.StatusOK {
				t.Fatalf("status: got %d, want 200", r.Code)
			}
			d := parse(t, r.Body)
			if d.Has("[hx-swap-oob]") {
				t.Errorf("HX-Current-URL %q: an out-of-band row where there is no list", current)
			}
			if got := detail(d, "Status"); got != "Revoked" {
				t.Errorf("details: Status %q, want Revoked", got)
			}
		}
	})
}

func TestWorkspaceIsolation(t *testing.T) {
	t.Parallel()
	ts, a := newSignedIn(t, serverOpts{})
	mine := a.create("Mine")
	b := ts.addWorkspace("Other Inc", "b@example.com", "another long password")
	theirs := b.create("Theirs")

	paths := []struct {
		method, path string
	}{
		{"GET", "/settings/api-keys/" + theirs.ID},
		{"GET", "/settings/api-keys/" + theirs.ID + "/reveal"},
		{"GET", "/settings/api-keys/" + theirs.ID + "/revoke"},
		{"POST", "/settings/api-keys/" + theirs.ID + "/revoke"},
	}
	for _, p := range paths {
		for _, mode := range []string{"page", "htmx"} {
			t.Run(p.method+" "+p.path+"/"+mode, func(t *testing.T) {
				opts := []opt{}
				if mode == "htmx" {
					opts = append(opts, htmx(), header("HX-Current-URL", origin+"/settings/api-keys"))
				}
				var form url.Values
				if p.method == "POST" {
					form = url.Values{}
				}
				r := a.do(p.method, p.path, form, opts...)
				if r.Code != http.StatusNotFound {
					t.Errorf("status: got %d, want 404", r.Code)
				}
				if strings.Contains(r.Body, "Theirs") || strings.Contains(r.Body, theirs.Prefix) {
					t.Errorf("the 404 names the other workspace's key")
				}
			})
		}
	}
	if ts.revokedAt(theirs.ID) != 0 {
		t.Errorf("the other workspace's key was revoked")
	}
	if r := a.api("/api/v1/whoami", theirs.Token); r.Code != http.StatusOK {
		t.Errorf("the other workspace's key: whoami got %d, want 200", r.Code)
	}
	list := a.get("/settings/api-keys").Body
	// A leak scan (anywhere, markup included) and the rows.
	if strings.Contains(list, theirs.ID) || strings.Contains(list, theirs.Prefix) || strings.Contains(list, "Theirs") {
		t.Errorf("the list shows the other workspace's key")
	}
	if got := parse(t, list).Count("table.keys > tbody > tr"); got != 1 || !parse(t, list).Has(rowSel(mine.ID)) {
		t.Errorf("the list does not show my key alone: %d rows", got)
	}
	if other := b.get("/settings/api-keys").Body; strings.Contains(other, mine.ID) || parse(t, other).Has(rowSel(mine.ID)) {
		t.Errorf("the other workspace's list shows my key")
	}

	bad := []string{
		"..%2Fetc",
		"..%2F..%2Fetc%2Fpasswd",
		strings.Repeat("a", 10_000),
		"key_" + strings.Repeat("A", 20),
		"key_" + strings.ToUpper(theirs.ID[4:]),
		strings.ToUpper(mine.ID),
		"key_0000000000000000000",   // 19
		"key_000000000000000000000", // 21
		"key_00000000000000000000",  // the right shape, no such key
		"%3Cscript%3E",
	}
	for _, id := range bad {
		for _, sub := range []string{"", "/reveal", "/revoke"} {
			path := "/settings/api-keys/" + id + sub
			if r := a.get(path); r.Code != http.StatusNotFound {
				t.Errorf("GET %.60s: got %d, want 404", path, r.Code)
			}
		}
		path := "/settings/api-keys/" + id + "/revoke"
		if r := a.post(path, nil); r.Code != http.StatusNotFound {
			t.Errorf("POST %.60s: got %d, want 404", path, r.Code)
		}
	}
}

func TestNamesAreEscaped(t *testing.T) {
	t.Parallel()
	_, c := newSignedIn(t, serverOpts{})
	name := `<img src=x onerror=alert(1)> & "q" 'a' 🔑🚀`
	escaped := `&lt;img src=x onerror=alert(1)&gt; &amp;`
	r := c.post("/settings/api-keys", keyForm(name, "never"))
	loc := r.Header.Get("Location")
	id := revealPathRE.FindStringSubmatch(loc)[1]
	pages := []struct {
		name string
		do   func() *response
	}{
		{"reveal page", func() *response { return c.get(loc) }},
		{"reveal page, gone", func() *response { return c.get(loc) }},
		{"list", func() *response { return c.get("/settings/api-keys") }},
		{"details page", func() *response { return c.get("/settings/api-keys/" + id) }},
		{"panel", func() *response { return c.get("/settings/api-keys/"+id, htmx()) }},
		{"revoke confirmation", func() *response { return c.get("/settings/api-keys/" + id + "/revoke") }},
		{"revoke modal", func() *response { return c.get("/settings/api-keys/"+id+"/revoke", htmx()) }},
		{"revoke with the row", func() *response {
			return c.post("/settings/api-keys/"+id+"/revoke", nil, htmx(), header("HX-Current-URL", origin+"/settings/api-keys"))
		}},
		{"key page with the notice", func() *response {
			c.post("/settings/api-keys/"+id+"/revoke", nil)
			return c.get("/settings/api-keys/" + id)
		}},
	}
	for _, p := range pages {
		t.Run(p.name, func(t *testing.T) {
			r := p.do()
			if r.Code != http.StatusOK {
				t.Fatalf("status: got %d, want 200", r.Code)
			}
			// The markup itself: what the browser's parser gets.
			if strings.Contains(r.Body, "<img src=x") {
				t.Errorf("the name is not escaped")
			}
			if !strings.Contains(r.Body, escaped) {
				t.Errorf("the escaped name %q is not in the page", escaped)
			}
			// And what it makes of it: no element, the name as text.
			d := parse(t, r.Body)
			if d.Has("img, [onerror]") {
				t.Errorf("the name became an element")
			}
			if !strings.Contains(htmlcheck.Text(d.Selection), name) {
				t.Errorf("the name %q, emoji included, is not in the page's text", name)
			}
		})
	}
}
