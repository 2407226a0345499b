package web

import (
	"context"
	"log/slog"
	"sync"
	"time"
)

// readinessEvery is how long a readiness probe's result is kept.
const readinessEvery = time.Second

// readiness says whether the database takes a write, from a probe made at
// most once per readinessEvery however many ask: /readyz is answered to
// anyone, and a write per request let a flood of them keep the database
// busy for everyone else. One probe runs at a time; whoever asks while it
// runs waits for its result.
type readiness struct {
	write   func(ctx context.Context, now time.Time) error // the probe: a one-row write
	now     func() time.Time
	timeout time.Duration // bounds a probe
	log     *slog.Logger

	mu   sync.Mutex
	last *readinessProbe // the latest probe, running or done; nil: none yet
}

// readinessProbe is one probe: err is set before done is closed.
type readinessProbe struct {
	at   time.Time // when it started
	done chan struct{}
	err  error
}

// check returns the result of a probe started within readinessEvery, or
// of a new one. It waits for a running probe, or ctx.
func (r *readiness) check(ctx context.Context) error {
	now := r.now()
	r.mu.Lock()
	p := r.last
	if p == nil || !r.fresh(p, now) {
		p = &readinessProbe{at: now, done: make(chan struct{})}
		r.last = p
		// Not the caller's context: a client that goes away must not
		// fail the probe the others wait for.
		go r.run(p)
	}
	r.mu.Unlock()
	select {
	case <-p.done:
		return p.err
	case <-ctx.Done():
		return ctx.Err()
	}
}

// fresh reports whether p may answer at now: it is still running, or it
// started less than readinessEvery ago.
func (r *readiness) fresh(p *readinessProbe, now time.Time) bool {
	select {
	case <-p.done:
	default:
		return true
	}
	age := now.Sub(p.at)
	return age >= 0 && age < readinessEvery
}

func (r *readiness) run(p *readinessProbe) {
	ctx, cancel := context.WithTimeout(context.Background(), r.timeout)
	defer cancel()
	p.err = r.write(ctx, p.at)
	if p.err != nil {
		r.log.Error("readiness: the database cannot be written", "err", p.err)
	}
	close(p.done)
}
