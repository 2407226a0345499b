package web_test

// The key lifecycle through HTTP: edit, roll, and the audit log of both.

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/PuerkitoBio/goquery"
	"github.com/blnk-cloud/apikeys/internal/audit"
	"github.com/blnk-cloud/apikeys/internal/blnk"
	"github.com/blnk-cloud/apikeys/internal/testkit/htmlcheck"
	"github.com/blnk-cloud/apikeys/web"
)

// workspaceID returns the id of the workspace named name.
func (ts *testServer) workspaceID(name string) int64 {
	ts.t.Helper()
	var id int64
	if err := ts.raw.QueryRow(`SELECT id FROM workspaces WHERE name = $1`, name).Scan(&id); err != nil {
		ts.t.Fatalf("workspace %q: %v", name, err)
	}
	return id
}

// events returns the audit events f selects, newest first (up to 500).
func (ts *testServer) events(f blnk.AuditFilter) []audit.Event {
	ts.t.Helper()
	p, err := ts.db.AuditEvents(context.Background(), f, 0, 0, 500)
	if err != nil {
		ts.t.Fatalf("AuditEvents: %v", err)
	}
	return p.Events
}

// actions returns the actions of events, in order.
func actions(evs []audit.Event) []string {
	var out []string
	for _, ev := range evs {
		out = append(out, string(ev.Action))
	}
	return out
}

// rollForm GETs the roll confirmation of key id and returns its form,
// with overlap set.
func (c *client) rollForm(id, overlap string) url.Values {
	c.t.Helper()
	r := c.get("/settings/api-keys/" + id + "/roll")
	if r.Code != http.StatusOK {
		c.t.Fatalf("GET roll of %s: got %d, want 200\n%s", id, r.Code, r.Body)
	}
	token, ok := inputValueByName(r.Body, "form_token")
	if !ok || token == "" {
		c.t.Fatalf("GET roll of %s: no form token\n%s", id, r.Body)
	}
	return url.Values{"overlap": {overlap}, "form_token": {token}}
}

// roll rolls key id with overlap through the roll form, follows to the
// reveal page, and returns the new key.
func (c *client) roll(id, overlap string) newKey {
	c.t.Helper()
	r := c.post("/settings/api-keys/"+id+"/roll", c.rollForm(id, overlap))
	if r.Code != http.StatusSeeOther {
		c.t.Fatalf("POST roll of %s: got %d, want 303\n%s", id, r.Code, r.Body)
	}
	m := revealPathRE.FindStringSubmatch(r.Header.Get("Location"))
	if m == nil {
		c.t.Fatalf("POST roll: Location %q, want a reveal page", r.Header.Get("Location"))
	}
	page := c.follow(r)
	token := revealedToken(page.Body)
	if token == "" {
		c.t.Fatalf("reveal page of the rolled key shows no token\n%s", page.Body)
	}
	return newKey{ID: m[1], Token: token, Prefix: token[:13], Reveal: page}
}

func TestEditKeyForm(t *testing.T) {
	t.Parallel()
	_, c := newSignedIn(t, serverOpts{})
	k := c.createKey(url.Values{"name": {"Billing <prod>"}, "description": {"Used by the\nbilling job"}, "scopes": {"*"}, "expires": {"never"}, "form_token": {formToken()}})
	for _, tt := range []struct {
		name     string
		opts     []opt
		wantPage bool
		wantHead string // the selector of the fragment's first element
	}{
		{"page", nil, true, ""},
		{"htmx, in the panel", []opt{htmx()}, false, `form.key-form.edit-form[method="post"][action="/settings/api-keys/` + k.ID + `/edit"]` + htmlcheck.ID("key-details-"+k.ID)},
	} {
		t.Run(tt.name, func(t *testing.T) {
			r := c.get("/settings/api-keys/"+k.ID+"/edit", tt.opts...)
			if r.Code != http.StatusOK {
				t.Fatalf("status: got %d, want 200", r.Code)
			}
			if isFullPage(r.Body) != tt.wantPage {
				t.Errorf("whole page: got %v, want %v", isFullPage(r.Body), tt.wantPage)
			}
			if tt.wantHead != "" && !parse(t, r.Body).Children().First().Is(tt.wantHead) {
				t.Errorf("body starts %.200q, want %q", r.Body, tt.wantHead)
			}
			if v, _ := inputValue(r.Body, "f-name"); v != "Billing <prod>" {
				t.Errorf("name input: got %q, want the key's name", v)
			}
			if v, _ := textareaValue(r.Body, "f-description"); v != "Used by the\nbilling job" {
				t.Errorf("description: got %q, want the key's description", v)
			}
			if strings.Contains(r.Body, "<prod>") {
				t.Errorf("the name is not escaped")
			}
		})
	}
}

