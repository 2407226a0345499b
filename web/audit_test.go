package web_test

import (
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/PuerkitoBio/goquery"
	"github.com/blnk-cloud/apikeys/internal/audit"
	"github.com/blnk-cloud/apikeys/internal/blnk"
	"github.com/blnk-cloud/apikeys/internal/testkit/htmlcheck"
)

// eventIDs returns the ids of the events of an audit log page (the items
// of its event list, with ids event-N), in order.
func eventIDs(body string) []int64 {
	var out []int64
	htmlcheck.Read(body).Find(`ol.audit-events > li.audit-event[id^="event-"]`).Each(func(_ int, li *goquery.Selection) {
		id, _ := li.Attr("id")
		if v, err := strconv.ParseInt(strings.TrimPrefix(id, "event-"), 10, 64); err == nil {
			out = append(out, v)
		}
	})
	return out
}

// pagerLink returns the href of the audit log's page link labelled label
// ("Older →", "← Newer"), or "".
func pagerLink(t *testing.T, body, label string) string {
	t.Helper()
	href, _ := parse(t, body).Find("#audit-results nav.pager a").FilterFunction(func(_ int, a *goquery.Selection) bool {
		return htmlcheck.Text(a) == label
	}).Attr("href")
	return href
}

// allEvents returns every audit event of the database, oldest first, of
// every workspace (0: none).
func (ts *testServer) allEvents() []audit.Event {
	ts.t.Helper()
	var out []audit.Event
	if err := ts.db.EachAuditEvent(context.Background(), blnk.AuditFilter{}, func(ev audit.Event) error {
		json.Unmarshal(ev.RawDetails, &ev.Details)
		out = append(out, ev)
		return nil
	}); err != nil {
		ts.t.Fatal(err)
	}
	slices.Reverse(out)
	return out
}

