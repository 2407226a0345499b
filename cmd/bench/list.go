package main

import (
	"bytes"
	"compress/gzip"
	"context"
	"fmt"
	"html"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/blnk-cloud/apikeys/db"
	"github.com/blnk-cloud/apikeys/internal/apikey"
)

// The keys list at scale (-list): a workspace of 10,000 keys, signed in
// through the real server, and the list's pages asked one after the
// other: the first page, filtered pages, a sorted page and a page deep
// into the list by its cursor. Each is timed from the client on loopback
// (what the server takes, plus a loopback round trip), with its size.

// listNames are the names the list bench gives its keys, numbered.
var listNames = []string{"Production API Key", "Staging (2025)", "GitHub Actions deploy — billing-service",
	"Zahlungsdienst Überweisungen", "🚀 Launch bot", "MCP agent (Claude Desktop)",
	"Customer data export for the quarterly finance reconciliation job, read only",
	"grafana-ledger-dashboard", "Ledger sync for the EU region, nightly batch", "Support triage"}

// listSize is how many keys the list and management benches store in
// their workspace.
const listSize = 10_000

// seedList stores n keys in the workspace of admin, whom the server's
// admin command created: realistic names, every status, a third of them
// used.
func seedList(ctx context.Context, path, admin string, n int) error {
	store, err := db.Open(ctx, path)
	if err != nil {
		return err
	}
	defer store.Close()
	login, err := store.LoginByEmail(ctx, admin)
	if err != nil {
		return fmt.Errorf("the admin: %w", err)
	}
	next, err := listKeys(n, time.Now(), login.Workspace.ID, login.User.ID)
	if err != nil {
		return err
	}
	stored, err := store.ImportKeys(ctx, next)
	if err == nil && stored != n {
		err = fmt.Errorf("imported %d keys, want %d", stored, n)
	}
	return err
}

// listKeys returns a function that makes the list bench's n keys one at
// a time, and false after the last. Of every ten keys one expires within
// the week, two later, one has expired and one is revoked; a third of all
// were used.
func listKeys(n int, now time.Time, workspaceID, userID int64) (func() (db.KeyImport, bool, error), error) {
	scopeSets, err := scopeSets("*", "mcp:read mcp:write", "data:read proxy:read", "data:write", "proxy:write")
	if err != nil {
		return nil, err
	}
	day := 24 * time.Hour
	return keyImports(n, workspaceID, userID, func(i int, _ string, k *apikey.Key) {
		k.Name = fmt.Sprintf("%s %05d", listNames[i%len(listNames)], i)
		k.Scopes = scopeSets[i%len(scopeSets)]
		k.CreatedAt = now.Add(-time.Duration(n-i) * time.Minute)
		switch i % 10 {
		case 1:
			k.ExpiresAt = now.Add(time.Duration(1+i%6) * day) // expiring
		case 2, 3:
			k.ExpiresAt = now.Add(time.Duration(30+i%300) * day)
		case 4:
			k.ExpiresAt = now.Add(-time.Duration(1+i%90) * day) // expired
		case 5:
			k.RevokedAt = now.Add(-time.Duration(i%90) * day)
		}
		if i%3 == 0 {
			k.LastUsedAt, k.LastUsedIP = now.Add(-time.Duration(i)*time.Second), "192.0.2.10"
		}
	}), nil
}

// listPage is one address of the list the bench asks for.
type listPage struct {
	name string
	path string
	htmx bool
	want string // a piece of the page that says it is the right one
	goal bool   // one of the pages the goals are about: first, filtered, deep
}

// listResult is what the bench measured of a page.
type listResult struct {
	listPage
	p50, p99, max time.Duration
	bytes         int
	rows          int
}

var (
	listRowRE  = regexp.MustCompile(`<tr id="key-row-`)
	listNextRE = regexp.MustCompile(`<a\s+id="list-next"[^>]*\bhref="([^"]*)"`)
)

