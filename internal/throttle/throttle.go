// Package throttle slows down repeated failures (sign-ins, API keys) per
// client or account, with a token bucket of failures: a client may fail
// Burst times in a row, then once per Every, and successes cost nothing.
//
// Failures can be counted in two ways. Wait then Fail, after the outcome,
// costs nothing to a success (the API key check: valid keys must never
// wait for the limiter); but requests that arrive together all pass the
// Wait before any records its failure. Take charges an attempt before the
// work, in one step with the check, and Refund gives it back when the
// attempt was not a failure: requests arriving together cannot exceed
// the allowance (sign-ins, whose work is a password hash).
package throttle

import (
	"context"
	"sync"
	"sync/atomic"
	"time"

	"github.com/blnk-cloud/apikeys/internal/blnk"
)

// Config is a limiter's allowance of failures.
type Config struct {
	Burst int           // failures allowed in a row
	Every time.Duration // one more failure allowed per Every
}

// maxEntries bounds the memory of a limiter under a flood of distinct
// keys; past it, the entries that have recovered fully are dropped first.
const maxEntries = 100_000

// Limiter counts failures per key (an email, an IP address).
type Limiter struct {
	cfg Config
	now func() time.Time

	mu sync.Mutex
	m  map[string]*blnk.Bucket
	// blockedUntil is the latest instant (Unix ns) until which some key
	// may have to wait: past it nobody waits, and WaitAt answers without
	// taking the lock.
	blockedUntil atomic.Int64
}

// New returns a Limiter. now is the clock.
func New(cfg Config, now func() time.Time) *Limiter {
	if cfg.Burst < 1 {
		cfg.Burst = 1
	}
	if cfg.Every <= 0 {
		cfg.Every = time.Second
	}
	return &Limiter{cfg: cfg, now: now, m: make(map[string]*blnk.Bucket)}
}

// refill brings b up to date at now.
func (l *Limiter) refill(b *blnk.Bucket, now time.Time) { *b = l.cfg.refill(*b, now) }

// Wait returns how long key must wait before its next attempt; zero when
// it may try now.
func (l *Limiter) Wait(key string) time.Duration {
	return l.WaitAt(key, l.now())
}

// WaitAt is Wait at the instant now, for callers that have read the clock.
func (l *Limiter) WaitAt(key string, now time.Time) time.Duration {
	if now.UnixNano() >= l.blockedUntil.Load() {
		return 0
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	b, ok := l.m[key]
	if !ok {
		return 0
	}
	l.refill(b, now)
	return l.wait(b)
}

func (l *Limiter) wait(b *blnk.Bucket) time.Duration { return l.cfg.wait(*b) }

// Fail records a failure of key and returns how long it must now wait
// before its next attempt (zero if it may still try at once).
func (l *Limiter) Fail(key string) time.Duration {
	return l.FailAt(key, l.now())
}

// FailAt is Fail at the instant now.
func (l *Limiter) FailAt(key string, now time.Time) time.Duration {
	l.mu.Lock()
	defer l.mu.Unlock()
	b := l.bucket(key, now)
	b.Tokens = max(b.Tokens-1, -1) // at most one failure in debt
	wait := l.wait(b)
	l.blockFor(now, wait)
	return wait
}

// bucket returns key's bucket, refilled up to now; a new key starts with
// a full one. Call with mu held.
func (l *Limiter) bucket(key string, now time.Time) *blnk.Bucket {
	b, ok := l.m[key]
	if !ok {
		if len(l.m) >= maxEntries {
			l.prune(now)
		}
		b = &blnk.Bucket{Tokens: float64(l.cfg.Burst), At: now}
		l.m[key] = b
	}
	l.refill(b, now)
	return b
}

// blockFor moves blockedUntil to now+wait when wait is positive and that
// is later. Call with mu held: no lost update.
func (l *Limiter) blockFor(now time.Time, wait time.Duration) {
	if until := now.Add(wait).UnixNano(); wait > 0 && until > l.blockedUntil.Load() {
		l.blockedUntil.Store(until)
	}
}

// Take charges one attempt to key if it has one left, and returns zero;
// otherwise it charges nothing and returns how long key must wait. The
// check and the charge are one step, so that of attempts arriving
// together at most the allowance gets through. It never fails; the
// context and the error are those of throttles kept in a database.
func (l *Limiter) Take(_ context.Context, key string) (time.Duration, error) {
	return l.TakeAt(key, l.now()), nil
}

// TakeAt is Take at the instant now.
func (l *Limiter) TakeAt(key string, now time.Time) time.Duration {
	l.mu.Lock()
	defer l.mu.Unlock()
	b := l.bucket(key, now)
	if wait := l.wait(b); wait > 0 {
		return wait
	}
	b.Tokens--
	l.blockFor(now, l.wait(b))
	return 0
}

// Refund gives back an attempt that Take charged and that turned out not
// to be a failure (the password was right, or it could not be checked).
func (l *Limiter) Refund(_ context.Context, key string) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if b, ok := l.m[key]; ok {
		l.refill(b, l.now())
		b.Tokens = min(float64(l.cfg.Burst), b.Tokens+1)
	}
	return nil
}

// Reset forgets key's failures, after a success that proves the caller
// (a correct password). It never fails; the context and the error are
// those of throttles kept in a database.
func (l *Limiter) Reset(_ context.Context, key string) error {
	l.mu.Lock()
	delete(l.m, key)
	l.mu.Unlock()
	return nil
}

// prune drops entries that have fully recovered; if none has, it drops
// all, since a flood of distinct keys is not a client to slow down.
func (l *Limiter) prune(now time.Time) {
	for k, b := range l.m {
		l.refill(b, now)
		if b.Tokens >= float64(l.cfg.Burst) {
			delete(l.m, k)
		}
	}
	if len(l.m) >= maxEntries {
		clear(l.m)
	}
}

// Len returns the number of keys with failures on record.
func (l *Limiter) Len() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.m)
}
