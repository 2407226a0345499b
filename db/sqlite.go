package db

import (
	"context"
	"database/sql"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"time"

	_ "modernc.org/sqlite" // registers the "sqlite" driver
)

// openSQLite opens (creating if needed) the SQLite database at path.
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
//
// The path's symbolic links are resolved: processes that reach one
// database through different paths must share its change signal.
func openSQLite(ctx context.Context, path string) (*DB, error) {
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
	real, err := filepath.EvalSymlinks(path)
	if err != nil {
		return nil, fmt.Errorf("resolve %s: %w", path, err)
	}
	if real, err = filepath.Abs(real); err != nil {
		return nil, err
	}
	q := url.Values{}
	for _, p := range []string{"journal_mode(WAL)", "synchronous(NORMAL)", "busy_timeout(5000)", "foreign_keys(1)"} {
		q.Add("_pragma", p)
	}
	q.Set("_txlock", "immediate")
	sqlDB, err := sql.Open("sqlite", "file:"+real+"?"+q.Encode())
	if err != nil {
		return nil, fmt.Errorf("open %s: %w", path, err)
	}
	// Enough connections for concurrent readers; writers queue on SQLite's
	// lock (busy_timeout), not on the pool.
	sqlDB.SetMaxOpenConns(8)
	sqlDB.SetMaxIdleConns(8)
	sqlDB.SetConnMaxIdleTime(5 * time.Minute)
	d := &DB{sql: sqlDB, kind: SQLite, path: real}
	// Processes sharing this file tell each other of key changes through
	// a counter in shared memory next to it (see signal_unix.go). Without
	// it, only their polls follow each other's changes.
	if sig, err := openSignal(SignalPath(real)); err == nil {
		d.signal, d.closing = sig, make(chan struct{})
	}
	return d, nil
}

// SignalPath returns the file of the change signal of the SQLite database
// at the real (resolved) path dbPath.
func SignalPath(dbPath string) string { return dbPath + "-keysignal" }
