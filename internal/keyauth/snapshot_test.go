package keyauth_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/blnk-cloud/apikeys/db"
	"github.com/blnk-cloud/apikeys/internal/apikey"
	"github.com/blnk-cloud/apikeys/internal/keyauth"
)

// snapKeys stores keys of every kind the index holds differently: scopes,
// expiry, an allowlist, a revoked one. It returns their tokens.
func snapKeys(t *testing.T, f *fixture) (tokens []string, revoked string) {
	t.Helper()
	specs := []keySpec{
		{name: "plain"},
		{name: "reader", scopes: []string{"mcp:read", "data:read"}},
		{name: "expiring", expires: start.Add(time.Hour)},
		{name: "expired", expires: start.Add(-time.Hour)},
		{name: "allowlisted", allow: "192.0.2.0/24, 2001:db8::/32"},
		{name: "ünïcode ☃ name"},
	}
	for _, s := range specs {
		_, tok := f.addKey(t, s)
		tokens = append(tokens, tok)
	}
	k, tok := f.addKey(t, keySpec{name: "revoked"})
	f.revoke(t, f.store, k.ID)
	return append(tokens, tok), tok
}

// same checks that a and b answer alike for each token, from two
// addresses (one in the allowlist, one not).
func same(t *testing.T, a, b *keyauth.Authenticator, tokens []string) {
	t.Helper()
	ctx := context.Background()
	for _, tok := range tokens {
		for _, ip := range []string{"192.0.2.7", "198.51.100.1", "2001:db8::1"} {
			ida, erra := a.Authenticate(ctx, tok, ip)
			idb, errb := b.Authenticate(ctx, tok, ip)
			if ida != idb || !errors.Is(errb, erra) && erra != errb {
				t.Errorf("token %.12s… from %s: snapshot gives %+v, %v; database %+v, %v", tok, ip, idb, errb, ida, erra)
			}
		}
	}
}

func TestSnapshotRoundTrip(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t)
	clk := newClock(start)
	tokens, _ := snapKeys(t, f)
	path := filepath.Join(t.TempDir(), "keys.snap")

	full := newAuth(t, f.store, keyauth.Config{Now: clk.Now})
	if err := full.WriteSnapshot(ctx, path); err != nil {
		t.Fatalf("WriteSnapshot: %v", err)
	}
	b := newAuth(t, f.store, keyauth.Config{Now: clk.Now, SnapshotPath: path})
	if from, n := b.LoadedFrom(); from != "snapshot" || n != 0 {
		t.Fatalf("LoadedFrom = %s, %d; want snapshot, 0", from, n)
	}
	if b.Len() != full.Len() || b.Applied() != full.Applied() {
		t.Errorf("from the snapshot: %d keys, change %d; want %d, %d", b.Len(), b.Applied(), full.Len(), full.Applied())
	}
	same(t, full, b, append(tokens, unknownToken(t)))

	// A key created after the snapshot comes from the change log.
	_, tok := f.addKey(t, keySpec{name: "newer"})
	c := newAuth(t, f.store, keyauth.Config{Now: clk.Now, SnapshotPath: path})
	if from, n := c.LoadedFrom(); from != "snapshot" || n != 1 {
		t.Fatalf("after a new key: LoadedFrom = %s, %d; want snapshot, 1", from, n)
	}
	if _, err := c.Authenticate(ctx, tok, "192.0.2.1"); err != nil {
		t.Errorf("key created after the snapshot: %v", err)
	}

	// Run saves the snapshot as it stops: the next start reads it with
	// nothing changed since.
	runCtx, stop := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() { c.Run(runCtx); close(done) }()
	stop()
	<-done
	d := newAuth(t, f.store, keyauth.Config{Now: clk.Now, SnapshotPath: path})
	if from, n := d.LoadedFrom(); from != "snapshot" || n != 0 {
		t.Errorf("after Run stopped: LoadedFrom = %s, %d; want snapshot, 0", from, n)
	}
	same(t, full, d, tokens)
}

// A key revoked after the snapshot was written is refused by a server
// that starts from it.
func TestSnapshotRevokedAfterWriteRefused(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t)
	k, tok := f.addKey(t, keySpec{name: "leaked"})
	path := filepath.Join(t.TempDir(), "keys.snap")
	a := newAuth(t, f.store, keyauth.Config{})
	if _, err := a.Authenticate(ctx, tok, "192.0.2.1"); err != nil {
		t.Fatal(err)
	}
	if err := a.WriteSnapshot(ctx, path); err != nil {
		t.Fatal(err)
	}
	f.revoke(t, f.store, k.ID)
	b := newAuth(t, f.store, keyauth.Config{SnapshotPath: path})
	if from, _ := b.LoadedFrom(); from != "snapshot" {
		t.Fatalf("LoadedFrom = %s, want snapshot", from)
	}
	if _, err := b.Authenticate(ctx, tok, "192.0.2.1"); !errors.Is(err, keyauth.ErrRevoked) {
		t.Errorf("key revoked after the snapshot, started from it: %v, want ErrRevoked", err)
	}
}

