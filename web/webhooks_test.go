package web_test

import (
	"context"
	"encoding/base64"
	"encoding/csv"
	"encoding/json"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/PuerkitoBio/goquery"
	"github.com/blnk-cloud/apikeys/internal/audit"
	"github.com/blnk-cloud/apikeys/internal/blnk"
	"github.com/blnk-cloud/apikeys/internal/testkit/htmlcheck"
	"github.com/blnk-cloud/apikeys/internal/webhook"
	"github.com/blnk-cloud/apikeys/web"
)

// webhookForm is the add form.
func webhookForm(u string, events ...string) url.Values {
	return url.Values{"url": {u}, "events": events, "description": {"Alerts"}, "form_token": {formToken()}}
}

var secretPathRE = regexp.MustCompile(`^/settings/webhooks/(wh_[0-9a-z]{20})/secret$`)

// addWebhook adds an endpoint through the form and returns its id.
func addWebhook(t *testing.T, c *client, u string, events ...string) string {
	t.Helper()
	r := c.post("/settings/webhooks", webhookForm(u, events...))
	if r.Code != http.StatusSeeOther {
		t.Fatalf("POST /settings/webhooks: %d\n%.500s", r.Code, r.Body)
	}
	m := secretPathRE.FindStringSubmatch(r.Header.Get("Location"))
	if m == nil {
		t.Fatalf("Location %q, want the secret page", r.Header.Get("Location"))
	}
	return m[1]
}

// shownSecret returns the signing secret a page shows in its secret box,
// and whether it shows one: "whsec_" and base64.
func shownSecret(body string) (string, bool) {
	v, ok := textareaValue(body, "webhook-secret")
	if !ok || !strings.HasPrefix(v, webhook.SecretPrefix) {
		return "", false
	}
	if _, err := base64.StdEncoding.DecodeString(strings.TrimPrefix(v, webhook.SecretPrefix)); err != nil {
		return "", false
	}
	return v, true
}

