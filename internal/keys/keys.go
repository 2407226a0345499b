// Package keys owns what happens to API keys: creating and revoking them,
// revoking those reported leaked, and the periodic sweep that sends
// expiry notices and drops old usage (and, as the product grows, editing
// and rolling them). Each
// operation is one call that stores the change in one transaction,
// applies it to this process's key index before it returns, has every
// other server told (the store announces it), waits where the contract
// says so (a revoke is answered once every server has applied it or
// stopped trusting its memory, its lease run out, or the wait ran out),
// and logs it. The web handlers and the command line
// both call it, so they cannot differ.
package keys

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"time"

	"github.com/blnk-cloud/apikeys/internal/apikey"
	"github.com/blnk-cloud/apikeys/internal/audit"
	"github.com/blnk-cloud/apikeys/internal/blnk"
	"github.com/blnk-cloud/apikeys/internal/derrors"
)

// The defaults of the servers' lease (--max-staleness) and of how long a
// revoke waits (--revoke-wait): a revoke is answered within a few
// milliseconds when every server applies it, and within the lease plus
// LeaseMargin when one is paused or cut off (it stops trusting its memory
// when its lease runs out); a server fails closed after a database
// outage of about the lease less one poll.
const (
	DefaultMaxStaleness = 3 * time.Second
	DefaultRevokeWait   = 4 * time.Second
)

// LeaseMargin is how long after a server's lease ran out, by the
// database's clock, a revoke counts it as no longer trusting its memory:
// the lease in memory is measured on the server's monotonic clock, whose
// rate may differ a little from the database's. A revoke must be allowed
// to wait longer than the lease plus this (serve checks it at start).
const LeaseMargin = 100 * time.Millisecond

// Config tunes a Service; zero fields take the defaults.
type Config struct {
	// RevokeWait bounds how long a revoke waits for each live server to
	// apply it or to stop trusting its memory (default 4s). Longer than
	// the servers' lease (their MaxStaleness), it always ends in one of
	// the two unless the database cannot be read.
	RevokeWait time.Duration
	// MaxStaleness: servers whose last heartbeat is older are not
	// counted among the running ones (default 3s). Whatever their
	// heartbeat, a revoke answers only once none of them can accept the
	// key (see confirm).
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
		c.RevokeWait = DefaultRevokeWait
	}
	if c.MaxStaleness <= 0 {
		c.MaxStaleness = DefaultMaxStaleness
	}
	if c.Now == nil {
		c.Now = time.Now
	}
}

// Service creates and revokes keys.
type Service struct {
	cfg   Config
	store Store
	index Index // this process's key index; nil in the command line
	log   *slog.Logger
}

// Store is what the keys service needs of the database (db.DB). Each
// write records its audit event in the same transaction.
type Store interface {
	CreateKey(ctx context.Context, nk blnk.NewKey) (k apikey.Key, created bool, err error)
	MarkRevealed(ctx context.Context, workspaceID int64, id string, now time.Time, by audit.Actor) (bool, error)
	EditKey(ctx context.Context, workspaceID int64, id string, e blnk.KeyEdit, by audit.Actor, now time.Time) (k apikey.Key, changed bool, err error)
	RollKey(ctx context.Context, r blnk.Roll) (blnk.Rolled, error)
	RevokeKey(ctx context.Context, workspaceID int64, id string, by audit.Actor, now time.Time) (blnk.Revocation, error)
	RevokeKeys(ctx context.Context, workspaceID int64, ids []string, by audit.Actor, now time.Time) ([]blnk.Revocation, error)
	SetRevokeConfirmation(ctx context.Context, id string, c apikey.Confirmation) error
	ReportLeak(ctx context.Context, h apikey.Hash, exp apikey.Exposure, by audit.Actor) (blnk.Leak, error)
	ServersSeenSince(ctx context.Context, since time.Time) ([]blnk.Server, error)
	FenceLapsed(ctx context.Context, seq int64, margin time.Duration) ([]string, error)
	RecordExpiredKeys(ctx context.Context, now time.Time, limit int) ([]blnk.Expired, error)
	DueNotices(ctx context.Context, now time.Time, limit int) ([]blnk.Notice, error)
	RecordNotice(ctx context.Context, n blnk.Notice, now time.Time) (bool, error)
	DeleteAuditEventsBefore(ctx context.Context, t time.Time, batch int) (int64, error)
	PruneUsage(ctx context.Context, before time.Time) (int64, error)
	PruneWebhookEvents(ctx context.Context, before time.Time) (int64, error)
	// Key policies (policy.go).
	Key(ctx context.Context, workspaceID int64, id string) (apikey.Key, error)
	KeyPolicy(ctx context.Context, workspaceID int64) (blnk.Policy, error)
	SetKeyPolicy(ctx context.Context, workspaceID int64, p blnk.Policy, by audit.Actor, now time.Time) (before blnk.Policy, changed bool, err error)
	FindMember(ctx context.Context, workspaceID, userID int64) (blnk.Member, error)
}