func TestEditKeyRefusesBadInput(t *testing.T) {
	t.Parallel()
	ts, c := newSignedIn(t, serverOpts{})
	k := c.createKey(url.Values{"name": {"Original"}, "description": {"Original notes"}, "scopes": {"*"}, "expires": {"never"}, "form_token": {formToken()}})
	tests := []struct {
		name        string
		form        url.Values
		want        map[string]string
		wantName    string // the input kept in the form
		wantDescrip string
	}{
		{"empty name", url.Values{"name": {""}}, map[string]string{"name": "Enter a name for the key."}, "", "Original notes"},
		{"name of spaces", url.Values{"name": {"  \u00a0 "}}, map[string]string{"name": "Enter a name for the key."}, "  \u00a0 ", "Original notes"},
		{"101 characters", url.Values{"name": {strings.Repeat("é", 101)}}, map[string]string{"name": "Use at most 100 characters (this one has 101)."}, strings.Repeat("é", 101), "Original notes"},
		{"tab in the name", url.Values{"name": {"a\tb"}}, map[string]string{"name": "control characters"}, "a\tb", "Original notes"},
		{"line break in the name", url.Values{"name": {"a\nb"}}, map[string]string{"name": "control characters"}, "a\nb", "Original notes"},
		{"bidi override in the name", url.Values{"name": {"invoice\u202efdp.exe"}}, map[string]string{"name": "control characters"}, "invoice\u202efdp.exe", "Original notes"},
		{"a key as the name", url.Values{"name": {pasted}}, map[string]string{"name": looksLikeKey}, pasted, "Original notes"},
		{"a key in the description", url.Values{"description": {"was " + pasted}}, map[string]string{"description": looksLikeKey}, "Original", "was " + pasted},
		{"a key in the allowlist", url.Values{"allowlist": {pasted}}, map[string]string{"allowlist": looksLikeKey}, "Original", "Original notes"},
		{"every address in the allowlist", url.Values{"allowlist": {"0.0.0.0/0"}}, map[string]string{"allowlist": "leave the allowlist empty"}, "Original", "Original notes"},
		{"zero-width space in the name", url.Values{"name": {"Orig\u200binal"}}, map[string]string{"name": "zero-width characters"}, "Orig\u200binal", "Original notes"},
		{"tag characters in the name", url.Values{"name": {"Original\U000E0041"}}, map[string]string{"name": "Unicode tag characters"}, "Original\U000E0041", "Original notes"},
		{"line separator in the name", url.Values{"name": {"Orig\u2028inal"}}, map[string]string{"name": "line or paragraph separators"}, "Orig\u2028inal", "Original notes"},
		{"1,001-character description", url.Values{"description": {strings.Repeat("x", 1001)}}, map[string]string{"description": "Use at most 1000 characters (this one has 1001)."}, "Original", strings.Repeat("x", 1001)},
		{"bell in the description", url.Values{"description": {"ring\x07"}}, map[string]string{"description": "control characters"}, "Original", "ring\x07"},
		{"bidi override in the description", url.Values{"description": {"a\u202eb"}}, map[string]string{"description": "control characters"}, "Original", "a\u202eb"},
		{"invisible description", url.Values{"description": {"\u200b\u200d\u2060"}}, map[string]string{"description": "visible character"}, "Original", "\u200b\u200d\u2060"},
		{"both wrong", url.Values{"name": {""}, "description": {strings.Repeat("y", 2000)}}, map[string]string{"name": "Enter a name", "description": "at most 1000"}, "", strings.Repeat("y", 2000)},
	}
	for _, tt := range tests {
		for _, mode := range []string{"page", "htmx"} {
			t.Run(tt.name+"/"+mode, func(t *testing.T) {
				before := ts.counts()
				var opts []opt
				if mode == "htmx" {
					opts = append(opts, htmx())
				}
				r := c.post("/settings/api-keys/"+k.ID+"/edit", tt.form, opts...)
				if r.Code != http.StatusUnprocessableEntity {
					t.Fatalf("status: got %d, want 422\n%.500s", r.Code, r.Body)
				}
				if top := parse(t, r.Body).Children(); mode == "htmx" && (top.Length() != 1 || !top.Is("form.key-form.edit-form")) {
					t.Errorf("htmx body: want the form alone, got %.200s", r.Body)
				}
				if mode == "page" && !isFullPage(r.Body) {
					t.Errorf("body: want a whole page")
				}
				got := problems(r.Body)
				for field, want := range tt.want {
					if !strings.Contains(got[field], want) {
						t.Errorf("problem of %s: got %q, want %q in it", field, got[field], want)
					}
				}
				for field := range got {
					if _, ok := tt.want[field]; !ok {
						t.Errorf("unexpected problem of %s: %q", field, got[field])
					}
				}
				if v, _ := inputValue(r.Body, "f-name"); v != tt.wantName {
					t.Errorf("name input: got %.40q, want the input kept, %.40q", v, tt.wantName)
				}
				if v, _ := textareaValue(r.Body, "f-description"); v != tt.wantDescrip {
					t.Errorf("description: got %.40q, want the input kept, %.40q", v, tt.wantDescrip)
				}
				checkEscaped(t, r.Body, tt.form.Get("name"))
				ts.checkCounts(t, before)
				stored := ts.keyOf(k.ID)
				if stored.Name != "Original" || stored.Description != "Original notes" {
					t.Errorf("stored: %q %q, want unchanged", stored.Name, stored.Description)
				}
			})
		}
	}
}

