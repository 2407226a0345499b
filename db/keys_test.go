package db

import (
	"bytes"
	"context"
	"database/sql"
	"errors"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/blnk-cloud/apikeys/internal/apikey"
	"github.com/blnk-cloud/apikeys/internal/audit"
	"github.com/blnk-cloud/apikeys/internal/blnk"
)

// newKey returns a NewKey for a fresh token, ready for CreateKey, and the
// token.
func newKey(t testing.TB, workspaceID, userID int64, name string, createdAt time.Time) (blnk.NewKey, string) {
	t.Helper()
	token, err := apikey.Generate()
	if err != nil {
		t.Fatal(err)
	}
	prefix, err := apikey.Parse(token)
	if err != nil {
		t.Fatal(err)
	}
	return blnk.NewKey{
		Key: apikey.Key{
			ID:          apikey.NewID(),
			WorkspaceID: workspaceID,
			Name:        name,
			Prefix:      prefix,
			Scopes:      mustScopes(t, "mcp:read", "data:write"),
			CreatedAt:   createdAt,
		},
		Hash:        apikey.HashOf(token),
		CreatedBy:   userID,
		CreateToken: "form-" + apikey.NewID(),
	}, token
}

// createKey stores nk and fails the test unless it was created.
func createKey(t testing.TB, d *DB, nk blnk.NewKey) apikey.Key {
	t.Helper()
	k, created, err := d.CreateKey(context.Background(), nk)
	if err != nil {
		t.Fatalf("CreateKey(%q): %v", nk.Key.Name, err)
	}
	if !created {
		t.Fatalf("CreateKey(%q) created = false, want true", nk.Key.Name)
	}
	return k
}

