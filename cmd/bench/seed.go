package main

import (
	"context"
	"database/sql"
	"fmt"
	"time"

	"github.com/blnk-cloud/apikeys/db"
	"github.com/blnk-cloud/apikeys/internal/account"
	"github.com/blnk-cloud/apikeys/internal/apikey"
)

// tokens are the keys the load generator sends.
type tokens struct {
	valid     []string // stored in the database, spread over all its keys
	unknown   []string // well-formed, checksum right, never stored
	malformed []string // unknown ones with the checksum's last character changed
}

// seed creates the database at path with one workspace, its admin and n
// keys, and returns sample tokens of each kind. The schema comes from
// db.Open (the real migrations); the keys are inserted in one
// transaction with database/sql, since creating 100,000 keys one by one
// through the store would take minutes and measure nothing of interest.
func seed(ctx context.Context, path string, n, sample int) (tokens, error) {
	if sample > n {
		return tokens{}, fmt.Errorf("cannot sample %d of %d keys", sample, n)
	}
	now := time.Now()
	store, err := db.Open(ctx, path)
	if err != nil {
		return tokens{}, err
	}
	pw, err := account.FastHasher.Hash("bench password, never used to sign in")
	if err != nil {
		store.Close()
		return tokens{}, err
	}
	ws, user, err := store.CreateWorkspaceAdmin(ctx, "Bench", "bench@example.com", pw, now)
	store.Close()
	if err != nil {
		return tokens{}, fmt.Errorf("create workspace: %w", err)
	}

	// The file is thrown away after the run: no need to sync it.
	sqlDB, err := sql.Open("sqlite", "file:"+path+"?_pragma=busy_timeout(5000)&_pragma=foreign_keys(1)&_pragma=synchronous(OFF)&_txlock=immediate")
	if err != nil {
		return tokens{}, err
	}
	defer sqlDB.Close()
	tx, err := sqlDB.BeginTx(ctx, nil)
	if err != nil {
		return tokens{}, err
	}
	defer tx.Rollback()
	stmt, err := tx.PrepareContext(ctx, `INSERT INTO api_keys
		(id, workspace_id, name, prefix, hash, scopes, expires_at, created_at, created_by, create_token)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`)
	if err != nil {
		return tokens{}, err
	}
	defer stmt.Close()

	scopeLists := make([]string, 2)
	for i, s := range []string{"mcp:read mcp:write", "*"} {
		set, err := apikey.ParseScopeList(s)
		if err != nil {
			return tokens{}, err
		}
		scopeLists[i] = set.String()
	}
	farFuture := now.AddDate(10, 0, 0).UnixMilli()
	every := n / sample
	var t tokens
	for i := range n {
		tok, err := apikey.Generate()
		if err != nil {
			return tokens{}, err
		}
		prefix, err := apikey.Parse(tok)
		if err != nil {
			return tokens{}, fmt.Errorf("generated token does not parse: %w", err)
		}
		h := apikey.HashOf(tok)
		var expires sql.NullInt64
		if i%3 == 0 {
			expires = sql.NullInt64{Int64: farFuture, Valid: true}
		}
		created := now.Add(-time.Duration(n-i) * time.Second).UnixMilli()
		if _, err := stmt.ExecContext(ctx, apikey.NewID(), ws.ID, fmt.Sprintf("bench key %06d", i), prefix, h[:],
			scopeLists[i%2], expires, created, user.ID, fmt.Sprintf("bench-%d", i)); err != nil {
			return tokens{}, fmt.Errorf("insert key %d: %w", i, err)
		}
		if i%every == 0 && len(t.valid) < sample {
			t.valid = append(t.valid, tok)
		}
	}
	if err := tx.Commit(); err != nil {
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