// keyOf returns a stored key of the admin's workspace.
func (ts *testServer) keyOf(id string) keyRow {
	ts.t.Helper()
	var k keyRow
	var exp, rev, rolledAt *int64
	var into, from *string
	if err := ts.raw.QueryRow(`SELECT name, description, expires_at, revoked_at, rolled_into, rolled_from, rolled_at FROM api_keys WHERE id = $1`, id).
		Scan(&k.Name, &k.Description, &exp, &rev, &into, &from, &rolledAt); err != nil {
		ts.t.Fatalf("key %s: %v", id, err)
	}
	if exp != nil {
		k.ExpiresAt = time.UnixMilli(*exp).UTC()
	}
	if rev != nil {
		k.RevokedAt = time.UnixMilli(*rev).UTC()
	}
	if into != nil {
		k.RolledInto = *into
	}
	if from != nil {
		k.RolledFrom = *from
	}
	if rolledAt != nil {
		k.RolledAt = time.UnixMilli(*rolledAt).UTC()
	}
	return k
}

type keyRow struct {
	Name, Description      string
	ExpiresAt, RevokedAt   time.Time
	RolledInto, RolledFrom string
	RolledAt               time.Time
}

func TestEditKey(t *testing.T) {
	t.Parallel()
	ts, c := newSignedIn(t, serverOpts{})
	ws := ts.workspaceID(adminWorkspace)

	t.Run("htmx from the list: the panel and the row change in place", func(t *testing.T) {
		k := c.createKey(url.Values{"name": {"Old name"}, "scopes": {"mcp:read"}, "expires": {"never"}, "form_token": {formToken()}})
		r := c.post("/settings/api-keys/"+k.ID+"/edit", url.Values{"name": {"  New <name> 🚀  "}, "description": {"  Line one\r\nLine two  "}},
			htmx(), header("HX-Current-URL", origin+"/settings/api-keys"), fromAddr("198.51.100.7:5000"))
		if r.Code != http.StatusOK {
			t.Fatalf("status: got %d, want 200\n%s", r.Code, r.Body)
		}
		d := parse(t, r.Body)
		if !d.Children().First().Is("div.details" + htmlcheck.ID("key-details-"+k.ID)) {
			t.Errorf("body: want the details first, got %.200s", r.Body)
		}
		if title := d.Find(`span[hx-swap-oob="innerHTML"]` + htmlcheck.ID("key-title-"+k.ID)); htmlcheck.Text(title) != "New <name> 🚀" {
			t.Errorf("no out-of-band title with the new name")
		}
		if !d.Has(`tr[hx-swap-oob="true"]` + rowSel(k.ID)) {
			t.Errorf("no out-of-band row")
		}
		if got := d.Find(htmlcheck.ID("key-details-"+k.ID) + " dd.description").Text(); got != "Line one\nLine two" {
			t.Errorf("description: want the lines kept, trimmed")
		}
		if got := r.Header.Get("HX-Trigger"); !strings.Contains(got, "Changes saved.") {
			t.Errorf("HX-Trigger: got %q, want a toast", got)
		}
		stored := ts.keyOf(k.ID)
		if stored.Name != "New <name> 🚀" || stored.Description != "Line one\nLine two" {
			t.Errorf("stored: %q %q", stored.Name, stored.Description)
		}
		// whoami says the new name from the next request on.
		var w whoami
		json.Unmarshal([]byte(c.api("/api/v1/whoami", k.Token).Body), &w)
		if w.Name != "New <name> 🚀" {
			t.Errorf("whoami name: got %q, want the new name", w.Name)
		}
		evs := ts.events(blnk.AuditFilter{WorkspaceID: ws, Key: k.ID, Action: audit.KeyEdited})
		if len(evs) != 1 {
			t.Fatalf("key.edited events: got %d, want 1", len(evs))
		}
		ev := evs[0]
		if ev.Actor.Name() != adminEmail || ev.Actor.IP != "198.51.100.7" || ev.KeyPrefix != k.Prefix {
			t.Errorf("event: actor %q ip %q prefix %q", ev.Actor.Name(), ev.Actor.IP, ev.KeyPrefix)
		}
		want := map[string]any{
			"before": map[string]any{"name": "Old name", "description": ""},
			"after":  map[string]any{"name": "New <name> 🚀", "description": "Line one\nLine two"},
		}
		if got, _ := json.Marshal(ev.Details); string(got) != mustJSON(want) {
			t.Errorf("details: got %s, want %s", got, mustJSON(want))
		}
	})

	t.Run("without JavaScript", func(t *testing.T) {
		k := c.create("Plain edit")
		r := c.post("/settings/api-keys/"+k.ID+"/edit", url.Values{"name": {"Plain edited"}, "description": {"notes"}})
		if r.Code != http.StatusSeeOther || r.Header.Get("Location") != "/settings/api-keys/"+k.ID {
			t.Fatalf("got %d to %q, want 303 to the key", r.Code, r.Header.Get("Location"))
		}
		page := c.follow(r)
		d := parse(t, page.Body)
		if d.Text("main .flash") != "Changes saved." || d.Text(htmlcheck.ID("key-title-"+k.ID)) != "Plain edited" || detail(d, "Description") != "notes" {
			t.Errorf("key page after the edit: want the notice, the name and the description")
		}
	})

	t.Run("a field not sent keeps its value; nothing changed, nothing recorded", func(t *testing.T) {
		k := c.createKey(url.Values{"name": {"Keep"}, "description": {"kept notes"}, "scopes": {"*"}, "expires": {"never"}, "form_token": {formToken()}})
		r := c.post("/settings/api-keys/"+k.ID+"/edit", url.Values{"name": {"Kept name"}})
		if r.Code != http.StatusSeeOther {
			t.Fatalf("got %d, want 303", r.Code)
		}
		if s := ts.keyOf(k.ID); s.Name != "Kept name" || s.Description != "kept notes" {
			t.Errorf("stored: %q %q, want the description kept", s.Name, s.Description)
		}
		before := ts.counts()
		r = c.post("/settings/api-keys/"+k.ID+"/edit", url.Values{"name": {"Kept name"}, "description": {"kept notes"}}, htmx())
		if r.Code != http.StatusOK || !strings.Contains(r.Header.Get("HX-Trigger"), "Nothing to save") {
			t.Errorf("same values again: got %d %q", r.Code, r.Header.Get("HX-Trigger"))
		}
		ts.checkCounts(t, before)
	})

	t.Run("1,000 characters and line breaks are fine", func(t *testing.T) {
		k := c.create("Long notes")
		long := strings.Repeat("ß", 998) + "\n!"
		if r := c.post("/settings/api-keys/"+k.ID+"/edit", url.Values{"name": {"Long notes"}, "description": {long}}); r.Code != http.StatusSeeOther {
			t.Fatalf("got %d, want 303\n%s", r.Code, r.Body)
		}
		if s := ts.keyOf(k.ID); s.Description != long || utf8.RuneCountInString(s.Description) != 1000 {
			t.Errorf("stored description of %d characters, want the 1,000 sent", utf8.RuneCountInString(s.Description))
		}
	})
}

