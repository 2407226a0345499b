// Package keys owns what happens to API keys: creating and revoking them,
// revoking those reported leaked, and the periodic sweep that sends
// expiry notices and drops old usage (and, as the product grows, editing
// and rolling them). Each
// operation is one call that stores the change in one transaction,
// applies it to this process's key index before it returns, has every
// other server told (the store announces it), waits where the contract
// says so (a revoke is answered once every live server has applied it, or
// the wait ran out), and logs it. The web handlers and the command line
// both call it, so they cannot differ.
package keys

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"time"

	"github.com/blnk-cloud/apikeys/db"
	"github.com/blnk-cloud/apikeys/internal/apikey"
	"github.com/blnk-cloud/apikeys/internal/audit"
	"github.com/blnk-cloud/apikeys/internal/keyauth"
)

// Config tunes a Service; zero fields take the defaults.
type Config struct {
	// RevokeWait bounds how long a revoke waits for the live servers to
	// apply it (default 2s).
	RevokeWait time.Duration
	// MaxStaleness: servers whose last heartbeat is older are not waited
	// for (default 10s).
	MaxStaleness time.Duration
	// SweepEvery is how often Run records the keys that expired (default
	// 30s): key.expired is the first time a server saw the key expired.
	SweepEvery time.Duration
	// AuditRetention: Run deletes audit events older than this, every
	// hour; 0 (the default) keeps them forever.
	AuditRetention time.Duration
	// Now is the clock (default time.Now).
	Now func() time.Time
}

func (c *Config) setDefaults() {
	if c.SweepEvery <= 0 {
		c.SweepEvery = 30 * time.Second
	}
	if c.RevokeWait <= 0 {
		c.RevokeWait = 2 * time.Second
	}
	if c.MaxStaleness <= 0 {
		c.MaxStaleness = 10 * time.Second
	}
	if c.Now == nil {
		c.Now = time.Now
	}
}

// Service creates and revokes keys.
type Service struct {
	cfg   Config
	store *db.DB
	index *keyauth.Authenticator // this process's key index; nil in the command line
	log   *slog.Logger
}

// New returns a Service on store. index, if not nil, is this process's key
// index, which learns of every change before the Service answers.
func New(cfg Config, store *db.DB, index *keyauth.Authenticator, log *slog.Logger) *Service {
	cfg.setDefaults()
	return &Service{cfg: cfg, store: store, index: index, log: log}
}

// Spec is a valid new key: what the create form asked for, validated.
type Spec struct {
	WorkspaceID int64
	Workspace   string // its name, for the index
	Name        string
	Description string
	Scopes      apikey.Set
	ExpiresAt   time.Time // zero: never
	// ExpiryDays is the expiry policy when the key expires N days after
	// its creation (30, 60, 90; see apikey.ExpiryDays); 0 otherwise.
	ExpiryDays int
	Allowlist  []netip.Prefix // normalised (apikey.ParseAllowlist); empty: any address
	// FormToken is the create form's one-time token: the same form
	// submitted twice creates one key.
	FormToken string
}

// Created is the result of Create.
type Created struct {
	Key apikey.Key
	// Token is the new key's secret, to be shown once; empty when the
	// form had created this key already (the first answer carried it).
	Token string
}

// Create makes a new key.
func (s *Service) Create(ctx context.Context, by audit.Actor, spec Spec) (Created, error) {
	if spec.Scopes == 0 || spec.WorkspaceID == 0 || spec.FormToken == "" {
		return Created{}, errors.New("keys: incomplete key spec") // a programming error
	}
	token, err := apikey.Generate()
	if err != nil {
		return Created{}, err
	}
	now := s.cfg.Now()
	k := apikey.Key{
		ID:          apikey.NewID(),
		WorkspaceID: spec.WorkspaceID,
		Name:        spec.Name,
		Prefix:      token[:apikey.PrefixLen],
		Scopes:      spec.Scopes,
		ExpiresAt:   spec.ExpiresAt,
		CreatedAt:   now,
		Description: spec.Description,
		ExpiryDays:  spec.ExpiryDays,
		Allowlist:   spec.Allowlist,
	}
	hash := apikey.HashOf(token)
	stored, created, err := s.store.CreateKey(ctx, db.NewKey{
		Key: k, Hash: hash, CreatedBy: by.UserID, CreateToken: spec.FormToken,
		Actor: by, Details: createdDetails(k),
	})
	if err != nil {
		return Created{}, fmt.Errorf("create key: %w", err)
	}
	if !created {
		// The same form again (a double click, a resent request): one key,
		// whose token went with the first answer.
		s.log.Info("api key form resubmitted", "key_id", stored.ID, "actor", by.Name(), "request_id", by.Request)
		return Created{Key: stored}, nil
	}
	s.applied(ctx, keyauth.Record{Hash: hash, Key: stored, WorkspaceName: spec.Workspace})
	s.log.Info("api key created", "key_id", stored.ID, "prefix", stored.Prefix, "workspace_id", stored.WorkspaceID,
		"actor", by.Name(), "ip", by.IP, "request_id", by.Request)
	return Created{Key: stored, Token: token}, nil
}

