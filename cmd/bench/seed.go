package main

import (
	"context"
	"fmt"
	"time"

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

// seed creates the database of dsn (a SQLite file or a PostgreSQL URL)
// with one workspace, its admin and n keys, and returns sample tokens of
// each kind. The schema comes from db.Open (the real migrations); the keys
// are written in bulk through db.ImportKeys (COPY on PostgreSQL, one
// transaction on SQLite), since creating 100,000 keys one by one through
// the store would take minutes and measure nothing of interest.
func seed(ctx context.Context, dsn string, n, sample int) (tokens, error) {
	return seedWith(ctx, dsn, n, sample, false)
}

// seedBulk is seed for millions of keys (-startup): the sample's keys
// are imported as seed imports them, and the others made in the database
// by db.GenerateKeys (set-based SQL, a million keys per transaction),
// whose tokens nobody holds: ten million keys imported one by one had
// not been stored after 28 minutes.
func seedBulk(ctx context.Context, dsn string, n, sample int) (tokens, error) {
	return seedWith(ctx, dsn, n, sample, true)
}

func seedWith(ctx context.Context, dsn string, n, sample int, bulk bool) (tokens, error) {
	if sample > n || sample < 1 {
		return tokens{}, fmt.Errorf("cannot sample %d of %d keys", sample, n)
	}
	now := time.Now()
	store, err := db.Open(ctx, dsn)
	if err != nil {
		return tokens{}, err
	}
	defer store.Close()
	pw, err := password.FastHasher.Hash(benchPassword)
	if err != nil {
		return tokens{}, err
	}
	ws, user, err := store.CreateWorkspaceAdmin(ctx, "Bench", benchEmail, pw, now)
	if err != nil {
		return tokens{}, fmt.Errorf("create workspace: %w", err)
	}

	var t tokens
	imported := n
	if bulk {
		imported = sample
		sets, err := scopeSets("mcp:read mcp:write", "*")
		if err != nil {
			return tokens{}, err
		}
		// As benchKeys makes them: two sets of scopes, a third expiring.
		made, err := store.GenerateKeys(ctx, db.SyntheticKeys{WorkspaceID: ws.ID, CreatedBy: user.ID, N: n - sample,
			Scopes: sets, Created: now.Add(-time.Duration(n) * time.Second), ExpiresAt: now.AddDate(10, 0, 0)})
		if err != nil {
			return tokens{}, fmt.Errorf("generate keys: %w", err)
		}
		if made != n-sample {
			return tokens{}, fmt.Errorf("generated %d keys, want %d", made, n-sample)
		}
	}
	next, err := benchKeys(imported, sample, now, ws.ID, user.ID, &t)
	if err != nil {
		return tokens{}, err
	}
	stored, err := store.ImportKeys(ctx, next)
	if err != nil {
		return tokens{}, fmt.Errorf("import keys: %w", err)
	}
	if stored != imported {
		return tokens{}, fmt.Errorf("imported %d keys, want %d", stored, imported)
	}
	if t.unknown, t.malformed, err = strangers(sample); err != nil {
		return tokens{}, err
	}
	return t, nil
}

// strangers returns n well-formed tokens that were never stored, and as
// many malformed ones: each unknown one with its checksum's last
// character changed.
func strangers(n int) (unknown, malformed []string, err error) {
	const base62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
	for range n {
		tok, err := apikey.Generate()
		if err != nil {
			return nil, nil, err
		}
		unknown = append(unknown, tok)
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
			return nil, nil, fmt.Errorf("corrupted token %q still parses", mal)
		}
		malformed = append(malformed, mal)
	}
	return unknown, malformed, nil
}

// benchKeys returns a function that makes the n keys to import one at
// a time, and false after the last; it keeps sample of them, spread over
// all, in t. Half the keys have two scopes, half all of them; a third
// expire in ten years.
func benchKeys(n, sample int, now time.Time, workspaceID, userID int64, t *tokens) (func() (db.KeyImport, bool, error), error) {
	scopeSets, err := scopeSets("mcp:read mcp:write", "*")
	if err != nil {
		return nil, err
	}
	farFuture := now.AddDate(10, 0, 0)
	every := n / sample
	return keyImports(n, workspaceID, userID, func(i int, tok string, k *apikey.Key) {
		k.Name = fmt.Sprintf("bench key %07d", i)
		k.Scopes = scopeSets[i%2]
		k.CreatedAt = now.Add(-time.Duration(n-i) * time.Second)
		if i%3 == 0 {
			k.ExpiresAt = farFuture
		}
		if i%every == 0 && len(t.valid) < sample {
			t.valid = append(t.valid, tok)
			t.validIDs = append(t.validIDs, k.ID)
		}
	}), nil
}

// keyImports returns a function that makes n keys to import one at a
// time, and false after the last: each with a new token (its prefix and
// hash), an ID, the workspace and its creator; describe(i, token, key)
// sets the rest of the i-th.
func keyImports(n int, workspaceID, userID int64, describe func(i int, tok string, k *apikey.Key)) func() (db.KeyImport, bool, error) {
	i := 0
	return func() (db.KeyImport, bool, error) {
		if i == n {
			return db.KeyImport{}, false, nil
		}
		tok, err := apikey.Generate()
		if err != nil {
			return db.KeyImport{}, false, err
		}
		prefix, err := apikey.Parse(tok)
		if err != nil {
			return db.KeyImport{}, false, fmt.Errorf("generated token does not parse: %w", err)
		}
		k := apikey.Key{ID: apikey.NewID(), WorkspaceID: workspaceID, Prefix: prefix}
		describe(i, tok, &k)
		imp := db.KeyImport{Key: k, Hash: apikey.HashOf(tok), CreatedBy: userID, CreateToken: fmt.Sprintf("bench-%d", i)}
		i++
		return imp, true, nil
	}
}

// scopeSets parses each of lists (scopes separated by spaces).
func scopeSets(lists ...string) ([]apikey.Set, error) {
	sets := make([]apikey.Set, len(lists))
	for i, l := range lists {
		set, err := apikey.ParseScopeList(l)
		if err != nil {
			return nil, err
		}
		sets[i] = set
	}
	return sets, nil
}
