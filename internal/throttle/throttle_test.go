package throttle

import (
	"context"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/blnk-cloud/apikeys/internal/testkit"
)

// newLimiter returns a Limiter on a fake clock.
func newLimiter(t testing.TB, cfg Config) (*Limiter, *testkit.Clock) {
	t.Helper()
	c := testkit.NewClock(time.Date(2026, 3, 14, 12, 0, 0, 0, time.UTC))
	return New(cfg, c.Now), c
}

// failN records n failures of key, checking that each returns what Wait
// then reports, and returns the last wait.
func failN(t *testing.T, l *Limiter, key string, n int) time.Duration {
	t.Helper()
	var wait time.Duration
	for range n {
		wait = l.Fail(key)
		if got := l.Wait(key); got != wait {
			t.Fatalf("Wait(%q) = %v right after Fail returned %v", key, got, wait)
		}
	}
	return wait
}

func TestBurst(t *testing.T) {
	tests := []struct {
		name string
		cfg  Config
	}{
		{"one", Config{Burst: 1, Every: time.Second}},
		{"login", Config{Burst: 5, Every: 20 * time.Second}},
		{"login by IP", Config{Burst: 20, Every: 5 * time.Second}},
		{"API keys", Config{Burst: 20, Every: 500 * time.Millisecond}},
		{"odd duration", Config{Burst: 3, Every: 7*time.Second + 3*time.Millisecond}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			l, _ := newLimiter(t, tt.cfg)
			const key = "ada@example.com"
			if got := l.Wait(key); got != 0 {
				t.Fatalf("Wait before any failure = %v, want 0", got)
			}
			for i := 1; i < tt.cfg.Burst; i++ {
				if got := l.Fail(key); got != 0 {
					t.Fatalf("Fail #%d = %v, want 0 (burst %d)", i, got, tt.cfg.Burst)
				}
				if got := l.Wait(key); got != 0 {
					t.Fatalf("Wait after %d failures = %v, want 0", i, got)
				}
			}
			if got, want := l.Fail(key), tt.cfg.Every; got != want {
				t.Errorf("Fail #%d = %v, want %v", tt.cfg.Burst, got, want)
			}
			if got, want := l.Wait(key), tt.cfg.Every; got != want {
				t.Errorf("Wait after the burst = %v, want %v", got, want)
			}
		})
	}
}

func TestRefill(t *testing.T) {
	cfg := Config{Burst: 3, Every: 8 * time.Second} // powers of two keep float math exact
	l, c := newLimiter(t, cfg)
	const key = "203.0.113.7"
	if got := failN(t, l, key, 3); got != 8*time.Second {
		t.Fatalf("wait after the burst = %v, want 8s", got)
	}

	steps := []struct {
		name    string
		advance time.Duration
		want    time.Duration
	}{
		{"a quarter of the way", 2 * time.Second, 6 * time.Second},
		{"half way", 2 * time.Second, 4 * time.Second},
		{"one nanosecond short", 4*time.Second - time.Nanosecond, time.Nanosecond},
		{"exactly Every", time.Nanosecond, 0},
	}
	for _, s := range steps {
		c.Advance(s.advance)
		if got := l.Wait(key); got != s.want {
			t.Errorf("%s: Wait = %v, want %v", s.name, got, s.want)
		}
	}

	// One failure was earned back: one more, then wait again.
	if got := l.Fail(key); got != 8*time.Second {
		t.Errorf("Fail after refilling one = %v, want 8s", got)
	}

	// After Burst*Every the whole burst is back, and no more.
	c.Advance(time.Hour)
	if got := failN(t, l, key, 2); got != 0 {
		t.Errorf("wait after 2 failures once recovered = %v, want 0", got)
	}
	if got := l.Fail(key); got != 8*time.Second {
		t.Errorf("third failure once recovered = %v, want 8s", got)
	}
}

