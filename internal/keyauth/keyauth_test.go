package keyauth_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/blnk-cloud/apikeys/db"
	"github.com/blnk-cloud/apikeys/internal/apikey"
	"github.com/blnk-cloud/apikeys/internal/audit"
	"github.com/blnk-cloud/apikeys/internal/blnk"
	"github.com/blnk-cloud/apikeys/internal/keyauth"
	"github.com/blnk-cloud/apikeys/internal/testkit"
	"github.com/blnk-cloud/apikeys/internal/throttle"
)

// start is the instant the fake clocks of these tests start at.
var start = time.Date(2026, 3, 14, 15, 9, 26, 535_000_000, time.UTC)

// clock is a fake clock, safe for concurrent use.
type clock struct{ ns atomic.Int64 }

func newClock(t time.Time) *clock {
	c := &clock{}
	c.Set(t)
	return c
}

func (c *clock) Now() time.Time      { return time.Unix(0, c.ns.Load()).UTC() }
func (c *clock) Set(t time.Time)     { c.ns.Store(t.UnixNano()) }
func (c *clock) Add(d time.Duration) { c.ns.Add(int64(d)) }

// fixture is a fresh database (of the kind the tests run on, see
// testkit) with one workspace and its admin.
type fixture struct {
	dsn   string
	store *db.DB
	ws    blnk.Workspace
	user  blnk.User
}

func newFixture(t testing.TB) *fixture {
	t.Helper()
	dsn := testkit.DSN(t)
	store := openStore(t, dsn)
	ws, u, err := store.CreateWorkspaceAdmin(context.Background(), "Acme", "admin@acme.io", "pwhash", start)
	if err != nil {
		t.Fatalf("CreateWorkspaceAdmin: %v", err)
	}
	return &fixture{dsn: dsn, store: store, ws: ws, user: u}
}

// openStore opens the database of dsn, as another process would, and
// closes it at the end of the test.
func openStore(t testing.TB, dsn string) *db.DB {
	t.Helper()
	store, err := db.Open(context.Background(), dsn)
	if err != nil {
		t.Fatalf("db.Open: %v", err)
	}
	t.Cleanup(func() { store.Close() })
	return store
}

// keySpec describes a key for addKey; zero fields take defaults.
type keySpec struct {
	name    string
	scopes  []string  // default mcp:write
	expires time.Time // zero: never
	allow   string    // IP allowlist as typed; "": none
}

// newKey returns a NewKey for a fresh token in the fixture's workspace,
// and the token.
func (f *fixture) newKey(t testing.TB, s keySpec) (blnk.NewKey, string) {
	t.Helper()
	token, err := apikey.Generate()
	if err != nil {
		t.Fatal(err)
	}
	prefix, err := apikey.Parse(token)
	if err != nil {
		t.Fatal(err)
	}
	if s.name == "" {
		s.name = "test key"
	}
	if s.scopes == nil {
		s.scopes = []string{"mcp:write"}
	}
	scopes, err := apikey.ParseScopes(s.scopes)
	if err != nil {
		t.Fatal(err)
	}
	allow, err := apikey.ParseAllowlist(s.allow)
	if err != nil {
		t.Fatal(err)
	}
	return blnk.NewKey{
		Key: apikey.Key{
			ID:          apikey.NewID(),
			WorkspaceID: f.ws.ID,
			Name:        s.name,
			Prefix:      prefix,
			Scopes:      scopes,
			ExpiresAt:   s.expires,
			CreatedAt:   start,
			Allowlist:   allow,
		},
		Hash:        apikey.HashOf(token),
		CreatedBy:   f.user.ID,
		CreateToken: apikey.NewID(),
	}, token
}

// addKey stores a new key in the database only (no Authenticator is
// told), and returns it with its token.
func (f *fixture) addKey(t testing.TB, s keySpec) (apikey.Key, string) {
	t.Helper()
	nk, token := f.newKey(t, s)
	k, created, err := f.store.CreateKey(context.Background(), nk)
	if err != nil || !created {
		t.Fatalf("CreateKey = %v, %v; want created", created, err)
	}
	return k, token
}

// revoke revokes key id in the database only.
func (f *fixture) revoke(t testing.TB, store *db.DB, id string) apikey.Key {
	t.Helper()
	return f.revokeSeq(t, store, id).Key
}

