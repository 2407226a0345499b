// Package db stores the dashboard's data in SQLite (the embedded default,
// through the pure-Go driver modernc.org/sqlite) or in PostgreSQL (through
// pgx, for several servers sharing one database). It opens the database,
// applies the embedded migrations in order (written once, rendered for the
// dialect: see migrations/README.md), and holds every query, each next to
// the method that runs it.
//
// Queries are written once for both dialects: placeholders are $1, $2, ...
// (modernc's SQLite binds them by position), times are BIGINT Unix
// milliseconds, and where the two differ (schema, locking, notification)
// the dialect decides. Driver errors become the errors of this package
// (ErrNotFound, ...) here, at the boundary.
package db

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"
)

// errNoMigration: the binary was built without its migrations.
var errNoMigration = errors.New("db: no migrations found")

// Kind is a database engine.
type Kind string

// The engines the dashboard runs on.
const (
	SQLite   Kind = "sqlite"
	Postgres Kind = "postgres"
)

// KindOf tells which engine a --db value names: a postgres:// or
// postgresql:// URL is PostgreSQL, anything else a SQLite file path.
func KindOf(dsn string) Kind {
	if strings.HasPrefix(dsn, "postgres://") || strings.HasPrefix(dsn, "postgresql://") {
		return Postgres
	}
	return SQLite
}

// DB is the dashboard's database.
type DB struct {
	sql  *sql.DB
	kind Kind

	path   string        // SQLite: the database file, symbolic links resolved
	signal *changeSignal // SQLite: the shared-memory change counter; nil if it could not be mapped
	// SQLite: Close ends the watchers of the signal (closing) and waits
	// for them (watching) before it unmaps the signal, which a watcher
	// still reading would find gone (a fault that kills the process).
	closing     chan struct{}
	watching    sync.WaitGroup
	closeSignal sync.Once

	pool    *pgxpool.Pool // PostgreSQL
	schema  string        // PostgreSQL: the schema the tables live in
	channel string        // PostgreSQL: the LISTEN/NOTIFY channel of key changes
	feed    *pgFeed       // PostgreSQL: notifications of key changes, once Watch is called

	queued chan struct{} // this process queued webhook deliveries, see DeliveriesQueued
}

// Open opens the database named by dsn (a SQLite file path, created if
// needed, or a postgres:// URL) and brings its schema up to date.
func Open(ctx context.Context, dsn string) (*DB, error) {
	var d *DB
	var err error
	switch KindOf(dsn) {
	case Postgres:
		d, err = openPostgres(ctx, dsn)
	default:
		d, err = openSQLite(ctx, dsn)
	}
	if err != nil {
		return nil, err
	}
	d.queued = make(chan struct{}, 1)
	if err := d.migrate(ctx); err != nil {
		d.Close()
		return nil, err
	}
	return d, nil
}

// Close closes the database.
func (d *DB) Close() error {
	if d.feed != nil {
		d.feed.stop()
	}
	if d.signal != nil {
		d.closeSignal.Do(func() {
			close(d.closing)
			d.watching.Wait()
			d.signal.close()
		})
	}
	err := d.sql.Close()
	if d.pool != nil {
		d.pool.Close()
	}
	return err
}

// Kind returns the database's engine.
func (d *DB) Kind() Kind { return d.kind }

// Path returns the file a SQLite database lives in (links resolved), ""
// for PostgreSQL.
func (d *DB) Path() string { return d.path }

// Describe names the database for logs and messages without secrets: the
// SQLite file, or the PostgreSQL host, database and schema.
func (d *DB) Describe() string {
	if d.kind == SQLite {
		return d.path
	}
	cfg := d.pool.Config().ConnConfig
	return fmt.Sprintf("postgres://%s@%s:%d/%s (schema %s)", cfg.User, cfg.Host, cfg.Port, cfg.Database, d.schema)
}

// SQL returns the underlying connection pool, for tests and tools that
// inspect the database. The application's queries all live in this
// package.
func (d *DB) SQL() *sql.DB { return d.sql }

// Ping checks that the database answers a query.
func (d *DB) Ping(ctx context.Context) error {
	var one int
	return d.sql.QueryRowContext(ctx, `SELECT 1`).Scan(&one)
}

