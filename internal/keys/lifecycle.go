package keys

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"time"

	"github.com/blnk-cloud/apikeys/internal/apikey"
	"github.com/blnk-cloud/apikeys/internal/audit"
	"github.com/blnk-cloud/apikeys/internal/blnk"
)

// Edit is a valid edit of a key: what the edit form asked for, validated
// (apikey.CleanName, apikey.CleanDescription, apikey.ParseAllowlist).
type Edit struct {
	Name        string
	Description string
	Allowlist   []netip.Prefix // empty: any address
}

// Edited is the result of Edit.
type Edited struct {
	Key     apikey.Key
	Changed bool // false: the key already had that name, description and allowlist
}

// Edit changes the name, description and IP allowlist of one of a
// workspace's keys. This process checks the new allowlist from the next
// request on; other servers as soon as they read the change (they are
// told at once). Revoked and expired keys can be edited; nothing else
// about them changes. A key of another workspace is blnk.ErrNotFound.
//
// An edit that leaves a working key without the IP allowlist its key
// policies require is refused with a *blnk.PolicyError.
func (s *Service) Edit(ctx context.Context, by audit.Actor, workspaceID int64, id string, e Edit) (Edited, error) {
	now := s.cfg.Now()
	if err := s.checkEdit(ctx, workspaceID, id, e, now); err != nil {
		return Edited{}, err
	}
	k, changed, err := s.store.EditKey(ctx, workspaceID, id, blnk.KeyEdit{Name: e.Name, Description: e.Description, Allowlist: e.Allowlist}, by, now)
	if err != nil {
		return Edited{}, err
	}
	if changed {
		// whoami says the name, the check reads the allowlist: this
		// process reads them before answering.
		s.synced(ctx)
		s.log.Info("api key edited", "key_id", k.ID, "prefix", k.Prefix, "workspace_id", k.WorkspaceID,
			"actor", by.Name(), "ip", by.IP, "request_id", by.Request)
	}
	return Edited{Key: k, Changed: changed}, nil
}

// synced reads the key changes this process just committed into its
// index, so that its heartbeat says it has applied them.
func (s *Service) synced(ctx context.Context) {
	if s.index == nil {
		return
	}
	if err := s.index.Sync(ctx); err != nil {
		s.log.Warn("read key changes after a change", "err", err)
	}
}

// RollSpec asks for a roll.
type RollSpec struct {
	WorkspaceID int64
	Workspace   string // its name, for the index
	ID          string // the key to roll
	Overlap     apikey.Overlap
	// FormToken is the roll form's one-time token: the same form sent
	// twice rolls the key once.
	FormToken string
	// Revealed says that the caller shows the new token itself (the
	// command line), so the new key has no reveal page to show it on.
	Revealed bool
}

// Rolled is the result of Roll.
type Rolled struct {
	Old, New apikey.Key
	// Token is the new key's secret, to be shown once; empty when the
	// form had rolled this key already (the first answer carried it).
	Token string
	// Confirmation says how many live servers had applied the roll (the
	// old key's new end) when Roll returned, and after how long.
	Confirmation apikey.Confirmation
}

// Errors of a roll that is refused; nothing is written.
var (
	ErrRevoked  = blnk.ErrKeyRevoked
	ErrExpired  = blnk.ErrKeyExpired
	ErrRolled   = blnk.ErrKeyRolled
	ErrFormUsed = blnk.ErrFormUsed
)