// revokeSeq is revoke, returning the key change too.
func (f *fixture) revokeSeq(t testing.TB, store *db.DB, id string) blnk.Revocation {
	t.Helper()
	r, err := store.RevokeKey(context.Background(), f.ws.ID, id, audit.Actor{UserID: f.user.ID, Kind: audit.User}, time.Now())
	if err != nil {
		t.Fatalf("RevokeKey: %v", err)
	}
	return r
}

// deaf is a store whose changes are never announced: an Authenticator on
// it learns of changes made elsewhere only when told (Put, Revoked) or
// when it polls.
type deaf struct{ keyauth.Store }

func (deaf) ChangeVersion() uint64 { return 0 }

func (d deaf) WatchChanges(ctx context.Context, log *slog.Logger) <-chan struct{} {
	return make(chan struct{})
}

// newAuth returns an Authenticator of store, closed at the end of the
// test. Unless cfg says otherwise, failures are not rate limited, and
// nothing but Poll reads changes.
func newAuth(t testing.TB, store keyauth.Store, cfg keyauth.Config) *keyauth.Authenticator {
	t.Helper()
	if cfg.Failures == (throttle.Config{}) {
		cfg.Failures = throttle.Config{Burst: 1 << 30, Every: time.Nanosecond}
	}
	if cfg.PollEvery == 0 {
		cfg.PollEvery = time.Hour
	}
	if cfg.FlushEvery == 0 {
		cfg.FlushEvery = time.Hour
	}
	a, err := keyauth.New(context.Background(), cfg, store, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatalf("keyauth.New: %v", err)
	}
	t.Cleanup(func() { a.Close() })
	return a
}

// created tells a of a key made in the database, as the keys service
// does after a commit.
func created(a *keyauth.Authenticator, k apikey.Key, hash apikey.Hash, workspace string) {
	a.Put(blnk.Record{Hash: hash, Key: k, WorkspaceName: workspace})
}

// unknownToken returns a well-formed token, checksum included, that is
// not in any database.
func unknownToken(t testing.TB) string {
	t.Helper()
	token, err := apikey.Generate()
	if err != nil {
		t.Fatal(err)
	}
	return token
}

// badChecksum returns token with its last character changed.
func badChecksum(token string) string {
	last := byte('A')
	if token[len(token)-1] == last {
		last = 'B'
	}
	return token[:len(token)-1] + string(last)
}

