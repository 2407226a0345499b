package web_test

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/PuerkitoBio/goquery"
	"github.com/blnk-cloud/apikeys/internal/apikey"
	"github.com/blnk-cloud/apikeys/internal/audit"
	"github.com/blnk-cloud/apikeys/internal/blnk"
	"github.com/blnk-cloud/apikeys/internal/keyauth"
	"github.com/blnk-cloud/apikeys/internal/testkit/htmlcheck"
	"github.com/blnk-cloud/apikeys/internal/throttle"
	"github.com/blnk-cloud/apikeys/web"
)

// withAllowlist is keyForm with an allowlist.
func withAllowlist(name, allowlist string) url.Values {
	f := keyForm(name, "never", "mcp:read")
	f.Set("allowlist", allowlist)
	return f
}

func TestCreateKeyAllowlistRefusesBadInput(t *testing.T) {
	t.Parallel()
	ts, c := newSignedIn(t, serverOpts{})
	var fiftyOne []string
	for i := range 51 {
		fiftyOne = append(fiftyOne, fmt.Sprintf("10.%d.0.0/16", i))
	}
	tests := []struct {
		name, allowlist, want string
	}{
		{"not a CIDR", "203.0.113.0/24\nexample.com", "example.com is not an IP address or CIDR"},
		{"prefix too long", "203.0.113.0/40", "203.0.113.0/40 is not"},
		{"bad IPv6", "2001:db8::/200", "is not"},
		{"semicolons", "10.0.0.0/8; 192.0.2.0/24", "is not"},
		{"too many", strings.Join(fiftyOne, "\n"), "at most 50 networks (this list has 51)"},
		{"duplicate", "10.0.0.0/8, 10.0.0.0/8", "10.0.0.0/8 is listed twice"},
		{"duplicate after normalising", "10.0.0.0/8\n10.1.2.3/8", "the same network (10.0.0.0/8)"},
		{"script", "<script>alert(1)</script>", "is not an IP address"},
	}
	for _, tt := range tests {
		for _, mode := range []string{"page", "htmx"} {
			t.Run(tt.name+"/"+mode, func(t *testing.T) {
				before := ts.counts()
				var opts []opt
				if mode == "htmx" {
					opts = append(opts, htmx())
				}
				r := c.post("/settings/api-keys", withAllowlist("Locked key", tt.allowlist), opts...)
				if r.Code != http.StatusUnprocessableEntity {
					t.Fatalf("status %d, want 422", r.Code)
				}
				got := problems(r.Body)
				if !strings.Contains(got["allowlist"], tt.want) || len(got) != 1 {
					t.Errorf("problems = %q, want the allowlist's with %q", got, tt.want)
				}
				// The input is kept as typed, escaped.
				if v, ok := textareaValue(r.Body, "f-allowlist"); !ok || v != tt.allowlist || !parse(t, r.Body).Has(`textarea#f-allowlist[name="allowlist"]`) {
					t.Errorf("the allowlist typed is not kept in the form")
				}
				checkEscaped(t, r.Body, tt.allowlist)
				ts.checkCounts(t, before)
			})
		}
	}
}

