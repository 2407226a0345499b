// Package tokens owns management tokens (SPEC "Management API"): a
// person creates one for a workspace (shown once, stored hashed),
// revokes it, and every API request made with it is checked here: the
// token must be known, unexpired and unrevoked, and its person still a
// member of its workspace, whose role now bounds what it may do.
package tokens

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/blnk-cloud/apikeys/internal/apikey"
	"github.com/blnk-cloud/apikeys/internal/audit"
	"github.com/blnk-cloud/apikeys/internal/blnk"
	"github.com/blnk-cloud/apikeys/internal/derrors"
	"github.com/blnk-cloud/apikeys/internal/naming"
)

// Store is what the service needs of the database (db.DB).
type Store interface {
	CreateToken(ctx context.Context, nt blnk.NewToken) (blnk.Token, error)
	RevokeToken(ctx context.Context, workspaceID, userID int64, id string, by audit.Actor, now time.Time) (blnk.Token, bool, error)
	TokenGrant(ctx context.Context, h apikey.Hash) (blnk.TokenGrant, error)
	TouchToken(ctx context.Context, id string, at time.Time, ip string) error
}

// Service creates, revokes and checks management tokens.
type Service struct {
	store Store
	now   func() time.Time
	log   *slog.Logger
}

// New returns a Service on store.
func New(store Store, now func() time.Time, log *slog.Logger) *Service {
	return &Service{store: store, now: now, log: log}
}

// Spec is a new token as the form asks for it (not yet validated).
type Spec struct {
	WorkspaceID int64
	UserID      int64
	Name        string
	Scopes      []string
	Expires     string // blnk.TokenExpires30d ... or blnk.TokenExpiresDate
	ExpiresOn   string // the date, for TokenExpiresDate
}

// Problems are what is wrong with a Spec, by form field.
type Problems map[string]string

func (p Problems) Error() string { return fmt.Sprintf("token: %d problems", len(p)) }

// Created is a new token and its secret, to be shown once.
type Created struct {
	Token  blnk.Token
	Secret string
}

// MaxNameLen is the longest name of a token, in characters.
const MaxNameLen = 100

// Create validates spec and stores a new token for its person; the
// problems of an invalid spec are a Problems error (nothing is written).
func (s *Service) Create(ctx context.Context, by audit.Actor, spec Spec) (Created, error) {
	now := s.now()
	p := Problems{}
	name, err := naming.Clean(spec.Name, MaxNameLen)
	if err == nil {
		err = apikey.CheckNoToken(spec.Name)
	}
	if err != nil {
		p["name"] = derrors.Message(apikey.TextProblem("Name", "Enter a name for the token.", MaxNameLen, err))
	}
	scopes, err := blnk.ParseTokenScopes(spec.Scopes)
	if err != nil {
		p["scopes"] = derrors.Message(err)
	}
	expires, err := blnk.TokenExpiry(spec.Expires, spec.ExpiresOn, now)
	if err != nil {
		p["expires"] = derrors.Message(err)
	}
	if len(p) > 0 {
		return Created{}, p
	}
	secret, err := apikey.GenerateManagement()
	if err != nil {
		return Created{}, err
	}
	t, err := s.store.CreateToken(ctx, blnk.NewToken{
		Token: blnk.Token{ID: blnk.NewTokenID(), WorkspaceID: spec.WorkspaceID, UserID: spec.UserID, Name: name,
			Prefix: secret[:apikey.MgmtPrefixLen], Scopes: scopes, CreatedAt: now, ExpiresAt: expires},
		Hash: apikey.HashOf(secret), Actor: by,
	})
	if err != nil {
		return Created{}, fmt.Errorf("create token: %w", err)
	}
	s.log.Info("management token created", "token_id", t.ID, "prefix", t.Prefix, "workspace_id", t.WorkspaceID,
		"actor", by.Name(), "ip", by.IP, "request_id", by.Request)
	return Created{Token: t, Secret: secret}, nil
}

// Revoke revokes one of the person's tokens (by.UserID) in a workspace;
// revoking a revoked token changes nothing. Another person's token is
// blnk.ErrNotFound.
func (s *Service) Revoke(ctx context.Context, by audit.Actor, workspaceID int64, id string) (blnk.Token, bool, error) {
	t, revoked, err := s.store.RevokeToken(ctx, workspaceID, by.UserID, id, by, s.now())
	if err != nil {
		return blnk.Token{}, false, err
	}
	if revoked {
		s.log.Info("management token revoked", "token_id", t.ID, "prefix", t.Prefix, "workspace_id", workspaceID,
			"actor", by.Name(), "ip", by.IP, "request_id", by.Request)
	}
	return t, revoked, nil
}

// Authenticate checks a management token sent by ip and returns what it
// may act as: its person's role is read now, from the database, on
// every call (one indexed query), so that a demotion or a removal holds
// for the next request on every server. Malformed, unknown, expired and
// revoked tokens, and tokens whose person left the workspace, are
// blnk.ErrTokenInvalid, ErrTokenExpired or ErrTokenRevoked. A use is
// recorded at most once a minute per token.
func (s *Service) Authenticate(ctx context.Context, secret, ip string) (blnk.TokenGrant, error) {
	if _, err := apikey.ParseManagement(secret); err != nil {
		return blnk.TokenGrant{}, blnk.ErrTokenInvalid
	}
	g, err := s.store.TokenGrant(ctx, apikey.HashOf(secret))
	if errors.Is(err, blnk.ErrNotFound) {
		return blnk.TokenGrant{}, blnk.ErrTokenInvalid
	}
	if err != nil {
		return blnk.TokenGrant{}, err
	}
	now := s.now()
	switch {
	case !g.Token.RevokedAt.IsZero():
		return blnk.TokenGrant{}, blnk.ErrTokenRevoked
	case !now.Before(g.Token.ExpiresAt):
		return blnk.TokenGrant{}, blnk.ErrTokenExpired
	}
	if now.Sub(g.Token.LastUsedAt) >= time.Minute {
		if err := s.store.TouchToken(ctx, g.Token.ID, now, ip); err != nil {
			s.log.Warn("record a token's use", "token_id", g.Token.ID, "err", err)
		}
	}
	return g, nil
}
