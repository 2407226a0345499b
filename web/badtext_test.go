package web_test

import (
	"bytes"
	"context"
	"encoding/json"
	"mime/multipart"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/PuerkitoBio/goquery"
	"github.com/blnk-cloud/apikeys/internal/apikey"
	"github.com/blnk-cloud/apikeys/internal/testkit/htmlcheck"
	"github.com/blnk-cloud/apikeys/web"
)

// badTextMessage is what a request with a NUL or invalid UTF-8 is told.
const badTextMessage = "holds a NUL character or text that is not valid UTF-8"

// badTexts are the values no parameter or field may hold.
var badTexts = map[string]string{"NUL": "a\x00b", "invalid UTF-8": "a\xffb", "lone continuation byte": "\x80", "overlong NUL": "\xc0\x80"}

// checkBadTextRefused fails unless r is the 400 of a request with bad
// text, as a page, an htmx fragment or the API's JSON error, naming
// field when it is not "".
func checkBadTextRefused(t *testing.T, r *response, mode, field string) {
	t.Helper()
	if r.Code != http.StatusBadRequest {
		t.Fatalf("%s %.80q (%s): status %d, want 400\n%.300s", r.Method, r.Target, mode, r.Code, r.Body)
	}
	if cd := r.Header.Get("Content-Disposition"); cd != "" {
		t.Errorf("%s %.80q: Content-Disposition %q on a refusal, want none", r.Method, r.Target, cd)
	}
	var text string
	switch mode {
	case "api":
		e := checkAPIError(t, r, http.StatusBadRequest, "invalid_text")
		text = e.Error.Message
	case "htmx":
		if isFullPage(r.Body) {
			t.Errorf("%s %.80q: a whole page to htmx, want the error fragment", r.Method, r.Target)
		}
		text = errorText(t, r.Body)
	default:
		if !isFullPage(r.Body) {
			t.Errorf("%s %.80q: want a whole error page", r.Method, r.Target)
		}
		text = errorText(t, r.Body)
	}
	if !strings.Contains(text, badTextMessage) {
		t.Errorf("%s %.80q: the answer does not say %q:\n%.300s", r.Method, r.Target, badTextMessage, text)
	}
	if field != "" && !strings.Contains(text, "“"+field+"”") {
		t.Errorf("%s %.80q: the answer does not name %q:\n%.300s", r.Method, r.Target, field, text)
	}
}

