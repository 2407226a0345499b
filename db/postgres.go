package db

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/jackc/pgx/v5/stdlib"
)

// openPostgres connects to the PostgreSQL database of dsn, a postgres://
// URL. A search_path parameter in the URL chooses the schema the tables
// live in (the tests give each a schema of its own).
//
// Queries go through database/sql (pgx's stdlib adapter on a pgxpool), the
// same code as SQLite's; what only PostgreSQL has (LISTEN, advisory locks)
// uses pgx directly.
func openPostgres(ctx context.Context, dsn string) (*DB, error) {
	cfg, err := pgxpool.ParseConfig(dsn)
	if err != nil {
		return nil, fmt.Errorf("postgres URL: %w", err)
	}
	if cfg.MaxConns < 8 {
		cfg.MaxConns = 8
	}
	// A connection that cannot answer in time is as good as none: the
	// server fails closed on its own bound (--max-staleness), not on TCP's.
	if cfg.ConnConfig.ConnectTimeout == 0 || cfg.ConnConfig.ConnectTimeout > 5*time.Second {
		cfg.ConnConfig.ConnectTimeout = 5 * time.Second
	}
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("connect to postgres: %w", err)
	}
	d := &DB{sql: stdlib.OpenDBFromPool(pool), kind: Postgres, pool: pool}
	d.feed = &pgFeed{d: d}
	if err := d.sql.QueryRowContext(ctx, `SELECT current_schema()`).Scan(&d.schema); err != nil {
		d.Close()
		return nil, fmt.Errorf("connect to postgres: %w", err)
	}
	// Channels are per database, schemas share them: name the schema.
	d.channel = "blnk_key_changes_" + d.schema
	return d, nil
}

// pgFeed listens for NOTIFYs of key changes on a connection of its own,
// and reconnects when it is lost. Every notification, and every
// reconnection (notifications may have been missed meanwhile), moves
// version and wakes the follower, which then reads the changes.
type pgFeed struct {
	d       *DB
	version atomic.Uint64

	mu     sync.Mutex // guards what start sets
	notify func()
	log    *slog.Logger
	cancel context.CancelFunc
	done   chan struct{}
}

// start listens until ctx ends or stop is called.
func (f *pgFeed) start(ctx context.Context, notify func(), log *slog.Logger) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.cancel != nil {
		panic("db: WatchChanges called twice")
	}
	ctx, f.cancel = context.WithCancel(ctx)
	f.notify, f.log, f.done = notify, log, make(chan struct{})
	go f.run(ctx)
}

func (f *pgFeed) run(ctx context.Context) {
	defer close(f.done)
	backoff := 50 * time.Millisecond
	for ctx.Err() == nil {
		err := f.listen(ctx)
		if ctx.Err() != nil {
			return
		}
		f.log.Warn("key change notifications lost; reconnecting", "err", err, "retry_in", backoff)
		select {
		case <-ctx.Done():
			return
		case <-time.After(backoff):
		}
		backoff = min(backoff*2, 2*time.Second)
	}
}

// listen holds one LISTEN connection until it fails or ctx ends.
func (f *pgFeed) listen(ctx context.Context) error {
	conn, err := pgx.ConnectConfig(ctx, f.d.pool.Config().ConnConfig.Copy())
	if err != nil {
		return err
	}
	defer conn.Close(context.WithoutCancel(ctx))
	if _, err := conn.Exec(ctx, "LISTEN "+pgx.Identifier{f.d.channel}.Sanitize()); err != nil {
		return err
	}
	// Listening now: whatever was committed before is read by the
	// follower's catch-up, which this wake-up starts.
	f.version.Add(1)
	f.notify()
	for {
		if _, err := conn.WaitForNotification(ctx); err != nil {
			return err
		}
		f.version.Add(1)
		f.notify()
	}
}

func (f *pgFeed) stop() {
	f.mu.Lock()
	cancel, done := f.cancel, f.done
	f.mu.Unlock()
	if cancel != nil {
		cancel()
		<-done
	}
}