func runList(ctx context.Context, cfg config, stdout, stderr io.Writer) error {
	logf := logTo(stderr)
	start := time.Now()
	const password = "the list bench password"
	setup, srv, err := newAdminServer(ctx, cfg, "list", password, listSize, logf)
	if err != nil {
		return err
	}
	defer setup.done()
	defer srv.stop()

	jar, _ := cookiejar.New(nil)
	client := &http.Client{Jar: jar, Timeout: 30 * time.Second}
	resp, err := client.PostForm(srv.url+"/login", url.Values{"email": {benchAdmin}, "password": {password}})
	if err != nil {
		return err
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || !strings.HasSuffix(resp.Request.URL.Path, "/settings/api-keys") {
		return fmt.Errorf("sign in: %d at %s", resp.StatusCode, resp.Request.URL)
	}
	get := func(path string, htmx bool) (string, time.Duration, error) {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, srv.url+path, nil)
		if err != nil {
			return "", 0, err
		}
		if htmx {
			req.Header.Set("HX-Request", "true")
		}
		t0 := time.Now()
		resp, err := client.Do(req)
		if err != nil {
			return "", 0, err
		}
		body, err := io.ReadAll(resp.Body)
		el := time.Since(t0)
		resp.Body.Close()
		if err != nil {
			return "", 0, err
		}
		if resp.StatusCode != http.StatusOK {
			return "", 0, fmt.Errorf("GET %s: %d", path, resp.StatusCode)
		}
		return string(body), el, nil
	}

	// A cursor deep into the list: follow Next (200 a page) to the key
	// 7,600 from the top, then ask for 50 from there.
	deep := "/settings/api-keys?limit=200"
	for range 38 {
		body, _, err := get(deep, false)
		if err != nil {
			return err
		}
		m := listNextRE.FindStringSubmatch(body)
		if m == nil {
			return fmt.Errorf("no Next on %s", deep)
		}
		deep = html.UnescapeString(m[1])
	}
	u, _ := url.Parse(deep)
	deep = "/settings/api-keys?cursor=" + url.QueryEscape(u.Query().Get("cursor"))

	pages := []listPage{
		{"first page (newest 50 of 10,000)", "/settings/api-keys", false, "1–50 of 10,000", true},
		{"first page, htmx (results only)", "/settings/api-keys", true, "1–50 of 10,000", true},
		{"deep page (after key 7,600, by cursor)", deep, false, "7,601–7,650 of 10,000", true},
		{"filtered: search \"billing\", active, scope data:read", "/settings/api-keys?q=billing&scope=data:read&status=active", false, "1–50 of ", true},
		{"filtered: search finding 10 keys", "/settings/api-keys?q=triage+099", false, "1–10 of 10", true},
		{"filtered: expiring soon, soonest first", "/settings/api-keys?sort=expires&status=expiring", false, "1–50 of 1,000", true},
		{"filtered: revoked, search finding nothing", "/settings/api-keys?q=no+such+key&status=revoked", false, "No keys revoked, matching", true},
		{"sorted by name", "/settings/api-keys?sort=name", false, "1–50 of 10,000", false},
		{"sorted by last use", "/settings/api-keys?sort=-last_used", false, "1–50 of 10,000", false},
	}
	const warm, runs = 20, 300
	var results []listResult
	for _, p := range pages {
		body, _, err := get(p.path, p.htmx)
		if err != nil {
			return err
		}
		if !strings.Contains(html.UnescapeString(body), p.want) {
			return fmt.Errorf("%s: the page does not say %q", p.name, p.want)
		}
		var times []time.Duration
		for i := range warm + runs {
			_, el, err := get(p.path, p.htmx)
			if err != nil {
				return err
			}
			if i >= warm {
				times = append(times, el)
			}
		}
		slices.Sort(times)
		results = append(results, listResult{listPage: p, bytes: len(body), rows: len(listRowRE.FindAllString(body, -1)),
			p50: times[len(times)/2], p99: times[len(times)*99/100], max: times[len(times)-1]})
		logf("%s: p50 %s", p.name, fmtDur(times[len(times)/2]))
	}

	sizes, err := transferSizes(ctx, jar, srv.url, deep)
	if err != nil {
		return err
	}

	model, cores := cpuInfo()
	fmt.Fprintf(stdout, "\n### The keys list, 10,000 keys (SQLite)\n\n")
	fmt.Fprintf(stdout, "Run %s, %s (%d cores), %d requests each after %d to warm up, one client after the other on loopback; %s in all.\n\n",
		time.Now().UTC().Format("2006-01-02 15:04 UTC"), model, cores, runs, warm, time.Since(start).Round(time.Second))
	fmt.Fprintln(stdout, "| page | rows | p50 | p99 | max | HTML |")
	fmt.Fprintln(stdout, "|---|---:|---:|---:|---:|---:|")
	worstP50, worstP99, biggest := time.Duration(0), time.Duration(0), 0
	for _, r := range results {
		fmt.Fprintf(stdout, "| %s | %d | %s | %s | %s | %.1f KB |\n", r.name, r.rows, fmtDur(r.p50), fmtDur(r.p99), fmtDur(r.max), float64(r.bytes)/1024)
		biggest = max(biggest, r.bytes)
		if r.goal {
			worstP50, worstP99 = max(worstP50, r.p50), max(worstP99, r.p99)
		}
	}
	fmt.Fprintf(stdout, "\nTransferred, gzip (Accept-Encoding: gzip, bodies as sent):\n\n| what | compressed | uncompressed |\n|---|---:|---:|\n")
	for _, r := range sizes.rows {
		fmt.Fprintf(stdout, "| %s | %.1f KB | %.1f KB |\n", r.what, float64(r.sent)/1024, float64(r.raw)/1024)
	}
	fmt.Fprintf(stdout, "\nGoals: first visit (page and assets) < 60 KB (%.1f KB): %s; the next page with a warm cache < 20 KB (%.1f KB): %s.\n",
		float64(sizes.first)/1024, strings.TrimSpace(verdict(sizes.first < 60*1024, "")), float64(sizes.next)/1024, strings.TrimSpace(verdict(sizes.next < 20*1024, "")))
	rss, hwm := srv.memory()
	fmt.Fprintf(stdout, "\nServer memory: %s resident at peak (VmHWM %s).\n", mb(rss*1024), mb(hwm*1024))
	fmt.Fprintf(stdout, "Goals, for the first, filtered and deep pages: p50 < 10 ms (worst %s): %s; p99 < 25 ms (worst %s): %s; HTML < 100 KB (largest %.1f KB): %s.\n",
		fmtDur(worstP50), strings.TrimSpace(verdict(worstP50 < 10*time.Millisecond, "")), fmtDur(worstP99), strings.TrimSpace(verdict(worstP99 < 25*time.Millisecond, "")),
		float64(biggest)/1024, strings.TrimSpace(verdict(biggest < 100*1024, "")))
	return nil
}