func mustScopes(t testing.TB, names ...string) apikey.Set {
	t.Helper()
	s, err := apikey.ParseScopes(names)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestCreateKey(t *testing.T) {
	ctx := context.Background()
	d, _ := openTestDB(t)
	w, u := newWorkspace(t, d, "Acme", "admin@acme.io")

	tests := []struct {
		name    string
		scopes  apikey.Set
		expires time.Time
	}{
		{"never expires", mustScopes(t, "*"), time.Time{}},
		{"expires", mustScopes(t, "mcp:read", "mcp:write", "proxy:read"), testNow.AddDate(0, 0, 30).Truncate(24 * time.Hour)},
		{"every specific scope", mustScopes(t, "mcp:read", "mcp:write", "proxy:read", "proxy:write", "data:read", "data:write"), time.Time{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			nk, _ := newKey(t, w.ID, u.ID, tt.name, testNow)
			nk.Key.Scopes = tt.scopes
			nk.Key.ExpiresAt = tt.expires
			k := createKey(t, d, nk)

			for _, got := range []apikey.Key{k, mustKey(t, d, w.ID, k.ID)} {
				if got.ID != nk.Key.ID || got.WorkspaceID != w.ID || got.Name != tt.name || got.Prefix != nk.Key.Prefix {
					t.Errorf("key = %s/%d/%q/%s, want %s/%d/%q/%s", got.ID, got.WorkspaceID, got.Name, got.Prefix,
						nk.Key.ID, w.ID, tt.name, nk.Key.Prefix)
				}
				if got, want := got.Scopes, tt.scopes; got != want {
					t.Errorf("scopes = %v, want %v", got, want)
				}
				if got, want := got.ExpiresAt, tt.expires; !got.Equal(want) {
					t.Errorf("expires at = %v, want %v", got, want)
				}
				if got, want := got.CreatedAt, testNow.Truncate(time.Millisecond); !got.Equal(want) {
					t.Errorf("created at = %v, want %v", got, want)
				}
				if got, want := got.CreatedBy, "admin@acme.io"; got != want {
					t.Errorf("created by = %q, want %q", got, want)
				}
				if !got.RevokedAt.IsZero() || got.RevokedBy != "" || !got.LastUsedAt.IsZero() || got.LastUsedIP != "" {
					t.Errorf("new key revoked %v by %q, last used %v from %q; want all empty", got.RevokedAt, got.RevokedBy, got.LastUsedAt, got.LastUsedIP)
				}
			}

			var expires sql.NullInt64
			var hash []byte
			if err := d.sql.QueryRowContext(ctx, `SELECT expires_at, hash FROM api_keys WHERE id = $1`, k.ID).Scan(&expires, &hash); err != nil {
				t.Fatal(err)
			}
			if got, want := expires.Valid, !tt.expires.IsZero(); got != want {
				t.Errorf("expires_at is not NULL: %v, want %v", got, want)
			}
			if got, want := hash, nk.Hash[:]; !bytes.Equal(got, want) {
				t.Errorf("stored hash = %x, want %x", got, want)
			}
		})
	}
}

func mustKey(t testing.TB, d *DB, workspaceID int64, id string) apikey.Key {
	t.Helper()
	k, err := d.Key(context.Background(), workspaceID, id)
	if err != nil {
		t.Fatalf("Key(%d, %s): %v", workspaceID, id, err)
	}
	return k
}

func TestCreateKeyWithoutCreator(t *testing.T) {
	d, _ := openTestDB(t)
	w, _ := newWorkspace(t, d, "Acme", "admin@acme.io")
	nk, _ := newKey(t, w.ID, 0, "made by a script", testNow)
	k := createKey(t, d, nk)
	if got, want := k.CreatedBy, ""; got != want {
		t.Errorf("created by = %q, want %q (unknown)", got, want)
	}
}

func TestCreateKeyTwiceWithOneFormToken(t *testing.T) {
	ctx := context.Background()
	d, _ := openTestDB(t)
	w1, u1 := newWorkspace(t, d, "Acme", "admin@acme.io")
	w2, u2 := newWorkspace(t, d, "Other", "admin@other.io")

	first, _ := newKey(t, w1.ID, u1.ID, "first", testNow)
	k1 := createKey(t, d, first)
	changes := count(t, d, "api_key_changes")

	// The form is submitted again: a new token, the same form token.
	again, _ := newKey(t, w1.ID, u1.ID, "second", testNow.Add(time.Second))
	again.CreateToken = first.CreateToken
	k, created, err := d.CreateKey(ctx, again)
	if err != nil {
		t.Fatalf("CreateKey again: %v", err)
	}
	if created {
		t.Errorf("CreateKey again created = true, want false")
	}
	if got, want := k.ID, k1.ID; got != want {
		t.Errorf("CreateKey again returned key %s, want the first key %s", got, want)
	}
	if got, want := k.Name, "first"; got != want {
		t.Errorf("CreateKey again returned name %q, want %q", got, want)
	}
	if got, want := count(t, d, "api_keys"), 1; got != want {
		t.Errorf("api_keys rows = %d, want %d", got, want)
	}
	if got, want := count(t, d, "api_key_changes"), changes; got != want {
		t.Errorf("api_key_changes rows = %d, want %d (nothing changed)", got, want)
	}

	// The same form token in another workspace is another form.
	other, _ := newKey(t, w2.ID, u2.ID, "other workspace", testNow)
	other.CreateToken = first.CreateToken
	k2 := createKey(t, d, other)
	if got, want := k2.WorkspaceID, w2.ID; got != want {
		t.Errorf("key workspace = %d, want %d", got, want)
	}
	if got, want := count(t, d, "api_keys"), 2; got != want {
		t.Errorf("api_keys rows = %d, want %d", got, want)
	}
}

func TestTokenNeverStored(t *testing.T) {
	ctx := context.Background()
	d, path := openSQLiteDB(t) // its files can be read whole; PostgreSQL gets the same rows
	w, u := newWorkspace(t, d, "Acme", "admin@acme.io")
	var tokens []string
	for range 5 {
		nk, token := newKey(t, w.ID, u.ID, "key", testNow)
		createKey(t, d, nk)
		tokens = append(tokens, token)
	}
	// Look in the database as it is on disk, in the WAL, and after a
	// checkpoint moved the WAL into the main file.
	scan := func(when string) {
		t.Helper()
		var all []byte
		for _, f := range []string{path, path + "-wal", path + "-shm"} {
			b, err := os.ReadFile(f)
			if errors.Is(err, os.ErrNotExist) {
				continue
			}
			if err != nil {
				t.Fatal(err)
			}
			all = append(all, b...)
			for _, tok := range tokens {
				if bytes.Contains(b, []byte(tok)) {
					t.Errorf("%s: %s holds the plaintext token %s...", when, f, tok[:13])
				}
				// The secret part alone must not be there either.
				if bytes.Contains(b, []byte(tok[apikey.PrefixLen:])) {
					t.Errorf("%s: %s holds the secret of %s...", when, f, tok[:13])
				}
			}
		}
		// The control: the public prefix is stored, so a scan that reads
		// the rows at all finds it.
		for _, tok := range tokens {
			if !bytes.Contains(all, []byte(tok[:apikey.PrefixLen])) {
				t.Fatalf("%s: prefix %s not found in the database files: the scan sees no rows", when, tok[:apikey.PrefixLen])
			}
		}
	}
	scan("before checkpoint")
	if _, err := d.sql.ExecContext(ctx, `PRAGMA wal_checkpoint(TRUNCATE)`); err != nil {
		t.Fatal(err)
	}
	scan("after checkpoint")
}

func TestKeysNewestFirstPerWorkspace(t *testing.T) {
	ctx := context.Background()
	d, _ := openTestDB(t)
	w1, u1 := newWorkspace(t, d, "Acme", "admin@acme.io")
	w2, u2 := newWorkspace(t, d, "Other", "admin@other.io")

	var created []apikey.Key
	for i, at := range []time.Time{testNow, testNow.Add(time.Minute), testNow.Add(time.Minute), testNow.Add(time.Hour)} {
		nk, _ := newKey(t, w1.ID, u1.ID, "acme key", at)
		created = append(created, createKey(t, d, nk))
		if i == 1 {
			nk, _ := newKey(t, w2.ID, u2.ID, "other key", at)
			createKey(t, d, nk)
		}
	}

	tests := []struct {
		name        string
		workspaceID int64
		want        int
	}{
		{"acme", w1.ID, 4},
		{"other", w2.ID, 1},
		{"no such workspace", 999, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			keys, err := d.Keys(ctx, tt.workspaceID)
			if err != nil {
				t.Fatalf("Keys: %v", err)
			}
			if got, want := len(keys), tt.want; got != want {
				t.Fatalf("Keys returned %d keys, want %d", got, want)
			}
			for _, k := range keys {
				if got, want := k.WorkspaceID, tt.workspaceID; got != want {
					t.Errorf("key %s of workspace %d, want %d", k.ID, got, want)
				}
			}
		})
	}

	// Newest first; equal times by id, descending (an order every database
	// gives the same way, which keyset paging needs).
	slices.SortFunc(created, func(a, b apikey.Key) int {
		if c := b.CreatedAt.Compare(a.CreatedAt); c != 0 {
			return c
		}
		return strings.Compare(b.ID, a.ID)
	})
	var want []string
	for _, k := range created {
		want = append(want, k.ID)
	}
	keys, err := d.Keys(ctx, w1.ID)
	if err != nil {
		t.Fatal(err)
	}
	for i, k := range keys {
		if got, want := k.ID, want[i]; got != want {
			t.Errorf("Keys()[%d] = %s (created %v), want %s", i, got, k.CreatedAt, want)
		}
	}
}