// TestWaitIsEnough checks that a client that waits exactly as long as told
// may then try, whatever the rounding of the durations.
func TestWaitIsEnough(t *testing.T) {
	everies := []time.Duration{
		time.Second, 20 * time.Second, 500 * time.Millisecond, time.Minute,
		7*time.Second + 3*time.Millisecond, 3 * time.Nanosecond, 24 * time.Hour,
	}
	for _, every := range everies {
		t.Run(every.String(), func(t *testing.T) {
			l, c := newLimiter(t, Config{Burst: 2, Every: every})
			const key = "k"
			for i := range 50 {
				wait := l.Fail(key)
				// Come back early by a third of the wait, then on time.
				c.Advance(wait / 3)
				if wait > 2 && l.Wait(key) == 0 {
					t.Fatalf("round %d: Wait = 0 a third of the way through %v", i, wait)
				}
				c.Advance(wait - wait/3)
				if got := l.Wait(key); got != 0 {
					t.Fatalf("round %d: Wait = %v after waiting the %v Fail returned, want 0", i, got, wait)
				}
			}
		})
	}
}

func TestFailWhileWaiting(t *testing.T) {
	cfg := Config{Burst: 2, Every: 10 * time.Second}
	l, _ := newLimiter(t, cfg)
	const key = "k"
	failN(t, l, key, 2)
	// A client that ignores the wait goes one failure into debt, no more:
	// hammering must not lock it out for longer than two intervals.
	for i := range 100 {
		if got, want := l.Fail(key), 2*cfg.Every; got != want {
			t.Fatalf("Fail #%d while waiting = %v, want %v", i+3, got, want)
		}
	}
}

func TestReset(t *testing.T) {
	cfg := Config{Burst: 3, Every: time.Minute}
	l, _ := newLimiter(t, cfg)
	failN(t, l, "a", 5)
	failN(t, l, "b", 5)
	if l.Wait("a") == 0 {
		t.Fatal("Wait(a) = 0 after 5 failures")
	}
	l.Reset(context.Background(), "a")
	if got := l.Wait("a"); got != 0 {
		t.Errorf("Wait(a) after Reset = %v, want 0", got)
	}
	if got := l.Len(); got != 1 {
		t.Errorf("Len after Reset = %d, want 1", got)
	}
	if l.Wait("b") == 0 {
		t.Error("Reset(a) also reset b")
	}
	if got := failN(t, l, "a", 2); got != 0 {
		t.Errorf("wait after 2 failures following Reset = %v, want a full burst", got)
	}
	l.Reset(context.Background(), "never seen") // must not panic or add an entry
	if got := l.Len(); got != 2 {
		t.Errorf("Len = %d, want 2", got)
	}
}

func TestIndependentKeys(t *testing.T) {
	l, _ := newLimiter(t, Config{Burst: 2, Every: time.Minute})
	failN(t, l, "ada@example.com", 10)
	tests := []struct {
		name string
		key  string
	}{
		{"other email", "grace@example.com"},
		{"case differs", "ADA@example.com"},
		{"prefix", "ada@example.co"},
		{"empty", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := l.Wait(tt.key); got != 0 {
				t.Errorf("Wait(%q) = %v, want 0", tt.key, got)
			}
			if got := l.Fail(tt.key); got != 0 {
				t.Errorf("first Fail(%q) = %v, want 0", tt.key, got)
			}
		})
	}
	if l.Wait("ada@example.com") == 0 {
		t.Error("the throttled key recovered through other keys' failures")
	}
}

func TestWaitRecordsNothing(t *testing.T) {
	l, _ := newLimiter(t, Config{Burst: 1, Every: time.Minute})
	for i := range 1000 {
		l.Wait(strconv.Itoa(i))
	}
	if got := l.Len(); got != 0 {
		t.Errorf("Len after 1000 Waits = %d, want 0", got)
	}
}

