package throttle

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"sync"
	"time"

	"github.com/blnk-cloud/apikeys/internal/blnk"
)

// Buckets keeps the buckets of a Shared throttle where every server sees
// them (the db package).
type Buckets interface {
	// UpdateBucket calls fn with key's bucket (found false: there is none)
	// and stores the bucket fn returns, or deletes it when keep is false,
	// all in one step: no other update of the same key runs in between,
	// in any process.
	UpdateBucket(ctx context.Context, key string, fn func(b blnk.Bucket, found bool) (nb blnk.Bucket, keep bool)) error
	// DeleteBucketsBefore deletes the buckets last updated before t.
	DeleteBucketsBefore(ctx context.Context, t time.Time) error
}

// Shared is a throttle of Take, Refund and Reset whose counts live in a
// store shared by several servers, so that an attacker spreading
// attempts over them gets no more in all than from one. Keys are stored
// hashed: the table holds no email addresses.
//
// A key found blocked is remembered in memory until its next attempt is
// due, so that a storm of attempts from one client costs the database
// nothing once it is blocked.
type Shared struct {
	cfg   Config
	store Buckets
	now   func() time.Time

	mu      sync.Mutex
	blocked map[string]time.Time // hashed key -> when it may try again
}

// NewShared returns a Shared throttle on store. now is the clock.
func NewShared(cfg Config, store Buckets, now func() time.Time) *Shared {
	if cfg.Burst < 1 {
		cfg.Burst = 1
	}
	if cfg.Every <= 0 {
		cfg.Every = time.Second
	}
	return &Shared{cfg: cfg, store: store, now: now, blocked: make(map[string]time.Time)}
}

func hashKey(key string) string {
	sum := sha256.Sum256([]byte(key))
	return hex.EncodeToString(sum[:16])
}

// refill brings b up to date at now.
func (c Config) refill(b blnk.Bucket, now time.Time) blnk.Bucket {
	if el := now.Sub(b.At); el > 0 {
		b.Tokens = min(float64(c.Burst), b.Tokens+float64(el)/float64(c.Every))
		b.At = now
	}
	return b
}

// wait is how long the holder of b must wait for its next attempt.
func (c Config) wait(b blnk.Bucket) time.Duration {
	if b.Tokens >= 1 {
		return 0
	}
	return time.Duration((1 - b.Tokens) * float64(c.Every))
}

// Take charges one attempt to key if it has one left, and returns zero;
// otherwise it charges nothing and returns how long key must wait.
func (s *Shared) Take(ctx context.Context, key string) (time.Duration, error) {
	h, now := hashKey(key), s.now()
	s.mu.Lock()
	until, ok := s.blocked[h]
	if ok && !now.Before(until) {
		delete(s.blocked, h)
	}
	s.mu.Unlock()
	if ok && now.Before(until) {
		return until.Sub(now), nil
	}
	var wait, after time.Duration
	err := s.store.UpdateBucket(ctx, h, func(b blnk.Bucket, found bool) (blnk.Bucket, bool) {
		if !found {
			b = blnk.Bucket{Tokens: float64(s.cfg.Burst), At: now}
		}
		b = s.cfg.refill(b, now)
		if wait = s.cfg.wait(b); wait > 0 {
			return b, true
		}
		b.Tokens--
		after = s.cfg.wait(b)
		return b, true
	})
	if err != nil {
		return 0, err
	}
	if block := max(wait, after); block > 0 {
		s.mu.Lock()
		if len(s.blocked) >= maxEntries {
			clear(s.blocked) // a flood of distinct keys: forget, the store still counts
		}
		s.blocked[h] = now.Add(block)
		s.mu.Unlock()
	}
	return wait, nil
}

// Refund gives back an attempt that Take charged and that turned out not
// to be a failure.
func (s *Shared) Refund(ctx context.Context, key string) error {
	h, now := hashKey(key), s.now()
	s.mu.Lock()
	delete(s.blocked, h)
	s.mu.Unlock()
	return s.store.UpdateBucket(ctx, h, func(b blnk.Bucket, found bool) (blnk.Bucket, bool) {
		if !found {
			return b, false
		}
		b = s.cfg.refill(b, now)
		b.Tokens = min(float64(s.cfg.Burst), b.Tokens+1)
		return b, b.Tokens < float64(s.cfg.Burst) // a full bucket is as good as none
	})
}

// Reset forgets key's failures, after a success that proves the caller.
func (s *Shared) Reset(ctx context.Context, key string) error {
	h := hashKey(key)
	s.mu.Lock()
	delete(s.blocked, h)
	s.mu.Unlock()
	return s.store.UpdateBucket(ctx, h, func(blnk.Bucket, bool) (blnk.Bucket, bool) { return blnk.Bucket{}, false })
}

// Prune deletes the stored buckets that have refilled completely: a
// bucket untouched for Burst × Every (FullAfter) is full, as good as
// none. It deletes every bucket of the store untouched for that long,
// whichever throttle it belongs to: throttles sharing a store are
// pruned by the one slowest to refill.
func (s *Shared) Prune(ctx context.Context) error {
	return s.store.DeleteBucketsBefore(ctx, s.now().Add(-s.FullAfter()))
}

// FullAfter is how long a bucket left untouched takes to fill up, from
// empty: Burst × Every.
func (s *Shared) FullAfter() time.Duration {
	return time.Duration(s.cfg.Burst) * s.cfg.Every
}