func TestWebhookPages(t *testing.T) {
	t.Parallel()
	ts, c := newSignedIn(t, serverOpts{})
	list := c.get("/settings/webhooks")
	if list.Code != 200 || parse(t, list.Body).Text("section.empty-state h2") != "No webhook endpoints yet" {
		t.Fatalf("empty list: %d", list.Code)
	}
	if !parse(t, list.Body).Has(`aside.sidebar a.nav-link[href="/settings/webhooks"][aria-current="page"]`) {
		t.Errorf("the sidebar does not mark Webhooks as the current page")
	}
	if r := c.get("/settings/webhooks/new", htmx()); r.Code != 200 || !parse(t, r.Body).Children().First().Is("dialog.modal") {
		t.Errorf("htmx form: %d %.60q", r.Code, r.Body)
	}
	if r := c.get("/settings/webhooks/new"); r.Code != 200 || !isFullPage(r.Body) || !parse(t, r.Body).Has(`input[type="checkbox"][name="events"][value="key.leaked"]`) {
		t.Errorf("form page: %d", r.Code)
	}

	form := webhookForm("https://hooks.example/blnk", "key.revoked", "key.created", "key.revoked")
	r := c.post("/settings/webhooks", form)
	if r.Code != http.StatusSeeOther {
		t.Fatalf("create: %d\n%s", r.Code, r.Body)
	}
	m := secretPathRE.FindStringSubmatch(r.Header.Get("Location"))
	if m == nil {
		t.Fatalf("Location %q", r.Header.Get("Location"))
	}
	id := m[1]
	// The same form again: the same endpoint.
	if again := c.post("/settings/webhooks", form); again.Header.Get("Location") != r.Header.Get("Location") {
		t.Errorf("resubmitted form went to %q", again.Header.Get("Location"))
	}
	if n := ts.count("webhooks"); n != 1 {
		t.Errorf("%d endpoints after a double submit, want 1", n)
	}
	page := c.follow(r)
	secret, ok := shownSecret(page.Body)
	if !ok {
		t.Fatalf("secret page shows no secret:\n%s", page.Body)
	}
	if page.Header.Get("Cache-Control") != "no-store" || page.Header.Get("Referrer-Policy") != "no-referrer" {
		t.Errorf("secret page headers: %v", page.Header)
	}
	if again := parse(t, c.follow(r).Body); again.Has("textarea#webhook-secret") || again.Text("h1") != "This secret can no longer be displayed" {
		t.Errorf("the secret is shown twice")
	}
	// Another browser of the same workspace never sees it.
	other := ts.client()
	other.signIn(adminEmail, adminPassword)
	if strings.Contains(other.get("/settings/webhooks/"+id+"/secret").Body, secret) {
		t.Errorf("the secret is shown to another session")
	}

	list = c.get("/settings/webhooks")
	endpoints := parse(t, list.Body).Find("table.endpoints > tbody > tr")
	if got := htmlcheck.Text(endpoints); endpoints.Length() != 1 || got != "https://hooks.example/blnk Alerts key.created key.revoked "+htmlcheck.Text(endpoints.Find(`td[data-label="Created"]`))+" Enabled" {
		t.Errorf("list: %d rows, %q", endpoints.Length(), got)
	}
	if got := htmlcheck.Text(endpoints.Find(`td[data-label="Status"] .badge`)); got != "Enabled" {
		t.Errorf("list status: %q, want Enabled", got)
	}
	details := c.get("/settings/webhooks/" + id)
	if got := parse(t, details.Body).Text("#deliveries .section-empty"); !strings.HasPrefix(got, "No deliveries yet") || strings.Contains(details.Body, secret) {
		t.Errorf("details page: deliveries %q", got)
	}

	// A test event, without and with JavaScript.
	r = c.post("/settings/webhooks/"+id+"/test", nil)
	if r.Code != http.StatusSeeOther || r.Header.Get("Location") != "/settings/webhooks/"+id {
		t.Errorf("test event: %d %q", r.Code, r.Header.Get("Location"))
	}
	r = c.post("/settings/webhooks/"+id+"/test", nil, htmx())
	d := parse(t, r.Body)
	if r.Code != 200 || !d.Children().First().Is("section#deliveries") || !strings.Contains(r.Header.Get("HX-Trigger"), "Test event queued") {
		t.Errorf("htmx test event: %d %.80q %q", r.Code, r.Body, r.Header.Get("HX-Trigger"))
	}
	if got := d.Count("section#deliveries tbody > tr.delivery"); got != 2 {
		t.Errorf("%d deliveries listed, want 2", got)
	}
	if trigger, _ := d.Attr("section#deliveries", "hx-trigger"); trigger != "every 2s" {
		t.Errorf("pending deliveries: the list does not refresh itself")
	}
	if frag := c.get("/settings/webhooks/"+id+"/deliveries", htmx()); frag.Code != 200 || !slices.Contains(strings.Fields(parse(t, frag.Body).Text(`section#deliveries tr.delivery td[data-label="Event"] code.chip`)), "webhook.test") {
		t.Errorf("deliveries fragment: %d", frag.Code)
	}
	if full := c.get("/settings/webhooks/" + id + "/deliveries"); full.Code != http.StatusSeeOther {
		t.Errorf("deliveries as a page: %d, want a redirect", full.Code)
	}
	dls, err := ts.db.WebhookDeliveries(context.Background(), 1, id, 10)
	if err != nil || len(dls) != 2 {
		t.Fatalf("deliveries = %v, %v", dls, err)
	}
	if r := c.post("/settings/webhooks/"+id+"/deliveries/"+itoa(dls[0].ID)+"/resend", nil); r.Code != http.StatusSeeOther {
		t.Errorf("resend: %d", r.Code)
	}
	if r := c.post("/settings/webhooks/"+id+"/deliveries/999999/resend", nil); r.Code != http.StatusNotFound {
		t.Errorf("resend of an unknown delivery: %d", r.Code)
	}

	// Disable, enable.
	if r := c.post("/settings/webhooks/"+id+"/disable", nil); r.Code != http.StatusSeeOther {
		t.Errorf("disable: %d", r.Code)
	}
	if d := parse(t, c.get("/settings/webhooks/"+id).Body); detail(d, "Status") != "Disabled" || d.Find("button, a").FilterFunction(func(_ int, s *goquery.Selection) bool { return htmlcheck.Text(s) == "Send test event" }).Length() > 0 {
		t.Errorf("disabled endpoint page: status %q, actions %q", detail(d, "Status"), d.Text(".webhook-actions"))
	}
	if r := c.post("/settings/webhooks/"+id+"/test", nil); r.Code != http.StatusConflict {
		t.Errorf("test event to a disabled endpoint: %d, want 409", r.Code)
	}
	if r := c.post("/settings/webhooks/"+id+"/enable", nil); r.Code != http.StatusSeeOther {
		t.Errorf("enable: %d", r.Code)
	}

	// Delete, after a confirmation.
	if r := c.get("/settings/webhooks/" + id + "/delete"); r.Code != 200 || parse(t, r.Body).Text("h1#delete-title") != "Delete this endpoint?" {
		t.Errorf("delete confirmation: %d", r.Code)
	}
	r = c.post("/settings/webhooks/"+id+"/delete", nil)
	if r.Code != http.StatusSeeOther || r.Header.Get("Location") != "/settings/webhooks" {
		t.Errorf("delete: %d %q", r.Code, r.Header.Get("Location"))
	}
	if r := c.get("/settings/webhooks/" + id); r.Code != http.StatusNotFound {
		t.Errorf("deleted endpoint: %d, want 404", r.Code)
	}
	rows, err := ts.raw.Query(`SELECT action FROM audit_events WHERE action LIKE 'webhook.%' ORDER BY id`)
	if err != nil {
		t.Fatal(err)
	}
	var audited []string
	for rows.Next() {
		var a string
		rows.Scan(&a)
		audited = append(audited, a)
	}
	rows.Close()
	actions := strings.Join(audited, ",")
	if actions != "webhook.created,webhook.tested,webhook.tested,webhook.disabled,webhook.enabled,webhook.deleted" {
		t.Errorf("audit = %q", actions)
	}
}

