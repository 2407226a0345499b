package main

import (
	"context"
	"database/sql"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/blnk-cloud/apikeys/db"
	"github.com/blnk-cloud/apikeys/internal/apikey"
	"github.com/blnk-cloud/apikeys/internal/password"
)

// The seeded workspace's admin, who signs in to revoke keys (postgres.go).
const (
	benchEmail    = "bench@example.com"
	benchPassword = "bench password, only ever sent to loopback"
)

// tokens are the keys the load generator sends.
type tokens struct {
	valid     []string // stored in the database, spread over all its keys
	validIDs  []string // the id of each of valid, in the same order
	unknown   []string // well-formed, checksum right, never stored
	malformed []string // unknown ones with the checksum's last character changed
}

// seedColumns are the columns of api_keys the seed fills, in the order of
// the rows keyRows makes.
var seedColumns = []string{"id", "workspace_id", "name", "prefix", "hash", "scopes", "expires_at", "created_at", "created_by", "create_token"}

// seed creates the database of dsn (a SQLite file or a PostgreSQL URL)
// with one workspace, its admin and n keys, and returns sample tokens of
// each kind. The schema comes from db.Open (the real migrations); the keys
// are written in bulk (one transaction of prepared INSERTs on SQLite, COPY
// on PostgreSQL), since creating 100,000 keys one by one through the store
// would take minutes and measure nothing of interest.
func seed(ctx context.Context, dsn string, n, sample int) (tokens, error) {
	if sample > n {
		return tokens{}, fmt.Errorf("cannot sample %d of %d keys", sample, n)
	}
	now := time.Now()
	store, err := db.Open(ctx, dsn)
	if err != nil {
		return tokens{}, err
	}
	pw, err := password.FastHasher.Hash(benchPassword)
	if err != nil {
		store.Close()
		return tokens{}, err
	}
	ws, user, err := store.CreateWorkspaceAdmin(ctx, "Bench", benchEmail, pw, now)
	store.Close()
	if err != nil {
		return tokens{}, fmt.Errorf("create workspace: %w", err)
	}

	var t tokens
	rows, err := keyRows(n, sample, now, ws.ID, user.ID, &t)
	if err != nil {
		return tokens{}, err
	}
	if db.KindOf(dsn) == db.Postgres {
		err = copyKeys(ctx, dsn, rows)
	} else {
		err = insertKeys(ctx, dsn, rows)
	}
	if err != nil {
		return tokens{}, err
	}

	const base62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
	for range sample {
		tok, err := apikey.Generate()
		if err != nil {
			return tokens{}, err
		}
		t.unknown = append(t.unknown, tok)
		// Another base62 character in the checksum: the token still has the
		// right length and alphabet, so Parse does all its work (CRC-32
		// included) before refusing it.
		last := tok[len(tok)-1]
		bad := base62[0]
		if last == bad {
			bad = base62[1]
		}
		mal := tok[:len(tok)-1] + string(bad)
		if _, err := apikey.Parse(mal); err == nil {
			return tokens{}, fmt.Errorf("corrupted token %q still parses", mal)
		}
		t.malformed = append(t.malformed, mal)
	}
	return t, nil
}

// keyRows returns a function that makes the n keys one at a time, as
// values of seedColumns, and nil after the last; it keeps sample of them,
// spread over all, in t. Half the keys have two scopes, half all of them;
// a third expire in ten years.
func keyRows(n, sample int, now time.Time, workspaceID, userID int64, t *tokens) (func() ([]any, error), error) {
	scopeLists := make([]string, 2)
	for i, s := range []string{"mcp:read mcp:write", "*"} {
		set, err := apikey.ParseScopeList(s)
		if err != nil {
			return nil, err
		}
		scopeLists[i] = set.String()
	}
	farFuture := now.AddDate(10, 0, 0).UnixMilli()
	every := n / sample
	i := 0
	return func() ([]any, error) {
		if i == n {
			return nil, nil
		}
		tok, err := apikey.Generate()
		if err != nil {
			return nil, err
		}
		prefix, err := apikey.Parse(tok)
		if err != nil {
			return nil, fmt.Errorf("generated token does not parse: %w", err)
		}
		h := apikey.HashOf(tok)
		var expires any // NULL: never
		if i%3 == 0 {
			expires = farFuture
		}
		created := now.Add(-time.Duration(n-i) * time.Second).UnixMilli()
		id := apikey.NewID()
		if i%every == 0 && len(t.valid) < sample {
			t.valid = append(t.valid, tok)
			t.validIDs = append(t.validIDs, id)
		}
		row := []any{id, workspaceID, fmt.Sprintf("bench key %07d", i), prefix, h[:],
			scopeLists[i%2], expires, created, userID, fmt.Sprintf("bench-%d", i)}
		i++
		return row, nil
	}, nil
}

// insertKeys writes the rows to the SQLite file at path, in one
// transaction.
func insertKeys(ctx context.Context, path string, next func() ([]any, error)) error {
	// The file is thrown away after the run: no need to sync it.
	sqlDB, err := sql.Open("sqlite", "file:"+path+"?_pragma=busy_timeout(5000)&_pragma=foreign_keys(1)&_pragma=synchronous(OFF)&_txlock=immediate")
	if err != nil {
		return err
	}
	defer sqlDB.Close()
	tx, err := sqlDB.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	stmt, err := tx.PrepareContext(ctx, `INSERT INTO api_keys
		(id, workspace_id, name, prefix, hash, scopes, expires_at, created_at, created_by, create_token)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`)
	if err != nil {
		return err
	}
	defer stmt.Close()
	for n := 0; ; n++ {
		row, err := next()
		if err != nil {
			return err
		}
		if row == nil {
			break
		}
		if _, err := stmt.ExecContext(ctx, row...); err != nil {
			return fmt.Errorf("insert key %d: %w", n, err)
		}
	}
	return tx.Commit()
}

// copyKeys writes the rows to the PostgreSQL database of dsn with COPY,
// then vacuums and analyzes the table, as autovacuum would have done
// after such a load: the servers then start on a settled table, not one
// whose first reader sets the hint bits of a million fresh rows.
func copyKeys(ctx context.Context, dsn string, next func() ([]any, error)) error {
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		return err
	}
	defer conn.Close(context.WithoutCancel(ctx))
	if _, err := conn.CopyFrom(ctx, pgx.Identifier{"api_keys"}, seedColumns, pgx.CopyFromFunc(next)); err != nil {
		return fmt.Errorf("copy keys: %w", err)
	}
	if _, err := conn.Exec(ctx, "VACUUM (ANALYZE) api_keys"); err != nil {
		return fmt.Errorf("vacuum: %w", err)
	}
	return nil
}