func TestAuditRecordsEveryAction(t *testing.T) {
	t.Parallel()
	ts := newTestServer(t, longSessions)
	c := ts.client()
	c.setup(adminWorkspace, adminEmail, adminPassword) // signs in: 192.0.2.10
	ws := ts.workspaceID(adminWorkspace)

	c.remoteAddr = "198.51.100.1:1000"
	if r := c.post("/logout", nil); r.Code != http.StatusSeeOther {
		t.Fatalf("logout: %d", r.Code)
	}
	c.post("/logout", nil) // signed out already: nothing to record
	c.remoteAddr = "198.51.100.2:1000"
	if r := c.post("/login", url.Values{"email": {adminEmail}, "password": {"wrong password!!"}}); r.Code != http.StatusUnauthorized {
		t.Fatalf("wrong password: %d", r.Code)
	}
	c.remoteAddr = "198.51.100.3:1000"
	if r := c.post("/login", url.Values{"email": {"nobody@example.com"}, "password": {adminPassword}}); r.Code != http.StatusUnauthorized {
		t.Fatalf("unknown email: %d", r.Code)
	}
	c.remoteAddr = "198.51.100.4:1000"
	c.signIn(adminEmail, adminPassword)

	c.remoteAddr = "203.0.113.5:1000"
	k := c.createKey(url.Values{"name": {"Audited"}, "description": {"d"}, "scopes": {"mcp:read"}, "expires": {"date"}, "expires_on": {"2026-03-20"}, "form_token": {formToken()}})
	c.post("/settings/api-keys/"+k.ID+"/edit", url.Values{"name": {"Audited, renamed"}})
	next := c.roll(k.ID, "1h")
	c.post("/settings/api-keys/"+next.ID+"/revoke", nil)
	c.post("/settings/api-keys/"+next.ID+"/revoke", nil) // revoked already: nothing to record
	c.get("/settings/api-keys/" + next.ID + "/reveal")   // shown already: nothing to record

	// The old key's overlap ends: the sweep records it once.
	ts.clock.Advance(time.Hour)
	for range 2 {
		if _, err := ts.keys.SweepExpired(context.Background()); err != nil {
			t.Fatal(err)
		}
	}

	type row struct {
		ws                     int64
		action, actor, ip, key string
	}
	var got []row
	for _, ev := range ts.allEvents() {
		got = append(got, row{ev.WorkspaceID, string(ev.Action), ev.Actor.Name(), ev.Actor.IP, ev.KeyID})
	}
	want := []row{
		{ws, "user.signed_in", adminEmail, "192.0.2.10", ""},
		{ws, "user.signed_out", adminEmail, "198.51.100.1", ""},
		{ws, "user.sign_in_failed", adminEmail, "198.51.100.2", ""},
		{0, "user.sign_in_failed", "user", "198.51.100.3", ""}, // in no workspace, and the email typed is not kept
		{ws, "user.signed_in", adminEmail, "198.51.100.4", ""},
		{ws, "key.created", adminEmail, "203.0.113.5", k.ID},
		{ws, "key.revealed", adminEmail, "203.0.113.5", k.ID},
		{ws, "key.edited", adminEmail, "203.0.113.5", k.ID},
		{ws, "key.rolled", adminEmail, "203.0.113.5", k.ID},
		{ws, "key.created", adminEmail, "203.0.113.5", next.ID},
		{ws, "key.revealed", adminEmail, "203.0.113.5", next.ID},
		{ws, "key.revoked", adminEmail, "203.0.113.5", next.ID},
		{ws, "key.expired", "system", "", k.ID},
	}
	if !slices.Equal(got, want) {
		t.Errorf("events:\n got %v\nwant %v", got, want)
	}
	// Never a secret: no token, no password, not even the unknown email.
	for _, ev := range ts.allEvents() {
		all := fmt.Sprintf("%+v %s", ev, ev.RawDetails)
		for _, secret := range []string{k.Token, next.Token, k.Token[13:], next.Token[13:], adminPassword, "wrong password!!", "nobody@example.com"} {
			if strings.Contains(all, secret) {
				t.Errorf("event %d %s holds a secret", ev.ID, ev.Action)
			}
		}
	}
	// The key's details show its recent events, with a link to the rest.
	recent := parse(t, c.get("/settings/api-keys/"+k.ID, htmx()).Body).Find("section.key-events")
	if got := htmlcheck.Text(recent.Find("h2")); got != "Recent activity" {
		t.Errorf("panel: the events' heading is %q, want Recent activity", got)
	}
	if !hasLink(recent, "/settings/audit-log?key="+k.ID) {
		t.Errorf("panel: no link to the key's events in the audit log")
	}
	var labels []string
	recent.Find("ol.event-list > li > .action").Each(func(_ int, s *goquery.Selection) { labels = append(labels, htmlcheck.Text(s)) })
	for _, want := range []string{"Key expired", "Key rolled", "Key edited", "Key revealed", "Key created"} {
		if !slices.Contains(labels, want) {
			t.Errorf("panel: want %q among the recent events %q", want, labels)
		}
	}
}

func TestAuditNothingWhenRefused(t *testing.T) {
	t.Parallel()
	ts, c := newSignedIn(t, serverOpts{})
	k := c.create("Refusals")
	before := ts.count("audit_events")
	c.post("/settings/api-keys", url.Values{"name": {""}, "scopes": {"*"}, "expires": {"never"}, "form_token": {formToken()}})
	c.post("/settings/api-keys/"+k.ID+"/edit", url.Values{"name": {"\x00"}})
	c.post("/settings/api-keys/"+k.ID+"/roll", url.Values{"overlap": {"1y"}, "form_token": {formToken()}})
	c.get("/settings/api-keys/" + k.ID + "/reveal") // shown already
	c.post("/settings/api-keys/"+k.ID+"/revoke", nil, header("Sec-Fetch-Site", "cross-site"))
	c.post("/settings/api-keys/"+k.ID+"/roll", url.Values{"overlap": {"1h"}, "form_token": {formToken()}}, header("Sec-Fetch-Site", "cross-site"))
	c.post("/login", url.Values{"email": {""}, "password": {""}})
	if n := ts.count("audit_events"); n != before {
		t.Errorf("audit events after refused requests: got %d, want %d", n, before)
	}
	// Failed sign-ins are recorded while they are checked; once the
	// address or email is throttled, refused attempts are not checked,
	// and not recorded.
	other := ts.client()
	for i := 0; i < 8; i++ {
		other.post("/login", url.Values{"email": {adminEmail}, "password": {"not the password"}})
	}
	if n := ts.count("audit_events") - before; n != 5 {
		t.Errorf("failed sign-ins recorded: got %d, want 5 (the rest were throttled)", n)
	}
}

