package db

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/blnk-cloud/apikeys/internal/blnk"
	"github.com/blnk-cloud/apikeys/internal/testkit"
)

// testNow is the fixed instant the tests of this package start from.
var testNow = time.Date(2026, 3, 14, 15, 9, 26, 535_000_000, time.UTC)

// openTestDB opens a fresh database of the kind the tests run on (see
// testkit), and closes it at the end of the test. It returns the database
// and its DSN.
func openTestDB(t testing.TB) (*DB, string) {
	t.Helper()
	dsn := testkit.DSN(t)
	d, err := Open(context.Background(), dsn)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() { d.Close() })
	return d, dsn
}

// openSQLiteDB opens a fresh SQLite database, whatever kind the other
// tests run on: for what is SQLite's own (files, pragmas).
func openSQLiteDB(t testing.TB) (*DB, string) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "data", "dashboard.db")
	d, err := Open(context.Background(), path)
	if err != nil {
		t.Fatalf("Open(%q): %v", path, err)
	}
	t.Cleanup(func() { d.Close() })
	return d, path
}

// count returns the number of rows of table.
func count(t testing.TB, d *DB, table string) int {
	t.Helper()
	var n int
	if err := d.sql.QueryRowContext(context.Background(), `SELECT count(*) FROM `+table).Scan(&n); err != nil {
		t.Fatalf("count %s: %v", table, err)
	}
	return n
}

func migrationFiles(t *testing.T) []migration {
	t.Helper()
	list, err := migrationsFor(Kind(testkit.Kind()))
	if err != nil || len(list) == 0 {
		t.Fatalf("embedded migrations: %v, %d files", err, len(list))
	}
	return list
}

func TestOpenCreatesFileAndDirectory(t *testing.T) {
	path := filepath.Join(t.TempDir(), "a", "b", "dashboard.db")
	d, err := Open(context.Background(), path)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	defer d.Close()
	if _, err := os.Stat(path); err != nil {
		t.Errorf("database file: %v", err)
	}
	if got, want := d.Path(), path; got != want {
		t.Errorf("Path() = %q, want %q", got, want)
	}
	if err := d.Ping(context.Background()); err != nil {
		t.Errorf("Ping: %v", err)
	}
	for _, table := range []string{"workspaces", "users", "memberships", "sessions", "settings", "api_keys", "api_key_changes"} {
		if got := count(t, d, table); got != 0 {
			t.Errorf("%s has %d rows in a new database, want 0", table, got)
		}
	}
}

func TestOpenTwiceIsIdempotent(t *testing.T) {
	ctx := context.Background()
	d, path := openTestDB(t)
	if _, _, err := d.SetupFirstAdmin(ctx, "Acme", "admin@acme.io", "hash", testNow); err != nil {
		t.Fatalf("SetupFirstAdmin: %v", err)
	}
	d.Close()

	d2, err := Open(ctx, path)
	if err != nil {
		t.Fatalf("second Open: %v", err)
	}
	defer d2.Close()
	want := len(migrationFiles(t))
	if got := count(t, d2, "schema_migrations"); got != want {
		t.Errorf("schema_migrations has %d rows, want %d (one per migration)", got, want)
	}
	var distinct int
	if err := d2.sql.QueryRowContext(ctx, `SELECT count(DISTINCT version) FROM schema_migrations`).Scan(&distinct); err != nil {
		t.Fatal(err)
	}
	if got := distinct; got != want {
		t.Errorf("schema_migrations has %d distinct versions, want %d", got, want)
	}
	if got, want := count(t, d2, "users"), 1; got != want {
		t.Errorf("users after reopening = %d, want %d (data kept)", got, want)
	}
}

func TestOpenSetsPragmasOnEveryConnection(t *testing.T) {
	ctx := context.Background()
	d, _ := openSQLiteDB(t)
	// Hold several connections at once so that the pool has to open new
	// ones: each must have the pragmas of the DSN.
	for i := range 3 {
		conn, err := d.sql.Conn(ctx)
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		tests := []struct {
			pragma string
			want   string
		}{
			{"journal_mode", "wal"},
			{"foreign_keys", "1"},
			{"busy_timeout", "5000"},
			{"synchronous", "1"}, // NORMAL
		}
		for _, tt := range tests {
			var got string
			if err := conn.QueryRowContext(ctx, `PRAGMA `+tt.pragma).Scan(&got); err != nil {
				t.Fatalf("connection %d: PRAGMA %s: %v", i, tt.pragma, err)
			}
			if got != tt.want {
				t.Errorf("connection %d: PRAGMA %s = %q, want %q", i, tt.pragma, got, tt.want)
			}
		}
	}
}