// multipartBody encodes form as multipart/form-data.
func multipartBody(t *testing.T, form url.Values) opt {
	t.Helper()
	var b bytes.Buffer
	w := multipart.NewWriter(&b)
	for k, vs := range form {
		for _, v := range vs {
			if err := w.WriteField(k, v); err != nil {
				t.Fatal(err)
			}
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return rawBody(&b, w.FormDataContentType())
}

// TestFormsRefuseNULAndInvalidUTF8: every form, in every field, refuses
// a NUL or bytes that are not UTF-8 with 400 and a message that names
// the field, URL-encoded or multipart, as a page or to htmx, and writes
// nothing (PostgreSQL answered 500 to a NUL, SQLite stored it).
func TestFormsRefuseNULAndInvalidUTF8(t *testing.T) {
	t.Parallel()
	ts, c := newSignedIn(t, serverOpts{})
	k := c.create("Target", "mcp:read")
	wh := addWebhook(t, c, "https://hooks.example/bad-text", "key.created")
	fresh := newTestServer(t, serverOpts{})

	forms := []struct {
		name string
		ts   *testServer
		c    *client
		path string
		form url.Values
	}{
		{"setup", fresh, fresh.client(), "/setup", url.Values{"workspace": {"Acme"}, "email": {"admin@example.com"}, "password": {adminPassword}, "confirm": {adminPassword}}},
		{"sign in", ts, ts.client(), "/login", url.Values{"email": {adminEmail}, "password": {adminPassword}, "next": {"/settings/api-keys"}}},
		{"create key", ts, c, "/settings/api-keys", url.Values{"name": {"Good"}, "description": {"Notes"}, "scopes": {"mcp:read"}, "expires": {"date"},
			"expires_on": {"2026-12-31"}, "allowlist": {"10.0.0.0/8"}, "form_token": {formToken()}}},
		{"edit key", ts, c, "/settings/api-keys/" + k.ID + "/edit", url.Values{"name": {"Renamed"}, "description": {"Notes"}, "allowlist": {"10.0.0.0/8"}}},
		{"roll key", ts, c, "/settings/api-keys/" + k.ID + "/roll", url.Values{"overlap": {"1h"}, "form_token": {formToken()}}},
		{"revoke key", ts, c, "/settings/api-keys/" + k.ID + "/revoke", url.Values{"confirm": {"yes"}}},
		{"add webhook", ts, c, "/settings/webhooks", url.Values{"url": {"https://hooks.example/x"}, "events": {"key.created"}, "description": {"Alerts"}, "form_token": {formToken()}}},
		{"test webhook", ts, c, "/settings/webhooks/" + wh + "/test", url.Values{"note": {"x"}}},
		{"disable webhook", ts, c, "/settings/webhooks/" + wh + "/disable", url.Values{"note": {"x"}}},
		{"delete webhook", ts, c, "/settings/webhooks/" + wh + "/delete", url.Values{"note": {"x"}}},
		{"theme", ts, c, "/settings/theme", url.Values{"theme": {"dark"}}},
		{"sign out", ts, c, "/logout", url.Values{"note": {"x"}}},
	}
	for _, f := range forms {
		for field := range f.form {
			for badName, bad := range badTexts {
				for _, mode := range []string{"page", "htmx", "multipart"} {
					t.Run(f.name+"/"+field+"/"+badName+"/"+mode, func(t *testing.T) {
						form := url.Values{}
						for k, vs := range f.form {
							form[k] = append([]string(nil), vs...)
						}
						form.Set(field, bad)
						before := f.ts.counts()
						var r *response
						switch mode {
						case "htmx":
							r = f.c.post(f.path, form, htmx())
						case "multipart":
							r = f.c.post(f.path, nil, multipartBody(t, form))
						default:
							r = f.c.post(f.path, form)
						}
						checkBadTextRefused(t, r, strings.TrimPrefix(mode, "multi"), field)
						f.ts.checkCounts(t, before)
					})
				}
			}
		}
		t.Run(f.name+"/in a field's name", func(t *testing.T) {
			before := f.ts.counts()
			form := url.Values{"x\x00y": {"1"}}
			for k, vs := range f.form {
				form[k] = vs
			}
			checkBadTextRefused(t, f.c.post(f.path, form), "page", "")
			f.ts.checkCounts(t, before)
		})
	}
	if r := c.get("/settings/api-keys/" + k.ID); r.Code != http.StatusOK || parse(t, r.Body).Text("h1"+htmlcheck.ID("key-title-"+k.ID)) != "Target" {
		t.Errorf("the key after the refusals: %d, want it unchanged and still signed in", r.Code)
	}
}

// TestQueriesRefuseNULAndInvalidUTF8: the list's, the audit log's and
// its exports' parameters, and any parameter of any route, refuse a NUL
// or invalid UTF-8 with 400 (PostgreSQL answered the audit log 500 and
// its exports 200 with an empty file).
func TestQueriesRefuseNULAndInvalidUTF8(t *testing.T) {
	t.Parallel()
	ts, c := newSignedIn(t, serverOpts{})
	k := c.create("Queried", "mcp:read")
	params := map[string][]string{
		"/settings/api-keys":       {"q", "status", "scope", "sort", "cursor", "limit", "owner"},
		"/settings/audit-log":      {"key", "actor", "action", "before", "after"},
		"/settings/audit-log.csv":  {"key", "actor", "action"},
		"/settings/audit-log.json": {"key", "actor", "action"},
	}
	escaped := map[string]string{"NUL": "a%00b", "invalid UTF-8": "a%FFb", "lone continuation byte": "%80", "overlong NUL": "%C0%80"}
	for path, names := range params {
		for _, name := range names {
			for badName, bad := range escaped {
				for _, mode := range []string{"page", "htmx"} {
					target := path + "?" + name + "=" + bad
					opts := []opt{}
					if mode == "htmx" {
						opts = append(opts, htmx(), header("HX-Target", "audit-results"))
					}
					t.Run(target+"/"+badName+"/"+mode, func(t *testing.T) {
						r := c.get(target, opts...)
						checkBadTextRefused(t, r, mode, name)
					})
				}
			}
		}
	}
	// Every route, whatever parameters it reads, but the gateway check
	// (below), and HEAD alike.
	for _, rt := range web.Routes(ts.srv) {
		if rt.Path == "/api/v1/verify" || strings.Contains(rt.Path, "*") {
			continue
		}
		path := strings.NewReplacer(":id", k.ID, ":delivery", "1").Replace(rt.Path)
		mode := "page"
		opts := []opt{}
		if strings.HasPrefix(path, "/api/") {
			mode = "api"
			opts = append(opts, bearer(k.Token), noCookies())
		}
		for badName, bad := range escaped {
			target := path + "?x=" + bad
			before := ts.counts()
			r := c.do(rt.Method, target, url.Values{}, opts...)
			if rt.Method == http.MethodHead {
				if r.Code != http.StatusBadRequest {
					t.Errorf("HEAD %s (%s): %d, want 400", target, badName, r.Code)
				}
				continue
			}
			checkBadTextRefused(t, r, mode, "x")
			ts.checkCounts(t, before)
		}
	}
	// A NUL in an id of the address.
	for _, path := range []string{"/settings/api-keys/key_0000000000000000000%00", "/settings/webhooks/wh_%00/deliveries", "/nowhere%00"} {
		checkBadTextRefused(t, c.get(path), "page", "")
	}
	// The gateway check answers a scope it cannot know with its own code.
	checkAPIError(t, c.api("/api/v1/verify?scope=mcp%3Aread%00", k.Token), http.StatusBadRequest, "unknown_scope")
	if r := c.api("/api/v1/verify?scope=mcp:read&x=%00", k.Token); r.Code != http.StatusOK {
		t.Errorf("verify with another parameter: %d, want 200 (it reads only scope)", r.Code)
	}
	if strings.Contains(ts.logs.String(), "level=ERROR") {
		t.Errorf("errors logged:\n%s", ts.logs.String())
	}
}

// TestLeakReportsRefuseNULAndInvalidUTF8: a report whose strings hold a
// NUL, bytes that are not UTF-8 or half a surrogate pair is 400 and
// revokes nothing; escapes of real characters are text.
func TestLeakReportsRefuseNULAndInvalidUTF8(t *testing.T) {
	t.Parallel()
	ts, c := newSignedIn(t, serverOpts{})
	k := c.create("Reported badly", "mcp:read")
	anon := ts.client()
	tok, _ := json.Marshal(k.Token)
	bad := map[string]string{
		"NUL in the token":         `[{"token":"` + k.Token + `\u0000"}]`,
		"NUL in the URL":           `[{"token":` + string(tok) + `,"url":"https://x.example/\u0000"}]`,
		"NUL in the source":        `[{"token":` + string(tok) + `,"source":"scan\u0000ner"}]`,
		"invalid UTF-8":            `[{"token":` + string(tok) + `,"url":"https://x.example/` + "\xff" + `"}]`,
		"lone high surrogate":      `[{"token":` + string(tok) + `,"source":"\ud83d"}]`,
		"lone low surrogate":       `[{"token":` + string(tok) + `,"source":"\udd11x"}]`,
		"high surrogate then text": `[{"token":` + string(tok) + `,"source":"\ud83d\u0041"}]`,
	}
	for name, body := range bad {
		r := leak(anon, body, fromAddr("198.51.100.1:1"))
		if e := checkAPIError(t, r, http.StatusBadRequest, "invalid_text"); !strings.Contains(e.Error.Message, "UTF-8") {
			t.Errorf("%s: message %q, want it to say UTF-8", name, e.Error.Message)
		}
	}
	if r := c.api("/api/v1/whoami", k.Token); r.Code != http.StatusOK {
		t.Fatalf("whoami after refused reports: %d, want 200 (not revoked)", r.Code)
	}
	good := `[{"token":` + string(tok) + `,"url":"https://x.example/\ud83d\udd11 \\ud800","source":"scanner \u00e9"}]`
	if r := leak(anon, good, fromAddr("198.51.100.2:1")); r.Code != http.StatusAccepted {
		t.Fatalf("a report with escapes of real characters: %d, want 202\n%s", r.Code, r.Body)
	}
	got, err := ts.db.FindKey(context.Background(), k.ID)
	if err != nil {
		t.Fatal(err)
	}
	if got.Exposure.URL != `https://x.example/🔑 \ud800` || got.Exposure.Source != "scanner é" {
		t.Errorf("exposure %q, %q; want the text as sent", got.Exposure.URL, got.Exposure.Source)
	}
}

// TestLeakReportsKeepNoKey: a report that names where a key was found
// with the key itself in the URL or source (or another key) stores, audits
// and sends in webhooks only the keys' prefixes.
func TestLeakReportsKeepNoKey(t *testing.T) {
	t.Parallel()
	ts, c := newSignedIn(t, serverOpts{})
	addWebhook(t, c, "https://hooks.example/leaks", "key.leaked")
	k := c.create("Leaked with its key in the URL", "mcp:read")
	other := c.create("Only named in the source", "mcp:read")
	body, _ := json.Marshal([]map[string]string{{
		"token":  k.Token,
		"url":    "https://gist.example/raw?key=" + k.Token + "&also=" + other.Token[:apikey.PrefixLen+20],
		"source": "scanner saw " + other.Token + " too",
	}})
	if r := leak(ts.client(), string(body), fromAddr("198.51.100.3:1")); r.Code != http.StatusAccepted {
		t.Fatalf("leak report: %d, want 202", r.Code)
	}
	got, err := ts.db.FindKey(context.Background(), k.ID)
	if err != nil {
		t.Fatal(err)
	}
	if want := "https://gist.example/raw?key=" + k.Prefix + "…&also=" + other.Prefix + "[redacted]"; got.Exposure.URL != want {
		t.Errorf("exposure URL %q, want %q", got.Exposure.URL, want)
	}
	if want := "scanner saw " + other.Prefix + "… too"; got.Exposure.Source != want {
		t.Errorf("exposure source %q, want %q", got.Exposure.Source, want)
	}
	var stored []string
	for _, ev := range ts.allEvents() {
		b, _ := json.Marshal(ev)
		stored = append(stored, string(b))
	}
	rows, err := ts.raw.Query(`SELECT payload FROM webhook_events`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	payloads := 0
	for rows.Next() {
		var p string
		if err := rows.Scan(&p); err != nil {
			t.Fatal(err)
		}
		stored = append(stored, p)
		payloads++
	}
	if payloads == 0 {
		t.Fatalf("no webhook payload to check")
	}
	stored = append(stored, c.get("/settings/api-keys/"+k.ID).Body, c.get("/settings/audit-log.json").Body)
	for _, secret := range []string{k.Token[apikey.PrefixLen : apikey.PrefixLen+10], other.Token[apikey.PrefixLen : apikey.PrefixLen+10]} {
		for _, s := range stored {
			if strings.Contains(s, secret) {
				t.Errorf("a key's secret is kept: %.300s", s)
			}
		}
	}
}

// TestAuditFilterKeepsKeysOutOfTheAddress: a key pasted into the audit
// log's filters, as the keys list does, leaves the address for its
// prefix, on the page, to htmx and in the exports.
func TestAuditFilterKeepsKeysOutOfTheAddress(t *testing.T) {
	t.Parallel()
	_, c := newSignedIn(t, serverOpts{})
	k := c.create("Filtered by its key", "mcp:read")
	secret := k.Token[apikey.PrefixLen:]
	for _, path := range []string{"/settings/audit-log", "/settings/audit-log.csv", "/settings/audit-log.json"} {
		for _, param := range []string{"key", "actor"} {
			r := c.get(path + "?action=key.created&" + param + "=" + url.QueryEscape(" "+k.Token+" "))
			loc := r.Header.Get("Location")
			if r.Code != http.StatusSeeOther || strings.Contains(loc, secret[:10]) {
				t.Fatalf("%s with a key as %s: %d to %q, want 303 without the key", path, param, r.Code, loc)
			}
			u, err := url.Parse(loc)
			if err != nil {
				t.Fatal(err)
			}
			if u.Path != path || strings.TrimSpace(u.Query().Get(param)) != k.Prefix || u.Query().Get("action") != "key.created" {
				t.Errorf("%s with a key as %s: to %q, want the prefix and the other filters", path, param, loc)
			}
		}
	}
	r := c.get("/settings/audit-log?key="+k.Token, htmx(), header("HX-Target", "audit-results"))
	if to := r.Header.Get("HX-Redirect"); r.Code != http.StatusOK || to != "/settings/audit-log?key="+k.Prefix {
		t.Errorf("htmx with a key: %d, HX-Redirect %q; want the prefix's address", r.Code, to)
	}
	r = c.get("/settings/audit-log?key=" + k.Prefix)
	keyLinks := parse(t, r.Body).Find("ol.audit-events > li.audit-event a.event-key")
	if r.Code != http.StatusOK || keyLinks.Length() == 0 || keyLinks.FilterFunction(func(_ int, a *goquery.Selection) bool {
		href, _ := a.Attr("href")
		return href != "/settings/audit-log?key="+k.ID
	}).Length() > 0 {
		t.Errorf("the prefix's filter: %d, want the key's events", r.Code)
	}
}

// TestEmojiZWJNamesAreNames: a zero-width joiner inside an emoji
// sequence is how the emoji is written, and such a name is saved.
func TestEmojiZWJNamesAreNames(t *testing.T) {
	t.Parallel()
	ts, c := newSignedIn(t, serverOpts{})
	name := "On call 👩‍💻 👨‍👩‍👧 ❤️‍🔥"
	k := c.createKey(url.Values{"name": {name}, "description": {"Team 👩🏽‍🚀"}, "scopes": {"mcp:read"}, "expires": {"never"}, "form_token": {formToken()}})
	got, err := ts.db.FindKey(context.Background(), k.ID)
	if err != nil {
		t.Fatal(err)
	}
	if got.Name != name || got.Description != "Team 👩🏽‍🚀" {
		t.Errorf("saved %q, %q; want the emoji as typed", got.Name, got.Description)
	}
}
