package keyauth_test

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"time"

	"github.com/blnk-cloud/apikeys/internal/keyauth"
)

// flaky is a real store that can be cut off, as when the database is
// unreachable: every read fails while down.
type flaky struct {
	keyauth.Store
	down atomic.Bool
}

var errDown = errors.New("database unreachable (test)")

func (f *flaky) KeyChangesSince(ctx context.Context, seq int64) ([]keyauth.Record, int64, error) {
	if f.down.Load() {
		return nil, seq, errDown
	}
	return f.Store.KeyChangesSince(ctx, seq)
}

// TestFailClosed: a view that cannot be confirmed with the database for
// longer than MaxStaleness is not trusted: checks answer ErrUnavailable
// (and do not count as the client's failures), and the server recovers by
// itself once the database answers again.
func TestFailClosed(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t)
	_, token := f.addKey(t, keySpec{})
	store := &flaky{Store: deaf{f.store}}
	const trust, maxStale = 50 * time.Millisecond, 300 * time.Millisecond
	a := newAuth(t, store, keyauth.Config{TrustFor: trust, MaxStaleness: maxStale})

	if _, err := a.Authenticate(ctx, token, "192.0.2.1"); err != nil {
		t.Fatalf("database up: %v", err)
	}
	store.down.Store(true)
	cut := time.Now()
	// Within MaxStaleness the view is still used (the database may be
	// back at the next read) ...
	time.Sleep(2 * trust)
	if _, err := a.Authenticate(ctx, token, "192.0.2.1"); err != nil {
		t.Fatalf("database down for %v, under MaxStaleness: %v, want the key accepted", time.Since(cut), err)
	}
	if a.Unavailable() {
		t.Error("Unavailable before MaxStaleness")
	}
	// ... past it, nothing is.
	waitFor(t, func() bool { return a.Staleness() > maxStale })
	for range 50 {
		if _, err := a.Authenticate(ctx, token, "192.0.2.1"); !errors.Is(err, keyauth.ErrUnavailable) {
			t.Fatalf("database down for %v: error = %v, want %v", time.Since(cut), err, keyauth.ErrUnavailable)
		}
	}
	if !a.Unavailable() {
		t.Error("Unavailable = false while failing closed")
	}
	// A malformed key is still just malformed.
	if _, err := a.Authenticate(ctx, "blnk_nope", "192.0.2.1"); !errors.Is(err, keyauth.ErrInvalid) {
		t.Errorf("malformed key while failing closed: %v, want %v", err, keyauth.ErrInvalid)
	}

	store.down.Store(false)
	waitFor(t, func() bool {
		_, err := a.Authenticate(ctx, token, "192.0.2.1")
		return err == nil
	})
	if a.Unavailable() {
		t.Error("Unavailable after recovering")
	}
}

// TestStaleViewRefreshes: a server that missed a revoke (stopped, or its
// notifications lost) and comes back with a view older than TrustFor
// reads the changes before it answers: it never lets the revoked key in.
func TestStaleViewRefreshes(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t)
	k, token := f.addKey(t, keySpec{})
	const trust = 100 * time.Millisecond
	b := newAuth(t, deaf{openStore(t, f.dsn)}, keyauth.Config{TrustFor: trust, PollEvery: time.Hour})
	if _, err := b.Authenticate(ctx, token, "192.0.2.1"); err != nil {
		t.Fatal(err)
	}
	f.revoke(t, f.store, k.ID) // B is told nothing
	// Within TrustFor, B answers from its view (a revoke waits TrustFor
	// at most for such a server, see internal/keys).
	time.Sleep(trust)
	if _, err := b.Authenticate(ctx, token, "192.0.2.1"); !errors.Is(err, keyauth.ErrRevoked) {
		t.Errorf("B with a view older than TrustFor: error = %v, want %v", err, keyauth.ErrRevoked)
	}
}
