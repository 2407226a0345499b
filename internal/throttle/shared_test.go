package throttle_test

import (
	"context"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/blnk-cloud/apikeys/db"
	"github.com/blnk-cloud/apikeys/internal/testkit"
	"github.com/blnk-cloud/apikeys/internal/throttle"
)

func openDB(t *testing.T, dsn string) *db.DB {
	t.Helper()
	d, err := db.Open(context.Background(), dsn)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { d.Close() })
	return d
}

// TestSharedAcrossServers: attempts arriving at once at two servers that
// share the database get no more than the allowance between them.
func TestSharedAcrossServers(t *testing.T) {
	ctx := context.Background()
	dsn := testkit.DSN(t)
	clk := testkit.NewClock(time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC))
	cfg := throttle.Config{Burst: 5, Every: 20 * time.Second}
	a := throttle.NewShared(cfg, openDB(t, dsn), clk.Now)
	b := throttle.NewShared(cfg, openDB(t, dsn), clk.Now)

	var allowed, refused atomic.Int64
	var wg sync.WaitGroup
	for i := range 40 {
		s := a
		if i%2 == 1 {
			s = b
		}
		wg.Go(func() {
			wait, err := s.Take(ctx, "email:ada@example.com")
			switch {
			case err != nil:
				t.Errorf("Take: %v", err)
			case wait == 0:
				allowed.Add(1)
			default:
				refused.Add(1)
			}
		})
	}
	wg.Wait()
	if got, want := allowed.Load(), int64(cfg.Burst); got != want {
		t.Errorf("attempts allowed across two servers: %d, want %d (the burst)", got, want)
	}
	if got := refused.Load(); got != 40-int64(cfg.Burst) {
		t.Errorf("refused: %d, want %d", got, 40-cfg.Burst)
	}

	// Another key is not affected; a refund gives one back, on the other
	// server too.
	if wait, err := b.Take(ctx, "email:bob@example.com"); err != nil || wait != 0 {
		t.Errorf("another key: wait %v, %v; want allowed", wait, err)
	}
	clk.Advance(cfg.Every) // one more attempt is due
	if wait, err := a.Take(ctx, "email:ada@example.com"); err != nil || wait != 0 {
		t.Fatalf("after Every: wait %v, %v; want allowed", wait, err)
	}
	if wait, _ := b.Take(ctx, "email:ada@example.com"); wait == 0 {
		t.Fatal("second attempt after Every allowed, want refused")
	}
	if err := a.Refund(ctx, "email:ada@example.com"); err != nil {
		t.Fatal(err)
	}
	// A third server, which has not seen the block, finds the refunded
	// attempt in the store (b remembers the block it saw until it is due).
	c := throttle.NewShared(cfg, openDB(t, dsn), clk.Now)
	if wait, err := c.Take(ctx, "email:ada@example.com"); err != nil || wait != 0 {
		t.Fatalf("after a refund: wait %v, %v; want allowed", wait, err)
	}
	if wait, _ := c.Take(ctx, "email:ada@example.com"); wait == 0 {
		t.Fatal("second attempt after one refund allowed, want refused")
	}
	if err := a.Reset(ctx, "email:ada@example.com"); err != nil {
		t.Fatal(err)
	}
	clk.Advance(cfg.Every)
	for i := range cfg.Burst {
		if wait, err := b.Take(ctx, "email:ada@example.com"); err != nil || wait != 0 {
			t.Fatalf("after Reset, attempt %d: wait %v, %v; want allowed", i+1, wait, err)
		}
	}

	// Nothing of the email is stored.
	var n int
	if err := openDB(t, dsn).SQL().QueryRow(`SELECT count(*) FROM login_throttle WHERE key LIKE '%example%'`).Scan(&n); err != nil {
		t.Fatal(err)
	}
	if n != 0 {
		t.Errorf("%d throttle rows hold an email, want 0 (keys are hashed)", n)
	}
	// Prune forgets buckets that refilled.
	clk.Advance(time.Duration(cfg.Burst) * cfg.Every * 2)
	if err := a.Prune(ctx); err != nil {
		t.Fatal(err)
	}
	if err := openDB(t, dsn).SQL().QueryRow(`SELECT count(*) FROM login_throttle`).Scan(&n); err != nil {
		t.Fatal(err)
	}
	if n != 0 {
		t.Errorf("%d throttle rows after Prune, want 0", n)
	}
}