// sizeRow is one response's size as sent (compressed) and as read.
type sizeRow struct {
	what      string
	sent, raw int
}

// listSizes are the bytes a browser receives for the list: the first
// visit (the page and every asset it names, an empty cache) and the next
// page with a warm cache (the assets are immutable: not asked again).
type listSizes struct {
	rows        []sizeRow
	first, next int
	firstRaw    int
}

// assetRE finds the static files a page names.
var assetRE = regexp.MustCompile(`(?:href|src)="(/static/[^"]+)"`)

// transferSizes measures what the list costs on the wire with gzip, as a
// browser asks for it (Accept-Encoding), against the real server: the
// client does not decompress, so the bodies are counted as sent.
func transferSizes(ctx context.Context, jar http.CookieJar, base, next string) (listSizes, error) {
	client := &http.Client{Jar: jar, Timeout: 30 * time.Second, Transport: &http.Transport{DisableCompression: true}}
	fetch := func(what, path string, htmx bool) (sizeRow, string, error) {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, base+path, nil)
		if err != nil {
			return sizeRow{}, "", err
		}
		req.Header.Set("Accept-Encoding", "gzip, deflate, br")
		if htmx {
			req.Header.Set("HX-Request", "true")
		}
		resp, err := client.Do(req)
		if err != nil {
			return sizeRow{}, "", err
		}
		defer resp.Body.Close()
		sent, err := io.ReadAll(resp.Body)
		if err != nil {
			return sizeRow{}, "", err
		}
		if resp.StatusCode != http.StatusOK {
			return sizeRow{}, "", fmt.Errorf("GET %s: %d", path, resp.StatusCode)
		}
		raw := sent
		if resp.Header.Get("Content-Encoding") == "gzip" {
			zr, err := gzip.NewReader(bytes.NewReader(sent))
			if err != nil {
				return sizeRow{}, "", err
			}
			if raw, err = io.ReadAll(zr); err != nil {
				return sizeRow{}, "", err
			}
		}
		return sizeRow{what: what, sent: len(sent), raw: len(raw)}, string(raw), nil
	}
	var out listSizes
	page, body, err := fetch("the list's first page", "/settings/api-keys", false)
	if err != nil {
		return out, err
	}
	out.rows, out.first, out.firstRaw = append(out.rows, page), page.sent, page.raw
	seen := map[string]bool{}
	for _, m := range assetRE.FindAllStringSubmatch(body, -1) {
		path := html.UnescapeString(m[1])
		if seen[path] {
			continue
		}
		seen[path] = true
		r, _, err := fetch(path, path, false)
		if err != nil {
			return out, err
		}
		out.rows, out.first, out.firstRaw = append(out.rows, r), out.first+r.sent, out.firstRaw+r.raw
	}
	out.rows = append(out.rows, sizeRow{what: "**first visit, in all**", sent: out.first, raw: out.firstRaw})
	full, _, err := fetch("a next page, whole (no JavaScript)", next, false)
	if err != nil {
		return out, err
	}
	frag, _, err := fetch("a next page, htmx (results only)", next, true)
	if err != nil {
		return out, err
	}
	out.rows, out.next = append(out.rows, full, frag), frag.sent
	return out, nil
}