func TestAuthenticate(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t)
	clk := newClock(start)
	expiresAt := start.Add(30 * 24 * time.Hour)

	valid, validToken := f.addKey(t, keySpec{name: "valid", scopes: []string{"mcp:write", "data:read"}, expires: expiresAt})
	_, revokedToken := f.addKey(t, keySpec{name: "revoked"})
	_, polledToken := f.addKey(t, keySpec{name: "revoked, then polled"})
	a := newAuth(t, deaf{f.store}, keyauth.Config{Now: clk.Now})

	revoked := f.revoke(t, f.store, mustID(t, a, revokedToken))
	a.Revoked(revoked.ID, revoked.RevokedAt)

	tests := []struct {
		name    string
		token   string
		now     time.Time
		wantErr error
	}{
		{"missing", "", start, keyauth.ErrMissing},
		{"garbage", "hello", start, keyauth.ErrInvalid},
		{"too short", validToken[:len(validToken)-1], start, keyauth.ErrInvalid},
		{"too long", validToken + "0", start, keyauth.ErrInvalid},
		{"bad checksum", badChecksum(validToken), start, keyauth.ErrInvalid},
		{"wrong literal", "blnx_" + validToken[5:], start, keyauth.ErrInvalid},
		{"upper case prefix", "BLNK_" + validToken[5:], start, keyauth.ErrInvalid},
		{"with spaces", " " + validToken + " ", start, keyauth.ErrInvalid},
		{"valid checksum, unknown", unknownToken(t), start, keyauth.ErrInvalid},
		{"valid", validToken, start, nil},
		{"valid 1ns before expiry", validToken, expiresAt.Add(-time.Nanosecond), nil},
		{"expired at the expiry instant", validToken, expiresAt, keyauth.ErrExpired},
		{"expired after", validToken, expiresAt.Add(time.Hour), keyauth.ErrExpired},
		{"revoked", revokedToken, start, keyauth.ErrRevoked},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			clk.Set(tt.now)
			id, err := a.Authenticate(ctx, tt.token, fmt.Sprintf("192.0.2.%d", i))
			if got, want := err, tt.wantErr; got != want { // exactly, not wrapped
				t.Fatalf("Authenticate error = %v, want %v", got, want)
			}
			if tt.wantErr != nil {
				if id != (keyauth.Identity{}) {
					t.Errorf("Authenticate refused the key but returned identity %+v", id)
				}
				return
			}
			want := keyauth.Identity{
				KeyID:       valid.ID,
				Name:        "valid",
				Prefix:      validToken[:apikey.PrefixLen],
				WorkspaceID: f.ws.ID,
				Workspace:   "Acme",
				Scopes:      valid.Scopes,
				CreatedAt:   start.Truncate(time.Millisecond),
				ExpiresAt:   expiresAt,
			}
			if !id.CreatedAt.Equal(want.CreatedAt) || !id.ExpiresAt.Equal(want.ExpiresAt) {
				t.Errorf("identity times = %v, %v; want %v, %v", id.CreatedAt, id.ExpiresAt, want.CreatedAt, want.ExpiresAt)
			}
			id.CreatedAt, id.ExpiresAt, want.CreatedAt, want.ExpiresAt = time.Time{}, time.Time{}, time.Time{}, time.Time{}
			if got := id; got != want {
				t.Errorf("identity = %+v, want %+v", got, want)
			}
		})
	}

	t.Run("revoked in the database, then polled", func(t *testing.T) {
		clk.Set(start)
		id := mustID(t, a, polledToken)
		f.revoke(t, f.store, id)
		// No announcement, no Revoked: only Poll tells this Authenticator.
		if _, err := a.Authenticate(ctx, polledToken, "192.0.2.200"); err != nil {
			t.Fatalf("before Poll: Authenticate error = %v, want nil (nothing told it yet)", err)
		}
		if err := a.Poll(ctx); err != nil {
			t.Fatalf("Poll: %v", err)
		}
		if _, err := a.Authenticate(ctx, polledToken, "192.0.2.200"); !errors.Is(err, keyauth.ErrRevoked) {
			t.Errorf("after Poll: Authenticate error = %v, want %v", err, keyauth.ErrRevoked)
		}
	})

	t.Run("created key", func(t *testing.T) {
		clk.Set(start)
		nk, token := f.newKey(t, keySpec{name: "created"})
		k, _, err := f.store.CreateKey(ctx, nk)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := a.Authenticate(ctx, token, "192.0.2.201"); !errors.Is(err, keyauth.ErrInvalid) {
			t.Fatalf("before Put: error = %v, want %v", err, keyauth.ErrInvalid)
		}
		n := a.Len()
		created(a, k, nk.Hash, "Acme")
		if got, want := a.Len(), n+1; got != want {
			t.Errorf("Len after Put = %d, want %d", got, want)
		}
		id, err := a.Authenticate(ctx, token, "192.0.2.201")
		if err != nil {
			t.Fatalf("after Put: error = %v, want nil", err)
		}
		if got, want := id.KeyID, k.ID; got != want {
			t.Errorf("key id = %s, want %s", got, want)
		}
	})
}

// mustID authenticates token and returns its key id.
func mustID(t testing.TB, a *keyauth.Authenticator, token string) string {
	t.Helper()
	id, err := a.Authenticate(context.Background(), token, "192.0.2.250")
	if err != nil {
		t.Fatalf("Authenticate(%s...): %v", token[:apikey.PrefixLen], err)
	}
	return id.KeyID
}

func TestNewLoadsKeys(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t)
	_, active := f.addKey(t, keySpec{})
	revoked, revokedToken := f.addKey(t, keySpec{})
	f.revoke(t, f.store, revoked.ID)

	// Loaded at start: the revocation comes from the database.
	a := newAuth(t, f.store, keyauth.Config{})
	if got, want := a.Len(), 2; got != want {
		t.Errorf("Len = %d, want %d", got, want)
	}
	if _, err := a.Authenticate(ctx, active, "192.0.2.1"); err != nil {
		t.Errorf("active key: %v", err)
	}
	if _, err := a.Authenticate(ctx, revokedToken, "192.0.2.1"); !errors.Is(err, keyauth.ErrRevoked) {
		t.Errorf("revoked key: error = %v, want %v", err, keyauth.ErrRevoked)
	}
}

