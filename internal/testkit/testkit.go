// Package testkit holds what the tests of several packages share: a fresh
// database of either kind, a fake clock and a log buffer. It does not
// import the db package, so that package's own tests can use it.
//
// The database kind comes from BLNK_TEST_DB: "sqlite" (the default) or
// "postgres", in which case BLNK_TEST_POSTGRES is the server's URL
// (default postgres://postgres@127.0.0.1:5432/test; `make test` starts a
// throwaway server when none is there, see e2e/setup-postgres.sh).
package testkit

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"net/url"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// Kind returns the kind of database the tests run on: "sqlite" or
// "postgres".
func Kind() string {
	if k := os.Getenv("BLNK_TEST_DB"); k != "" {
		return k
	}
	return "sqlite"
}

// PostgresURL returns the URL of the PostgreSQL server the tests use.
func PostgresURL() string {
	if u := os.Getenv("BLNK_TEST_POSTGRES"); u != "" {
		return u
	}
	return "postgres://postgres@127.0.0.1:5432/test?sslmode=disable"
}

// DSN returns the --db value of a fresh, empty database of the kind the
// tests run on, removed when the test ends: a file in t.TempDir for
// SQLite, a new schema for PostgreSQL.
func DSN(t testing.TB) string {
	t.Helper()
	if Kind() == "postgres" {
		return PostgresDSN(t)
	}
	return filepath.Join(t.TempDir(), "data", "dashboard.db")
}

// PostgresDSN returns the URL of a fresh schema on the tests' PostgreSQL
// server (whatever BLNK_TEST_DB says), dropped when the test ends. It fails
// the test, never skips it, when the server cannot be reached.
func PostgresDSN(t testing.TB) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	base := PostgresURL()
	conn, err := pgx.Connect(ctx, base)
	if err != nil {
		t.Fatalf("connect to the tests' PostgreSQL at %s (make test-deps starts one): %v", redact(base), err)
	}
	defer conn.Close(ctx)
	var b [6]byte
	rand.Read(b[:])
	schema := "t_" + hex.EncodeToString(b[:])
	if _, err := conn.Exec(ctx, "CREATE SCHEMA "+schema); err != nil {
		t.Fatalf("create schema: %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		conn, err := pgx.Connect(ctx, base)
		if err != nil {
			t.Errorf("drop schema %s: %v", schema, err)
			return
		}
		defer conn.Close(ctx)
		if _, err := conn.Exec(ctx, "DROP SCHEMA "+schema+" CASCADE"); err != nil {
			t.Errorf("drop schema %s: %v", schema, err)
		}
	})
	u, err := url.Parse(base)
	if err != nil {
		t.Fatal(err)
	}
	q := u.Query()
	q.Set("search_path", schema)
	// Tests need no durability: commits need not wait for the disk.
	q.Set("synchronous_commit", "off")
	u.RawQuery = q.Encode()
	return u.String()
}

func redact(dsn string) string {
	u, err := url.Parse(dsn)
	if err != nil {
		return "(unparsable URL)"
	}
	return u.Redacted()
}

// Clock is a fake clock, safe for concurrent use.
type Clock struct {
	mu  sync.Mutex
	now time.Time
}

// NewClock returns a Clock at t.
func NewClock(t time.Time) *Clock { return &Clock{now: t} }

// Now returns the clock's time.
func (c *Clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

// Set moves the clock to t.
func (c *Clock) Set(t time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = t
}

// Advance moves the clock by d.
func (c *Clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

// LogBuffer collects log lines written from several goroutines.
type LogBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *LogBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *LogBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}