func TestAllowlistedKey(t *testing.T) {
	t.Parallel()
	ts, c := newSignedIn(t, serverOpts{})
	k := c.createKey(withAllowlist("Office only", " 203.0.113.9/24,\r\n2001:DB8::/32 "))
	open := c.create("Anywhere", "mcp:read")

	if got := detail(parse(t, c.get("/settings/api-keys/"+k.ID, htmx()).Body), "IP allowlist"); got != "203.0.113.0/24 2001:db8::/32" {
		t.Errorf("details: want the normalised allowlist, got %q", got)
	}
	if got := detail(parse(t, c.get("/settings/api-keys/"+open.ID).Body), "IP allowlist"); got != "Any address" {
		t.Errorf("details of a key without allowlist: %q", got)
	}

	tests := []struct {
		name, path, addr string
		token            string
		want             int
	}{
		{"whoami from the network", "/api/v1/whoami", "203.0.113.50:1000", k.Token, 200},
		{"verify from the network", "/api/v1/verify?scope=mcp:read", "203.0.113.50:1000", k.Token, 200},
		{"whoami from elsewhere", "/api/v1/whoami", "198.51.100.1:1000", k.Token, 403},
		{"verify from elsewhere", "/api/v1/verify?scope=mcp:read", "198.51.100.1:1000", k.Token, 403},
		{"verify without scope from elsewhere", "/api/v1/verify", "198.51.100.1:1000", k.Token, 403},
		{"elsewhere, even without the scope", "/api/v1/verify?scope=data:write", "198.51.100.1:1000", k.Token, 403},
		{"IPv6 in the network", "/api/v1/whoami", "[2001:db8:42::1]:1000", k.Token, 200},
		{"IPv6 elsewhere", "/api/v1/whoami", "[2001:db9::1]:1000", k.Token, 403},
		{"IPv4-mapped IPv6", "/api/v1/verify", "[::ffff:203.0.113.7]:1000", k.Token, 200},
		{"no allowlist, anywhere", "/api/v1/whoami", "198.51.100.1:1000", open.Token, 200},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := c.api(tt.path, tt.token, fromAddr(tt.addr))
			if r.Code != tt.want {
				t.Fatalf("status %d, want %d\n%s", r.Code, tt.want, r.Body)
			}
			if tt.want == 403 {
				checkAPIError(t, r, 403, "ip_not_allowed")
			}
		})
	}
	// Refusals count as refused calls of the key.
	if err := ts.auth.Flush(context.Background()); err != nil {
		t.Fatal(err)
	}
	hours, err := ts.db.KeyUsage(context.Background(), k.ID, time.Time{})
	if err != nil || len(hours) != 1 {
		t.Fatalf("usage = %+v, %v", hours, err)
	}
	if got, want := hours[0].Counts, (blnk.Counts{Accepted: 4, Address: 5}); got != want {
		t.Errorf("counts = %+v, want %+v", got, want)
	}
}

// TestAllowlistBehindAProxy: with trusted proxies the client address is
// the right-most one in X-Forwarded-For that is not a trusted proxy, and
// only when the connection comes from one; without them, the header is
// ignored and the connection's address counts. Private addresses are not
// proxies unless listed: a client cannot pass an allowlist by writing
// the allowed address in front of its own.
func TestAllowlistBehindAProxy(t *testing.T) {
	t.Parallel()
	proxy := fromAddr("10.0.0.2:4000")
	xff := func(v string) opt { return header("X-Forwarded-For", v) }
	const (
		public  = "203.0.113.0/24"
		private = "10.9.9.9/32"
	)
	tests := []struct {
		name      string
		trusted   bool
		allowlist string
		opts      []opt
		want      int
	}{
		{"trusted: the client behind the proxy is allowed", true, public, []opt{proxy, xff("203.0.113.7")}, 200},
		{"trusted: the client behind the proxy is elsewhere", true, public, []opt{proxy, xff("198.51.100.1")}, 403},
		{"trusted: a chain ending at an allowed client", true, public, []opt{proxy, xff("198.51.100.1, 203.0.113.7")}, 200},
		{"trusted: through two proxies of ours", true, public, []opt{proxy, xff("203.0.113.7, 10.0.0.2")}, 200},
		{"trusted, but not from a proxy: the header is not believed", true, public, []opt{fromAddr("198.51.100.9:1"), xff("203.0.113.7")}, 403},
		{"forged: an allowed public address in front of a private client", true, public, []opt{proxy, xff("203.0.113.7, 10.1.1.1")}, 403},
		{"forged: an allowed private address in front of another private one", true, private, []opt{proxy, xff("10.9.9.9, 192.168.1.50")}, 403},
		{"forged: the proxy's own address in front", true, public, []opt{proxy, xff("203.0.113.7, 10.0.0.2, 10.1.1.1")}, 403},
		{"forged from a private address that is no proxy", true, private, []opt{fromAddr("192.168.1.50:1"), xff("10.9.9.9")}, 403},
		{"forged: a second X-Forwarded-For header", true, public, []opt{proxy, headers("X-Forwarded-For", "203.0.113.7", "10.1.1.1")}, 403},
		{"not trusted: the proxy's address counts", false, public, []opt{proxy, xff("203.0.113.7")}, 403},
		{"not trusted: a forged header changes nothing", false, public, []opt{fromAddr("203.0.113.7:1"), xff("198.51.100.1")}, 200},
		{"not trusted: a forged header does not let in", false, public, []opt{fromAddr("198.51.100.1:1"), xff("203.0.113.7")}, 403},
		{"not trusted: a private chain does not let in", false, private, []opt{fromAddr("192.168.1.50:1"), xff("10.9.9.9, 10.0.0.2")}, 403},
	}
	type server struct {
		c    *client
		keys map[string]newKey
	}
	servers := map[bool]server{}
	for _, trusted := range []bool{true, false} {
		opts := serverOpts{}
		if trusted {
			opts.proxies = prefixes("10.0.0.2")
		}
		_, c := newSignedIn(t, opts)
		servers[trusted] = server{c, map[string]newKey{
			public:  c.createKey(withAllowlist("Behind the gateway", public)),
			private: c.createKey(withAllowlist("On the office network", private)),
		}}
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := servers[tt.trusted]
			for _, path := range []string{"/api/v1/whoami", "/api/v1/verify?scope=mcp:read"} {
				r := s.c.api(path, s.keys[tt.allowlist].Token, tt.opts...)
				if r.Code != tt.want {
					t.Errorf("%s: status %d, want %d", path, r.Code, tt.want)
				}
			}
		})
	}
}

