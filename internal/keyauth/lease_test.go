package keyauth_test

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/blnk-cloud/apikeys/internal/blnk"
	"github.com/blnk-cloud/apikeys/internal/keyauth"
)

// hanging is a real store whose reads of changes and heartbeats can be
// made to hang, as on a connection whose packets are dropped: the call
// returns only when its context ends (as pgx's does), and never if the
// context has no deadline.
type hanging struct {
	keyauth.Store
	hang      atomic.Bool
	calls     atomic.Int64
	undefined atomic.Int64 // calls made without a deadline
}

func (h *hanging) wait(ctx context.Context) error {
	h.calls.Add(1)
	if _, ok := ctx.Deadline(); !ok {
		h.undefined.Add(1)
	}
	<-ctx.Done()
	return ctx.Err()
}

func (h *hanging) KeyChangesSince(ctx context.Context, seq int64) ([]blnk.Record, int64, error) {
	if h.hang.Load() {
		return nil, seq, h.wait(ctx)
	}
	return h.Store.KeyChangesSince(ctx, seq)
}

func (h *hanging) Heartbeat(ctx context.Context, hb blnk.Heartbeat) (blnk.Lease, error) {
	if h.hang.Load() {
		return blnk.Lease{}, h.wait(ctx)
	}
	return h.Store.Heartbeat(ctx, hb)
}

// TestLeaseRunsOut: the view of the keys is used for MaxStaleness after
// the read of the last sync began, then checks fail closed (without
// counting against the client), at no cost to a check; a sync renews.
func TestLeaseRunsOut(t *testing.T) {
	f := newFixture(t)
	_, token := f.addKey(t, keySpec{})
	synctest.Test(t, func(t *testing.T) {
		ctx := context.Background()
		const lease = 3 * time.Second
		a := newAuth(t, deaf{f.store}, keyauth.Config{MaxStaleness: lease})

		if _, err := a.Authenticate(ctx, token, "192.0.2.1"); err != nil {
			t.Fatalf("fresh lease: %v", err)
		}
		time.Sleep(lease - time.Millisecond)
		if _, err := a.Authenticate(ctx, token, "192.0.2.1"); err != nil {
			t.Fatalf("%v into a lease of %v: %v, want the key accepted", lease-time.Millisecond, lease, err)
		}
		time.Sleep(time.Millisecond)
		for range 50 {
			if _, err := a.Authenticate(ctx, token, "192.0.2.1"); !errors.Is(err, keyauth.ErrUnavailable) {
				t.Fatalf("lease run out: error = %v, want %v", err, keyauth.ErrUnavailable)
			}
		}
		if !a.Unavailable() {
			t.Error("Unavailable = false with the lease run out")
		}
		// A malformed key is still just malformed.
		if _, err := a.Authenticate(ctx, "blnk_nope", "192.0.2.1"); !errors.Is(err, keyauth.ErrInvalid) {
			t.Errorf("malformed key while failing closed: %v, want %v", err, keyauth.ErrInvalid)
		}
		if n := testing.AllocsPerRun(100, func() { a.Authenticate(ctx, token, "192.0.2.1") }); n != 0 {
			t.Errorf("a check failing closed allocates %v times, want 0", n)
		}

		if err := a.Sync(ctx); err != nil {
			t.Fatal(err)
		}
		if _, err := a.Authenticate(ctx, token, "192.0.2.1"); err != nil {
			t.Fatalf("after a sync: %v, want the key accepted", err)
		}
		if a.Unavailable() {
			t.Error("Unavailable after a sync")
		}
	})
}

// TestHungDatabase: a database that stops answering without closing the
// connection never makes a check wait: every check answers at once, from
// memory while the lease lasts and ErrUnavailable after it; every call of
// a sync has a deadline, and the server recovers by itself once the
// database answers again.
func TestHungDatabase(t *testing.T) {
	f := newFixture(t)
	_, token := f.addKey(t, keySpec{})
	synctest.Test(t, func(t *testing.T) {
		ctx := context.Background()
		const lease, poll = 3 * time.Second, time.Second
		store := &hanging{Store: deaf{f.store}}
		a := newAuth(t, store, keyauth.Config{MaxStaleness: lease, PollEvery: poll})
		runCtx, cancel := context.WithCancel(ctx)
		var wg sync.WaitGroup
		wg.Go(func() { a.Run(runCtx) })
		defer func() { cancel(); wg.Wait() }()

		time.Sleep(poll / 2)
		store.hang.Store(true)
		cut := time.Now()
		var failedAt time.Duration
		for step := 0; time.Since(cut) < 3*lease; step++ {
			before := time.Now()
			_, err := a.Authenticate(ctx, token, "192.0.2.1")
			if waited := time.Since(before); waited != 0 {
				t.Fatalf("a check %v after the database hung waited %v, want 0", before.Sub(cut), waited)
			}
			switch {
			case err == nil && failedAt != 0:
				t.Fatalf("%v after the database hung: key accepted again after failing closed at %v", time.Since(cut), failedAt)
			case errors.Is(err, keyauth.ErrUnavailable) && failedAt == 0:
				failedAt = time.Since(cut)
			case err != nil && !errors.Is(err, keyauth.ErrUnavailable):
				t.Fatalf("%v after the database hung: %v", time.Since(cut), err)
			}
			time.Sleep(10 * time.Millisecond)
		}
		// The last renewal's read began at most a poll before the cut.
		if failedAt == 0 || failedAt > lease || failedAt < lease-poll {
			t.Errorf("failed closed %v after the database hung, want within (%v, %v]", failedAt, lease-poll, lease)
		}
		if store.calls.Load() < 3 {
			t.Errorf("%d database calls while hung for %v, want the sync to give up on each and try again", store.calls.Load(), 3*lease)
		}
		if n := store.undefined.Load(); n != 0 {
			t.Errorf("%d database calls without a deadline", n)
		}

		store.hang.Store(false)
		back := time.Now()
		for {
			if _, err := a.Authenticate(ctx, token, "192.0.2.1"); err == nil {
				break
			}
			if time.Since(back) > 2*poll {
				t.Fatalf("still failing closed %v after the database answers again", time.Since(back))
			}
			time.Sleep(10 * time.Millisecond)
		}
	})
}