// applied puts a change this process just committed into its index, then
// reads the changes so that its heartbeat says it has applied it.
func (s *Service) applied(ctx context.Context, r keyauth.Record) {
	if s.index == nil {
		return
	}
	s.index.Put(r)
	if err := s.index.Sync(ctx); err != nil {
		// The index has the change already; the poll will catch up.
		s.log.Warn("read key changes after a change", "err", err)
	}
}

// Revocation is the result of Revoke.
type Revocation struct {
	Key apikey.Key
	// Revoked is false when the key was revoked already (nothing changed).
	Revoked bool
	// Confirmation says how many live servers had applied the revocation
	// when Revoke returned, and after how long.
	Confirmation apikey.Confirmation
}

// Revoke revokes one of a workspace's keys. It returns once every server
// seen alive within MaxStaleness has applied the revocation, or after
// RevokeWait; the Confirmation says which. Revoking a revoked key changes
// nothing. A key of another workspace is db.ErrNotFound.
func (s *Service) Revoke(ctx context.Context, by audit.Actor, workspaceID int64, id string) (Revocation, error) {
	r, err := s.store.RevokeKey(ctx, workspaceID, id, by, s.cfg.Now())
	if err != nil {
		return Revocation{}, err
	}
	committed := time.Now()
	out := Revocation{Key: r.Key, Revoked: r.Revoked, Confirmation: r.Key.RevokeConfirmation}
	if !r.Revoked {
		return out, nil
	}
	out.Confirmation = s.revoked(ctx, []apikey.Key{r.Key}, r.Seq, committed)
	out.Key.RevokeConfirmation = out.Confirmation
	s.log.Info("api key revoked", "key_id", r.Key.ID, "prefix", r.Key.Prefix, "workspace_id", r.Key.WorkspaceID,
		"actor", by.Name(), "ip", by.IP, "request_id", by.Request, "confirmed", out.Confirmation.Confirmed, "servers", out.Confirmation.Servers,
		"confirm_ms", out.Confirmation.Took.Milliseconds())
	return out, nil
}

// revoked makes revocations just committed (up to key change seq, at
// committed) exact: this process's index refuses the keys before anything
// else, then the live servers are waited for, and the confirmation is
// recorded on each key.
func (s *Service) revoked(ctx context.Context, keys []apikey.Key, seq int64, committed time.Time) apikey.Confirmation {
	if s.index != nil {
		for _, k := range keys {
			s.index.Revoked(k.ID, k.RevokedAt)
		}
		if err := s.index.Sync(ctx); err != nil {
			s.log.Warn("read key changes after a revoke", "err", err)
		}
	}
	c := s.confirm(ctx, seq, committed)
	for _, k := range keys {
		if err := s.store.SetRevokeConfirmation(context.WithoutCancel(ctx), k.ID, c); err != nil {
			s.log.Warn("record revoke confirmation", "key_id", k.ID, "err", err)
		}
	}
	return c
}

// confirmPoll is how often confirm reads the servers' heartbeats.
const confirmPoll = 2 * time.Millisecond

// confirm waits until every server seen alive within MaxStaleness has
// applied change seq, or RevokeWait has passed since the change committed
// at start, and says how many had.
// A server that had not may still answer from a view without the change
// until its view is older than its TrustFor (set from the same wait, see
// keyauth), when it refreshes before answering.
func (s *Service) confirm(ctx context.Context, seq int64, start time.Time) apikey.Confirmation {
	deadline := start.Add(s.cfg.RevokeWait)
	var c apikey.Confirmation
	for {
		servers, err := s.store.ServersSeenSince(ctx, s.cfg.Now().Add(-s.cfg.MaxStaleness))
		if err != nil {
			s.log.Warn("read server heartbeats", "err", err)
		} else {
			c = apikey.Confirmation{Servers: len(servers)}
			for _, sv := range servers {
				if sv.Applied >= seq {
					c.Confirmed++
				}
			}
		}
		c.Took = time.Since(start)
		if (err == nil && c.Complete()) || time.Now().After(deadline) || ctx.Err() != nil {
			return c
		}
		time.Sleep(confirmPoll)
	}
}

// expiresJSON is an expiry as the audit log writes it: RFC 3339, or nil
// for never.
func expiresJSON(t time.Time) any {
	if t.IsZero() {
		return nil
	}
	return t.UTC().Format(time.RFC3339)
}

// createdDetails is what key.created says about a new key.
func createdDetails(k apikey.Key) map[string]any {
	d := map[string]any{"name": k.Name, "scopes": k.Scopes.String(), "expires_at": expiresJSON(k.ExpiresAt)}
	if k.Description != "" {
		d["description"] = k.Description
	}
	if len(k.Allowlist) > 0 {
		d["allowlist"] = apikey.FormatAllowlist(k.Allowlist)
	}
	return d
}