// longSessions keeps test sessions signed in while tests move the clock
// by days.
var longSessions = serverOpts{config: func(c *web.Config) {
	c.SessionIdle, c.SessionLifetime = 1000*24*time.Hour, 1000*24*time.Hour
}}

func mustJSON(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	return string(b)
}

func TestEditRevokedKey(t *testing.T) {
	t.Parallel()
	ts, c := newSignedIn(t, serverOpts{})
	k := c.create("To revoke")
	c.post("/settings/api-keys/"+k.ID+"/revoke", nil)
	revokedAt := ts.revokedAt(k.ID)
	// Whatever else the form says, an edit touches only the name and the
	// description.
	r := c.post("/settings/api-keys/"+k.ID+"/edit", url.Values{"name": {"Revoked, renamed"}, "revoked_at": {""}, "status": {"active"}, "expires": {"never"}})
	if r.Code != http.StatusSeeOther {
		t.Fatalf("rename of a revoked key: got %d, want 303\n%s", r.Code, r.Body)
	}
	if s := ts.keyOf(k.ID); s.Name != "Revoked, renamed" {
		t.Errorf("name: got %q", s.Name)
	}
	if got := ts.revokedAt(k.ID); got != revokedAt {
		t.Errorf("revoked_at: got %d, want %d (still revoked)", got, revokedAt)
	}
	checkAPIError(t, c.api("/api/v1/whoami", k.Token), http.StatusUnauthorized, "revoked_key")
	if got := cellText(t, c.get("/settings/api-keys").Body, k.ID, "Status"); got != "Revoked" {
		t.Errorf("list status: got %q, want Revoked", got)
	}
	if body := c.get("/settings/api-keys/" + k.ID + "/edit").Body; !strings.Contains(parse(t, body).Text("form.edit-form p.hint"), "it stays revoked") {
		t.Errorf("the edit form of a revoked key does not say it stays revoked")
	}
}

func TestEditAndRollOfAnotherWorkspaceAre404(t *testing.T) {
	t.Parallel()
	ts, c := newSignedIn(t, serverOpts{})
	k := c.create("Acme's key")
	other := ts.addWorkspace("Globex", "hank@globex.test", "another long password")
	before := ts.counts()
	for _, r := range []*response{
		other.get("/settings/api-keys/" + k.ID + "/edit"),
		other.get("/settings/api-keys/"+k.ID+"/edit", htmx()),
		other.post("/settings/api-keys/"+k.ID+"/edit", url.Values{"name": {"Stolen"}}),
		other.post("/settings/api-keys/"+k.ID+"/edit", url.Values{"name": {""}}, htmx()), // no 422 that would tell the key exists
		other.get("/settings/api-keys/" + k.ID + "/roll"),
		other.post("/settings/api-keys/"+k.ID+"/roll", url.Values{"overlap": {"1h"}, "form_token": {formToken()}}),
		other.post("/settings/api-keys/"+k.ID+"/roll", url.Values{"overlap": {"bad"}, "form_token": {formToken()}}),
		other.get("/settings/audit-log?key=" + k.ID),
	} {
		want := http.StatusNotFound
		if strings.HasPrefix(r.Target, "/settings/audit-log") {
			want = http.StatusOK
			if len(eventIDs(r.Body)) > 0 || strings.Contains(r.Body, k.Prefix) || strings.Contains(r.Body, adminEmail) {
				t.Errorf("Globex's audit log shows Acme's events")
			}
		}
		if r.Code != want {
			t.Errorf("%s %s: got %d, want %d", r.Method, r.Target, r.Code, want)
		}
	}
	ts.checkCounts(t, before)
	if s := ts.keyOf(k.ID); s.Name != "Acme's key" || s.RolledInto != "" {
		t.Errorf("the other workspace changed the key: %+v", s)
	}
}