func TestKeyOfAnotherWorkspace(t *testing.T) {
	ctx := context.Background()
	d, _ := openTestDB(t)
	w1, u1 := newWorkspace(t, d, "Acme", "admin@acme.io")
	w2, _ := newWorkspace(t, d, "Other", "admin@other.io")
	nk, _ := newKey(t, w1.ID, u1.ID, "acme key", testNow)
	k := createKey(t, d, nk)

	tests := []struct {
		name        string
		workspaceID int64
		id          string
		wantErr     error
	}{
		{"own", w1.ID, k.ID, nil},
		{"other workspace", w2.ID, k.ID, blnk.ErrNotFound},
		{"unknown id", w1.ID, apikey.NewID(), blnk.ErrNotFound},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := d.Key(ctx, tt.workspaceID, tt.id)
			if got, want := err, tt.wantErr; !errors.Is(got, want) {
				t.Errorf("Key error = %v, want %v", got, want)
			}
		})
	}
}

func TestMarkRevealed(t *testing.T) {
	ctx := context.Background()
	d, _ := openTestDB(t)
	w1, u1 := newWorkspace(t, d, "Acme", "admin@acme.io")
	w2, _ := newWorkspace(t, d, "Other", "admin@other.io")
	nk, _ := newKey(t, w1.ID, u1.ID, "acme key", testNow)
	k := createKey(t, d, nk)
	nk2, _ := newKey(t, w1.ID, u1.ID, "second key", testNow)
	k2 := createKey(t, d, nk2)

	steps := []struct {
		name        string
		workspaceID int64
		id          string
		want        bool
	}{
		{"other workspace first", w2.ID, k.ID, false},
		{"first", w1.ID, k.ID, true},
		{"second", w1.ID, k.ID, false},
		{"other workspace after", w2.ID, k.ID, false},
		{"unknown", w1.ID, apikey.NewID(), false},
		{"another key", w1.ID, k2.ID, true},
	}
	by := audit.Actor{UserID: u1.ID, Email: "admin@acme.io", Kind: audit.User, IP: "192.0.2.7"}
	for _, s := range steps {
		before := count(t, d, "audit_events")
		got, err := d.MarkRevealed(ctx, s.workspaceID, s.id, testNow, by)
		if err != nil {
			t.Fatalf("%s: MarkRevealed: %v", s.name, err)
		}
		if got != s.want {
			t.Errorf("%s: MarkRevealed = %v, want %v", s.name, got, s.want)
		}
		// key.revealed with the first reveal, and nothing otherwise.
		wantEvents := before
		if s.want {
			wantEvents++
		}
		if n := count(t, d, "audit_events"); n != wantEvents {
			t.Errorf("%s: audit events = %d, want %d", s.name, n, wantEvents)
		}
	}
	p, err := d.AuditEvents(ctx, blnk.AuditFilter{WorkspaceID: w1.ID, Action: audit.KeyRevealed}, 0, 0, 10)
	if err != nil {
		t.Fatal(err)
	}
	if len(p.Events) != 2 || p.Events[0].KeyID != k2.ID || p.Events[1].KeyID != k.ID {
		t.Fatalf("key.revealed events = %+v, want one for each key, newest first", p.Events)
	}
	if ev := p.Events[1]; ev.Actor.Name() != "admin@acme.io" || ev.Actor.IP != "192.0.2.7" || ev.KeyPrefix != k.Prefix {
		t.Errorf("key.revealed = %+v, want the actor, address and prefix", ev)
	}
}