type leakAnswer struct {
	code int
	body string
}

func leak(c *client, body string, opts ...opt) *response {
	return c.do(http.MethodPost, "/api/v1/keys/leaked", nil, append([]opt{rawBody(strings.NewReader(body), "application/json"), noCookies(), without("Sec-Fetch-Site")}, opts...)...)
}

func TestLeakReport(t *testing.T) {
	t.Parallel()
	ts, c := newSignedIn(t, serverOpts{})
	hook := addWebhook(t, c, "https://hooks.example/blnk", "key.leaked")
	k := c.create("Pasted in a gist", "mcp:read")
	if r := c.api("/api/v1/whoami", k.Token); r.Code != 200 {
		t.Fatalf("whoami before: %d", r.Code)
	}
	revoked := c.create("Revoked already")
	c.post("/settings/api-keys/"+revoked.ID+"/revoke", nil)
	unknown, err := apikey.Generate() // well-formed, checksum and all, of no key
	if err != nil {
		t.Fatal(err)
	}

	answers := map[string]leakAnswer{}
	for name, items := range map[string]string{
		"malformed": `[{"token":"blnk_notakey","url":"https://x","source":"s"}]`,
		"unknown":   `[{"token":"` + unknown + `","url":"https://x","source":"s"}]`,
		"revoked":   `[{"token":"` + revoked.Token + `","url":"https://x","source":"s"}]`,
		"empty":     `[{"token":"","url":"","source":""}]`,
		"valid":     `[{"token":"` + k.Token + `","url":"https://gist.example/abc","source":"Gist scanner","type":"blnk_api_key"}]`,
	} {
		r := leak(c, items)
		answers[name] = leakAnswer{r.Code, r.Body}
	}
	for name, a := range answers {
		if a != answers["valid"] {
			t.Errorf("%s token: answer %+v, want the same as for a valid key %+v", name, a, answers["valid"])
		}
	}
	if answers["valid"].code != http.StatusAccepted {
		t.Fatalf("status %d, want 202", answers["valid"].code)
	}

	// The very next call is refused.
	checkAPIError(t, c.api("/api/v1/whoami", k.Token), http.StatusUnauthorized, "revoked_key")
	// Shown exposed in the list and the details.
	if got := cellText(t, c.get("/settings/api-keys").Body, k.ID, "Status"); got != "Revoked · exposed" {
		t.Errorf("list status = %q, want Revoked · exposed", got)
	}
	panel := parse(t, c.get("/settings/api-keys/"+k.ID, htmx()).Body)
	if got := detail(panel, "Status"); got != "Revoked · exposed" {
		t.Errorf("details status: %q, want Revoked · exposed", got)
	}
	exposed := detail(panel, "Exposed")
	for _, want := range []string{"Reported leaked on", "by Gist scanner", "found at https://gist.example/abc"} {
		if !strings.Contains(exposed, want) {
			t.Errorf("details Exposed: want %q in %q", want, exposed)
		}
	}
	if got := detail(panel, "Revoked"); !strings.Contains(got, "by a leak report") {
		t.Errorf("details Revoked: want by a leak report in %q", got)
	}
	var actor, details string
	if err := ts.raw.QueryRow(`SELECT actor, details FROM audit_events WHERE action = 'key.leaked' AND key_id = $1`, k.ID).Scan(&actor, &details); err != nil {
		t.Fatalf("audit event: %v", err)
	}
	if actor != "leak report" || !strings.Contains(details, "gist.example") {
		t.Errorf("audit event = %q %s", actor, details)
	}
	var n int
	if err := ts.raw.QueryRow(`SELECT count(*) FROM webhook_deliveries d JOIN webhook_events e ON e.id = d.event_id
		WHERE d.webhook_id = $1 AND e.type = 'key.leaked' AND e.payload LIKE $2`, hook, "%"+k.ID+"%").Scan(&n); err != nil || n != 1 {
		t.Errorf("key.leaked deliveries = %d, %v; want 1", n, err)
	}
	// The token is nowhere in what was stored.
	for name, b := range ts.dbFiles() {
		if strings.Contains(string(b), k.Token) {
			t.Errorf("the reported token is stored in %s", name)
		}
	}
}