func TestAuthorize(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t)
	a := newAuth(t, f.store, keyauth.Config{})
	tokens := map[string]string{}
	add := func(name string, scopes ...string) {
		nk, token := f.newKey(t, keySpec{name: name, scopes: scopes})
		k, _, err := f.store.CreateKey(ctx, nk)
		if err != nil {
			t.Fatal(err)
		}
		created(a, k, nk.Hash, f.ws.Name)
		tokens[name] = token
	}
	add("all", "*")
	add("mcp:write", "mcp:write")
	add("mcp:read", "mcp:read")
	add("data", "data:read", "proxy:write")

	tests := []struct {
		name    string
		key     string
		scope   apikey.Scope
		wantErr error
	}{
		{"write allows read", "mcp:write", apikey.MCPRead, nil},
		{"write allows write", "mcp:write", apikey.MCPWrite, nil},
		{"read allows read", "mcp:read", apikey.MCPRead, nil},
		{"read does not allow write", "mcp:read", apikey.MCPWrite, keyauth.ErrInsufficientScope},
		{"mcp does not allow data", "mcp:write", apikey.DataRead, keyauth.ErrInsufficientScope},
		{"proxy:write allows proxy:read", "data", apikey.ProxyRead, nil},
		{"data:read does not allow data:write", "data", apikey.DataWrite, keyauth.ErrInsufficientScope},
		{"all allows mcp:read", "all", apikey.MCPRead, nil},
		{"all allows mcp:write", "all", apikey.MCPWrite, nil},
		{"all allows proxy:read", "all", apikey.ProxyRead, nil},
		{"all allows proxy:write", "all", apikey.ProxyWrite, nil},
		{"all allows data:read", "all", apikey.DataRead, nil},
		{"all allows data:write", "all", apikey.DataWrite, nil},
		{"all allows all", "all", apikey.All, nil},
		{"write does not allow all", "mcp:write", apikey.All, keyauth.ErrInsufficientScope},
		{"unknown scope", "all", "mcp:admin", keyauth.ErrUnknownScope},
		{"empty scope", "all", "", keyauth.ErrUnknownScope},
		{"unknown scope before the key", "missing", "nope", keyauth.ErrUnknownScope},
		{"bad key before the scope", "missing", apikey.MCPRead, keyauth.ErrMissing},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			id, err := a.Authorize(ctx, tokens[tt.key], fmt.Sprintf("192.0.2.%d", i), tt.scope)
			if got, want := err, tt.wantErr; got != want {
				t.Fatalf("Authorize(%s, %q) error = %v, want %v", tt.key, tt.scope, got, want)
			}
			if err == nil && id.KeyID == "" {
				t.Errorf("Authorize succeeded without an identity")
			}
		})
	}
}

func TestRateLimit(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t)
	clk := newClock(start)
	_, valid := f.addKey(t, keySpec{})
	_, fresh := f.addKey(t, keySpec{})
	a := newAuth(t, f.store, keyauth.Config{Now: clk.Now, Failures: throttle.Config{Burst: 3, Every: time.Minute}})
	const limited, other = "203.0.113.1", "203.0.113.2"
	bad := unknownToken(t)

	// A client at the limited address has been using a key all along.
	if _, err := a.Authenticate(ctx, valid, limited); err != nil {
		t.Fatalf("valid key before the failures: %v", err)
	}
	// The first Burst failures get their real answer.
	for i := range 3 {
		if _, err := a.Authenticate(ctx, bad, limited); err != keyauth.ErrInvalid {
			t.Fatalf("failure %d: error = %v, want %v", i+1, err, keyauth.ErrInvalid)
		}
	}
	steps := []struct {
		name        string
		token, ip   string
		wantLimited bool
		wantErr     error // when not limited
	}{
		{"4th failure", bad, limited, true, nil},
		{"5th failure, malformed", "junk", limited, true, nil},
		{"missing key", "", limited, true, nil},
		{"other address", bad, other, false, keyauth.ErrInvalid},
		// Valid keys are never refused by the limiter, whether or not
		// they were used from this address before (a gateway's address
		// is every client's).
		{"valid key already used from the limited address", valid, limited, false, nil},
		{"valid key new to the limited address", fresh, limited, false, nil},
		{"failure after the valid key", bad, limited, true, nil},
	}
	for _, s := range steps {
		_, err := a.Authenticate(ctx, s.token, s.ip)
		var rl *keyauth.RateLimitedError
		if got, want := errors.As(err, &rl), s.wantLimited; got != want {
			t.Fatalf("%s: error = %v, rate limited %v, want %v", s.name, err, got, want)
		}
		if !s.wantLimited && err != s.wantErr {
			t.Errorf("%s: error = %v, want %v", s.name, err, s.wantErr)
		}
		if rl != nil {
			if rl.RetryAfter <= 0 || rl.RetryAfter > 2*time.Minute {
				t.Errorf("%s: RetryAfter = %v, want in (0, 2m]", s.name, rl.RetryAfter)
			}
			if got, want := keyauth.ProblemOf(err, "").Code, "rate_limited"; got != want {
				t.Errorf("%s: problem code = %q, want %q", s.name, got, want)
			}
		}
	}

	// Time heals.
	clk.Add(3 * time.Minute)
	if _, err := a.Authenticate(ctx, bad, limited); err != keyauth.ErrInvalid {
		t.Errorf("after waiting: error = %v, want %v", err, keyauth.ErrInvalid)
	}
}

