package keys

import (
	"context"
	"time"
)

// Retention is how long usage (hourly counts, addresses) and webhook
// events are kept: the usage chart shows 30 days, and older hours are
// deleted, not rolled up.
const Retention = 30 * 24 * time.Hour

// sweepBatch is how many notices one pass of the sweep handles at most.
const sweepBatch = 500

// Sweep does, once, what the periodic sweep does: it sends the expiry
// notices keys are due (key.expiring 7 days and 1 day ahead, key.expired,
// each once per key whichever server sees it first) and deletes usage and
// webhook events older than Retention. It returns how many notices it
// sent.
func (s *Service) Sweep(ctx context.Context) (int, error) {
	now := s.cfg.Now()
	sent := 0
	for {
		due, err := s.store.DueNotices(ctx, now, sweepBatch)
		if err != nil {
			return sent, err
		}
		for _, n := range due {
			first, err := s.store.RecordNotice(ctx, n, now)
			if err != nil {
				return sent, err
			}
			if first {
				sent++
				s.log.Info("api key expiry notice", "key_id", n.Key.ID, "prefix", n.Key.Prefix, "notice", n.Kind)
			}
		}
		if len(due) < sweepBatch {
			break
		}
	}
	if n, err := s.store.PruneUsage(ctx, now.Add(-Retention)); err != nil {
		return sent, err
	} else if n > 0 {
		s.log.Debug("pruned old usage", "rows", n)
	}
	if n, err := s.store.PruneWebhookEvents(ctx, now.Add(-Retention)); err != nil {
		return sent, err
	} else if n > 0 {
		s.log.Debug("pruned old webhook events", "events", n)
	}
	return sent, nil
}

// RunSweeps sweeps every interval until ctx ends.
func (s *Service) RunSweeps(ctx context.Context, every time.Duration) {
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		if _, err := s.Sweep(ctx); err != nil && ctx.Err() == nil {
			s.log.Error("sweep keys", "err", err)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}