func TestLeakReportRefusesBadRequests(t *testing.T) {
	t.Parallel()
	_, c := newSignedIn(t, serverOpts{config: func(cfg *web.Config) { cfg.LeakLimit = throttle.Config{Burst: 1000, Every: time.Second} }})
	many := "[" + strings.TrimSuffix(strings.Repeat(`{"token":"x"},`, 101), ",") + "]"
	tests := []struct {
		name, body string
		status     int
		code       string
	}{
		{"empty body", "", 400, "invalid_json"},
		{"not JSON", "token=blnk_x", 400, "invalid_json"},
		{"truncated", `[{"token":"x"`, 400, "invalid_json"},
		{"an object, not an array", `{"token":"x"}`, 400, "invalid_json"},
		{"null", `null`, 400, "invalid_json"},
		{"array of numbers", `[1, 2]`, 400, "invalid_json"},
		{"token not a string", `[{"token": 5}]`, 400, "invalid_json"},
		{"item without a token", `[{"url": "https://x"}]`, 400, "invalid_json"},
		{"101 items", many, 400, "too_many_items"},
		{"over 256 KiB", `[{"token":"` + strings.Repeat("a", 300<<10) + `"}]`, 413, "too_large"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			checkAPIError(t, leak(c, tt.body), tt.status, tt.code)
		})
	}
	ok := "[" + strings.TrimSuffix(strings.Repeat(`{"token":"x"},`, 100), ",") + "]"
	if r := leak(c, ok); r.Code != http.StatusAccepted {
		t.Errorf("100 items: status %d, want 202", r.Code)
	}
	if r := leak(c, "[]"); r.Code != http.StatusAccepted {
		t.Errorf("no items: status %d, want 202", r.Code)
	}
	// GET of the same path is the management API's GET /api/v1/keys/{id}
	// (web/README.md "Management API"): without a management token, 401.
	if r := c.get("/api/v1/keys/leaked", noCookies()); r.Code != http.StatusUnauthorized || !strings.Contains(r.Body, `"invalid_token"`) {
		t.Errorf("GET: status %d, want 401 invalid_token: %s", r.Code, r.Body)
	}
}

func TestLeakReportRateLimit(t *testing.T) {
	t.Parallel()
	_, c := newSignedIn(t, serverOpts{config: func(cfg *web.Config) { cfg.LeakLimit = throttle.Config{Burst: 3, Every: time.Minute} }})
	for i := range 3 {
		if r := leak(c, "[]", fromAddr("203.0.113.1:1")); r.Code != http.StatusAccepted {
			t.Fatalf("report %d: status %d", i, r.Code)
		}
	}
	r := leak(c, "[]", fromAddr("203.0.113.1:1"))
	checkAPIError(t, r, http.StatusTooManyRequests, "rate_limited")
	if r.Header.Get("Retry-After") == "" {
		t.Error("429 without Retry-After")
	}
	// Bad requests count too, and other addresses are not affected.
	if r := leak(c, "nope", fromAddr("203.0.113.1:1")); r.Code != http.StatusTooManyRequests {
		t.Errorf("bad request from a limited address: %d, want 429", r.Code)
	}
	if r := leak(c, "[]", fromAddr("203.0.113.2:1")); r.Code != http.StatusAccepted {
		t.Errorf("another address: status %d, want 202", r.Code)
	}
}