// migrate applies, in order and each in its own transaction, the embedded
// migrations (rendered for the dialect, see migrate.go) not yet recorded
// in schema_migrations. On PostgreSQL it holds an advisory lock
// meanwhile, so that servers starting together on a fresh database apply
// each migration once.
func (d *DB) migrate(ctx context.Context) error {
	conn, err := d.sql.Conn(ctx)
	if err != nil {
		return err
	}
	defer conn.Close()
	if d.kind == Postgres {
		if _, err := conn.ExecContext(ctx, `SELECT pg_advisory_lock(hashtext('blnk migrations ' || current_schema()))`); err != nil {
			return fmt.Errorf("lock migrations: %w", err)
		}
		defer conn.ExecContext(context.WithoutCancel(ctx), `SELECT pg_advisory_unlock(hashtext('blnk migrations ' || current_schema()))`)
	}
	// Created only when missing: even CREATE TABLE IF NOT EXISTS needs
	// the right to create tables on PostgreSQL, which a database user that
	// only reads and writes rows (migrated by another) does not have.
	exists := `SELECT COUNT(*) FROM sqlite_master WHERE type = 'table' AND name = 'schema_migrations'`
	if d.kind == Postgres {
		exists = `SELECT COUNT(*) FROM pg_tables WHERE schemaname = current_schema() AND tablename = 'schema_migrations'`
	}
	var n int
	if err := conn.QueryRowContext(ctx, exists).Scan(&n); err != nil {
		return fmt.Errorf("find schema_migrations: %w", err)
	}
	if n == 0 {
		if _, err := conn.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (
		version    INTEGER PRIMARY KEY,
		name       TEXT    NOT NULL,
		applied_at BIGINT  NOT NULL
	)`); err != nil {
			return fmt.Errorf("create schema_migrations: %w", err)
		}
	}
	list, err := migrationsFor(d.kind)
	if err != nil {
		return err
	}
	for _, m := range list {
		if err := d.apply(ctx, conn, m); err != nil {
			return fmt.Errorf("migration %s (%s): %w", m.name, d.kind, err)
		}
	}
	return nil
}

func (d *DB) apply(ctx context.Context, conn *sql.Conn, m migration) error {
	tx, err := conn.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	var done bool
	if err := tx.QueryRowContext(ctx, `SELECT EXISTS (SELECT 1 FROM schema_migrations WHERE version = $1)`, m.version).Scan(&done); err != nil {
		return err
	}
	if done {
		return nil
	}
	if _, err := tx.ExecContext(ctx, m.sql); err != nil {
		return err
	}
	if _, err := tx.ExecContext(ctx, `INSERT INTO schema_migrations (version, name, applied_at) VALUES ($1, $2, $3)`,
		m.version, m.name, ms(time.Now())); err != nil {
		return err
	}
	return tx.Commit()
}

// lock serialises the transactions that take the same named lock until
// they end. SQLite needs nothing: every write transaction takes the
// database's write lock at BEGIN (_txlock=immediate). PostgreSQL takes a
// transaction-scoped advisory lock, per schema.
func (d *DB) lock(ctx context.Context, tx *sql.Tx, name string) error {
	if d.kind != Postgres {
		return nil
	}
	_, err := tx.ExecContext(ctx, `SELECT pg_advisory_xact_lock(hashtext($1 || current_schema()))`, name)
	return err
}

// beginLocked begins a transaction and takes locks (see lock) in their
// order before anything else: transactions that take the same locks in
// the same order never wait for each other in opposite orders.
func (d *DB) beginLocked(ctx context.Context, locks ...string) (*sql.Tx, error) {
	tx, err := d.sql.BeginTx(ctx, nil)
	if err != nil {
		return nil, err
	}
	for _, name := range locks {
		if err := d.lock(ctx, tx, name); err != nil {
			tx.Rollback()
			return nil, err
		}
	}
	return tx, nil
}

// snapshot is the options of a read-only transaction whose queries all see
// one snapshot: SQLite's transactions always do; PostgreSQL's default
// (READ COMMITTED) takes a snapshot per statement.
func (d *DB) snapshot() *sql.TxOptions {
	if d.kind == Postgres {
		return &sql.TxOptions{ReadOnly: true, Isolation: sql.LevelRepeatableRead}
	}
	return &sql.TxOptions{ReadOnly: true}
}

// isUniqueViolation reports whether err is a UNIQUE constraint failure.
func isUniqueViolation(err error) bool {
	var se *sqlite.Error
	if errors.As(err, &se) {
		return se.Code() == sqlite3.SQLITE_CONSTRAINT_UNIQUE || se.Code() == sqlite3.SQLITE_CONSTRAINT_PRIMARYKEY
	}
	var pe *pgconn.PgError
	return errors.As(err, &pe) && pe.Code == "23505"
}

// ms turns a time into Unix milliseconds, the unit of every time column.
func ms(t time.Time) int64 { return t.UnixMilli() }

// nullID is an optional reference (a user, a workspace): 0 is NULL.
func nullID(id int64) sql.NullInt64 { return sql.NullInt64{Int64: id, Valid: id != 0} }

// nullString is an optional text: the empty string is NULL.
func nullString(s string) sql.NullString { return sql.NullString{String: s, Valid: s != ""} }

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

// storable reports whether text can be stored and compared by both
// databases: valid UTF-8 without NUL (PostgreSQL refuses both).
func storable(s string) bool {
	return utf8.ValidString(s) && !strings.ContainsRune(s, 0)
}