// TestRevokeUnderLoad checks that once Revoked has returned, no request
// that starts afterwards gets in, while many requests are in flight.
func TestRevokeUnderLoad(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t)
	k, token := f.addKey(t, keySpec{})
	a := newAuth(t, f.store, keyauth.Config{})

	var (
		revokedDone atomic.Bool  // set right after Revoked returned
		stop        atomic.Bool  // the workers may stop
		before      atomic.Int64 // successful checks before the revocation
		after       atomic.Int64 // checks started after the revocation
		leaked      atomic.Int64 // ... that succeeded: must stay 0
	)
	const workers = 16
	var wg sync.WaitGroup
	for w := range workers {
		ip := fmt.Sprintf("198.51.100.%d", w)
		wg.Go(func() {
			for !stop.Load() {
				startedAfter := revokedDone.Load()
				_, err := a.Authenticate(ctx, token, ip)
				switch {
				case startedAfter:
					after.Add(1)
					if err == nil {
						leaked.Add(1)
					} else if !errors.Is(err, keyauth.ErrRevoked) {
						t.Errorf("after revoke: error = %v, want %v", err, keyauth.ErrRevoked)
						return
					}
				case err == nil:
					before.Add(1)
				case !errors.Is(err, keyauth.ErrRevoked):
					t.Errorf("error = %v, want nil or %v", err, keyauth.ErrRevoked)
					return
				}
			}
		})
	}
	waitFor(t, func() bool { return before.Load() >= 10_000 })

	r := f.revoke(t, f.store, k.ID) // committed ...
	a.Revoked(r.ID, r.RevokedAt)    // ... then the index, before answering
	revokedDone.Store(true)

	waitFor(t, func() bool { return after.Load() >= 50_000 })
	stop.Store(true)
	wg.Wait()
	if got := leaked.Load(); got != 0 {
		t.Errorf("%d of %d checks started after Revoked returned let the key in, want 0", got, after.Load())
	}
	t.Logf("%d successful checks before the revocation, %d refused after", before.Load(), after.Load())
}

// waitFor waits, without sleeping a fixed time, until cond holds.
func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("condition not met within 30s")
		}
		time.Sleep(100 * time.Microsecond)
	}
}