func TestRevokeKey(t *testing.T) {
	ctx := context.Background()
	d, _ := openTestDB(t)
	w1, u1 := newWorkspace(t, d, "Acme", "admin@acme.io")
	w2, u2 := newWorkspace(t, d, "Other", "admin@other.io")
	nk, _ := newKey(t, w1.ID, u1.ID, "acme key", testNow)
	k := createKey(t, d, nk)
	changes := count(t, d, "api_key_changes")

	// Another workspace's admin cannot revoke it, and changes nothing.
	if _, err := d.RevokeKey(ctx, w2.ID, k.ID, audit.Actor{UserID: u2.ID, Kind: audit.User}, testNow); !errors.Is(err, blnk.ErrNotFound) {
		t.Errorf("RevokeKey from another workspace error = %v, want %v", err, blnk.ErrNotFound)
	}
	if got := mustKey(t, d, w1.ID, k.ID); !got.RevokedAt.IsZero() {
		t.Errorf("key revoked at %v by another workspace, want not revoked", got.RevokedAt)
	}
	if got, want := count(t, d, "api_key_changes"), changes; got != want {
		t.Errorf("api_key_changes = %d, want %d", got, want)
	}

	at := testNow.Add(time.Hour)
	rev, err := d.RevokeKey(ctx, w1.ID, k.ID, audit.Actor{UserID: u1.ID, Kind: audit.User}, at)
	if err != nil {
		t.Fatalf("RevokeKey: %v", err)
	}
	r := rev.Key
	if !rev.Revoked {
		t.Error("RevokeKey of an active key: revoked = false, want true")
	}
	if got, want := r.RevokedAt, at.Truncate(time.Millisecond); !got.Equal(want) {
		t.Errorf("revoked at = %v, want %v", got, want)
	}
	if got, want := r.RevokedBy, "admin@acme.io"; got != want {
		t.Errorf("revoked by = %q, want %q", got, want)
	}
	if got, want := r.Status(at), apikey.Revoked; got != want {
		t.Errorf("status = %q, want %q", got, want)
	}
	if got, want := count(t, d, "api_key_changes"), changes+1; got != want {
		t.Errorf("api_key_changes after revoke = %d, want %d", got, want)
	}
	if last, err := d.LastChange(ctx); err != nil || last != rev.Seq {
		t.Errorf("LastChange = %d, %v; want the revoke's change %d", last, err, rev.Seq)
	}

	// Again, later and by someone else (the command line): nothing changes.
	rev2, err := d.RevokeKey(ctx, w1.ID, k.ID, audit.Actor{Kind: audit.CommandLine}, at.Add(time.Hour))
	if err != nil {
		t.Fatalf("second RevokeKey: %v", err)
	}
	r2 := rev2.Key
	if rev2.Revoked {
		t.Error("second RevokeKey: revoked = true, want false")
	}
	if got, want := r2.RevokedAt, r.RevokedAt; !got.Equal(want) {
		t.Errorf("revoked at after second revoke = %v, want %v (unchanged)", got, want)
	}
	if got, want := r2.RevokedBy, "admin@acme.io"; got != want {
		t.Errorf("revoked by after second revoke = %q, want %q", got, want)
	}
	if got, want := count(t, d, "api_key_changes"), changes+1; got != want {
		t.Errorf("api_key_changes after second revoke = %d, want %d", got, want)
	}

	if _, err := d.RevokeKey(ctx, w1.ID, apikey.NewID(), audit.Actor{UserID: u1.ID, Kind: audit.User}, at); !errors.Is(err, blnk.ErrNotFound) {
		t.Errorf("RevokeKey(unknown) error = %v, want %v", err, blnk.ErrNotFound)
	}
}

