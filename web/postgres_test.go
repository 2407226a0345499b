package web_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/blnk-cloud/apikeys/db"
	"github.com/blnk-cloud/apikeys/internal/keys"
	"github.com/blnk-cloud/apikeys/internal/testkit"
)

// appRole returns the URL of a fresh, migrated PostgreSQL schema for a
// database user that may read and write rows but not UPDATE or DELETE
// audit events (and create nothing): the least the application needs.
// The user and the schema go when the test ends.
func appRole(t *testing.T) (appDSN string, admin *pgx.Conn) {
	t.Helper()
	ctx := context.Background()
	dsn := testkit.PostgresDSN(t)
	store, err := db.Open(ctx, dsn) // migrated as the owner
	if err != nil {
		t.Fatal(err)
	}
	store.Close()
	u, err := url.Parse(dsn)
	if err != nil {
		t.Fatal(err)
	}
	schema := u.Query().Get("search_path")
	admin, err = pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	var b [6]byte
	rand.Read(b[:])
	role := "blnk_app_" + hex.EncodeToString(b[:])
	for _, q := range []string{
		`CREATE ROLE ` + role + ` LOGIN`,
		`GRANT USAGE ON SCHEMA ` + schema + ` TO ` + role,
		`GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA ` + schema + ` TO ` + role,
		`GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA ` + schema + ` TO ` + role,
		`REVOKE UPDATE, DELETE, TRUNCATE ON ` + schema + `.audit_events FROM ` + role,
	} {
		if _, err := admin.Exec(ctx, q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	t.Cleanup(func() {
		ctx := context.Background()
		for _, q := range []string{`DROP OWNED BY ` + role, `DROP ROLE ` + role} {
			if _, err := admin.Exec(ctx, q); err != nil {
				t.Errorf("%s: %v", q, err)
			}
		}
		admin.Close(ctx)
	})
	u.User = url.User(role)
	return u.String(), admin
}

// TestAppendOnlyAuditLogOnPostgres runs the whole lifecycle as a database
// user that cannot UPDATE or DELETE audit events: nothing the application
// does needs to, so everything works; only retention, the one deletion,
// is refused (and says so).
func TestAppendOnlyAuditLogOnPostgres(t *testing.T) {
	t.Parallel()
	dsn, admin := appRole(t)
	ts := newTestServer(t, serverOpts{dsn: dsn, config: longSessions.config})
	c := ts.client()
	c.setup(adminWorkspace, adminEmail, adminPassword)
	c.post("/logout", nil)
	c.post("/login", url.Values{"email": {adminEmail}, "password": {"wrong password!!"}})
	c.signIn(adminEmail, adminPassword)
	k := c.createKey(url.Values{"name": {"Append only"}, "scopes": {"*"}, "expires": {"date"}, "expires_on": {"2026-03-20"}, "form_token": {formToken()}})
	if r := c.post("/settings/api-keys/"+k.ID+"/edit", url.Values{"name": {"Append only, renamed"}, "description": {"notes"}}); r.Code != http.StatusSeeOther {
		t.Fatalf("edit: %d\n%s", r.Code, r.Body)
	}
	next := c.roll(k.ID, "1h")
	if r := c.post("/settings/api-keys/"+next.ID+"/revoke", nil); r.Code != http.StatusSeeOther {
		t.Fatalf("revoke: %d", r.Code)
	}
	ts.clock.Advance(time.Hour)
	if n, err := ts.keys.SweepExpired(context.Background()); err != nil || n != 1 {
		t.Fatalf("sweep: %d, %v", n, err)
	}
	for _, f := range []string{"/settings/audit-log", "/settings/audit-log.csv", "/settings/audit-log.json"} {
		if r := c.get(f); r.Code != http.StatusOK {
			t.Errorf("GET %s: %d", f, r.Code)
		}
	}
	want := "user.signed_in user.signed_out user.sign_in_failed user.signed_in key.created key.revealed key.edited " +
		"key.rolled key.created key.revealed key.revoked key.expired"
	var got []string
	for _, ev := range ts.allEvents() {
		got = append(got, string(ev.Action))
	}
	if strings.Join(got, " ") != want {
		t.Errorf("events:\n got %s\nwant %s", strings.Join(got, " "), want)
	}

	// The application's user cannot change the log, and neither can its
	// owner: the table refuses updates.
	ctx := context.Background()
	for _, q := range []string{`UPDATE audit_events SET actor = 'someone else'`, `DELETE FROM audit_events`} {
		if _, err := ts.raw.ExecContext(ctx, q); err == nil || !strings.Contains(err.Error(), "permission denied") {
			t.Errorf("%s as the application: %v, want permission denied", q, err)
		}
	}
	if _, err := admin.Exec(ctx, `UPDATE audit_events SET actor = 'someone else'`); err == nil || !strings.Contains(err.Error(), "append-only") {
		t.Errorf("UPDATE as the owner: %v, want the append-only refusal", err)
	}
	// Retention needs DELETE: without it, it fails, and deletes nothing.
	if _, err := ts.keys.PruneAudit(ctx); err != nil {
		t.Errorf("retention off: %v", err)
	}
	ts.clock.Advance(48 * time.Hour)
	pruner := keys.New(keys.Config{AuditRetention: time.Hour, Now: ts.clock.Now}, ts.db, nil, slog.New(slog.NewTextHandler(ts.logs, nil)))
	if _, err := pruner.PruneAudit(ctx); err == nil || !strings.Contains(err.Error(), "permission denied") {
		t.Errorf("retention without DELETE: %v, want permission denied", err)
	}
	if n := ts.count("audit_events"); n != len(got) {
		t.Errorf("events after all that: %d, want %d", n, len(got))
	}
}