func TestAuditLogPage(t *testing.T) {
	t.Parallel()
	ts, c := newSignedIn(t, serverOpts{})
	ws := ts.workspaceID(adminWorkspace)
	a := c.create("Key A")
	ts.clock.Advance(time.Minute)
	b := c.create("Key B")
	c.post("/settings/api-keys/"+a.ID+"/revoke", nil)
	other := ts.addWorkspace("Globex", "hank@globex.test", "another long password")
	g := other.create("Globex key")

	t.Run("newest first, relative times with the exact time on hover", func(t *testing.T) {
		r := c.get("/settings/audit-log")
		if r.Code != http.StatusOK || !isFullPage(r.Body) {
			t.Fatalf("got %d", r.Code)
		}
		ids := eventIDs(r.Body)
		var want []int64
		for _, ev := range ts.events(blnk.AuditFilter{WorkspaceID: ws}) {
			want = append(want, ev.ID)
		}
		if !slices.Equal(ids, want) || len(ids) != 6 { // signed in, 2 × (created, revealed), revoked
			t.Errorf("rows: got %v, want %v", ids, want)
		}
		if !slices.IsSortedFunc(ids, func(x, y int64) int { return int(y - x) }) {
			t.Errorf("rows not newest first: %v", ids)
		}
		if !parse(t, r.Body).Find(`li.audit-event .event-meta time[datetime="2026-03-10T12:00:00Z"][title="Mar 10, 2026 12:00:00 UTC"]`).FilterFunction(func(_ int, s *goquery.Selection) bool {
			return htmlcheck.Text(s) == "1 minute ago"
		}).Is("time") {
			t.Errorf("no relative time with the exact one in its title")
		}
		if strings.Contains(r.Body, g.Prefix) || strings.Contains(r.Body, "hank@globex.test") {
			t.Errorf("Acme's log shows Globex's events")
		}
		if !parse(t, r.Body).Has(`aside.sidebar a.nav-link[href="/settings/audit-log"][aria-current="page"]`) {
			t.Errorf("the sidebar does not mark the audit log as the current page")
		}
	})

	t.Run("filters", func(t *testing.T) {
		for _, tt := range []struct {
			query string
			want  []string
		}{
			{"key=" + a.ID, []string{"key.revoked", "key.revealed", "key.created"}},
			{"key=" + a.Prefix + "...", []string{"key.revoked", "key.revealed", "key.created"}},
			{"key=" + b.ID + "&action=key.created", []string{"key.created"}},
			{"action=user.signed_in", []string{"user.signed_in"}},
			{"actor=" + url.QueryEscape(" ADMIN@example.com "), []string{"key.revoked", "key.revealed", "key.created", "key.revealed", "key.created", "user.signed_in"}},
			{"actor=system", nil},
			{"key=" + g.ID, nil}, // another workspace's key: nothing
		} {
			r := c.get("/settings/audit-log?" + tt.query)
			if r.Code != http.StatusOK {
				t.Errorf("%s: got %d", tt.query, r.Code)
				continue
			}
			var got []string
			for _, id := range eventIDs(r.Body) {
				for _, ev := range ts.events(blnk.AuditFilter{WorkspaceID: ws}) {
					if ev.ID == id {
						got = append(got, string(ev.Action))
					}
				}
			}
			if !slices.Equal(got, tt.want) {
				t.Errorf("%s: got %v, want %v", tt.query, got, tt.want)
			}
			if len(tt.want) == 0 && parse(t, r.Body).Text("#audit-results .empty-state p") != "No event matches this filter." {
				t.Errorf("%s: no empty state", tt.query)
			}
		}
	})

	t.Run("htmx swaps the results and the export links", func(t *testing.T) {
		r := c.get("/settings/audit-log?action=key.revoked", htmx(), header("HX-Target", "audit-results"))
		if r.Code != http.StatusOK || isFullPage(r.Body) {
			t.Fatalf("got %d %.120s, want the results alone", r.Code, r.Body)
		}
		d := parse(t, r.Body)
		if first := d.Children().First(); !first.Is("section#audit-results") {
			id, _ := first.Attr("id")
			t.Fatalf("the fragment begins with <%s id=%q>, want the results' section", goquery.NodeName(first), id)
		}
		if !hasLink(d.Find(`div#audit-export[hx-swap-oob="true"]`), "/settings/audit-log.csv?action=key.revoked") {
			t.Errorf("no out-of-band export links of the filter")
		}
		if len(eventIDs(r.Body)) != 1 {
			t.Errorf("rows: %v", eventIDs(r.Body))
		}
	})

	t.Run("bad filters are 400", func(t *testing.T) {
		for _, q := range []string{"action=key.deleted", "key=nope", "key=blnk_XYZ", "before=abc", "after=-1", "actor=" + strings.Repeat("a", 400)} {
			r := c.get("/settings/audit-log?" + q)
			if r.Code != http.StatusBadRequest {
				t.Errorf("%s: got %d, want 400", q, r.Code)
			}
			checkEscaped(t, r.Body)
		}
	})

	t.Run("keyset pages", func(t *testing.T) {
		for i := range 120 {
			if err := ts.db.RecordEvent(context.Background(), audit.Event{WorkspaceID: ws, At: ts.clock.Now(), Action: audit.KeyRevealed,
				Actor: audit.Actor{Kind: audit.System}, KeyID: b.ID, KeyPrefix: b.Prefix, Details: map[string]any{"n": i}}); err != nil {
				t.Fatal(err)
			}
		}
		all := ts.events(blnk.AuditFilter{WorkspaceID: ws, Actor: "system"})
		var want []int64
		for _, ev := range all {
			want = append(want, ev.ID)
		}
		var got []int64
		next := "/settings/audit-log?actor=system"
		var pages []string
		for next != "" {
			r := c.get(next)
			pages = append(pages, next)
			ids := eventIDs(r.Body)
			if len(ids) > 50 {
				t.Fatalf("page of %d rows", len(ids))
			}
			got = append(got, ids...)
			next = pagerLink(t, r.Body, "Older →")
			if len(pages) > 5 {
				t.Fatal("too many pages")
			}
		}
		if !slices.Equal(got, want) || len(pages) != 3 {
			t.Errorf("paged through %d pages, %d events; want 3 pages of the %d events in order", len(pages), len(got), len(want))
		}
		// From the last page back to the newer ones.
		last := c.get(pages[2]).Body
		newer := pagerLink(t, last, "← Newer")
		if !strings.Contains(newer, "after=") {
			t.Fatalf("last page: no link to newer events, got %q", newer)
		}
		if ids := eventIDs(c.get(newer).Body); !slices.Equal(ids, want[50:100]) {
			t.Errorf("newer page: got %v, want the second page", ids)
		}
	})
}