func TestRollEachOverlap(t *testing.T) {
	t.Parallel()
	ts, c := newSignedIn(t, longSessions)
	ws := ts.workspaceID(adminWorkspace)
	for _, tt := range []struct {
		overlap string
		d       time.Duration
	}{{"now", 0}, {"1h", time.Hour}, {"24h", 24 * time.Hour}, {"7d", 7 * 24 * time.Hour}} {
		t.Run(tt.overlap, func(t *testing.T) {
			old := c.createKey(url.Values{"name": {"Roll " + tt.overlap}, "description": {"notes of " + tt.overlap}, "scopes": {"mcp:read", "data:write"}, "expires": {"never"}, "form_token": {formToken()}})
			rolledAt := ts.clock.Now()
			next := c.roll(old.ID, tt.overlap)
			end := rolledAt.Add(tt.d)

			if next.ID == old.ID || next.Token == old.Token {
				t.Fatalf("the roll did not make a new key")
			}
			if !strings.HasPrefix(parse(t, next.Reveal.Body).Text(`div.alert-info[role="note"]`), "This key replaces "+old.Prefix+"...") {
				t.Errorf("the reveal page does not say which key the new one replaces")
			}
			so, sn := ts.keyOf(old.ID), ts.keyOf(next.ID)
			if so.RolledInto != next.ID || sn.RolledFrom != old.ID || !so.RolledAt.Equal(rolledAt) {
				t.Errorf("links: old into %q at %v, new from %q; want both ways", so.RolledInto, so.RolledAt, sn.RolledFrom)
			}
			if !so.ExpiresAt.Equal(end) {
				t.Errorf("old key's end: got %v, want %v", so.ExpiresAt, end)
			}
			if sn.Name != "Roll "+tt.overlap || sn.Description != "notes of "+tt.overlap || !sn.ExpiresAt.IsZero() {
				t.Errorf("new key: %+v, want the same name and description, never expiring", sn)
			}
			var w whoami
			json.Unmarshal([]byte(c.api("/api/v1/whoami", next.Token).Body), &w)
			if strings.Join(w.Scopes, " ") != "mcp:read data:write" || w.Name != "Roll "+tt.overlap {
				t.Errorf("new key's whoami: %+v, want the old key's name and scopes", w)
			}

			if tt.d > 0 {
				// The old key works until the last millisecond of the
				// overlap, and says what replaces it...
				ts.clock.Advance(tt.d - time.Millisecond)
				r := c.api("/api/v1/whoami", old.Token)
				if r.Code != http.StatusOK {
					t.Fatalf("old key just before its end: got %d, want 200\n%s", r.Code, r.Body)
				}
				var raw struct {
					RolledInto *struct{ ID, Prefix string } `json:"rolled_into"`
				}
				json.Unmarshal([]byte(r.Body), &raw)
				if raw.RolledInto == nil || raw.RolledInto.ID != next.ID || raw.RolledInto.Prefix != next.Prefix {
					t.Errorf("whoami of the old key: rolled_into %+v, want %s %s", raw.RolledInto, next.ID, next.Prefix)
				}
				list := parse(t, c.get("/settings/api-keys").Body)
				// The roll's note is on the name's line: a rolled row is as
				// tall as any other.
				status := htmlcheck.Text(keyCell(list, old.ID, "Status"))
				note := keyCell(list, old.ID, "Name").Find(".roll-note")
				if status != "Rolled" || !strings.HasPrefix(htmlcheck.Text(note), "Stops working in") || !strings.HasSuffix(htmlcheck.Text(note), "Rolled into "+next.Prefix+"...") {
					t.Errorf("old key's status just before its end: %q", status)
				}
				if !hasLink(note, "/settings/api-keys/"+next.ID) {
					t.Errorf("old key's row does not link to the new key")
				}
				ts.clock.Advance(time.Millisecond)
			}
			// ...and not from the end instant on.
			checkAPIError(t, c.api("/api/v1/whoami", old.Token), http.StatusUnauthorized, "expired_key")
			list := parse(t, c.get("/settings/api-keys").Body)
			if got := htmlcheck.Text(keyCell(list, old.ID, "Status")); got != "Expired" {
				t.Errorf("old key's status after its end: %q", got)
			}
			if got := htmlcheck.Text(keyCell(list, old.ID, "Name").Find(".roll-note")); got != "Rolled into "+next.Prefix+"..." {
				t.Errorf("old key's roll note after its end: %q", got)
			}
			if got := htmlcheck.Text(keyCell(list, next.ID, "Status")); got != "Active" {
				t.Errorf("new key's status: %q", got)
			}
			if note := keyCell(list, next.ID, "Name").Find(".roll-note"); htmlcheck.Text(note) != "Replaces "+old.Prefix+"..." || !hasLink(note, "/settings/api-keys/"+old.ID) {
				t.Errorf("new key's row does not link to the old key: %q", htmlcheck.Text(note))
			}
			if r := c.api("/api/v1/whoami", next.Token); r.Code != http.StatusOK {
				t.Errorf("new key: got %d, want 200", r.Code)
			}

			rolled := ts.events(blnk.AuditFilter{WorkspaceID: ws, Key: old.ID, Action: audit.KeyRolled})
			if len(rolled) != 1 {
				t.Fatalf("key.rolled events: got %d, want 1", len(rolled))
			}
			ev := rolled[0]
			into, _ := ev.Details["rolled_into"].(map[string]any)
			if ev.Actor.Name() != adminEmail || ev.Actor.IP != "192.0.2.10" || ev.KeyPrefix != old.Prefix ||
				into["id"] != next.ID || into["prefix"] != next.Prefix || ev.Details["overlap"] != tt.overlap {
				t.Errorf("key.rolled: %+v", ev)
			}
			if got := actions(ts.events(blnk.AuditFilter{WorkspaceID: ws, Key: next.ID})); strings.Join(got, " ") != "key.revealed key.created" {
				t.Errorf("events of the new key: %q, want created and revealed", got)
			}
		})
	}
}