// TestCrossProcess runs two Authenticators, as two server processes would,
// on one database. The store's announcement (the shared change signal on
// SQLite, NOTIFY on PostgreSQL) wakes the other, which applies the change
// within milliseconds (a revoke waits for that, see internal/keys).
func TestCrossProcess(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t)
	storeA, storeB := openStore(t, f.dsn), openStore(t, f.dsn)
	a := newAuth(t, storeA, keyauth.Config{PollEvery: time.Hour})
	b := newAuth(t, storeB, keyauth.Config{PollEvery: time.Hour})
	runCtx, cancel := context.WithCancel(ctx)
	var wg sync.WaitGroup
	wg.Go(func() { a.Run(runCtx) })
	wg.Go(func() { b.Run(runCtx) })
	t.Cleanup(func() { cancel(); wg.Wait() })
	const ip = "192.0.2.7"

	// applied waits until auth has applied change seq: checks never read
	// the database, Run applies what the store announces.
	applied := func(t *testing.T, auth *keyauth.Authenticator, seq int64) {
		t.Helper()
		waitFor(t, func() bool { return auth.Applied() >= seq })
	}

	t.Run("revoked in A", func(t *testing.T) {
		k, token := f.addKey(t, keySpec{})
		seq, err := storeA.LastChange(ctx)
		if err != nil {
			t.Fatal(err)
		}
		applied(t, b, seq)
		if _, err := b.Authenticate(ctx, token, ip); err != nil {
			t.Fatalf("B before revoke: %v", err)
		}
		r := f.revokeSeq(t, storeA, k.ID)
		a.Revoked(r.Key.ID, r.Key.RevokedAt)
		if err := a.Sync(ctx); err != nil { // as the keys service does after its commit
			t.Fatal(err)
		}
		applied(t, b, r.Seq)
		if _, err := b.Authenticate(ctx, token, ip); !errors.Is(err, keyauth.ErrRevoked) {
			t.Errorf("B after A revoked: error = %v, want %v", err, keyauth.ErrRevoked)
		}
		if _, err := a.Authenticate(ctx, token, ip); !errors.Is(err, keyauth.ErrRevoked) {
			t.Errorf("A after A revoked: error = %v, want %v", err, keyauth.ErrRevoked)
		}
	})

	t.Run("created in A", func(t *testing.T) {
		nk, token := f.newKey(t, keySpec{name: "from A"})
		k, _, err := storeA.CreateKey(ctx, nk)
		if err != nil {
			t.Fatal(err)
		}
		created(a, k, nk.Hash, f.ws.Name)
		seq, err := storeA.LastChange(ctx)
		if err != nil {
			t.Fatal(err)
		}
		applied(t, b, seq)
		id, err := b.Authenticate(ctx, token, ip)
		if err != nil {
			t.Fatalf("B after A created: error = %v, want nil", err)
		}
		if got, want := id.Name, "from A"; got != want {
			t.Errorf("B's identity name = %q, want %q", got, want)
		}
		if got, want := id.Workspace, "Acme"; got != want {
			t.Errorf("B's identity workspace = %q, want %q", got, want)
		}
	})

	t.Run("revoked by another process", func(t *testing.T) {
		k, token := f.addKey(t, keySpec{})
		seq, _ := f.store.LastChange(ctx)
		applied(t, b, seq)
		if _, err := b.Authenticate(ctx, token, ip); err != nil {
			t.Fatalf("B before revoke: %v", err)
		}
		cli := openStore(t, f.dsn)
		r := f.revokeSeq(t, cli, k.ID)
		for name, auth := range map[string]*keyauth.Authenticator{"A": a, "B": b} {
			applied(t, auth, r.Seq)
			if _, err := auth.Authenticate(ctx, token, ip); !errors.Is(err, keyauth.ErrRevoked) {
				t.Errorf("%s after another process revoked: error = %v, want %v", name, err, keyauth.ErrRevoked)
			}
		}
	})

	// A process's own change must not hide a change another process made
	// just before, which it has not read yet.
	t.Run("own change after another's", func(t *testing.T) {
		k1, token1 := f.addKey(t, keySpec{})
		k2, token2 := f.addKey(t, keySpec{})
		seq, _ := f.store.LastChange(ctx)
		applied(t, b, seq)
		for _, tok := range []string{token1, token2} {
			if _, err := b.Authenticate(ctx, tok, ip); err != nil {
				t.Fatalf("B before revoke: %v", err)
			}
		}
		r := f.revokeSeq(t, storeA, k1.ID) // A revokes k1 ...
		a.Revoked(r.Key.ID, r.Key.RevokedAt)
		if err := a.Sync(ctx); err != nil {
			t.Fatal(err)
		}
		r2 := f.revokeSeq(t, storeB, k2.ID) // ... and B revokes k2 before its next check
		b.Revoked(r2.Key.ID, r2.Key.RevokedAt)
		applied(t, b, r.Seq)
		for _, tok := range []string{token1, token2} {
			if _, err := b.Authenticate(ctx, tok, ip); !errors.Is(err, keyauth.ErrRevoked) {
				t.Errorf("B: key %s... error = %v, want %v", tok[:apikey.PrefixLen], err, keyauth.ErrRevoked)
			}
		}
	})

	t.Run("not announced: only the poll", func(t *testing.T) {
		c := newAuth(t, deaf{openStore(t, f.dsn)}, keyauth.Config{PollEvery: time.Hour})
		k, token := f.addKey(t, keySpec{})
		if _, err := c.Authenticate(ctx, token, ip); !errors.Is(err, keyauth.ErrInvalid) {
			t.Errorf("C before Poll, created key: error = %v, want %v", err, keyauth.ErrInvalid)
		}
		if err := c.Poll(ctx); err != nil {
			t.Fatal(err)
		}
		if _, err := c.Authenticate(ctx, token, ip); err != nil {
			t.Fatalf("C after Poll, created key: %v", err)
		}
		f.revoke(t, storeA, k.ID)
		if _, err := c.Authenticate(ctx, token, ip); err != nil {
			t.Errorf("C before Poll, revoked key: error = %v, want nil (not told yet)", err)
		}
		if err := c.Poll(ctx); err != nil {
			t.Fatal(err)
		}
		if _, err := c.Authenticate(ctx, token, ip); !errors.Is(err, keyauth.ErrRevoked) {
			t.Errorf("C after Poll, revoked key: error = %v, want %v", err, keyauth.ErrRevoked)
		}
	})
}