func TestAuditExport(t *testing.T) {
	t.Parallel()
	ts, c := newSignedIn(t, serverOpts{})
	ws := ts.workspaceID(adminWorkspace)
	k := c.create("=HYPERLINK(\"http://evil\")") // a formula in a name
	next := c.roll(k.ID, "24h")
	c.post("/settings/api-keys/"+k.ID+"/edit", url.Values{"name": {"Renamed"}, "description": {"a, \"quoted\"\nline"}})
	other := ts.addWorkspace("Globex", "hank@globex.test", "another long password")
	other.create("Globex key")

	for _, query := range []string{"", "?key=" + k.ID, "?action=key.created", "?actor=" + url.QueryEscape(adminEmail) + "&key=" + next.ID} {
		page := c.get("/settings/audit-log" + query)
		wantIDs := eventIDs(page.Body)
		if len(wantIDs) == 0 {
			t.Fatalf("%q: no events on the page", query)
		}
		t.Run("csv"+query, func(t *testing.T) {
			r := c.get("/settings/audit-log.csv" + query)
			if r.Code != http.StatusOK || r.Header.Get("Content-Type") != "text/csv; charset=utf-8" ||
				!strings.HasPrefix(r.Header.Get("Content-Disposition"), `attachment; filename="audit-log-`) {
				t.Fatalf("got %d %q %q", r.Code, r.Header.Get("Content-Type"), r.Header.Get("Content-Disposition"))
			}
			recs, err := csv.NewReader(strings.NewReader(r.Body)).ReadAll()
			if err != nil {
				t.Fatalf("CSV does not parse: %v", err)
			}
			if !slices.Equal(recs[0], audit.CSVHeader) {
				t.Errorf("header: %q", recs[0])
			}
			var ids []int64
			for _, rec := range recs[1:] {
				id, _ := strconv.ParseInt(rec[0], 10, 64)
				ids = append(ids, id)
				if _, err := time.Parse(time.RFC3339, rec[1]); err != nil {
					t.Errorf("time %q: %v", rec[1], err)
				}
				var d map[string]any
				if err := json.Unmarshal([]byte(rec[8]), &d); err != nil {
					t.Errorf("details %q do not parse: %v", rec[8], err)
				}
				for _, cell := range rec {
					if strings.HasPrefix(cell, "=") {
						t.Errorf("a cell a spreadsheet would run: %q", cell)
					}
				}
			}
			if !slices.Equal(ids, wantIDs) {
				t.Errorf("events: got %v, want the page's %v", ids, wantIDs)
			}
			if strings.Contains(r.Body, "Globex") || strings.Contains(r.Body, "hank@") {
				t.Errorf("export holds another workspace's events")
			}
		})
		t.Run("json"+query, func(t *testing.T) {
			r := c.get("/settings/audit-log.json" + query)
			if r.Code != http.StatusOK || r.Header.Get("Content-Type") != "application/json; charset=utf-8" {
				t.Fatalf("got %d %q", r.Code, r.Header.Get("Content-Type"))
			}
			var evs []struct {
				ID        int64          `json:"id"`
				Time      time.Time      `json:"time"`
				Action    string         `json:"action"`
				Actor     string         `json:"actor"`
				IP        string         `json:"ip"`
				KeyID     string         `json:"key_id"`
				KeyPrefix string         `json:"key_prefix"`
				Details   map[string]any `json:"details"`
			}
			if err := json.Unmarshal([]byte(r.Body), &evs); err != nil {
				t.Fatalf("JSON does not parse: %v", err)
			}
			var ids []int64
			for _, ev := range evs {
				ids = append(ids, ev.ID)
				if ev.Actor != adminEmail || ev.IP != "192.0.2.10" || ev.Time.IsZero() {
					t.Errorf("event %d: actor %q ip %q time %v", ev.ID, ev.Actor, ev.IP, ev.Time)
				}
			}
			if !slices.Equal(ids, wantIDs) {
				t.Errorf("events: got %v, want the page's %v", ids, wantIDs)
			}
			if strings.Contains(r.Body, k.Token) || strings.Contains(r.Body, next.Token) {
				t.Errorf("the export holds a token")
			}
		})
	}
	t.Run("empty", func(t *testing.T) {
		if r := c.get("/settings/audit-log.json?actor=nobody"); strings.TrimSpace(r.Body) != "[]" {
			t.Errorf("empty JSON export: %q", r.Body)
		}
		if r := c.get("/settings/audit-log.csv?actor=nobody"); strings.TrimSpace(r.Body) != strings.Join(audit.CSVHeader, ",") {
			t.Errorf("empty CSV export: %q", r.Body)
		}
	})
	t.Run("signed out", func(t *testing.T) {
		r := ts.client().get("/settings/audit-log.csv")
		if r.Code != http.StatusSeeOther || strings.Contains(r.Body, adminEmail) {
			t.Errorf("signed out: got %d, want the sign-in redirect", r.Code)
		}
	})
	_ = ws
}