func TestRollKeepsTheExpiryPolicy(t *testing.T) {
	t.Parallel()
	ts, c := newSignedIn(t, longSessions)
	thirty := c.createKey(keyForm("Thirty days", "30d"))                                                                                                 // Mar 10 + 30 days: works through Apr 9
	dated := c.createKey(url.Values{"name": {"Dated"}, "scopes": {"*"}, "expires": {"date"}, "expires_on": {"2026-12-31"}, "form_token": {formToken()}}) // through Dec 31
	never := c.create("Never")
	ts.clock.Advance(10 * 24 * time.Hour) // Mar 20

	if body := c.get("/settings/api-keys/" + thirty.ID + "/roll").Body; !strings.Contains(parse(t, body).Text("#roll-body p.roll-policy"), "expires 30 days from today: it works through Apr 19, 2026") {
		t.Errorf("roll dialog of a 30-day key does not say which expiry applies")
	}
	if policy := parse(t, c.get("/settings/api-keys/"+dated.ID+"/roll").Body).Text("#roll-body p.roll-policy"); !strings.Contains(policy, "fixed date") || !strings.Contains(policy, "Dec 31, 2026") {
		t.Errorf("roll dialog of a dated key does not say the date stays")
	}
	for _, tt := range []struct {
		key  newKey
		want time.Time
	}{
		{thirty, time.Date(2026, 4, 20, 0, 0, 0, 0, time.UTC)}, // 30 days from the roll, not from the creation
		{dated, time.Date(2027, 1, 1, 0, 0, 0, 0, time.UTC)},   // the same date
		{never, time.Time{}},
	} {
		next := c.roll(tt.key.ID, "24h")
		if got := ts.keyOf(next.ID).ExpiresAt; !got.Equal(tt.want) {
			t.Errorf("successor of %s expires %v, want %v", tt.key.ID, got, tt.want)
		}
		// The successor keeps the policy: rolled again, it gets 30 days more.
		if tt.key.ID == thirty.ID {
			ts.clock.Advance(24 * time.Hour)
			third := c.roll(next.ID, "now")
			if got, want := ts.keyOf(third.ID).ExpiresAt, time.Date(2026, 4, 21, 0, 0, 0, 0, time.UTC); !got.Equal(want) {
				t.Errorf("successor of the successor expires %v, want %v", got, want)
			}
		}
	}
	// A key that expires before the overlap would end keeps its expiry.
	soon := c.createKey(url.Values{"name": {"Soon"}, "scopes": {"*"}, "expires": {"date"}, "expires_on": {"2026-03-22"}, "form_token": {formToken()}})
	ts.clock.Advance(time.Date(2026, 3, 22, 20, 0, 0, 0, time.UTC).Sub(ts.clock.Now()))
	if body := c.get("/settings/api-keys/" + soon.ID + "/roll").Body; parse(t, body).Text(`label.choice:has(input[name="overlap"][value="7d"]) .choice-preview`) != "until it expires, Mar 23, 00:00 UTC" {
		t.Errorf("roll dialog of a key expiring within the overlap does not say it ends sooner")
	}
	c.roll(soon.ID, "7d")
	if got, want := ts.keyOf(soon.ID).ExpiresAt, time.Date(2026, 3, 23, 0, 0, 0, 0, time.UTC); !got.Equal(want) {
		t.Errorf("old key expiring sooner than the overlap: end %v, want its own expiry %v", got, want)
	}
}

