package keys

import (
	"context"
	"time"
)

// Retention is how long usage (hourly counts, addresses) and webhook
// events are kept: the usage chart shows 30 days, and older hours are
// deleted, not rolled up.
const Retention = 30 * 24 * time.Hour

// SweepExpiring sends the notices keys are due before they expire:
// key.expiring 7 days and 1 day ahead, each once per key, whichever
// server sees it first (key.expired is SweepExpired's). It returns how
// many it sent. Run calls it with SweepExpired.
func (s *Service) SweepExpiring(ctx context.Context) (int, error) {
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
			return sent, nil
		}
	}
}

// PruneUsage deletes usage and webhook events older than Retention. Run
// calls it every hour.
func (s *Service) PruneUsage(ctx context.Context) error {
	before := s.cfg.Now().Add(-Retention)
	if n, err := s.store.PruneUsage(ctx, before); err != nil {
		return err
	} else if n > 0 {
		s.log.Debug("pruned old usage", "rows", n)
	}
	if n, err := s.store.PruneWebhookEvents(ctx, before); err != nil {
		return err
	} else if n > 0 {
		s.log.Debug("pruned old webhook events", "events", n)
	}
	return nil
}