// TestWebhookChangesAudited: disabling, enabling and test-firing an
// endpoint are in the audit log, with who, from where and which endpoint
// (never its secret), and show in the log's page, filters and exports
// like every other action. Doing nothing (disabling a disabled endpoint,
// a test refused) records nothing.
func TestWebhookChangesAudited(t *testing.T) {
	t.Parallel()
	ts, c := newSignedIn(t, serverOpts{})
	ws := ts.workspaceID(adminWorkspace)
	id := addWebhook(t, c, "https://hooks.example/alerts", "key.leaked")
	c.remoteAddr = "198.51.100.9:1000"
	for _, step := range []struct {
		path   string
		status int
		opts   []opt
	}{
		{"/disable", http.StatusSeeOther, nil},
		{"/disable", http.StatusSeeOther, nil}, // disabled already
		{"/test", http.StatusConflict, nil},    // refused: disabled
		{"/enable", http.StatusSeeOther, nil},
		{"/enable", http.StatusSeeOther, nil}, // enabled already
		{"/test", http.StatusSeeOther, nil},
		{"/test", http.StatusOK, []opt{htmx()}},
	} {
		if r := c.post("/settings/webhooks/"+id+step.path, nil, step.opts...); r.Code != step.status {
			t.Fatalf("POST %s: %d, want %d", step.path, r.Code, step.status)
		}
	}
	var secret string
	if err := ts.raw.QueryRow(`SELECT secret FROM webhooks WHERE id = $1`, id).Scan(&secret); err != nil {
		t.Fatal(err)
	}
	var got []string
	byAction := map[audit.Action][]int64{}
	for _, ev := range ts.events(blnk.AuditFilter{WorkspaceID: ws}) { // newest first
		if !strings.HasPrefix(string(ev.Action), "webhook.") || ev.Action == audit.WebhookCreated {
			continue
		}
		got = append(got, string(ev.Action))
		byAction[ev.Action] = append(byAction[ev.Action], ev.ID)
		details := ev.DetailsJSON()
		if ev.Actor.Name() != adminEmail || ev.Actor.IP != "198.51.100.9" ||
			!strings.Contains(details, `"webhook_id":"`+id+`"`) || !strings.Contains(details, `"url":"https://hooks.example/alerts"`) {
			t.Errorf("%s: actor %q from %q, details %s; want the admin, the address and the endpoint", ev.Action, ev.Actor.Name(), ev.Actor.IP, details)
		}
		if strings.Contains(details, secret) || strings.Contains(details, strings.TrimPrefix(secret, "whsec_")) {
			t.Errorf("%s holds the signing secret", ev.Action)
		}
	}
	if want := "webhook.tested webhook.tested webhook.enabled webhook.disabled"; strings.Join(got, " ") != want {
		t.Errorf("events = %s, want %s", strings.Join(got, " "), want)
	}

	// The log's page: its action filter offers them, by name.
	page := c.get("/settings/audit-log")
	for _, a := range []string{"webhook.enabled", "webhook.disabled", "webhook.tested"} {
		if !parse(t, page.Body).Has(`select#f-action option[value="` + a + `"]`) {
			t.Errorf("the action filter has no %s", a)
		}
	}
	for action, label := range map[audit.Action]string{
		audit.WebhookDisabled: "Webhook disabled",
		audit.WebhookEnabled:  "Webhook enabled",
		audit.WebhookTested:   "Webhook test event sent",
	} {
		r := c.get("/settings/audit-log?action=" + string(action))
		if r.Code != http.StatusOK || !slices.Equal(eventIDs(r.Body), byAction[action]) {
			t.Errorf("action=%s: %d, rows %v, want %v", action, r.Code, eventIDs(r.Body), byAction[action])
		}
		if got := parse(t, r.Body).Find(`li.audit-event .event-action .action`); got.Length() == 0 || got.FilterFunction(func(_ int, s *goquery.Selection) bool { return htmlcheck.Text(s) != label }).Length() > 0 {
			t.Errorf("action=%s: no %q label", action, label)
		}
		csvBody := c.get("/settings/audit-log.csv?action=" + string(action)).Body
		recs, err := csv.NewReader(strings.NewReader(csvBody)).ReadAll()
		if err != nil || len(recs) != 1+len(byAction[action]) {
			t.Errorf("action=%s: CSV of %d records (%v), want a header and %d", action, len(recs), err, len(byAction[action]))
		}
		var js []map[string]any
		if err := json.Unmarshal([]byte(c.get("/settings/audit-log.json?action="+string(action)).Body), &js); err != nil || len(js) != len(byAction[action]) {
			t.Errorf("action=%s: JSON of %d events (%v), want %d", action, len(js), err, len(byAction[action]))
		}
	}
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }

func TestWebhookFormRefusesBadInput(t *testing.T) {
	t.Parallel()
	ts, c := newSignedIn(t, serverOpts{config: func(cfg *web.Config) {
		g, err := webhook.NewGuard("127.0.0.1:8080", false)
		if err != nil {
			panic(err)
		}
		cfg.Webhooks.Guard = g
	}})
	ok := "https://hooks.example/h"
	tests := []struct {
		name string
		form url.Values
		want map[string]string
	}{
		{"no URL", webhookForm("", "key.created"), map[string]string{"url": "Enter the URL"}},
		{"not http", webhookForm("ftp://hooks.example/h", "key.created"), map[string]string{"url": "http:// or https://"}},
		{"javascript", webhookForm("javascript:alert(1)", "key.created"), map[string]string{"url": "http:// or https://"}},
		{"no host", webhookForm("https:///h", "key.created"), map[string]string{"url": "with a host"}},
		{"credentials", webhookForm("https://u:p@hooks.example/h", "key.created"), map[string]string{"url": "credentials"}},
		{"this server", webhookForm("http://127.0.0.1:8080/api/v1/whoami", "key.created"), map[string]string{"url": "points at this dashboard"}},
		{"this server by name", webhookForm("http://localhost:8080/x", "key.created"), map[string]string{"url": "points at this dashboard"}},
		{"no events", webhookForm(ok), map[string]string{"events": "Choose at least one event."}},
		{"unknown event", webhookForm(ok, "key.created", "user.deleted"), map[string]string{"events": "Choose among the events listed."}},
		{"the test event", webhookForm(ok, "webhook.test"), map[string]string{"events": "Choose among the events listed."}},
		{"long description", func() url.Values {
			f := webhookForm(ok, "key.created")
			f.Set("description", strings.Repeat("é", 501))
			return f
		}(), map[string]string{"description": "at most 500 characters"}},
		{"control characters", func() url.Values { f := webhookForm(ok, "key.created"); f.Set("description", "a\x1b[2Jb"); return f }(), map[string]string{"description": "control characters"}},
		{"a key in the URL", webhookForm("https://hooks.example/h?token="+pasted, "key.created"), map[string]string{"url": looksLikeKey}},
		{"a key as the URL's path", webhookForm("https://hooks.example/"+pasted, "key.created"), map[string]string{"url": looksLikeKey}},
		{"a key in the description", func() url.Values { f := webhookForm(ok, "key.created"); f.Set("description", "auth "+pasted); return f }(), map[string]string{"description": looksLikeKey}},
		{"zero-width space in the description", func() url.Values { f := webhookForm(ok, "key.created"); f.Set("description", "Ale\u200brts"); return f }(), map[string]string{"description": "zero-width characters"}},
		{"tag characters in the description", func() url.Values {
			f := webhookForm(ok, "key.created")
			f.Set("description", "Alerts\U000E0041")
			return f
		}(), map[string]string{"description": "Unicode tag characters"}},
		{"everything wrong", url.Values{"url": {"nope"}, "events": {"x"}, "form_token": {formToken()}}, map[string]string{"url": "http://", "events": "Choose among"}},
	}
	for _, tt := range tests {
		for _, mode := range []string{"page", "htmx"} {
			t.Run(tt.name+"/"+mode, func(t *testing.T) {
				var opts []opt
				if mode == "htmx" {
					opts = append(opts, htmx())
				}
				r := c.post("/settings/webhooks", tt.form, opts...)
				if r.Code != http.StatusUnprocessableEntity {
					t.Fatalf("status %d, want 422", r.Code)
				}
				got := problems(r.Body)
				for field, want := range tt.want {
					if !strings.Contains(got[field], want) {
						t.Errorf("problem of %s = %q, want %q in it", field, got[field], want)
					}
				}
				if len(got) != len(tt.want) {
					t.Errorf("problems = %q, want only %v", got, tt.want)
				}
				if top := parse(t, r.Body).Children(); mode == "htmx" && (top.Length() != 1 || !top.Is("form#webhook-form")) {
					t.Errorf("htmx answer is not the form alone: %.60q", r.Body)
				}
				if v, _ := inputValue(r.Body, "f-url"); v != tt.form.Get("url") {
					t.Errorf("URL input = %q, want it kept", v)
				}
				checkEscaped(t, r.Body, tt.form.Get("url"), tt.form.Get("description"))
				if n := ts.count("webhooks"); n != 0 {
					t.Errorf("%d endpoints stored", n)
				}
			})
		}
	}
}

