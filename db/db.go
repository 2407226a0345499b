// Package db stores the dashboard's data in SQLite, through the pure-Go
// driver modernc.org/sqlite. It opens the database, applies the embedded
// migrations in order, and holds every query, each next to the method that
// runs it. Driver errors become the errors of this package (ErrNotFound,
// ...) here, at the boundary.
package db

import (
	"context"
	"database/sql"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"net/url"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"

	_ "modernc.org/sqlite" // registers the "sqlite" driver (also imported by name in accounts.go)
)

// Errors returned by the queries.
var (
	ErrNotFound    = errors.New("db: not found")
	ErrEmailTaken  = errors.New("db: email already registered")
	ErrAlreadySet  = errors.New("db: an admin already exists")
	ErrAmbiguous   = errors.New("db: more than one key matches")
	errNoMigration = errors.New("db: no migrations found")
)

//go:embed migrations/*.sql
var migrations embed.FS

// DB is the dashboard's database.
type DB struct {
	sql  *sql.DB
	path string
}

// Open opens (creating if needed) the SQLite database at path and brings
// its schema up to date.
//
// The pragmas, set on every pooled connection through the DSN:
//   - journal_mode(WAL): readers never block the writer and vice versa;
//   - synchronous(NORMAL): durable at each checkpoint, safe against
//     corruption; with WAL a power cut can lose only the last commits;
//   - busy_timeout(5000): wait up to 5 s for the write lock instead of
//     failing with SQLITE_BUSY when two writers meet;
//   - foreign_keys(1): SQLite leaves them off by default;
//   - _txlock=immediate: write transactions take the write lock at BEGIN,
//     so a transaction that reads then writes never fails half way.
func Open(ctx context.Context, path string) (*DB, error) {
	if dir := filepath.Dir(path); dir != "" {
		if err := os.MkdirAll(dir, 0o700); err != nil {
			return nil, fmt.Errorf("create data directory: %w", err)
		}
	}
	// The database holds password hashes and the session secret: create it
	// readable by its owner only. SQLite gives its -wal and -shm files the
	// same mode.
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("create %s: %w", path, err)
	}
	f.Close()
	q := url.Values{}
	for _, p := range []string{"journal_mode(WAL)", "synchronous(NORMAL)", "busy_timeout(5000)", "foreign_keys(1)"} {
		q.Add("_pragma", p)
	}
	q.Set("_txlock", "immediate")
	dsn := "file:" + path + "?" + q.Encode()
	sqlDB, err := sql.Open("sqlite", dsn)
	if err != nil {
		return nil, fmt.Errorf("open %s: %w", path, err)
	}
	// Enough connections for concurrent readers; writers queue on SQLite's
	// lock (busy_timeout), not on the pool.
	sqlDB.SetMaxOpenConns(8)
	sqlDB.SetMaxIdleConns(8)
	sqlDB.SetConnMaxIdleTime(5 * time.Minute)
	d := &DB{sql: sqlDB, path: path}
	if err := d.migrate(ctx); err != nil {
		sqlDB.Close()
		return nil, err
	}
	return d, nil
}

// Close closes the database.
func (d *DB) Close() error { return d.sql.Close() }

// Path returns the file the database lives in.
func (d *DB) Path() string { return d.path }

// Ping checks that the database answers a query.
func (d *DB) Ping(ctx context.Context) error {
	var one int
	return d.sql.QueryRowContext(ctx, `SELECT 1`).Scan(&one)
}

// migrate applies, in order and each in its own transaction, the embedded
// migrations not yet recorded in schema_migrations.
func (d *DB) migrate(ctx context.Context) error {
	if _, err := d.sql.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (
		version    INTEGER PRIMARY KEY,
		name       TEXT    NOT NULL,
		applied_at INTEGER NOT NULL
	)`); err != nil {
		return fmt.Errorf("create schema_migrations: %w", err)
	}
	names, err := fs.Glob(migrations, "migrations/*.sql")
	if err != nil {
		return err
	}
	if len(names) == 0 {
		return errNoMigration
	}
	sort.Strings(names)
	for _, name := range names {
		base := filepath.Base(name)
		num, _, ok := strings.Cut(base, "_")
		version, err := strconv.Atoi(num)
		if !ok || err != nil {
			return fmt.Errorf("migration %s: name must start with a number and _", base)
		}
		if err := d.apply(ctx, version, name); err != nil {
			return fmt.Errorf("migration %s: %w", base, err)
		}
	}
	return nil
}

func (d *DB) apply(ctx context.Context, version int, name string) error {
	tx, err := d.sql.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	var done int
	if err := tx.QueryRowContext(ctx, `SELECT count(*) FROM schema_migrations WHERE version = ?`, version).Scan(&done); err != nil {
		return err
	}
	if done > 0 {
		return nil
	}
	body, err := migrations.ReadFile(name)
	if err != nil {
		return err
	}
	if _, err := tx.ExecContext(ctx, string(body)); err != nil {
		return err
	}
	if _, err := tx.ExecContext(ctx, `INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)`,
		version, filepath.Base(name), ms(time.Now())); err != nil {
		return err
	}
	return tx.Commit()
}

// ms turns a time into Unix milliseconds, the unit of every time column.
func ms(t time.Time) int64 { return t.UnixMilli() }

// nullMS is ms for optional times: the zero time is NULL.
func nullMS(t time.Time) sql.NullInt64 {
	if t.IsZero() {
		return sql.NullInt64{}
	}
	return sql.NullInt64{Int64: t.UnixMilli(), Valid: true}
}

// fromMS reads a time column; NULL is the zero time.
func fromMS(n sql.NullInt64) time.Time {
	if !n.Valid {
		return time.Time{}
	}
	return time.UnixMilli(n.Int64).UTC()
}