func TestConfigDefaults(t *testing.T) {
	tests := []struct {
		name      string
		cfg       Config
		wantBurst int
		wantEvery time.Duration
	}{
		{"zero", Config{}, 1, time.Second},
		{"negative", Config{Burst: -3, Every: -time.Minute}, 1, time.Second},
		{"kept", Config{Burst: 4, Every: time.Minute}, 4, time.Minute},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			l, _ := newLimiter(t, tt.cfg)
			for i := 1; i < tt.wantBurst; i++ {
				if got := l.Fail("k"); got != 0 {
					t.Fatalf("Fail #%d = %v, want 0", i, got)
				}
			}
			if got := l.Fail("k"); got != tt.wantEvery {
				t.Errorf("Fail #%d = %v, want %v", tt.wantBurst, got, tt.wantEvery)
			}
		})
	}
}

func TestClockGoesBack(t *testing.T) {
	l, c := newLimiter(t, Config{Burst: 1, Every: time.Minute})
	l.Fail("k")
	c.Advance(-time.Hour)
	if got := l.Wait("k"); got != time.Minute {
		t.Errorf("Wait after the clock went back = %v, want 1m0s", got)
	}
	c.Advance(time.Hour + time.Minute)
	if got := l.Wait("k"); got != 0 {
		t.Errorf("Wait once the clock caught up = %v, want 0", got)
	}
}

func TestFloodStaysBounded(t *testing.T) {
	l, c := newLimiter(t, Config{Burst: 5, Every: 20 * time.Second})
	const n = 250_000
	peak := 0
	for i := range n {
		l.Fail("flood-" + strconv.Itoa(i))
		if i%1000 == 0 {
			c.Advance(time.Millisecond)
		}
		peak = max(peak, l.Len())
	}
	if peak > maxEntries {
		t.Errorf("Len reached %d under a flood of %d keys, want at most %d", peak, n, maxEntries)
	}
	if peak < maxEntries {
		t.Errorf("Len peaked at %d, want the limit %d to be reached", peak, maxEntries)
	}
	t.Logf("peak %d entries after %d distinct keys; %d now", peak, n, l.Len())
}

// TestFloodKeepsThrottledKeys fills the limiter with keys that recover
// before a throttled one: pruning drops them and keeps the throttled key.
func TestFloodKeepsThrottledKeys(t *testing.T) {
	cfg := Config{Burst: 3, Every: time.Minute}
	l, c := newLimiter(t, cfg)
	const victim = "ada@example.com"
	failN(t, l, victim, cfg.Burst+1) // one into debt: two minutes to try again
	for i := 0; l.Len() < maxEntries; i++ {
		l.Fail("flood-" + strconv.Itoa(i)) // one failure: recovered after a minute
	}
	c.Advance(cfg.Every)
	l.Fail("one more")
	if got, want := l.Len(), 2; got != want {
		t.Errorf("Len after pruning = %d, want %d (the victim and the new key)", got, want)
	}
	if got, want := l.Wait(victim), cfg.Every; got != want {
		t.Errorf("Wait(victim) after pruning = %v, want %v", got, want)
	}
}

func TestConcurrent(t *testing.T) {
	l, c := newLimiter(t, Config{Burst: 3, Every: time.Second})
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Go(func() {
			for i := range 2000 {
				key := strconv.Itoa(i % 50)
				switch (g + i) % 5 {
				case 0:
					l.Reset(context.Background(), key)
				case 1:
					if w := l.Wait(key); w < 0 || w > 2*time.Second {
						t.Errorf("Wait(%q) = %v, want between 0 and 2s", key, w)
						return
					}
				case 2:
					c.Advance(time.Millisecond)
				default:
					if w := l.Fail(key); w < 0 || w > 2*time.Second {
						t.Errorf("Fail(%q) = %v, want between 0 and 2s", key, w)
						return
					}
				}
				l.Len()
			}
		})
	}
	wg.Wait()
	if got := l.Len(); got > 50 {
		t.Errorf("Len = %d, want at most 50 keys", got)
	}
}