// TestWebhookFormRefusesPrivateAddresses: a URL whose host is known, when
// the endpoint is added, to be a non-public address is refused with a
// message next to the URL field, in every form a resolver would read;
// with --webhook-allow-private the same URLs are accepted.
func TestWebhookFormRefusesPrivateAddresses(t *testing.T) {
	t.Parallel()
	urls := []struct{ name, url string }{
		{"loopback", "http://127.0.0.1:9000/hook"},
		{"loopback elsewhere in 127/8", "http://127.10.20.30/hook"},
		{"localhost", "http://localhost:9000/hook"},
		{"a localhost subdomain", "https://api.localhost/hook"},
		{"IPv6 loopback", "http://[::1]/hook"},
		{"IPv4-mapped loopback", "http://[::ffff:127.0.0.1]/"},
		{"IPv4-mapped private, hex", "http://[::ffff:a00:1]/"},
		{"cloud metadata", "http://169.254.169.254/latest"},
		{"link-local IPv6", "http://[fe80::1%25eth0]/"},
		{"10/8", "http://10.1.2.3/hook"},
		{"172.16/12", "https://172.20.0.1/hook"},
		{"192.168/16", "http://192.168.1.50:8443/hook"},
		{"unique local IPv6", "http://[fd00::1]/hook"},
		{"CGNAT", "http://100.64.0.1/hook"},
		{"unspecified", "http://0.0.0.0:5432/"},
		{"this network", "http://0.1.2.3/"},
		{"multicast", "http://224.0.0.251/"},
		{"broadcast", "http://255.255.255.255/"},
		{"documentation", "http://203.0.113.7/"},
		{"hexadecimal", "http://0x7f000001/"},
		{"decimal", "http://2130706433/"},
		{"short form", "http://127.1/"},
		{"octal", "http://0177.0.0.1/"},
	}
	_, c := newSignedIn(t, serverOpts{}) // the default: no allow-private
	for _, tt := range urls {
		for _, mode := range []string{"page", "htmx"} {
			t.Run(tt.name+"/"+mode, func(t *testing.T) {
				var opts []opt
				if mode == "htmx" {
					opts = append(opts, htmx())
				}
				r := c.post("/settings/webhooks", webhookForm(tt.url, "key.leaked"), opts...)
				if r.Code != http.StatusUnprocessableEntity {
					t.Fatalf("POST %s: %d, want 422", tt.url, r.Code)
				}
				got := problems(r.Body)
				if !strings.Contains(got["url"], "private address") || !strings.Contains(got["url"], "--webhook-allow-private") || len(got) != 1 {
					t.Errorf("problems = %q, want the private address next to the URL only", got)
				}
				if v, _ := inputValue(r.Body, "f-url"); v != tt.url {
					t.Errorf("URL input = %q, want it kept", v)
				}
			})
		}
	}
	// Names that are not literal addresses are judged when a delivery
	// dials them (internal/delivery's tests), not here.
	if r := c.post("/settings/webhooks", webhookForm("https://hooks.example/h", "key.leaked")); r.Code != http.StatusSeeOther {
		t.Errorf("a public name: %d, want 303", r.Code)
	}

	ts, allowed := newSignedIn(t, serverOpts{config: func(cfg *web.Config) {
		cfg.Webhooks.Guard = &webhook.Guard{AllowPrivate: true}
	}})
	for _, tt := range urls {
		if r := allowed.post("/settings/webhooks", webhookForm(tt.url, "key.leaked")); r.Code != http.StatusSeeOther {
			t.Errorf("with allow-private, %s: %d, want 303\n%s", tt.url, r.Code, problems(r.Body))
		}
	}
	if n := ts.count("webhooks"); n != len(urls) {
		t.Errorf("%d endpoints stored with allow-private, want %d", n, len(urls))
	}
}

