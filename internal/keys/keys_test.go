package keys_test

import (
	"context"
	"errors"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/blnk-cloud/apikeys/db"
	"github.com/blnk-cloud/apikeys/internal/apikey"
	"github.com/blnk-cloud/apikeys/internal/audit"
	"github.com/blnk-cloud/apikeys/internal/blnk"
	"github.com/blnk-cloud/apikeys/internal/keyauth"
	"github.com/blnk-cloud/apikeys/internal/keys"
	"github.com/blnk-cloud/apikeys/internal/testkit"
)

var user = audit.Actor{UserID: 0, Email: "admin@acme.io", Kind: audit.User, IP: "192.0.2.1"}

type fixture struct {
	dsn   string
	store *db.DB
	wsID  int64
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	dsn := testkit.DSN(t)
	store := open(t, dsn)
	ws, _, err := store.CreateWorkspaceAdmin(context.Background(), "Acme", "admin@acme.io", "x", time.Now())
	if err != nil {
		t.Fatal(err)
	}
	return &fixture{dsn: dsn, store: store, wsID: ws.ID}
}

func open(t *testing.T, dsn string) *db.DB {
	t.Helper()
	store, err := db.Open(context.Background(), dsn)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	return store
}

// server starts an Authenticator on its own connection to the database,
// as a server process would, following changes and sending heartbeats.
func (f *fixture) server(t *testing.T, id string) *keyauth.Authenticator {
	t.Helper()
	store := open(t, f.dsn)
	a, err := keyauth.New(context.Background(), keyauth.Config{PollEvery: 50 * time.Millisecond, ServerID: id, Address: "test:" + id},
		store, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Go(func() { a.Run(ctx) })
	t.Cleanup(func() { cancel(); wg.Wait() })
	// Running once its first heartbeat is in.
	deadline := time.Now().Add(10 * time.Second)
	for {
		servers, err := f.store.ServersSeenSince(context.Background(), time.Now().Add(-time.Minute))
		if err != nil {
			t.Fatal(err)
		}
		for _, s := range servers {
			if s.ID == id {
				return a
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("server %s sent no heartbeat", id)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// applied waits until a has applied every change made so far (it does
// so when the store announces them).
func (f *fixture) applied(t *testing.T, a *keyauth.Authenticator) {
	t.Helper()
	last, err := f.store.LastChange(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for a.Applied() < last {
		if time.Now().After(deadline) {
			t.Fatalf("change %d not applied within 10s (%d)", last, a.Applied())
		}
		time.Sleep(time.Millisecond)
	}
}

func (f *fixture) create(t *testing.T, svc *keys.Service, name string) keys.Created {
	t.Helper()
	c, err := svc.Create(context.Background(), user, keys.Spec{
		WorkspaceID: f.wsID, Workspace: "Acme", Name: name,
		Scopes: mustScopes(t, "mcp:read"), FormToken: apikey.NewID(),
	})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestRevokeWaitsForEveryLiveServer(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t)
	a, b := f.server(t, "a"), f.server(t, "b")
	svc := keys.New(keys.Config{RevokeWait: 2 * time.Second}, f.store, a, slog.New(slog.DiscardHandler))
	c := f.create(t, svc, "k1")

	r, err := svc.Revoke(ctx, user, f.wsID, c.Key.ID)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := r.Confirmation, (apikey.Confirmation{Confirmed: 2, Servers: 2}); got.Confirmed != want.Confirmed || got.Servers != want.Servers {
		t.Fatalf("confirmation = %+v, want 2 of 2", got)
	}
	if r.Confirmation.Took >= 500*time.Millisecond || r.Confirmation.Lapsed != 0 {
		t.Errorf("confirmation = %+v: waited with every server up", r.Confirmation)
	}
	// Every server refuses the key now, without waiting for anything.
	for name, auth := range map[string]*keyauth.Authenticator{"a": a, "b": b} {
		if _, err := auth.Authenticate(ctx, c.Token, "192.0.2.9"); !errors.Is(err, keyauth.ErrRevoked) {
			t.Errorf("server %s after the revoke answered: error = %v, want %v", name, err, keyauth.ErrRevoked)
		}
	}
	// What the panel shows is stored.
	k, err := f.store.Key(ctx, f.wsID, c.Key.ID)
	if err != nil {
		t.Fatal(err)
	}
	if k.RevokeConfirmation.Confirmed != 2 || k.RevokeConfirmation.Servers != 2 {
		t.Errorf("stored confirmation = %+v, want 2 of 2", k.RevokeConfirmation)
	}
	// Revoking again changes nothing and waits for nothing.
	again, err := svc.Revoke(ctx, user, f.wsID, c.Key.ID)
	if err != nil || again.Revoked {
		t.Errorf("second revoke = %+v, %v; want not revoked again", again, err)
	}
}

// stopped records the heartbeats of a server that then stops: it has
// applied the changes up to applied and holds a lease for lease from now.
func (f *fixture) stopped(t *testing.T, id string, applied int64, lease time.Duration) {
	t.Helper()
	hb := blnk.Heartbeat{ServerID: id, Address: "test:" + id, Started: time.Now(), At: time.Now(), Applied: applied}
	claim, err := f.store.Heartbeat(context.Background(), hb)
	if err != nil {
		t.Fatal(err)
	}
	hb.Held, hb.Renew = claim.Held, lease
	if l, err := f.store.Heartbeat(context.Background(), hb); err != nil || !l.Renewed {
		t.Fatalf("renew the lease of %s: %+v, %v", id, l, err)
	}
}

// TestRevokeWithAStoppedServer: a server that stopped (paused, or cut
// from the database) without applying the revocation is waited for until
// its lease runs out, then counted as no longer trusting its memory; one
// not heard from lately is not counted. Its lease can no longer be
// renewed from a view without the revocation.
func TestRevokeWithAStoppedServer(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t)
	a := f.server(t, "a")
	last, err := f.store.LastChange(ctx)
	if err != nil {
		t.Fatal(err)
	}
	const lease, wait = 800 * time.Millisecond, 3 * time.Second
	f.stopped(t, "stopped", last, lease)
	leased := time.Now()
	// And one not heard from for longer than MaxStaleness: not counted.
	if _, err := f.store.Heartbeat(ctx, blnk.Heartbeat{ServerID: "gone", Address: "test:gone", Started: time.Now().Add(-time.Hour), At: time.Now().Add(-time.Minute), Applied: 0}); err != nil {
		t.Fatal(err)
	}
	svc := keys.New(keys.Config{RevokeWait: wait, MaxStaleness: 10 * time.Second}, f.store, a, slog.New(slog.DiscardHandler))
	c := f.create(t, svc, "k2")
	r, err := svc.Revoke(ctx, user, f.wsID, c.Key.ID)
	if err != nil {
		t.Fatal(err)
	}
	answered := time.Since(leased)
	if got := r.Confirmation; got.Confirmed != 1 || got.Lapsed != 1 || got.Servers != 2 || !got.Complete() {
		t.Errorf("confirmation = %+v, want 1 of 2 confirmed, 1 lapsed (the gone server not counted), complete", got)
	}
	if answered < lease || answered > wait {
		t.Errorf("revoke answered %v after the stopped server's lease was renewed for %v, want after the lease and before RevokeWait (%v)", answered, lease, wait)
	}
	k, err := f.store.Key(ctx, f.wsID, c.Key.ID)
	if err != nil {
		t.Fatal(err)
	}
	if got := k.RevokeConfirmation; got.Confirmed != 1 || got.Lapsed != 1 || got.Servers != 2 {
		t.Errorf("stored confirmation = %+v, want 1 confirmed, 1 lapsed of 2", got)
	}
	// Both stopped servers were fenced: however they resume, their next
	// heartbeats renew nothing.
	for _, id := range []string{"stopped", "gone"} {
		servers, err := f.store.ServersSeenSince(ctx, time.Now().Add(-time.Hour))
		if err != nil {
			t.Fatal(err)
		}
		for _, sv := range servers {
			if sv.ID == id && sv.LeaseLeft > 0 {
				t.Errorf("%s's lease lasts %v after the revoke, want run out", id, sv.LeaseLeft)
			}
		}
	}
}

// TestRevokeWaitShorterThanALease: RevokeWait ends the wait, and the
// confirmation says it is not complete.
func TestRevokeWaitShorterThanALease(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t)
	a := f.server(t, "a")
	last, err := f.store.LastChange(ctx)
	if err != nil {
		t.Fatal(err)
	}
	f.stopped(t, "stopped", last, time.Minute)
	const wait = 300 * time.Millisecond
	svc := keys.New(keys.Config{RevokeWait: wait}, f.store, a, slog.New(slog.DiscardHandler))
	c := f.create(t, svc, "k2")
	start := time.Now()
	r, err := svc.Revoke(ctx, user, f.wsID, c.Key.ID)
	if err != nil {
		t.Fatal(err)
	}
	if took := time.Since(start); took < wait || took > wait+2*time.Second {
		t.Errorf("revoke answered after %v, want about RevokeWait (%v)", took, wait)
	}
	if got := r.Confirmation; got.Confirmed != 1 || got.Lapsed != 0 || got.Servers != 2 || got.Complete() {
		t.Errorf("confirmation = %+v, want 1 of 2, not complete", got)
	}
}

// TestRevokeFromTheCommandLine: a process without an index (the CLI)
// revokes, and the running servers confirm.
func TestRevokeFromTheCommandLine(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t)
	a := f.server(t, "a")
	svcA := keys.New(keys.Config{}, f.store, a, slog.New(slog.DiscardHandler))
	c := f.create(t, svcA, "k3")
	if _, err := a.Authenticate(ctx, c.Token, "192.0.2.9"); err != nil {
		t.Fatal(err)
	}
	cli := keys.New(keys.Config{RevokeWait: 5 * time.Second}, open(t, f.dsn), nil, slog.New(slog.DiscardHandler))
	r, err := cli.Revoke(ctx, audit.Actor{Kind: audit.CommandLine}, f.wsID, c.Key.ID)
	if err != nil {
		t.Fatal(err)
	}
	if !r.Confirmation.Complete() || r.Confirmation.Servers != 1 {
		t.Fatalf("confirmation = %+v, want 1 of 1", r.Confirmation)
	}
	if _, err := a.Authenticate(ctx, c.Token, "192.0.2.9"); !errors.Is(err, keyauth.ErrRevoked) {
		t.Errorf("server after the CLI's revoke: error = %v, want %v", err, keyauth.ErrRevoked)
	}
}

func TestCreateTwiceWithOneFormToken(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t)
	a := f.server(t, "a")
	svc := keys.New(keys.Config{}, f.store, a, slog.New(slog.DiscardHandler))
	spec := keys.Spec{WorkspaceID: f.wsID, Workspace: "Acme", Name: "once", Scopes: mustScopes(t, "*"), FormToken: apikey.NewID()}
	first, err := svc.Create(ctx, user, spec)
	if err != nil || first.Token == "" {
		t.Fatalf("first Create = %+v, %v", first, err)
	}
	second, err := svc.Create(ctx, user, spec)
	if err != nil {
		t.Fatal(err)
	}
	if second.Token != "" || second.Key.ID != first.Key.ID {
		t.Errorf("second Create = key %s with a token: %v; want the first key, no token", second.Key.ID, second.Token != "")
	}
	if _, err := a.Authenticate(ctx, first.Token, "192.0.2.9"); err != nil {
		t.Errorf("the created key: %v", err)
	}
}

func mustScopes(t *testing.T, names ...string) apikey.Set {
	t.Helper()
	s, err := apikey.ParseScopes(names)
	if err != nil {
		t.Fatal(err)
	}
	return s
}