func TestRevokeKeyFromCommandLine(t *testing.T) {
	d, _ := openTestDB(t)
	w, u := newWorkspace(t, d, "Acme", "admin@acme.io")
	nk, _ := newKey(t, w.ID, u.ID, "acme key", testNow)
	k := createKey(t, d, nk)
	rev, err := d.RevokeKey(context.Background(), w.ID, k.ID, audit.Actor{Kind: audit.CommandLine}, testNow)
	if err != nil {
		t.Fatalf("RevokeKey by user 0: %v", err)
	}
	r := rev.Key
	if r.RevokedAt.IsZero() || r.RevokedBy != "" {
		t.Errorf("revoked at %v by %q, want revoked by nobody", r.RevokedAt, r.RevokedBy)
	}
}

func TestFindKey(t *testing.T) {
	ctx := context.Background()
	d, _ := openTestDB(t)
	w1, u1 := newWorkspace(t, d, "Acme", "admin@acme.io")
	w2, u2 := newWorkspace(t, d, "Other", "admin@other.io")

	nk, _ := newKey(t, w1.ID, u1.ID, "unique", testNow)
	nk.Key.Prefix = "blnk_00000001"
	unique := createKey(t, d, nk)
	// Two keys, in two workspaces, that happen to share a display prefix.
	for _, w := range []struct{ ws, user int64 }{{w1.ID, u1.ID}, {w2.ID, u2.ID}} {
		nk, _ := newKey(t, w.ws, w.user, "shared", testNow)
		nk.Key.Prefix = "blnk_00000002"
		createKey(t, d, nk)
	}

	tests := []struct {
		name    string
		arg     string
		wantID  string
		wantErr error
	}{
		{"by id", unique.ID, unique.ID, nil},
		{"by prefix", "blnk_00000001", unique.ID, nil},
		{"shared prefix", "blnk_00000002", "", blnk.ErrAmbiguous},
		{"unknown prefix", "blnk_ffffffff", "", blnk.ErrNotFound},
		{"unknown id", apikey.NewID(), "", blnk.ErrNotFound},
		{"empty", "", "", blnk.ErrNotFound},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			k, err := d.FindKey(ctx, tt.arg)
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("FindKey(%q) error = %v, want %v", tt.arg, err, tt.wantErr)
			}
			if got, want := k.ID, tt.wantID; got != want {
				t.Errorf("FindKey(%q) = %q, want %q", tt.arg, got, want)
			}
		})
	}
}

// TestKeyChangesAreAudited: creating and revoking a key each write one
// audit event in their transaction; a revoke that changes nothing writes
// none.
func TestKeyChangesAreAudited(t *testing.T) {
	ctx := context.Background()
	d, _ := openTestDB(t)
	w, u := newWorkspace(t, d, "Acme", "admin@acme.io")
	nk, _ := newKey(t, w.ID, u.ID, "audited", testNow)
	nk.Actor = audit.Actor{UserID: u.ID, Email: "admin@acme.io", Kind: audit.User, IP: "192.0.2.1"}
	k := createKey(t, d, nk)
	if _, err := d.RevokeKey(ctx, w.ID, k.ID, audit.Actor{Kind: audit.CommandLine}, testNow); err != nil {
		t.Fatal(err)
	}
	if _, err := d.RevokeKey(ctx, w.ID, k.ID, audit.Actor{Kind: audit.CommandLine}, testNow); err != nil {
		t.Fatal(err)
	}
	rows, err := d.sql.QueryContext(ctx, `SELECT workspace_id, action, actor, actor_kind, ip, key_id, key_prefix FROM audit_events ORDER BY id`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	type row struct {
		ws                                   int64
		action, actor, kind, ip, key, prefix string
	}
	var got []row
	for rows.Next() {
		var r row
		if err := rows.Scan(&r.ws, &r.action, &r.actor, &r.kind, &r.ip, &r.key, &r.prefix); err != nil {
			t.Fatal(err)
		}
		got = append(got, r)
	}
	want := []row{
		{w.ID, "key.created", "admin@acme.io", "user", "192.0.2.1", k.ID, k.Prefix},
		{w.ID, "key.revoked", "command line", "command line", "", k.ID, k.Prefix},
	}
	if !slices.Equal(got, want) {
		t.Errorf("audit events = %+v, want %+v", got, want)
	}
}