// flushCounter is a ResponseWriter that counts flushes and the bytes
// written before each.
type flushCounter struct {
	httptest.ResponseRecorder
	at []int
}

func (f *flushCounter) Flush() { f.at = append(f.at, f.Body.Len()) }

func TestAuditExportIsStreamed(t *testing.T) {
	t.Parallel()
	ts, c := newSignedIn(t, serverOpts{})
	ws := ts.workspaceID(adminWorkspace)
	const n = 3500
	for i := range n {
		if err := ts.db.RecordEvent(context.Background(), audit.Event{WorkspaceID: ws, At: ts.clock.Now(), Action: audit.KeyRevealed,
			Actor: audit.Actor{Kind: audit.System}, KeyID: "key_00000000000000000000", KeyPrefix: "blnk_00000000", Details: map[string]any{"n": i}}); err != nil {
			t.Fatal(err)
		}
	}
	for _, format := range []string{"csv", "json"} {
		r := httptest.NewRequest(http.MethodGet, origin+"/settings/audit-log."+format, nil)
		for _, ck := range c.cookiesFor("/") {
			r.AddCookie(ck)
		}
		w := &flushCounter{ResponseRecorder: *httptest.NewRecorder()}
		ts.srv.ServeHTTP(w, r)
		if w.Code != http.StatusOK {
			t.Fatalf("%s: %d", format, w.Code)
		}
		// Flushed after every 1,000 events, and at the end: the first
		// rows left long before the last were read.
		if len(w.at) < 4 || w.at[0] >= w.Body.Len()/3 {
			t.Errorf("%s: flushes after %v bytes of %d, want one per 1,000 events", format, w.at, w.Body.Len())
		}
		rows := 0
		switch format {
		case "csv":
			recs, err := csv.NewReader(bytes.NewReader(w.Body.Bytes())).ReadAll()
			if err != nil {
				t.Fatal(err)
			}
			rows = len(recs) - 1
		case "json":
			var evs []json.RawMessage
			if err := json.NewDecoder(bytes.NewReader(w.Body.Bytes())).Decode(&evs); err != nil {
				t.Fatal(err)
			}
			rows = len(evs)
		}
		if rows != n+1 { // and the sign-in
			t.Errorf("%s: %d events, want %d", format, rows, n+1)
		}
	}
}

