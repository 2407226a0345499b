package web_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/blnk-cloud/apikeys/db"
	"github.com/blnk-cloud/apikeys/internal/keyauth"
	"github.com/blnk-cloud/apikeys/internal/keys"
	"github.com/blnk-cloud/apikeys/internal/password"
	"github.com/blnk-cloud/apikeys/internal/testkit"
	"github.com/blnk-cloud/apikeys/web"
)

// seedEvents appends n audit events to workspace ws in batches, shaped
// like the real ones (actions, emails, addresses, key ids and details of
// the size the dashboard writes).
func seedEvents(b *testing.B, store *db.DB, ws int64, n int, start time.Time) {
	b.Helper()
	ctx := context.Background()
	actions := []string{"key.created", "key.revealed", "key.edited", "key.rolled", "key.revoked", "user.signed_in"}
	const batch = 500
	for done := 0; done < n; done += batch {
		var sb strings.Builder
		sb.WriteString(`INSERT INTO audit_events (workspace_id, at, action, actor, actor_kind, actor_user_id, ip, key_id, key_prefix, details) VALUES `)
		var args []any
		for i := done; i < min(done+batch, n); i++ {
			if i > done {
				sb.WriteString(",")
			}
			p := len(args)
			fmt.Fprintf(&sb, "($%d,$%d,$%d,$%d,$%d,$%d,$%d,$%d,$%d,$%d)", p+1, p+2, p+3, p+4, p+5, p+6, p+7, p+8, p+9, p+10)
			action := actions[i%len(actions)]
			details := `{}`
			switch action {
			case "key.created":
				details = fmt.Sprintf(`{"expires_at":"2027-01-01T00:00:00Z","name":"Production key %d","scopes":"mcp:read mcp:write"}`, i)
			case "key.edited":
				details = fmt.Sprintf(`{"after":{"name":"Renamed %d"},"before":{"name":"Production key %d"}}`, i, i)
			case "key.rolled":
				details = `{"after":{"expires_at":"2026-03-11T12:00:00.000Z"},"before":{"expires_at":null},"overlap":"24h","rolled_into":{"id":"key_0123456789abcdefghjk","prefix":"blnk_0a1b2c3d"}}`
			}
			args = append(args, ws, start.Add(time.Duration(i)*time.Second).UnixMilli(), action, fmt.Sprintf("admin%d@example.com", i%7), "user", 1,
				fmt.Sprintf("192.0.2.%d", i%250), fmt.Sprintf("key_%020d", i%5000), fmt.Sprintf("blnk_%08x", i%5000), details)
		}
		if _, err := store.SQL().ExecContext(ctx, sb.String(), args...); err != nil {
			b.Fatal(err)
		}
	}
}

// auditTableBytes is what the audit log takes on disk, indexes included.
func auditTableBytes(b *testing.B, store *db.DB) int64 {
	b.Helper()
	q := `SELECT COALESCE(SUM(pgsize), 0) FROM dbstat WHERE name = 'audit_events' OR name LIKE 'audit_events_%'`
	if store.Kind() == db.Postgres {
		q = `SELECT pg_total_relation_size('audit_events')`
	}
	var n int64
	if err := store.SQL().QueryRow(q).Scan(&n); err != nil {
		b.Fatal(err)
	}
	return n
}

// BenchmarkAuditExport exports 100,000 events as CSV and JSON through the
// real handler (middleware, session, streaming), on the database of
// BLNK_TEST_DB, and reports events per second, the peak heap in use
// during the export, and the size of the audit table.
func BenchmarkAuditExport(b *testing.B) {
	const n = 100_000
	ctx := context.Background()
	store, err := db.Open(ctx, testkit.DSN(b))
	if err != nil {
		b.Fatal(err)
	}
	defer store.Close()
	log := slog.New(slog.NewTextHandler(io.Discard, &slog.HandlerOptions{Level: slog.LevelWarn}))
	auth, err := keyauth.New(ctx, keyauth.Config{}, store, log)
	if err != nil {
		b.Fatal(err)
	}
	srv, err := web.New(web.Config{SessionSecret: make([]byte, 32), Passwords: password.FastHasher}, store, auth, keys.New(keys.Config{}, store, auth, log), log)
	if err != nil {
		b.Fatal(err)
	}
	hash := must(password.FastHasher.Hash("bench password 123"))
	ws, _, err := store.CreateWorkspaceAdmin(ctx, "Bench", "bench@example.com", hash, time.Now())
	if err != nil {
		b.Fatal(err)
	}
	empty := auditTableBytes(b, store)
	seedEvents(b, store, ws.ID, n, time.Now().Add(-n*time.Second))
	size := auditTableBytes(b, store) - empty
	if store.Kind() == db.Postgres {
		store.SQL().Exec(`ANALYZE audit_events`)
	}

	login := httptest.NewRequest(http.MethodPost, "http://dash.test/login", strings.NewReader(url.Values{"email": {"bench@example.com"}, "password": {"bench password 123"}}.Encode()))
	login.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	login.Header.Set("Sec-Fetch-Site", "same-origin")
	lw := httptest.NewRecorder()
	srv.ServeHTTP(lw, login)
	cookies := lw.Result().Cookies()
	if lw.Code != http.StatusSeeOther || len(cookies) == 0 {
		b.Fatalf("sign in: %d", lw.Code)
	}

	for _, format := range []string{"csv", "json"} {
		b.Run(format, func(b *testing.B) {
			var peak atomic.Uint64
			for b.Loop() {
				req := httptest.NewRequest(http.MethodGet, "http://dash.test/settings/audit-log."+format, nil)
				for _, c := range cookies {
					req.AddCookie(c)
				}
				w := &countingWriter{h: make(http.Header)}
				runtime.GC()
				var base runtime.MemStats
				runtime.ReadMemStats(&base)
				stop := make(chan struct{})
				var wg sync.WaitGroup
				wg.Go(func() {
					for {
						var m runtime.MemStats
						runtime.ReadMemStats(&m)
						if d := m.HeapInuse - min(m.HeapInuse, base.HeapInuse); d > peak.Load() {
							peak.Store(d)
						}
						select {
						case <-stop:
							return
						case <-time.After(20 * time.Millisecond):
						}
					}
				})
				srv.ServeHTTP(w, req)
				close(stop)
				wg.Wait()
				if w.lines < n {
					b.Fatalf("%s export: %d lines, want %d events", format, w.lines, n)
				}
			}
			b.ReportMetric(float64(n*b.N)/b.Elapsed().Seconds(), "events/s")
			b.ReportMetric(float64(peak.Load())/(1<<20), "peak-heap-MB")
			b.ReportMetric(float64(size)/(1<<20), "table-MB")
		})
	}
}

// countingWriter keeps nothing of a response but its line count.
type countingWriter struct {
	h     http.Header
	lines int
	bytes int
}

func (w *countingWriter) Header() http.Header { return w.h }
func (w *countingWriter) WriteHeader(int)     {}
func (w *countingWriter) Flush()              {}
func (w *countingWriter) Write(p []byte) (int, error) {
	w.lines += strings.Count(string(p), "\n")
	w.bytes += len(p)
	return len(p), nil
}