func TestRollRefused(t *testing.T) {
	t.Parallel()
	ts, c := newSignedIn(t, longSessions)
	revoked := c.create("Revoked")
	c.post("/settings/api-keys/"+revoked.ID+"/revoke", nil)
	expired := c.createKey(url.Values{"name": {"Expired"}, "scopes": {"*"}, "expires": {"date"}, "expires_on": {"2026-03-11"}, "form_token": {formToken()}})
	rolled := c.create("Rolled")
	successor := c.roll(rolled.ID, "24h")
	ts.clock.Advance(3 * 24 * time.Hour) // "Expired" has expired

	for _, tt := range []struct {
		name string
		key  newKey
		want string
	}{
		{"revoked", revoked, "This key is revoked"},
		{"expired", expired, "This key has expired"},
		{"rolled, overlap over", rolled, "This key was rolled and its overlap has ended"},
	} {
		for _, mode := range []string{"page", "htmx"} {
			t.Run(tt.name+"/"+mode, func(t *testing.T) {
				var opts []opt
				if mode == "htmx" {
					opts = append(opts, htmx())
				}
				confirm := c.get("/settings/api-keys/"+tt.key.ID+"/roll", opts...)
				if d := parse(t, confirm.Body); confirm.Code != http.StatusOK || !strings.HasPrefix(d.Text("#roll-body div.alert-error#roll-desc"), tt.want) || d.Has(`input[name="overlap"]`) {
					t.Errorf("confirmation: got %d, want the reason %q and no form", confirm.Code, tt.want)
				}
				before := ts.counts()
				r := c.post("/settings/api-keys/"+tt.key.ID+"/roll", url.Values{"overlap": {"1h"}, "form_token": {formToken()}}, opts...)
				if r.Code != http.StatusConflict {
					t.Fatalf("status: got %d, want 409\n%s", r.Code, r.Body)
				}
				d := parse(t, r.Body)
				if !strings.HasPrefix(d.Text("#roll-body div.alert-error#roll-desc"), tt.want) {
					t.Errorf("body: want %q in it", tt.want)
				}
				if mode == "htmx" && !d.Children().First().Is("div.roll-body#roll-body") {
					t.Errorf("htmx body: want the dialog's content, got %.100s", r.Body)
				}
				if r.cookie("blnk_reveal") != nil || r.Header.Get("Location") != "" {
					t.Errorf("a refused roll leads to a reveal")
				}
				ts.checkCounts(t, before)
			})
		}
	}
	t.Run("rolled, still in its overlap", func(t *testing.T) {
		k := c.create("Rolled in overlap")
		next := c.roll(k.ID, "7d")
		before := ts.counts()
		r := c.post("/settings/api-keys/"+k.ID+"/roll", url.Values{"overlap": {"1h"}, "form_token": {formToken()}})
		refusal := parse(t, r.Body).Text("#roll-body div.alert-error#roll-desc")
		if r.Code != http.StatusConflict || !strings.HasPrefix(refusal, "This key was rolled already") || !strings.Contains(refusal, next.Prefix+"...") {
			t.Errorf("second roll: got %d, want 409 naming the new key\n%.600s", r.Code, r.Body)
		}
		ts.checkCounts(t, before)
		if got := ts.keyOf(k.ID).RolledInto; got != next.ID {
			t.Errorf("rolled into %q, want still %q", got, next.ID)
		}
	})
	t.Run("an overlap that is not offered", func(t *testing.T) {
		k := c.create("Bad overlap")
		for _, o := range []string{"", "2h", "forever", "-1h", "24H", "<script>"} {
			before := ts.counts()
			for _, opts := range [][]opt{nil, {htmx()}} {
				r := c.post("/settings/api-keys/"+k.ID+"/roll", url.Values{"overlap": {o}, "form_token": {formToken()}}, opts...)
				if r.Code != http.StatusUnprocessableEntity || !strings.HasPrefix(problemText(r.Body), "Choose how long the old key keeps working") {
					t.Errorf("overlap %q: got %d, want 422 with the choices", o, r.Code)
				}
				checkEscaped(t, r.Body, o)
			}
			ts.checkCounts(t, before)
		}
	})
	if got := cellText(t, c.get("/settings/api-keys").Body, successor.ID, "Status"); got != "Active" {
		t.Errorf("the successor: %q, want Active", got)
	}
}