// TestUsagePanel: calls from three addresses show in the details after a
// flush, in the chart's data, its table and the address list.
func TestUsagePanel(t *testing.T) {
	t.Parallel()
	ts, c := newSignedIn(t, serverOpts{})
	k := c.create("Busy key", "mcp:read")
	const n = 12
	for i := range n {
		addr := fmt.Sprintf("198.51.100.%d:1000", i%3+1)
		if r := c.api("/api/v1/verify?scope=mcp:read", k.Token, fromAddr(addr)); r.Code != 200 {
			t.Fatalf("call %d: %d", i, r.Code)
		}
		ts.clock.Advance(time.Second)
	}
	for range 2 {
		if r := c.api("/api/v1/verify?scope=data:write", k.Token, fromAddr("198.51.100.1:1000")); r.Code != 403 {
			t.Fatalf("scope refusal: %d", r.Code)
		}
	}
	if err := ts.auth.Flush(context.Background()); err != nil {
		t.Fatal(err)
	}
	hours, err := ts.db.KeyUsage(context.Background(), k.ID, time.Time{})
	if err != nil || len(hours) != 1 || hours[0].Counts != (blnk.Counts{Accepted: n, Scope: 2}) {
		t.Fatalf("stored usage = %+v, %v", hours, err)
	}
	for _, opts := range [][]opt{nil, {htmx()}} {
		u := parse(t, c.get("/settings/api-keys/"+k.ID, opts...).Body).Find("section.usage")
		if got := htmlcheck.Text(u.Find("dl.usage-totals")); got != "Calls 14 Accepted 12 Refused 2" {
			t.Errorf("usage totals: got %q", got)
		}
		if got := htmlcheck.Text(u.Find("p.usage-reasons")); got != "Refused: 2 lacked the scope." {
			t.Errorf("usage reasons: got %q", got)
		}
		days := u.Find("details.usage-table tbody > tr")
		if got := htmlcheck.Text(days.Last()); got != "Mar 10, 2026 12 2 (2 lacked the scope)" {
			t.Errorf("today's row of the table: got %q", got)
		}
		if got := htmlcheck.Text(days.First()); got != "Feb 9, 2026 0 0" {
			t.Errorf("the first of 30 days: got %q", got)
		}
		var addrs []string
		u.Find("table.addresses tbody code").Each(func(_ int, s *goquery.Selection) { addrs = append(addrs, s.Text()) })
		slices.Sort(addrs)
		if want := []string{"198.51.100.1", "198.51.100.2", "198.51.100.3"}; !slices.Equal(addrs, want) {
			t.Errorf("recent addresses: got %q, want %q", addrs, want)
		}
		bars := u.Find("figure.usage-chart svg g.chart-day")
		if got := bars.Last().Find("title").Text(); got != "Mar 10, 2026: 12 accepted, 2 refused" {
			t.Errorf("chart: today's bar is %q", got)
		}
		if got := bars.Length(); got != 30 {
			t.Errorf("chart has %d days, want 30", got)
		}
		if got, _ := u.Find(`figure.usage-chart svg[role="group"]`).Attr("aria-label"); !strings.HasPrefix(got, "Calls per day over the last 30 days, Feb 9 – Mar 10: 12 accepted, 2 refused.") {
			t.Errorf("chart: text alternative %q", got)
		}
		// A scale: the accepted calls' axis (0, half, top), the refused
		// row's top, the range shown, the busiest days in words.
		if got := htmlcheck.Text(u.Find(".chart-y").First()); got != "20 10 0" {
			t.Errorf("chart: y axis %q, want 20 10 0", got)
		}
		if got := htmlcheck.Text(u.Find(".chart-y-refused")); got != "2" {
			t.Errorf("chart: refused row's top %q, want 2", got)
		}
		if got := u.Find("svg.chart-refused rect.bar-refused").Length(); got != 30 {
			t.Errorf("chart: %d refused bars, want 30", got)
		}
		if got := htmlcheck.Text(u.Find("#usage-title")); got != "Usage · last 30 days, Feb 9 – Mar 10" {
			t.Errorf("usage title %q", got)
		}
		if got, want := htmlcheck.Text(u.Find("figcaption.chart-readout")), "Busiest day: 12 accepted calls, on Mar 10. Most refused: 2 calls, on Mar 10."; got != want {
			t.Errorf("chart readout %q, want %q", got, want)
		}
		// One Tab stop: today; each day has its numbers as its name.
		if got := bars.Filter(`[tabindex="0"]`).Length(); got != 1 || bars.Last().AttrOr("tabindex", "") != "0" {
			t.Errorf("chart: %d days in the Tab order (want today only)", got)
		}
		if got := bars.Last().AttrOr("aria-label", ""); got != "Mar 10, 2026: 12 accepted, 2 refused" {
			t.Errorf("chart: today's name %q", got)
		}
	}
	// Calls not flushed yet show too.
	c.api("/api/v1/whoami", k.Token, fromAddr("192.0.2.200:1"))
	u := parse(t, c.get("/settings/api-keys/"+k.ID).Body).Find("section.usage")
	if got := htmlcheck.Text(u.Find("dl.usage-totals > div").First()); got != "Calls 15" {
		t.Errorf("details before the next flush: calls %q, want Calls 15", got)
	}
	if u.Find("table.addresses tbody code").FilterFunction(func(_ int, s *goquery.Selection) bool { return s.Text() == "192.0.2.200" }).Length() != 1 {
		t.Errorf("details before the next flush: no row for the new address in %q", htmlcheck.Text(u.Find("table.addresses")))
	}
}