// Index is this process's key index (keyauth.Authenticator): the service
// tells it of every change before answering, so that this server never
// accepts a key its own revoke has answered for.
type Index interface {
	Put(r blnk.Record)
	Revoked(id string, at time.Time)
	Sync(ctx context.Context) error
}

// New returns a Service on store. index, if not nil (pass an untyped
// nil, not a nil *keyauth.Authenticator), is this process's key
// index, which learns of every change before the Service answers.
func New(cfg Config, store Store, index Index, log *slog.Logger) *Service {
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

// Create makes a new key. A key that breaks its workspace's key policies
// is refused with a *blnk.PolicyError (policy.go).
func (s *Service) Create(ctx context.Context, by audit.Actor, spec Spec) (Created, error) {
	if spec.Scopes == 0 || spec.WorkspaceID == 0 || spec.FormToken == "" {
		return Created{}, errors.New("keys: incomplete key spec") // a programming error
	}
	now := s.cfg.Now()
	if err := s.checkNew(ctx, by, spec, now); err != nil {
		return Created{}, err
	}
	token, err := apikey.Generate()
	if err != nil {
		return Created{}, err
	}
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
	stored, created, err := s.store.CreateKey(ctx, blnk.NewKey{
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
	s.applied(ctx, blnk.Record{Hash: hash, Key: stored, WorkspaceName: spec.Workspace})
	s.log.Info("api key created", "key_id", stored.ID, "prefix", stored.Prefix, "workspace_id", stored.WorkspaceID,
		"actor", by.Name(), "ip", by.IP, "request_id", by.Request)
	return Created{Key: stored, Token: token}, nil
}

// applied puts a change this process just committed into its index, then
// reads the changes so that its heartbeat says it has applied it.
func (s *Service) applied(ctx context.Context, r blnk.Record) {
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
// has applied the revocation or stopped trusting its memory (its lease ran
// out), or after RevokeWait; the Confirmation says which. Revoking a
// revoked key changes nothing. A key of another workspace is
// blnk.ErrNotFound.
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

// MaxRevokeMany is the most keys one RevokeMany revokes.
const MaxRevokeMany = 200

// ErrTooMany is a RevokeMany of more than MaxRevokeMany keys.
var ErrTooMany = &derrors.Error{Code: derrors.EINVALID, Message: "At most 200 keys can be revoked at once."}

// ErrNoKeys is a RevokeMany of no key.
var ErrNoKeys = &derrors.Error{Code: derrors.EINVALID, Message: "Select at least one key to revoke."}

// BulkRevocation is what RevokeMany did.
type BulkRevocation struct {
	// Revoked are the keys it revoked; Skipped those revoked already
	// (nothing changed), each in the order asked.
	Revoked, Skipped []apikey.Key
	// Confirmation says how many live servers had applied all the
	// revocations when RevokeMany returned (zero when none was made).
	Confirmation apikey.Confirmation
}

// RevokeMany revokes several of a workspace's keys at once (the list's
// bulk revoke): in one transaction, with an audit event per key revoked,
// then one wait for the servers, as Revoke waits for one key. If any id
// is not a key of the workspace, it is blnk.ErrNotFound and nothing is
// revoked. Ids given twice count once.
func (s *Service) RevokeMany(ctx context.Context, by audit.Actor, workspaceID int64, ids []string) (BulkRevocation, error) {
	switch {
	case len(ids) == 0:
		return BulkRevocation{}, ErrNoKeys
	case len(ids) > MaxRevokeMany:
		return BulkRevocation{}, ErrTooMany
	}
	rs, err := s.store.RevokeKeys(ctx, workspaceID, ids, by, s.cfg.Now())
	if err != nil {
		return BulkRevocation{}, err
	}
	committed := time.Now()
	var out BulkRevocation
	var seq int64
	for _, r := range rs {
		if !r.Revoked {
			out.Skipped = append(out.Skipped, r.Key)
			continue
		}
		out.Revoked = append(out.Revoked, r.Key)
		seq = max(seq, r.Seq)
	}
	if len(out.Revoked) == 0 {
		return out, nil
	}
	out.Confirmation = s.revoked(ctx, out.Revoked, seq, committed)
	for i := range out.Revoked {
		k := &out.Revoked[i]
		k.RevokeConfirmation = out.Confirmation
		s.log.Info("api key revoked", "key_id", k.ID, "prefix", k.Prefix, "workspace_id", k.WorkspaceID,
			"actor", by.Name(), "ip", by.IP, "request_id", by.Request, "bulk", len(out.Revoked),
			"confirmed", out.Confirmation.Confirmed, "servers", out.Confirmation.Servers,
			"confirm_ms", out.Confirmation.Took.Milliseconds())
	}
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

// confirm waits until no server can accept what change seq (committed
// at start) took away, or RevokeWait has passed, and says how many of the
// servers seen alive within MaxStaleness had applied it, and how many had
// not but had stopped trusting their memory. A server that has not
// applied it is waited for while its lease lasts; once it ran out more
// than LeaseMargin ago, its lease is fenced (db.FenceLapsed): it cannot
// be renewed from a view without the change, so the server answers 503
// until it has read the change, whenever it resumes. Servers not seen
// lately are fenced alike before the answer, but not counted.
func (s *Service) confirm(ctx context.Context, seq int64, start time.Time) apikey.Confirmation {
	deadline := start.Add(s.cfg.RevokeWait)
	ctx, cancel := context.WithDeadline(ctx, deadline) // no database call outlives the wait
	defer cancel()
	// The servers running when the change was made: seen within
	// MaxStaleness before the wait began (one paused meanwhile is one of
	// them).
	since := s.cfg.Now().Add(-s.cfg.MaxStaleness)
	fenced := map[string]bool{}
	swept := false // the servers not seen lately were fenced too
	var c apikey.Confirmation
	for {
		servers, err := s.store.ServersSeenSince(ctx, since)
		if err != nil {
			s.log.Warn("read server heartbeats", "err", err)
		} else {
			var pending, lapsed int
			c = apikey.Confirmation{Servers: len(servers)}
			for _, sv := range servers {
				switch {
				case sv.Applied >= seq:
					c.Confirmed++
				case fenced[sv.ID]:
					c.Lapsed++
				case sv.LeaseLeft < -LeaseMargin:
					lapsed++
				default:
					pending++
				}
			}
			c.Took = time.Since(start)
			if pending == 0 && (lapsed > 0 || !swept) {
				ids, err := s.store.FenceLapsed(ctx, seq, LeaseMargin)
				if err != nil {
					s.log.Warn("fence lapsed servers", "err", err)
				} else {
					for _, id := range ids {
						fenced[id] = true
					}
					swept = true
					continue // count what the fence left
				}
			}
			if pending == 0 && lapsed == 0 && swept {
				return c
			}
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			c.Took = time.Since(start)
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

// Reveal uses up the one-time reveal of key id: it reports whether this
// was the first request to claim it (only that one may show the token),
// and records key.revealed when it was.
func (s *Service) Reveal(ctx context.Context, workspaceID int64, id string, by audit.Actor) (first bool, err error) {
	return s.store.MarkRevealed(ctx, workspaceID, id, s.cfg.Now(), by)
}

// Revoked makes revocations another service committed (a member's keys,
// revoked with their removal, up to key change seq, at committed) exact
// as Revoke does: this process refuses the keys at once, the live servers
// are waited for, and the confirmation is recorded on each key.
func (s *Service) Revoked(ctx context.Context, keys []apikey.Key, seq int64, committed time.Time) apikey.Confirmation {
	return s.revoked(ctx, keys, seq, committed)
}