func TestForeignKeysEnforced(t *testing.T) {
	d, _ := openTestDB(t)
	err := d.CreateSession(context.Background(), make([]byte, 32), 42, 42, testNow)
	if err == nil {
		t.Fatal("CreateSession for a user and workspace that do not exist succeeded, want a foreign key error")
	}
}

// TestOpenCreatesPrivateFiles: the database holds password hashes and the
// session secret, so only its owner may read it, and its WAL files too.
func TestOpenCreatesPrivateFiles(t *testing.T) {
	path := filepath.Join(t.TempDir(), "private", "dashboard.db")
	d, err := Open(context.Background(), path)
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	if _, err := d.EnsureSetting(context.Background(), "probe", []byte("x")); err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{path, path + "-wal", path + "-shm", filepath.Dir(path)} {
		fi, err := os.Stat(p)
		if err != nil {
			t.Fatal(err)
		}
		if perm := fi.Mode().Perm(); perm&0o077 != 0 {
			t.Errorf("%s: mode %v, want no access for group and others", filepath.Base(p), perm)
		}
	}
}

// TestOpenConcurrently: servers starting together on an empty database
// apply each migration once (an advisory lock on PostgreSQL, the write
// lock on SQLite).
func TestOpenConcurrently(t *testing.T) {
	dsn := testkit.DSN(t)
	const n = 4
	errs := make(chan error, n)
	dbs := make(chan *DB, n)
	var wg sync.WaitGroup
	for range n {
		wg.Go(func() {
			d, err := Open(context.Background(), dsn)
			errs <- err
			if err == nil {
				dbs <- d
			}
		})
	}
	wg.Wait()
	close(errs)
	close(dbs)
	for err := range errs {
		if err != nil {
			t.Errorf("Open: %v", err)
		}
	}
	var d *DB
	for x := range dbs {
		if d == nil {
			d = x
		} else {
			x.Close()
		}
	}
	if d == nil {
		t.Fatal("no Open succeeded")
	}
	defer d.Close()
	want := len(migrationFiles(t))
	if got := count(t, d, "schema_migrations"); got != want {
		t.Errorf("schema_migrations has %d rows after %d concurrent starts, want %d", got, n, want)
	}
}