// TestEditAllowlist: the edit form shows the key's allowlist and changes
// it; the change is checked from the next call, audited, and refused
// when bad like the create form's.
func TestEditAllowlist(t *testing.T) {
	t.Parallel()
	ts, c := newSignedIn(t, serverOpts{})
	k := c.createKey(withAllowlist("Office key", "203.0.113.0/24"))
	form := c.get("/settings/api-keys/"+k.ID+"/edit", htmx())
	if v, ok := textareaValue(form.Body, "f-allowlist"); !ok || v != "203.0.113.0/24" || !parse(t, form.Body).Has(`form.edit-form textarea#f-allowlist[name="allowlist"]`) {
		t.Fatalf("edit form without the allowlist:\n%.2000s", form.Body)
	}
	from := fromAddr("198.51.100.9:1")
	checkAPIError(t, c.api("/api/v1/whoami", k.Token, from), 403, "ip_not_allowed")

	// Refused like create refuses it: nothing changes.
	r := c.post("/settings/api-keys/"+k.ID+"/edit", url.Values{"allowlist": {"198.51.100.0/24, nonsense"}})
	if r.Code != http.StatusUnprocessableEntity || !strings.Contains(problems(r.Body)["allowlist"], "nonsense is not an IP address") {
		t.Errorf("bad allowlist: %d %q", r.Code, problems(r.Body))
	}
	checkAPIError(t, c.api("/api/v1/whoami", k.Token, from), 403, "ip_not_allowed")

	// A script may send the allowlist alone; the name stays.
	r = c.post("/settings/api-keys/"+k.ID+"/edit", url.Values{"allowlist": {"198.51.100.0/24\n2001:db8::/32"}})
	if r.Code != http.StatusSeeOther {
		t.Fatalf("edit: %d\n%s", r.Code, r.Body)
	}
	if got := c.api("/api/v1/whoami", k.Token, from); got.Code != 200 {
		t.Errorf("the next call from the new network: %d, want 200", got.Code)
	}
	checkAPIError(t, c.api("/api/v1/whoami", k.Token, fromAddr("203.0.113.5:1")), 403, "ip_not_allowed")
	if d := parse(t, c.get("/settings/api-keys/"+k.ID).Body); detail(d, "Name") != "Office key" || detail(d, "IP allowlist") != "198.51.100.0/24 2001:db8::/32" {
		t.Errorf("details after the edit: name %q, allowlist %q", detail(d, "Name"), detail(d, "IP allowlist"))
	}
	evs := ts.events(blnk.AuditFilter{WorkspaceID: ts.workspaceID(adminWorkspace), Key: k.ID, Action: audit.KeyEdited})
	if len(evs) != 1 || mustJSON(evs[0].Details["before"]) != `{"allowlist":"203.0.113.0/24"}` ||
		mustJSON(evs[0].Details["after"]) != `{"allowlist":"198.51.100.0/24,2001:db8::/32"}` {
		t.Errorf("audit = %+v", evs)
	}
	// Emptied: any address again.
	c.post("/settings/api-keys/"+k.ID+"/edit", url.Values{"allowlist": {""}})
	if got := c.api("/api/v1/whoami", k.Token, fromAddr("192.0.2.1:1")); got.Code != 200 {
		t.Errorf("allowlist emptied: %d, want 200", got.Code)
	}
}