// Roll replaces a working key by a new one with the same name, scopes,
// description and expiry policy (apikey.SuccessorExpiry), and makes the
// old key stop working at the end of the overlap (or its own expiry, if
// sooner). Like a revoke, it returns once every server seen alive within
// MaxStaleness has applied the roll, or after RevokeWait (Confirmation
// says which): from then on no server accepts the old key past its new
// end. Revoked, expired and rolled keys are refused (ErrRevoked,
// ErrExpired, ErrRolled); a key of another workspace is blnk.ErrNotFound.
//
// The new key follows the workspace's key policies: an expiry past the
// maximum lifetime (or none) becomes the latest it allows, and a key
// that would still break a rule (no expiry where one is required, no IP
// allowlist, scopes the roller may not grant) is refused with a
// *blnk.PolicyError, and nothing is written.
func (s *Service) Roll(ctx context.Context, by audit.Actor, spec RollSpec) (Rolled, error) {
	if spec.WorkspaceID == 0 || spec.FormToken == "" || spec.Overlap == "" {
		return Rolled{}, errors.New("keys: incomplete roll spec") // a programming error
	}
	token, err := apikey.Generate()
	if err != nil {
		return Rolled{}, err
	}
	hash := apikey.HashOf(token)
	now := s.cfg.Now()
	policy, bound, err := s.PolicyFor(ctx, by, spec.WorkspaceID)
	if err != nil {
		return Rolled{}, err
	}
	r, err := s.store.RollKey(ctx, blnk.Roll{
		WorkspaceID: spec.WorkspaceID, ID: spec.ID, Now: now, Overlap: spec.Overlap,
		FormToken: spec.FormToken, Actor: by, Revealed: spec.Revealed,
		Successor: func(old apikey.Key) (blnk.NewKey, error) {
			expires, days, err := successor(policy, bound, old, now)
			if err != nil {
				return blnk.NewKey{}, err
			}
			return blnk.NewKey{
				Key: apikey.Key{
					ID:          apikey.NewID(),
					WorkspaceID: old.WorkspaceID,
					Name:        old.Name,
					Prefix:      token[:apikey.PrefixLen],
					Scopes:      old.Scopes,
					ExpiresAt:   expires,
					Description: old.Description,
					ExpiryDays:  days,
					Allowlist:   old.Allowlist,
				},
				Hash:      hash,
				CreatedBy: by.UserID,
			}, nil
		},
	})
	if err != nil {
		return Rolled{Old: r.Old}, err
	}
	committed := time.Now()
	out := Rolled{Old: r.Old, New: r.New}
	if !r.Rolled {
		s.log.Info("api key roll resubmitted", "key_id", r.Old.ID, "new_key_id", r.New.ID, "actor", by.Name(), "request_id", by.Request)
		return out, nil
	}
	out.Token = token
	if s.index != nil {
		// Before anything else: from now on this process refuses the old
		// key past its new end, and accepts the new one.
		s.index.Put(blnk.Record{Hash: hash, Key: r.New, WorkspaceName: spec.Workspace})
		s.index.Put(blnk.Record{Hash: r.OldHash, Key: r.Old, WorkspaceName: spec.Workspace})
		if err := s.index.Sync(ctx); err != nil {
			s.log.Warn("read key changes after a roll", "err", err)
		}
	}
	out.Confirmation = s.confirm(ctx, r.Seq, committed)
	s.log.Info("api key rolled", "key_id", r.Old.ID, "prefix", r.Old.Prefix, "new_key_id", r.New.ID, "new_prefix", r.New.Prefix,
		"workspace_id", r.Old.WorkspaceID, "overlap", string(spec.Overlap), "ends_at", r.Old.ExpiresAt.Format(time.RFC3339Nano),
		"actor", by.Name(), "ip", by.IP, "request_id", by.Request, "confirmed", out.Confirmation.Confirmed,
		"servers", out.Confirmation.Servers, "confirm_ms", out.Confirmation.Took.Milliseconds())
	return out, nil
}

// sweepBatch is how many expired keys one transaction of the sweep
// records.
const sweepBatch = 500

// SweepExpired records key.expired, once, for every key that has expired
// and was not recorded yet, and returns how many it recorded. Servers
// sweeping at once take turns; each key is recorded by one of them.
func (s *Service) SweepExpired(ctx context.Context) (int, error) {
	total := 0
	for {
		found, err := s.store.RecordExpiredKeys(ctx, s.cfg.Now(), sweepBatch)
		total += len(found)
		if err != nil {
			return total, fmt.Errorf("record expired keys: %w", err)
		}
		for _, e := range found {
			s.log.Info("api key expired", "key_id", e.ID, "prefix", e.Prefix, "workspace_id", e.WorkspaceID,
				"expired_at", e.ExpiresAt.Format(time.RFC3339Nano))
		}
		if len(found) < sweepBatch {
			return total, nil
		}
	}
}

// PruneAudit deletes the audit events older than AuditRetention, if it is
// set, and returns how many it deleted. It is the only thing that removes
// events.
func (s *Service) PruneAudit(ctx context.Context) (int64, error) {
	if s.cfg.AuditRetention <= 0 {
		return 0, nil
	}
	n, err := s.store.DeleteAuditEventsBefore(ctx, s.cfg.Now().Add(-s.cfg.AuditRetention), 5000)
	if n > 0 {
		s.log.Info("audit events past retention deleted", "deleted", n, "retention", s.cfg.AuditRetention.String())
	}
	return n, err
}

// Run does the keys' background work until ctx ends: it records keys that
// expired (SweepExpired) and sends the notices of keys about to
// (SweepExpiring) every SweepEvery, and applies the retention of the audit
// log (PruneAudit), usage and webhook events (PruneUsage) every hour.
func (s *Service) Run(ctx context.Context) {
	sweep := time.NewTicker(s.cfg.SweepEvery)
	prune := time.NewTicker(time.Hour)
	defer sweep.Stop()
	defer prune.Stop()
	run := func(what string, f func(context.Context) error) {
		if err := f(ctx); err != nil && ctx.Err() == nil {
			s.log.Error(what, "err", err)
		}
	}
	sweepOnce := func(ctx context.Context) error {
		if _, err := s.SweepExpired(ctx); err != nil {
			return err
		}
		_, err := s.SweepExpiring(ctx)
		return err
	}
	pruneOnce := func(ctx context.Context) error {
		if _, err := s.PruneAudit(ctx); err != nil {
			return err
		}
		return s.PruneUsage(ctx)
	}
	run("expiry sweep", sweepOnce)
	run("audit retention", pruneOnce)
	for {
		select {
		case <-ctx.Done():
			return
		case <-sweep.C:
			run("expiry sweep", sweepOnce)
		case <-prune.C:
			run("audit retention", pruneOnce)
		}
	}
}