// TestSymlinkedPathSharesTheSignal: two processes reaching one SQLite
// database through different paths (one through a symbolic link) share its
// change signal, so a change made through one is seen by the other at its
// next check.
func TestSymlinkedPathSharesTheSignal(t *testing.T) {
	dir := t.TempDir()
	real := filepath.Join(dir, "real", "dashboard.db")
	a, err := Open(context.Background(), real)
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	link := filepath.Join(dir, "link")
	if err := os.Symlink(filepath.Join(dir, "real"), link); err != nil {
		t.Fatal(err)
	}
	b, err := Open(context.Background(), filepath.Join(link, "dashboard.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	if a.Path() != b.Path() {
		t.Errorf("paths: %q and %q, want the same resolved path", a.Path(), b.Path())
	}
	before := a.ChangeVersion()
	b.announce()
	if a.ChangeVersion() == before {
		t.Error("a change announced through the link did not move the other's change version")
	}
}

func TestHeartbeats(t *testing.T) {
	ctx := context.Background()
	d, _ := openTestDB(t)
	t0 := testNow
	beat := func(id string, at time.Time, applied int64) {
		t.Helper()
		if _, err := d.Heartbeat(ctx, blnk.Heartbeat{ServerID: id, Address: "http://" + id, Started: t0, At: at, Applied: applied}); err != nil {
			t.Fatal(err)
		}
	}
	beat("a", t0, 1)
	beat("b", t0.Add(-time.Minute), 1)
	beat("a", t0.Add(time.Second), 7) // a later heartbeat replaces the first
	// Leases that have run out, as a minute later: b's is fenced (it has
	// not applied change 2), a's is not (it has).
	fenced, err := d.FenceLapsed(ctx, 2, -time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	if len(fenced) != 1 || fenced[0] != "b" {
		t.Errorf("fenced %v, want [b]", fenced)
	}
	got, err := d.ServersSeenSince(ctx, t0.Add(-10*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	// A fenced lease ends where it ended, plus the millisecond that
	// fencing adds: b may show for that millisecond, as run out.
	got = slices.DeleteFunc(got, func(s blnk.Server) bool { return s.ID == "b" && s.LeaseLeft <= time.Millisecond })
	if len(got) != 1 || got[0].ID != "a" || got[0].Applied != 7 || !got[0].Seen.Equal(t0.Add(time.Second)) || got[0].Address != "http://a" {
		t.Errorf("servers seen lately = %+v, want a alone, applied 7", got)
	}
	if err := d.RemoveServer(ctx, "a", t0.Add(-30*time.Second)); err != nil {
		t.Fatal(err)
	}
	if n := count(t, d, "servers"); n != 0 {
		t.Errorf("servers after removing a and those older than 30s: %d rows, want 0", n)
	}
}

// TestLease: a heartbeat renews a server's lease only while the stored
// lease is the one it holds; a revoke that finds the lease run out fences
// it, and the server's next heartbeat from the lease it held renews
// nothing, but claims one that a later heartbeat can renew.
func TestLease(t *testing.T) {
	ctx := context.Background()
	d, _ := openTestDB(t)
	hb := blnk.Heartbeat{ServerID: "c", Address: "http://c", Started: testNow, At: testNow, Applied: 5}
	beat := func(held int64, renew time.Duration) blnk.Lease {
		t.Helper()
		hb.Held, hb.Renew = held, renew
		l, err := d.Heartbeat(ctx, hb)
		if err != nil {
			t.Fatal(err)
		}
		return l
	}
	left := func() time.Duration {
		t.Helper()
		got, err := d.ServersSeenSince(ctx, testNow.Add(-time.Minute))
		if err != nil || len(got) != 1 {
			t.Fatalf("servers = %+v, %v; want c", got, err)
		}
		return got[0].LeaseLeft
	}

	claim := beat(0, time.Hour)
	if claim.Renewed || claim.Held == 0 {
		t.Fatalf("first heartbeat = %+v, want a claim, not renewed", claim)
	}
	if l := left(); l > time.Second {
		t.Errorf("lease after a claim lasts %v, want none (a claim renews nothing)", l)
	}
	renewed := beat(claim.Held, time.Minute)
	if !renewed.Renewed || renewed.Held <= claim.Held {
		t.Fatalf("heartbeat holding the claim = %+v, want renewed", renewed)
	}
	if l := left(); l < 50*time.Second || l > time.Minute+time.Second {
		t.Errorf("renewed lease lasts %v, want about a minute", l)
	}
	if l := beat(claim.Held, time.Hour); l.Renewed {
		t.Error("heartbeat holding an old lease renewed it")
	}
	held := beat(0, 0).Held // a claim again: the stored lease does not move back
	if l := left(); l < 50*time.Second {
		t.Errorf("lease after a claim = %v, want it unchanged (about a minute)", l)
	}

	// A revoke (change 6) does not fence a lease that lasts, nor one of a
	// server that applied the change.
	if ids, err := d.FenceLapsed(ctx, 6, 0); err != nil || len(ids) != 0 {
		t.Errorf("FenceLapsed with the lease running = %v, %v; want none", ids, err)
	}
	if ids, err := d.FenceLapsed(ctx, 5, -time.Hour); err != nil || len(ids) != 0 {
		t.Errorf("FenceLapsed of a change applied = %v, %v; want none", ids, err)
	}
	// An hour later (a negative margin), the lease has run out: fenced.
	if ids, err := d.FenceLapsed(ctx, 6, -time.Hour); err != nil || len(ids) != 1 || ids[0] != "c" {
		t.Fatalf("FenceLapsed with the lease run out = %v, %v; want [c]", ids, err)
	}
	// c was paused after a read without change 6: its heartbeat cannot
	// renew, it claims.
	l := beat(held, time.Minute)
	if l.Renewed {
		t.Fatal("heartbeat of a fenced lease renewed it")
	}
	if l := beat(l.Held, time.Minute); !l.Renewed {
		t.Error("heartbeat holding the new claim did not renew")
	}
}