func TestLastUsed(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t)
	clk := newClock(start)
	k, token := f.addKey(t, keySpec{})
	a := newAuth(t, f.store, keyauth.Config{Now: clk.Now})
	const ip = "198.51.100.7"

	if _, _, ok := a.LastUsed(k.ID); ok {
		t.Errorf("LastUsed of an unused key: ok = true, want false")
	}
	if _, _, ok := a.LastUsed(apikey.NewID()); ok {
		t.Errorf("LastUsed of an unknown key: ok = true, want false")
	}
	if _, err := a.Authenticate(ctx, token, ip); err != nil {
		t.Fatal(err)
	}
	at, gotIP, ok := a.LastUsed(k.ID)
	if !ok || !at.Equal(start.Truncate(time.Millisecond)) || gotIP != ip {
		t.Errorf("LastUsed = %v, %q, %v; want %v, %q, true", at, gotIP, ok, start.Truncate(time.Millisecond), ip)
	}
	if got := dbLastUsed(t, f, k.ID); !got.at.IsZero() {
		t.Errorf("database last used before Flush = %v, want none (no write per request)", got.at)
	}

	if err := a.Flush(ctx); err != nil {
		t.Fatalf("Flush: %v", err)
	}
	if got, want := dbLastUsed(t, f, k.ID), (usage{start.Truncate(time.Millisecond), ip}); !got.equal(want) {
		t.Errorf("database last used after Flush = %v, want %v", got, want)
	}

	// Make the stored value older behind the Authenticator's back: a
	// second Flush with no new use must not write it again.
	raw := f.store.SQL()
	if _, err := raw.ExecContext(ctx, `INSERT INTO api_key_usage (key_id, at, ip) VALUES ($1, 1000, 'marker') ON CONFLICT (key_id) DO UPDATE SET at = 1000, ip = 'marker'`, k.ID); err != nil {
		t.Fatal(err)
	}
	if err := a.Flush(ctx); err != nil {
		t.Fatalf("second Flush: %v", err)
	}
	if got, want := dbLastUsed(t, f, k.ID), (usage{time.UnixMilli(1000).UTC(), "marker"}); !got.equal(want) {
		t.Errorf("database last used after a Flush with no new use = %v, want %v (untouched)", got, want)
	}

	// A new use is written by the next Flush.
	clk.Add(time.Minute)
	if _, err := a.Authenticate(ctx, token, ip); err != nil {
		t.Fatal(err)
	}
	if err := a.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	if got, want := dbLastUsed(t, f, k.ID), (usage{start.Add(time.Minute).Truncate(time.Millisecond), ip}); !got.equal(want) {
		t.Errorf("database last used after a new use = %v, want %v", got, want)
	}

	// A new Authenticator knows only the uses it saw: the last use is in
	// the database, which the pages read (and add LastUsed to), and no
	// key's use takes memory before its first call (issue 21).
	b := newAuth(t, f.store, keyauth.Config{Now: clk.Now})
	if at, gotIP, ok := b.LastUsed(k.ID); ok {
		t.Errorf("LastUsed after reload = %v, %q, true; want none (the database has it)", at, gotIP)
	}
	clk.Add(time.Second)
	if _, err := b.Authenticate(ctx, token, ip); err != nil {
		t.Fatal(err)
	}
	if at, gotIP, ok := b.LastUsed(k.ID); !ok || !at.Equal(clk.Now().Truncate(time.Millisecond)) || gotIP != ip {
		t.Errorf("LastUsed after a use since reload = %v, %q, %v; want %v, %q, true", at, gotIP, ok, clk.Now(), ip)
	}
}