func TestAuditLogEvents(t *testing.T) {
	t.Parallel()
	ts, c := newSignedIn(t, serverOpts{})
	ws := ts.workspaceID(adminWorkspace)
	k := c.create("Nightly export")
	long := strings.Repeat("Exports settled payments to the warehouse. ", 5) // 215 characters
	if r := c.post("/settings/api-keys/"+k.ID+"/edit", url.Values{"name": {"Nightly export"}, "description": {long}}); r.Code != http.StatusSeeOther {
		t.Fatalf("edit: %d", r.Code)
	}
	c.post("/settings/api-keys/"+k.ID+"/revoke", nil)
	id := func(a audit.Action) string {
		evs := ts.events(blnk.AuditFilter{WorkspaceID: ws, Key: k.ID, Action: a})
		if len(evs) != 1 {
			t.Fatalf("%s: %d events", a, len(evs))
		}
		return "event-" + strconv.FormatInt(evs[0].ID, 10)
	}
	page := parse(t, c.get("/settings/audit-log").Body)

	t.Run("a sentence whose actor and key filter the log", func(t *testing.T) {
		ev := page.One("ol.audit-events > li.audit-event" + htmlcheck.ID(id(audit.KeyRevoked)))
		sentence := ev.Find("p.event-sentence")
		if sentence.Length() != 1 {
			t.Fatalf("%d sentences, want 1", sentence.Length())
		}
		if got, want := htmlcheck.Text(sentence), adminEmail+" revoked key "+k.Prefix+"..."; got != want {
			t.Errorf("sentence %q, want %q", got, want)
		}
		var links []string
		sentence.Find("a").Each(func(_ int, a *goquery.Selection) {
			href, _ := a.Attr("href")
			links = append(links, href)
		})
		want := []string{"/settings/audit-log?actor=" + url.QueryEscape(adminEmail), "/settings/audit-log?key=" + k.ID}
		if !slices.Equal(links, want) {
			t.Errorf("links %q, want %q", links, want)
		}
		action, ip, at := htmlcheck.Text(ev.Find(".event-action .action")), htmlcheck.Text(ev.Find(".event-meta .event-ip")), htmlcheck.Text(ev.Find(".event-meta time"))
		if action != "Key revoked" || ip != "192.0.2.10" || at != "just now" {
			t.Errorf("event: action %q, address %q, time %q; want Key revoked, 192.0.2.10, just now", action, ip, at)
		}
	})

	t.Run("an edit's details hold the values in full", func(t *testing.T) {
		ev := page.One("ol.audit-events > li.audit-event" + htmlcheck.ID(id(audit.KeyEdited)))
		change := ev.Find("details.event-payload dd.change")
		if change.Length() != 1 {
			t.Fatalf("%d changes in the details, want 1", change.Length())
		}
		was, now := htmlcheck.Text(change.Find(".was")), htmlcheck.Text(change.Find(".now"))
		if was != "Before: (none)" || now != "After: "+strings.TrimSpace(long) {
			t.Errorf("before %q, after %q; want the new description in full", was, now)
		}
		if got := htmlcheck.Text(ev.Find("p.event-summary")); !strings.Contains(got, "description changed") {
			t.Errorf("the summary %q does not say what changed", got)
		}
	})
}