func TestRollSubmittedTwice(t *testing.T) {
	t.Parallel()
	ts, c := newSignedIn(t, serverOpts{})

	t.Run("one after the other", func(t *testing.T) {
		k := c.create("Twice")
		form := c.rollForm(k.ID, "1h")
		first := c.post("/settings/api-keys/"+k.ID+"/roll", form)
		second := c.post("/settings/api-keys/"+k.ID+"/roll", form)
		if first.Code != http.StatusSeeOther || second.Code != http.StatusSeeOther {
			t.Fatalf("got %d and %d, want 303 twice", first.Code, second.Code)
		}
		if first.Header.Get("Location") != second.Header.Get("Location") {
			t.Errorf("the two answers lead to %q and %q, want the same new key", first.Header.Get("Location"), second.Header.Get("Location"))
		}
		if second.cookie("blnk_reveal") != nil {
			t.Errorf("the second answer carries a token again")
		}
		var n int
		ts.raw.QueryRow(`SELECT count(*) FROM api_keys WHERE rolled_from = $1`, k.ID).Scan(&n)
		if n != 1 {
			t.Errorf("successors: got %d, want 1", n)
		}
	})

	t.Run("at once", func(t *testing.T) {
		k := c.create("At once")
		form := c.rollForm(k.ID, "24h")
		var wg sync.WaitGroup
		codes := make([]int, 8)
		locs := make([]string, 8)
		for i := range codes {
			wg.Go(func() {
				r := c.post("/settings/api-keys/"+k.ID+"/roll", form, htmx())
				codes[i], locs[i] = r.Code, r.Header.Get("HX-Redirect")
			})
		}
		wg.Wait()
		for i := range codes {
			if codes[i] != http.StatusOK || locs[i] != locs[0] || locs[i] == "" {
				t.Errorf("request %d: got %d to %q, want 200 with HX-Redirect to %q", i, codes[i], locs[i], locs[0])
			}
		}
		var n int
		ts.raw.QueryRow(`SELECT count(*) FROM api_keys WHERE rolled_from = $1`, k.ID).Scan(&n)
		if n != 1 {
			t.Errorf("successors: got %d, want 1", n)
		}
		if evs := ts.events(blnk.AuditFilter{Key: k.ID, Action: audit.KeyRolled}); len(evs) != 1 {
			t.Errorf("key.rolled events: got %d, want 1", len(evs))
		}
	})

	t.Run("a roll form token that made a key by create", func(t *testing.T) {
		token := formToken()
		c.createKey(url.Values{"name": {"Made by create"}, "scopes": {"*"}, "expires": {"never"}, "form_token": {token}})
		k := c.create("Roll with a used token")
		before := ts.counts()
		r := c.post("/settings/api-keys/"+k.ID+"/roll", url.Values{"overlap": {"1h"}, "form_token": {token}})
		if r.Code != http.StatusConflict || !strings.HasPrefix(problemText(r.Body), "This form was used already") {
			t.Errorf("got %d, want 409 'used already'", r.Code)
		}
		ts.checkCounts(t, before)
	})
}

func TestRollDialog(t *testing.T) {
	t.Parallel()
	_, c := newSignedIn(t, serverOpts{})
	k := c.create("Dialog")
	r := c.get("/settings/api-keys/"+k.ID+"/roll", htmx())
	d := parse(t, r.Body)
	dialog := d.Children().First()
	if !dialog.Is("dialog.modal.roll-modal[data-modal]") {
		t.Fatalf("dialog: the fragment starts with %s, want the roll dialog", goquery.NodeName(dialog))
	}
	rollForm := dialog.Find(`form[hx-post="/settings/api-keys/` + k.ID + `/roll"]`)
	if rollForm.Length() != 1 || rollForm.Find(`input[type="hidden"][name="form_token"]`).Length() != 1 {
		t.Errorf("dialog: no htmx form to roll the key with its form token")
	}
	var overlaps []string
	rollForm.Find(`input[type="radio"][name="overlap"]`).Each(func(_ int, in *goquery.Selection) {
		v, _ := in.Attr("value")
		if _, checked := in.Attr("checked"); checked {
			v += " checked"
		}
		overlaps = append(overlaps, v)
	})
	if want := []string{"now", "1h", "24h checked", "7d"}; !slices.Equal(overlaps, want) {
		t.Errorf("dialog: overlaps %q, want %q", overlaps, want)
	}
	if got := htmlcheck.Text(rollForm.Find(`label.choice:has(input[value="now"])`)); !strings.HasPrefix(got, "Stop it now") {
		t.Errorf("dialog: the overlap now is labelled %q, want Stop it now", got)
	}
	if got := htmlcheck.Text(dialog.Find("p.roll-policy")); !strings.Contains(got, "neither will the new key") {
		t.Errorf("dialog: the expiry policy %q does not say the new key never expires", got)
	}
	// With htmx, a roll leads to the reveal page by a full navigation,
	// which carries the one-time cookie.
	form := c.rollForm(k.ID, "1h")
	p := c.post("/settings/api-keys/"+k.ID+"/roll", form, htmx())
	if p.Code != http.StatusOK || !revealPathRE.MatchString(p.Header.Get("HX-Redirect")) || p.cookie("blnk_reveal") == nil {
		t.Fatalf("htmx roll: got %d HX-Redirect %q, want 200 to the reveal page with its cookie", p.Code, p.Header.Get("HX-Redirect"))
	}
	page := c.follow(p)
	if revealedToken(page.Body) == "" || page.Header.Get("Cache-Control") != "no-store" {
		t.Errorf("reveal page after an htmx roll: no token, or cached")
	}
	if again := c.follow(p); revealedToken(again.Body) != "" {
		t.Errorf("the new key was shown twice")
	}
}