// TestRollKeepsTheAllowlistAndTellsTheWebhooks: the key a roll makes has
// its predecessor's allowlist; key.rolled and key.created are queued.
func TestRollKeepsTheAllowlistAndTellsTheWebhooks(t *testing.T) {
	t.Parallel()
	ts, c := newSignedIn(t, serverOpts{})
	hook := addWebhook(t, c, "https://hooks.example/roll", "key.rolled", "key.created")
	old := c.createKey(withAllowlist("Locked", "203.0.113.0/24"))
	next := c.roll(old.ID, "1h")
	checkAPIError(t, c.api("/api/v1/whoami", next.Token, fromAddr("198.51.100.9:1")), 403, "ip_not_allowed")
	if got := c.api("/api/v1/whoami", next.Token, fromAddr("203.0.113.9:1")); got.Code != 200 {
		t.Errorf("the new key from its network: %d", got.Code)
	}
	rows, err := ts.raw.Query(`SELECT e.type, e.payload FROM webhook_deliveries d JOIN webhook_events e ON e.id = d.event_id
		WHERE d.webhook_id = $1 ORDER BY d.id`, hook)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var got []string
	for rows.Next() {
		var typ, payload string
		rows.Scan(&typ, &payload)
		got = append(got, typ)
		if typ == "key.rolled" && (!strings.Contains(payload, old.ID) || !strings.Contains(payload, `"rolled_into":{`) || !strings.Contains(payload, next.ID)) {
			t.Errorf("key.rolled payload = %s", payload)
		}
	}
	// The key made first, then the roll: its key.rolled and the new
	// key's key.created.
	if strings.Join(got, " ") != "key.created key.rolled key.created" {
		t.Errorf("queued = %v", got)
	}
}

// TestLimitsCannotBeEscapedByRotatingXForwardedFor: a client that writes
// a new address in X-Forwarded-For on every request, directly or through
// a trusted proxy that appends to the header, stays one client for the
// failed-key limiter and the leak-report limit.
func TestLimitsCannotBeEscapedByRotatingXForwardedFor(t *testing.T) {
	t.Parallel()
	const burst = 3
	_, c := newSignedIn(t, serverOpts{
		proxies: prefixes("10.0.0.2"),
		keyauth: keyauth.Config{Failures: throttle.Config{Burst: burst, Every: time.Minute}},
		config:  func(cfg *web.Config) { cfg.LeakLimit = throttle.Config{Burst: burst, Every: time.Minute} },
	})
	clients := []struct {
		name string
		// from sends the i-th request with a forged address.
		from func(i int) []opt
	}{
		{"a private client talking to the server directly", func(i int) []opt {
			return []opt{fromAddr("10.1.1.1:5000"), header("X-Forwarded-For", fmt.Sprintf("10.9.%d.%d", i/250, i%250+1))}
		}},
		{"a client behind the proxy", func(i int) []opt {
			return []opt{fromAddr("10.0.0.2:4000"), header("X-Forwarded-For", fmt.Sprintf("203.0.113.%d, 10.0.0.2, 198.51.100.5", i%250+1))}
		}},
	}
	for _, cl := range clients {
		t.Run(cl.name, func(t *testing.T) {
			for i := range burst {
				checkAPIError(t, c.api("/api/v1/whoami", "blnk_bad", cl.from(i)...), http.StatusUnauthorized, "invalid_key")
			}
			for i := burst; i < burst+5; i++ {
				checkAPIError(t, c.api("/api/v1/whoami", "blnk_bad", cl.from(i)...), http.StatusTooManyRequests, "rate_limited")
			}
			for i := range burst {
				if r := leak(c, "[]", cl.from(i)...); r.Code != http.StatusAccepted {
					t.Fatalf("leak report %d: status %d, want 202", i, r.Code)
				}
			}
			for i := burst; i < burst+5; i++ {
				checkAPIError(t, leak(c, "[]", cl.from(i)...), http.StatusTooManyRequests, "rate_limited")
			}
		})
	}
}
