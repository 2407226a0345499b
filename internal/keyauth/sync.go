// Following the database: reading the key changes other servers made,
// confirming them with a heartbeat that renews this server's lease, and
// failing closed when the lease runs out (see the package comment).

package keyauth

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/blnk-cloud/apikeys/internal/blnk"
)

// forever is the lease published by a server that never fails closed
// (MaxStaleness unset): revokes wait for it as long as they may.
const forever = 100 * 365 * 24 * time.Hour

// retrySync is how soon Run tries again after a failed sync.
const retrySync = 100 * time.Millisecond

// errNotRenewed: the database kept changing the lease under the sync.
var errNotRenewed = errors.New("keyauth: lease not renewed")

// mono returns the time since the Authenticator was made, on the
// monotonic clock.
func (a *Authenticator) mono() time.Duration { return time.Since(a.born) }

// Applied returns the last key change this Authenticator has applied.
func (a *Authenticator) Applied() int64 { return a.appliedSeq.Load() }

// Staleness returns how long ago the read of the last confirmed sync
// began.
func (a *Authenticator) Staleness() time.Duration {
	return a.mono() - time.Duration(a.confirmed.Load())
}

// Unavailable reports whether checks fail closed now: the lease has run
// out.
func (a *Authenticator) Unavailable() bool {
	return a.mono() >= time.Duration(a.lease.Load())
}

// dbTimeout bounds each database call of a sync: a connection that hangs
// must cost a retry on another one, not the lease. A third of the lease,
// within [200ms, 5s].
func (a *Authenticator) dbTimeout() time.Duration {
	if a.cfg.MaxStaleness <= 0 {
		return 5 * time.Second
	}
	return min(max(a.cfg.MaxStaleness/3, 200*time.Millisecond), 5*time.Second)
}

// Sync reads the key changes made since the last sync, records a
// heartbeat that says this server has applied them and renews its lease,
// then renews the lease in memory. The keys service calls it after a
// change, so that the change counts as applied here when a revoke waits
// for the servers; Run calls it when changes are announced and every
// PollEvery. It never holds anything a check waits for.
func (a *Authenticator) Sync(ctx context.Context) error {
	a.syncMu.Lock()
	defer a.syncMu.Unlock()
	for range 2 {
		at := a.mono()
		if err := a.readChanges(ctx); err != nil {
			return err
		}
		renewed, err := a.confirm(ctx, at)
		if err != nil || renewed {
			return err
		}
		// The heartbeat claimed the lease (a revoke gave up on the one
		// held, or none was held): a read begun after the claim renews it.
	}
	return errNotRenewed
}

// Poll is Sync.
func (a *Authenticator) Poll(ctx context.Context) error { return a.Sync(ctx) }

// readChanges applies the changes after a.seq; the caller holds syncMu.
func (a *Authenticator) readChanges(ctx context.Context) error {
	rctx, cancel := context.WithTimeout(ctx, a.dbTimeout())
	defer cancel()
	changed, seq, err := a.store.KeyChangesSince(rctx, a.seq)
	if err != nil {
		return fmt.Errorf("read key changes: %w", err)
	}
	for _, k := range changed {
		a.put(k)
	}
	a.seq = seq
	a.appliedSeq.Store(seq) // only once the changes are in the index
	return nil
}