func TestWebhookWorkspaceIsolation(t *testing.T) {
	t.Parallel()
	ts, c := newSignedIn(t, serverOpts{})
	id := addWebhook(t, c, "https://hooks.example/a", "key.created")
	c.post("/settings/webhooks/"+id+"/test", nil)
	eve := ts.addWorkspace("Eve Inc", "eve@example.com", "correct horse battery staple 2")
	if strings.Contains(eve.get("/settings/webhooks").Body, "hooks.example") {
		t.Errorf("another workspace lists the endpoint")
	}
	for _, path := range []string{"", "/secret", "/deliveries", "/delete"} {
		if r := eve.get("/settings/webhooks/" + id + path); r.Code != http.StatusNotFound {
			t.Errorf("GET %s: %d, want 404", path, r.Code)
		}
	}
	for _, path := range []string{"/test", "/disable", "/enable", "/delete", "/deliveries/1/resend"} {
		if r := eve.post("/settings/webhooks/"+id+path, nil); r.Code != http.StatusNotFound {
			t.Errorf("POST %s: %d, want 404", path, r.Code)
		}
	}
	if r := c.get("/settings/webhooks/" + id); r.Code != 200 || detail(parse(t, r.Body), "Status") != "Enabled" {
		t.Errorf("the owner's endpoint changed: %d", r.Code)
	}
	for _, bad := range []string{"wh_nope", "../api-keys", "wh_0123456789ABCDEFGHJK"} {
		if r := c.get("/settings/webhooks/" + bad); r.Code != http.StatusNotFound {
			t.Errorf("GET %s: %d, want 404", bad, r.Code)
		}
	}
}

func TestWebhookFormsAreProtected(t *testing.T) {
	t.Parallel()
	ts, c := newSignedIn(t, serverOpts{})
	id := addWebhook(t, c, "https://hooks.example/a", "key.created")
	for _, path := range []string{"/settings/webhooks", "/settings/webhooks/" + id + "/delete", "/settings/webhooks/" + id + "/test"} {
		r := c.post(path, webhookForm("https://evil.example/", "key.created"), header("Sec-Fetch-Site", "cross-site"))
		if r.Code != http.StatusForbidden {
			t.Errorf("cross-site POST %s: %d, want 403", path, r.Code)
		}
	}
	if n := ts.count("webhooks"); n != 1 {
		t.Errorf("%d endpoints after cross-site posts, want 1", n)
	}
	anon := ts.client()
	if r := anon.get("/settings/webhooks"); r.Code != http.StatusSeeOther {
		t.Errorf("signed out: %d, want the sign-in redirect", r.Code)
	}
}