// A snapshot that cannot be trusted is not used: every key is read, and
// the answers are those of the database.
func TestSnapshotRejected(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t)
	tokens, revoked := snapKeys(t, f)
	dir := t.TempDir()
	path := filepath.Join(dir, "keys.snap")
	a := newAuth(t, f.store, keyauth.Config{})
	if err := a.WriteSnapshot(ctx, path); err != nil {
		t.Fatal(err)
	}
	good, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	other := newFixture(t) // another database, with keys of its own
	otherTokens, _ := snapKeys(t, other)
	otherPath := filepath.Join(dir, "other.snap")
	if err := newAuth(t, other.store, keyauth.Config{}).WriteSnapshot(ctx, otherPath); err != nil {
		t.Fatal(err)
	}
	otherSnap, err := os.ReadFile(otherPath)
	if err != nil {
		t.Fatal(err)
	}

	flip := func(i int) []byte {
		b := append([]byte(nil), good...)
		b[i] ^= 0x40
		return b
	}
	cases := []struct {
		name string
		file []byte
	}{
		{"a byte changed in the entries", flip(len(good) / 2)},
		{"a byte changed in the header", flip(12)},
		{"the checksum changed", flip(len(good) - 1)},
		{"truncated", good[:len(good)-100]},
		{"empty", nil},
		{"longer", append(append([]byte(nil), good...), 0)},
		{"another database's", otherSnap},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			p := filepath.Join(t.TempDir(), "keys.snap")
			if err := os.WriteFile(p, c.file, 0o600); err != nil {
				t.Fatal(err)
			}
			b := newAuth(t, f.store, keyauth.Config{SnapshotPath: p})
			if from, _ := b.LoadedFrom(); from != "database" {
				t.Fatalf("LoadedFrom = %s, want database", from)
			}
			same(t, a, b, append(tokens, otherTokens...))
			if _, err := b.Authenticate(ctx, revoked, "192.0.2.1"); !errors.Is(err, keyauth.ErrRevoked) {
				t.Errorf("revoked key: %v", err)
			}
		})
	}

	// The change log no longer reaches back to the snapshot's change (a
	// database restored from an older copy, a log pruned): every key is
	// read, the keys revoked since included.
	k, tok := f.addKey(t, keySpec{name: "after"})
	f.revoke(t, f.store, k.ID)
	if _, err := f.store.SQL().ExecContext(ctx, `DELETE FROM api_key_changes WHERE seq <= $1`, a.Applied()); err != nil {
		t.Fatal(err)
	}
	b := newAuth(t, f.store, keyauth.Config{SnapshotPath: path})
	if from, _ := b.LoadedFrom(); from != "database" {
		t.Fatalf("log no longer reaching back: LoadedFrom = %s, want database", from)
	}
	same(t, a, b, tokens)
	if _, err := b.Authenticate(ctx, tok, "192.0.2.1"); !errors.Is(err, keyauth.ErrRevoked) {
		t.Errorf("key revoked after the snapshot: %v, want ErrRevoked", err)
	}

	// A key written without a change (which no change of the log brings):
	// the key count tells, and every key is read.
	c := newAuth(t, f.store, keyauth.Config{})
	if err := c.WriteSnapshot(ctx, path); err != nil {
		t.Fatal(err)
	}
	_, silent := f.addKey(t, keySpec{name: "silent"})
	if _, err := f.store.SQL().ExecContext(ctx, `DELETE FROM api_key_changes WHERE seq > $1`, c.Applied()); err != nil {
		t.Fatal(err)
	}
	d := newAuth(t, f.store, keyauth.Config{SnapshotPath: path})
	if from, _ := d.LoadedFrom(); from != "database" {
		t.Fatalf("a key without a change: LoadedFrom = %s, want database", from)
	}
	if _, err := d.Authenticate(ctx, silent, "192.0.2.1"); err != nil {
		t.Errorf("key stored without a change: %v", err)
	}
}

// Keys generated in the database in bulk (db.GenerateKeys, the bench's
// seed of ten million) load like any others, beside real ones, and their
// change log lets a snapshot's key count hold.
func TestGeneratedKeysLoad(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t)
	clk := newClock(start)
	const n = 10_000
	scopes, err := apikey.ParseScopes([]string{"mcp:read", "mcp:write"})
	if err != nil {
		t.Fatal(err)
	}
	got, err := f.store.GenerateKeys(ctx, db.SyntheticKeys{WorkspaceID: f.ws.ID, CreatedBy: f.user.ID, N: n, Scopes: []apikey.Set{scopes},
		Created: start.Add(-time.Hour), ExpiresAt: start.AddDate(1, 0, 0), Batch: 4000})
	if err != nil || got != n {
		t.Fatalf("GenerateKeys = %d, %v; want %d", got, err, n)
	}
	_, tok := f.addKey(t, keySpec{name: "real"})

	full := newAuth(t, f.store, keyauth.Config{Now: clk.Now})
	if from, _ := full.LoadedFrom(); from != "database" || full.Len() != n+1 {
		t.Fatalf("loaded %d keys from the %s; want %d from the database", full.Len(), from, n+1)
	}
	if _, err := full.Authenticate(ctx, tok, "192.0.2.1"); err != nil {
		t.Errorf("the real key: %v", err)
	}
	if _, err := full.Authenticate(ctx, unknownToken(t), "192.0.2.1"); err == nil {
		t.Errorf("an unknown key verified")
	}

	path := filepath.Join(t.TempDir(), "keys.snap")
	if err := full.WriteSnapshot(ctx, path); err != nil {
		t.Fatalf("WriteSnapshot: %v", err)
	}
	// Generated after the snapshot: read from the change log, and the
	// count agrees.
	if _, err := f.store.GenerateKeys(ctx, db.SyntheticKeys{WorkspaceID: f.ws.ID, N: 3, Scopes: []apikey.Set{scopes}, Created: start}); err != nil {
		t.Fatalf("GenerateKeys: %v", err)
	}
	b := newAuth(t, f.store, keyauth.Config{Now: clk.Now, SnapshotPath: path})
	if from, changed := b.LoadedFrom(); from != "snapshot" || changed != 3 || b.Len() != n+4 {
		t.Fatalf("LoadedFrom = %s, %d changed, %d keys; want snapshot, 3, %d", from, changed, b.Len(), n+4)
	}
	same(t, full, b, []string{tok})
}