type usage struct {
	at time.Time
	ip string
}

func (u usage) equal(v usage) bool { return u.at.Equal(v.at) && u.ip == v.ip }

func (u usage) String() string { return fmt.Sprintf("%v from %q", u.at, u.ip) }

func dbLastUsed(t testing.TB, f *fixture, id string) usage {
	t.Helper()
	k, err := f.store.Key(context.Background(), f.ws.ID, id)
	if err != nil {
		t.Fatalf("Key: %v", err)
	}
	return usage{k.LastUsedAt, k.LastUsedIP}
}

// TestLastUsedThrottle checks touch: a key used again within a second from
// the same address keeps its recorded time, so busy keys do not write
// their cache line on every request; a new address is always recorded.
func TestLastUsedThrottle(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t)
	clk := newClock(start)
	k, token := f.addKey(t, keySpec{})
	a := newAuth(t, f.store, keyauth.Config{Now: clk.Now})
	const ipA, ipB = "192.0.2.1", "192.0.2.2"

	steps := []struct {
		name   string
		at     time.Duration // after start
		ip     string
		wantAt time.Duration
		wantIP string
	}{
		{"first use", 0, ipA, 0, ipA},
		{"same address, same second", 500 * time.Millisecond, ipA, 0, ipA},
		{"same address, 999ms later", 999 * time.Millisecond, ipA, 0, ipA},
		{"other address, same second", 600 * time.Millisecond, ipB, 600 * time.Millisecond, ipB},
		{"that address, 900ms later", 1500 * time.Millisecond, ipB, 600 * time.Millisecond, ipB},
		{"that address, 1s later", 1600 * time.Millisecond, ipB, 1600 * time.Millisecond, ipB},
		{"first address again", 1700 * time.Millisecond, ipA, 1700 * time.Millisecond, ipA},
	}
	for _, s := range steps {
		clk.Set(start.Add(s.at))
		if _, err := a.Authenticate(ctx, token, s.ip); err != nil {
			t.Fatalf("%s: %v", s.name, err)
		}
		at, ip, _ := a.LastUsed(k.ID)
		got, want := usage{at, ip}, usage{start.Add(s.wantAt).Truncate(time.Millisecond), s.wantIP}
		if !got.equal(want) {
			t.Errorf("%s: LastUsed = %v, want %v", s.name, got, want)
		}
	}
	if err := a.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	if got, want := dbLastUsed(t, f, k.ID), (usage{start.Add(1700 * time.Millisecond).Truncate(time.Millisecond), ipA}); !got.equal(want) {
		t.Errorf("database last used = %v, want %v", got, want)
	}
}

func TestRunFlushesAtShutdown(t *testing.T) {
	f := newFixture(t)
	k, token := f.addKey(t, keySpec{})
	a := newAuth(t, f.store, keyauth.Config{FlushEvery: time.Hour, PollEvery: time.Hour})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		a.Run(ctx)
	}()

	if _, err := a.Authenticate(ctx, token, "192.0.2.9"); err != nil {
		t.Fatal(err)
	}
	if got := dbLastUsed(t, f, k.ID); !got.at.IsZero() {
		t.Errorf("database last used before shutdown = %v, want none", got)
	}
	cancel()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("Run did not return after its context ended")
	}
	if got := dbLastUsed(t, f, k.ID); got.at.IsZero() || got.ip != "192.0.2.9" {
		t.Errorf("database last used after shutdown = %v, want a use from 192.0.2.9", got)
	}
}

func TestRunPollsAndFlushes(t *testing.T) {
	f := newFixture(t)
	k, token := f.addKey(t, keySpec{})
	a := newAuth(t, deaf{f.store}, keyauth.Config{FlushEvery: 5 * time.Millisecond, PollEvery: 5 * time.Millisecond})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	t.Cleanup(func() { cancel(); <-done })
	go func() {
		defer close(done)
		a.Run(ctx)
	}()

	if _, err := a.Authenticate(ctx, token, "192.0.2.9"); err != nil {
		t.Fatal(err)
	}
	waitFor(t, func() bool { return !dbLastUsed(t, f, k.ID).at.IsZero() })

	f.revoke(t, f.store, k.ID) // no Revoked, no announcement: the poll finds it
	waitFor(t, func() bool {
		_, err := a.Authenticate(ctx, token, "192.0.2.9")
		return errors.Is(err, keyauth.ErrRevoked)
	})
}