// confirm records a heartbeat after a read of the changes that began at
// mono at, asking to renew the lease until at+MaxStaleness, and renews
// the lease in memory to that if the database did: the lease in memory
// never ends after the stored one, whenever this process is paused. The
// caller holds syncMu.
func (a *Authenticator) confirm(ctx context.Context, at time.Duration) (bool, error) {
	if a.cfg.ServerID == "" {
		a.renew(at)
		return true, nil
	}
	renew := forever
	if a.cfg.MaxStaleness > 0 {
		// What is left of the lease now, measured before the heartbeat is
		// sent: the database adds it to its own now, which is later.
		renew = at + a.cfg.MaxStaleness - a.mono()
	}
	hctx, cancel := context.WithTimeout(ctx, a.dbTimeout())
	defer cancel()
	lease, err := a.store.Heartbeat(hctx, blnk.Heartbeat{
		ServerID: a.cfg.ServerID,
		Address:  a.cfg.Address,
		Started:  a.started,
		At:       a.cfg.Now(),
		Applied:  a.seq,
		Held:     a.held,
		Renew:    renew,
	})
	if err != nil {
		// It may have been written all the same: hold nothing, so that
		// the next heartbeat claims the lease again.
		a.held = 0
		return false, fmt.Errorf("heartbeat: %w", err)
	}
	a.held = lease.Held
	if lease.Renewed {
		a.renew(at)
	}
	return lease.Renewed, nil
}

// renew extends the lease in memory to at+MaxStaleness. The caller holds
// syncMu.
func (a *Authenticator) renew(at time.Duration) {
	a.confirmed.Store(int64(at))
	if a.cfg.MaxStaleness <= 0 {
		return
	}
	if until := int64(at + a.cfg.MaxStaleness); until > a.lease.Load() {
		a.lease.Store(until)
	}
}

// Run follows the database until ctx ends: it syncs (Sync) when other
// processes announce key changes and every PollEvery, again soon after a
// sync failed, and flushes last uses every FlushEvery, apart from the
// syncs so that a long flush never delays a renewal of the lease; at the
// end it flushes one last time.
func (a *Authenticator) Run(ctx context.Context) {
	var wg sync.WaitGroup
	wg.Go(func() { a.follow(ctx) })
	if a.cfg.SnapshotPath != "" && a.fromSnapshot == 0 {
		// Every key was read: save them, so that the next start need not.
		wg.Go(func() { a.saveSnapshot(ctx) })
	}
	flush := time.NewTicker(a.cfg.FlushEvery)
	defer flush.Stop()
	for {
		select {
		case <-ctx.Done():
			wg.Wait()
			stop, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
			if err := a.Flush(stop); err != nil {
				a.log.Error("flush last used at shutdown", "err", err)
			}
			cancel()
			if a.cfg.SnapshotPath != "" {
				a.saveSnapshot(context.WithoutCancel(ctx))
			}
			return
		case <-flush.C:
			if err := a.flushDue(ctx); err != nil && ctx.Err() == nil {
				a.log.Error("flush last used", "err", err)
			}
		}
	}
}

// follow syncs until ctx ends.
func (a *Authenticator) follow(ctx context.Context) {
	wake := a.store.WatchChanges(ctx, a.log)
	poll := time.NewTicker(a.cfg.PollEvery)
	defer poll.Stop()
	// A first sync at once: what was committed before the watch began
	// announces nothing.
	retry := make(chan time.Time, 1)
	retry <- time.Time{}
	var again <-chan time.Time = retry
	for {
		select {
		case <-ctx.Done():
			return
		case <-wake:
		case <-poll.C:
		case <-again:
		}
		again = nil
		if err := a.Sync(ctx); err != nil && ctx.Err() == nil {
			a.log.Error("sync key changes", "err", err, "stale_for", a.Staleness(), "failing_closed", a.Unavailable())
			again = time.After(retrySync)
		}
	}
}

// saveSnapshot writes the snapshot file, and logs how it went.
func (a *Authenticator) saveSnapshot(ctx context.Context) {
	ctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	t0 := time.Now()
	if err := a.WriteSnapshot(ctx, a.cfg.SnapshotPath); err != nil {
		if ctx.Err() != nil {
			return // stopping: the last one is written at the end of Run
		}
		a.log.Warn("save the key snapshot", "path", a.cfg.SnapshotPath, "err", err)
		return
	}
	a.log.Info("key snapshot saved", "path", a.cfg.SnapshotPath, "keys", a.Len(), "took", time.Since(t0).Round(time.Millisecond))
}
