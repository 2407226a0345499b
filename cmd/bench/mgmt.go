package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/blnk-cloud/apikeys/db"
	"github.com/blnk-cloud/apikeys/internal/audit"
	mgmttokens "github.com/blnk-cloud/apikeys/internal/tokens"
)

// The management API (-mgmt): the keys list's workspace of 10,000 keys,
// a management token of its Owner, and the API asked over loopback, one
// request after the other: pages of GET /api/v1/keys (first, deep by
// cursor, filtered), then creates through POST /api/v1/keys. Every
// request reads the token with its person's role from the database: that
// is in every number here.

// mgmtToken makes a management token with every scope for the admin.
func mgmtToken(ctx context.Context, dbPath, admin string) (string, error) {
	store, err := db.Open(ctx, dbPath)
	if err != nil {
		return "", err
	}
	defer store.Close()
	login, err := store.LoginByEmail(ctx, admin)
	if err != nil {
		return "", err
	}
	c, err := mgmttokens.New(store, time.Now, slog.New(slog.DiscardHandler)).Create(ctx,
		audit.Actor{UserID: login.User.ID, Email: login.User.Email, Kind: audit.User},
		mgmttokens.Spec{WorkspaceID: login.Workspace.ID, UserID: login.User.ID, Name: "bench",
			Scopes: []string{"keys:write", "members:read", "audit:read"}, Expires: "30d"})
	return c.Secret, err
}

func runMgmt(ctx context.Context, cfg config, stdout, stderr io.Writer) error {
	logf := logTo(stderr)
	start := time.Now()
	setup, bin, dbPath, err := newAdminBench(ctx, cfg, "mgmt", "the management bench password", listSize, logf)
	if err != nil {
		return err
	}
	defer setup.done()
	token, err := mgmtToken(ctx, dbPath, benchAdmin)
	if err != nil {
		return err
	}
	args := append([]string{"--token-rate-burst", "1000000000"}, strings.Fields(cfg.serverArgs)...)
	srv, err := startServer(ctx, bin, dbPath, args...)
	if err != nil {
		return err
	}
	defer srv.stop()

	client := &http.Client{Timeout: 30 * time.Second}
	call := func(method, path string, body []byte, want int) ([]byte, time.Duration, error) {
		var rd io.Reader
		if body != nil {
			rd = bytes.NewReader(body)
		}
		req, err := http.NewRequestWithContext(ctx, method, srv.url+path, rd)
		if err != nil {
			return nil, 0, err
		}
		req.Header.Set("Authorization", "Bearer "+token)
		if body != nil {
			req.Header.Set("Content-Type", "application/json")
		}
		t0 := time.Now()
		resp, err := client.Do(req)
		if err != nil {
			return nil, 0, err
		}
		out, err := io.ReadAll(resp.Body)
		el := time.Since(t0)
		resp.Body.Close()
		if err != nil {
			return nil, 0, err
		}
		if resp.StatusCode != want {
			return nil, 0, fmt.Errorf("%s %s: %d, want %d: %s", method, path, resp.StatusCode, want, out)
		}
		return out, el, nil
	}
	type page struct {
		Data       []json.RawMessage `json:"data"`
		NextCursor string            `json:"next_cursor"`
	}

	// A cursor deep into the list: 38 pages of 200.
	deep := "/api/v1/keys?limit=200"
	for range 38 {
		body, _, err := call(http.MethodGet, deep, nil, http.StatusOK)
		if err != nil {
			return err
		}
		var p page
		if err := json.Unmarshal(body, &p); err != nil || p.NextCursor == "" {
			return fmt.Errorf("no next_cursor on %s", deep)
		}
		deep = "/api/v1/keys?limit=200&cursor=" + url.QueryEscape(p.NextCursor)
	}
	u, _ := url.Parse(deep)
	deep = "/api/v1/keys?cursor=" + url.QueryEscape(u.Query().Get("cursor"))

	type result struct {
		name          string
		rows          int
		bytes         int
		p50, p99, max time.Duration
	}
	measure := func(name, method, path string, body func(i int) []byte, want, runs int) (result, error) {
		const warm = 20
		var times []time.Duration
		var last []byte
		for i := range warm + runs {
			var b []byte
			if body != nil {
				b = body(i)
			}
			out, el, err := call(method, path, b, want)
			if err != nil {
				return result{}, err
			}
			if i >= warm {
				times = append(times, el)
			}
			last = out
		}
		slices.Sort(times)
		r := result{name: name, bytes: len(last), p50: times[len(times)/2], p99: times[len(times)*99/100], max: times[len(times)-1]}
		var p page
		if json.Unmarshal(last, &p) == nil {
			r.rows = len(p.Data)
		}
		logf("%s: p50 %s", name, fmtDur(r.p50))
		return r, nil
	}
	var results []result
	for _, p := range []struct{ name, path string }{
		{"GET /api/v1/keys (newest 50 of 10,000)", "/api/v1/keys"},
		{"GET /api/v1/keys, deep page (after key 7,600, by cursor)", deep},
		{"GET /api/v1/keys?q=billing&scope=data:read&status=active", "/api/v1/keys?q=billing&scope=data:read&status=active"},
		{"GET /api/v1/keys?status=expiring (soonest first)", "/api/v1/keys?status=expiring"},
	} {
		r, err := measure(p.name, http.MethodGet, p.path, nil, http.StatusOK, 300)
		if err != nil {
			return err
		}
		results = append(results, r)
	}
	const creates = 500
	t0 := time.Now()
	cr, err := measure("POST /api/v1/keys (create)", http.MethodPost, "/api/v1/keys", func(i int) []byte {
		return fmt.Appendf(nil, `{"name": "bench create %d", "scopes": ["mcp:read"], "expires_at": %q}`, i,
			time.Now().Add(30*24*time.Hour).UTC().Format(time.RFC3339))
	}, http.StatusCreated, creates)
	if err != nil {
		return err
	}
	perSec := float64(creates+20) / time.Since(t0).Seconds()
	cr.rows = 1
	results = append(results, cr)

	model, cores := cpuInfo()
	fmt.Fprintf(stdout, "\n### The management API, 10,000 keys (SQLite)\n\n")
	fmt.Fprintf(stdout, "Run %s, %s (%d cores), one client after the other on loopback, 300 requests a list page and %d creates after 20 to warm up; %s in all.\n\n",
		time.Now().UTC().Format("2006-01-02 15:04 UTC"), model, cores, creates, time.Since(start).Round(time.Second))
	fmt.Fprintln(stdout, "| request | rows | p50 | p99 | max | JSON |")
	fmt.Fprintln(stdout, "|---|---:|---:|---:|---:|---:|")
	for _, r := range results {
		fmt.Fprintf(stdout, "| %s | %d | %s | %s | %s | %.1f KB |\n", r.name, r.rows, fmtDur(r.p50), fmtDur(r.p99), fmtDur(r.max), float64(r.bytes)/1024)
	}
	fmt.Fprintf(stdout, "\nCreates: %.0f a second, one client after the other.\n", perSec)
	fmt.Fprintf(stdout, "Goals: list p50 < 10 ms (first page %s): %s; create p99 < 20 ms (%s): %s.\n",
		fmtDur(results[0].p50), strings.TrimSpace(verdict(results[0].p50 < 10*time.Millisecond, "")),
		fmtDur(cr.p99), strings.TrimSpace(verdict(cr.p99 < 20*time.Millisecond, "")))
	return nil
}