func BenchmarkFail(b *testing.B) {
	l, c := newLimiter(b, Config{Burst: 5, Every: 20 * time.Second})
	keys := make([]string, 1000)
	for i := range keys {
		keys[i] = "user" + strconv.Itoa(i) + "@example.com"
	}
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		l.Fail(keys[i%len(keys)])
		if i%100 == 0 {
			c.Advance(time.Second)
		}
		i++
	}
}

func TestTake(t *testing.T) {
	ctx := context.Background()
	cfg := Config{Burst: 5, Every: 20 * time.Second}
	l, c := newLimiter(t, cfg)
	for i := 1; i <= cfg.Burst; i++ {
		if got, err := l.Take(ctx, "k"); got != 0 || err != nil {
			t.Fatalf("Take #%d = %v, %v; want 0 (within the burst)", i, got, err)
		}
	}
	// Refused attempts charge nothing: however many, the wait stays one
	// interval, and the next attempt is allowed after it.
	for i := 0; i < 10; i++ {
		if got, _ := l.Take(ctx, "k"); got != cfg.Every {
			t.Fatalf("Take past the burst = %v, want %v", got, cfg.Every)
		}
	}
	if got := l.Wait("k"); got != cfg.Every {
		t.Errorf("Wait after the burst = %v, want %v", got, cfg.Every)
	}
	c.Advance(cfg.Every)
	if got, _ := l.Take(ctx, "k"); got != 0 {
		t.Fatalf("Take after waiting = %v, want 0", got)
	}
	if got, _ := l.Take(ctx, "k"); got != cfg.Every {
		t.Errorf("second Take after waiting one interval = %v, want %v", got, cfg.Every)
	}

	// Refund gives an attempt back, never more than the burst.
	if err := l.Refund(ctx, "k"); err != nil {
		t.Fatal(err)
	}
	if got, _ := l.Take(ctx, "k"); got != 0 {
		t.Errorf("Take after a Refund = %v, want 0", got)
	}
	for range 3 {
		l.Refund(ctx, "fresh") // nothing to give back: no entry, no extra attempts
	}
	if got := l.Len(); got != 1 {
		t.Errorf("Len after refunds of a key never taken = %d, want 1", got)
	}
	l.Take(ctx, "full")
	for range 3 {
		l.Refund(ctx, "full")
	}
	for i := 1; i <= cfg.Burst; i++ {
		if got, _ := l.Take(ctx, "full"); got != 0 {
			t.Fatalf("Take #%d after refunds = %v, want 0", i, got)
		}
	}
	if got, _ := l.Take(ctx, "full"); got == 0 {
		t.Errorf("refunds raised the allowance above the burst")
	}
}

// TestTakeConcurrent is the sign-in storm: of attempts that arrive
// together, exactly the allowance gets through, and after the wait,
// exactly one more.
func TestTakeConcurrent(t *testing.T) {
	ctx := context.Background()
	cfg := Config{Burst: 5, Every: 20 * time.Second}
	l, c := newLimiter(t, cfg)
	storm := func(n int) (allowed int) {
		var mu sync.Mutex
		var wg sync.WaitGroup
		gate := make(chan struct{})
		for range n {
			wg.Go(func() {
				<-gate
				if w, _ := l.Take(ctx, "ada@example.com"); w == 0 {
					mu.Lock()
					allowed++
					mu.Unlock()
				}
			})
		}
		close(gate)
		wg.Wait()
		return allowed
	}
	if got := storm(128); got != cfg.Burst {
		t.Errorf("128 attempts at once: %d allowed, want %d", got, cfg.Burst)
	}
	c.Advance(cfg.Every)
	if got := storm(32); got != 1 {
		t.Errorf("32 attempts at once after one interval: %d allowed, want 1", got)
	}
}
