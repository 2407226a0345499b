// Package accounts is the service that owns every change to people and
// their sessions: the first-run setup, signing in and out, the sessions'
// idle and absolute timeouts, and the audit events of all of these. The
// web pages go through it, never to the store. (What a person, a
// workspace and a session are is in blnk; password hashing in
// internal/password.)
package accounts

import (
	"context"
	"errors"
	"log/slog"
	"time"

	"github.com/blnk-cloud/apikeys/internal/audit"
	"github.com/blnk-cloud/apikeys/internal/blnk"
)

// Store is what the service needs of the database (db.DB).
type Store interface {
	SetupFirstAdmin(ctx context.Context, workspace, email, passwordHash string, now time.Time) (blnk.Workspace, blnk.User, error)
	CreateSessionFrom(ctx context.Context, tokenHash []byte, userID, workspaceID int64, now time.Time, client blnk.SessionClient, events ...audit.Event) error
	SessionByToken(ctx context.Context, tokenHash []byte) (blnk.Session, error)
	TouchSession(ctx context.Context, tokenHash []byte, now time.Time) error
	DeleteSession(ctx context.Context, tokenHash []byte, events ...audit.Event) error
	DeleteStaleSessions(ctx context.Context, idleBefore, createdBefore time.Time) (int64, error)
	SwitchWorkspace(ctx context.Context, tokenHash []byte, userID, workspaceID int64) error
	RecordEvent(ctx context.Context, ev audit.Event) error
	FindUser(ctx context.Context, email string) (blnk.User, error)
	CreatePasswordReset(ctx context.Context, r blnk.NewPasswordReset) error
	ResetPassword(ctx context.Context, c blnk.PasswordChange) (blnk.PasswordChanged, error)
	RevokeSession(ctx context.Context, userID int64, id string, keep []byte, ev audit.Event) error
	RevokeOtherSessions(ctx context.Context, userID int64, keep []byte, ev audit.Event) (int64, error)
}

// Config is how sessions behave.
type Config struct {
	// Idle ends a session unused for this long; Lifetime ends any session
	// this old.
	Idle, Lifetime time.Duration
	// Now is the clock.
	Now func() time.Time
}

// Service changes people's accounts and sessions.
type Service struct {
	cfg   Config
	store Store
	log   *slog.Logger
}

// New returns a Service on store.
func New(cfg Config, store Store, log *slog.Logger) *Service {
	return &Service{cfg: cfg, store: store, log: log}
}

// Setup creates the first workspace and its admin, once:
// blnk.ErrAlreadySet when an admin exists already (another setup won).
func (s *Service) Setup(ctx context.Context, workspace, email, passwordHash string) (blnk.Workspace, blnk.User, error) {
	ws, u, err := s.store.SetupFirstAdmin(ctx, workspace, email, passwordHash, s.cfg.Now())
	if err == nil {
		s.log.Info("first admin created", "workspace_id", ws.ID, "user_id", u.ID)
	}
	return ws, u, err
}

// StartSession stores a new session of u in workspaceID under tokenHash
// and records user.signed_in by actor, in one write. userAgent is the
// browser's, kept (with actor.IP) for the person's list of sessions.
func (s *Service) StartSession(ctx context.Context, tokenHash []byte, u blnk.User, workspaceID int64, actor audit.Actor, userAgent string) error {
	return s.StartSessionBy(ctx, tokenHash, u, workspaceID, actor, userAgent, "")
}

// StartSessionBy is StartSession for a sign-in by method (such as
// "passkey"), which user.signed_in records as its "method"; "": none.
func (s *Service) StartSessionBy(ctx context.Context, tokenHash []byte, u blnk.User, workspaceID int64, actor audit.Actor, userAgent, method string) error {
	now := s.cfg.Now()
	signedIn := audit.Event{WorkspaceID: workspaceID, At: now, Action: audit.UserSignedIn, Actor: actor}
	if method != "" {
		signedIn.Details = map[string]any{"method": method}
	}
	return s.store.CreateSessionFrom(ctx, tokenHash, u.ID, workspaceID, now, blnk.SessionClient{UserAgent: userAgent, IP: actor.IP}, signedIn)
}

// Session returns the live session of tokenHash: blnk.ErrNotFound when
// there is none, or when it was idle or alive too long (it is then
// deleted). A session in use is marked seen at most every touch
// interval, so that a busy browser is not a write per request.
func (s *Service) Session(ctx context.Context, tokenHash []byte) (blnk.Session, error) {
	ds, err := s.store.SessionByToken(ctx, tokenHash)
	if err != nil {
		return blnk.Session{}, err
	}
	now := s.cfg.Now()
	if now.Sub(ds.LastSeenAt) > s.cfg.Idle || now.Sub(ds.CreatedAt) > s.cfg.Lifetime {
		if err := s.store.DeleteSession(ctx, tokenHash); err != nil {
			return blnk.Session{}, err
		}
		return blnk.Session{}, blnk.ErrNotFound
	}
	if now.Sub(ds.LastSeenAt) > TouchInterval(s.cfg.Idle) {
		if err := s.store.TouchSession(ctx, tokenHash, now); err != nil {
			return blnk.Session{}, err
		}
	}
	return ds, nil
}

// TouchInterval is how often a session in use is marked seen: every
// minute, or every quarter of the idle timeout if that is shorter, so that
// an idle timeout of any length is kept to within a quarter.
func TouchInterval(idle time.Duration) time.Duration {
	return min(time.Minute, idle/4)
}

// EndSession deletes the session of tokenHash; signedOut, if not nil, is
// the user.signed_out event recorded with it.
func (s *Service) EndSession(ctx context.Context, tokenHash []byte, signedOut *audit.Event) error {
	if signedOut == nil {
		return s.store.DeleteSession(ctx, tokenHash)
	}
	signedOut.At = s.cfg.Now()
	return s.store.DeleteSession(ctx, tokenHash, *signedOut)
}

// SignInFailed records user.sign_in_failed.
func (s *Service) SignInFailed(ctx context.Context, ev audit.Event) error {
	ev.At, ev.Action = s.cfg.Now(), audit.UserSignInFailed
	return s.store.RecordEvent(ctx, ev)
}

// DeleteStale deletes the sessions that have timed out, and returns how
// many.
func (s *Service) DeleteStale(ctx context.Context) (int64, error) {
	now := s.cfg.Now()
	return s.store.DeleteStaleSessions(ctx, now.Add(-s.cfg.Idle), now.Add(-s.cfg.Lifetime))
}

// Switch makes workspaceID the current workspace of the session of
// tokenHash, whose person is userID: blnk.ErrNotFound unless they are a
// member of it. The session remembers it; the role there is read with
// the session on every request.
func (s *Service) Switch(ctx context.Context, tokenHash []byte, userID, workspaceID int64) error {
	if err := s.store.SwitchWorkspace(ctx, tokenHash, userID, workspaceID); err != nil {
		return err
	}
	s.log.Info("workspace switched", "user_id", userID, "workspace_id", workspaceID)
	return nil
}

// ForgotPassword makes a reset link for the person with email, for the
// "forgot password" page, and returns its token and the person: ok is
// false (and nothing is written) when no account has the email. The
// caller answers the same either way.
func (s *Service) ForgotPassword(ctx context.Context, email string, via audit.Actor) (token string, u blnk.User, ok bool, err error) {
	u, err = s.store.FindUser(ctx, email)
	if errors.Is(err, blnk.ErrNotFound) {
		return "", blnk.User{}, false, nil
	}
	if err != nil {
		return "", blnk.User{}, false, err
	}
	token, err = s.resetLink(ctx, u.ID, 0, via, map[string]any{"via": "forgot password"})
	if err != nil {
		return "", blnk.User{}, false, err
	}
	s.log.Info("password reset link emailed", "user_id", u.ID, "request_id", via.Request)
	return token, u, true, nil
}

// ResetLinkFor makes a reset link for the person with email, for the
// command line (a locked-out Owner): blnk.ErrNotFound when no account
// has it.
func (s *Service) ResetLinkFor(ctx context.Context, email string) (string, blnk.User, error) {
	u, err := s.store.FindUser(ctx, email)
	if err != nil {
		return "", blnk.User{}, err
	}
	token, err := s.resetLink(ctx, u.ID, 0, audit.Actor{Kind: audit.CommandLine}, map[string]any{"via": "command line"})
	if err != nil {
		return "", blnk.User{}, err
	}
	s.log.Info("password reset link created", "user_id", u.ID, "via", "command line")
	return token, u, nil
}

// resetLink stores a new reset link of userID and returns its token.
func (s *Service) resetLink(ctx context.Context, userID, workspaceID int64, by audit.Actor, details map[string]any) (string, error) {
	token, err := blnk.NewLinkToken()
	if err != nil {
		return "", err
	}
	now := s.cfg.Now()
	err = s.store.CreatePasswordReset(ctx, blnk.NewPasswordReset{
		UserID: userID, WorkspaceID: workspaceID, TokenHash: blnk.TokenHash(token),
		CreatedAt: now, ExpiresAt: now.Add(blnk.ResetTTL), Actor: by, Details: details,
	})
	return token, err
}

// SetPasswordFromLink uses the reset link of token: the person's password
// becomes passwordHash and every session of theirs ends, on every
// server (sessions are rows read on each request), before it returns.
func (s *Service) SetPasswordFromLink(ctx context.Context, token, passwordHash string, via audit.Actor) (blnk.PasswordChanged, error) {
	out, err := s.store.ResetPassword(ctx, blnk.PasswordChange{TokenHash: blnk.TokenHash(token), PasswordHash: passwordHash, Actor: via, Now: s.cfg.Now()})
	if err != nil {
		return blnk.PasswordChanged{}, err
	}
	s.log.Info("password changed", "user_id", out.User.ID, "sessions_ended", out.Sessions, "request_id", via.Request)
	return out, nil
}

// SignOutSession signs out the person's session id (not the one of
// current, the asking session's token hash), and records session.revoked
// in workspaceID: blnk.ErrNotFound when it is not one of theirs.
func (s *Service) SignOutSession(ctx context.Context, by audit.Actor, workspaceID int64, current []byte, id string) error {
	ev := audit.Event{WorkspaceID: workspaceID, At: s.cfg.Now(), Action: audit.SessionRevoked, Actor: by, Details: map[string]any{"session": id}}
	if err := s.store.RevokeSession(ctx, by.UserID, id, current, ev); err != nil {
		return err
	}
	s.log.Info("session revoked", "user_id", by.UserID, "session", id, "request_id", by.Request)
	return nil
}

// SignOutEverywhere ends every session of u, on every server, for the
// command line: session.revoked by by (`all`, with how many and the
// person's email) in each workspace of theirs, if any ended. It returns
// how many.
func (s *Service) SignOutEverywhere(ctx context.Context, by audit.Actor, u blnk.User) (int64, error) {
	ev := audit.Event{At: s.cfg.Now(), Action: audit.SessionRevoked, Actor: by, Details: map[string]any{"session": "all", "email": u.Email}}
	n, err := s.store.RevokeOtherSessions(ctx, u.ID, nil, ev)
	if err != nil {
		return 0, err
	}
	s.log.Info("sessions revoked", "user_id", u.ID, "sessions", n, "by", by.Name())
	return n, nil
}

// SignOutOtherSessions signs out every session of the person but the one
// of current, and returns how many ended.
func (s *Service) SignOutOtherSessions(ctx context.Context, by audit.Actor, workspaceID int64, current []byte) (int64, error) {
	ev := audit.Event{WorkspaceID: workspaceID, At: s.cfg.Now(), Action: audit.SessionRevoked, Actor: by, Details: map[string]any{"session": "all others"}}
	n, err := s.store.RevokeOtherSessions(ctx, by.UserID, current, ev)
	if err != nil {
		return 0, err
	}
	s.log.Info("other sessions revoked", "user_id", by.UserID, "sessions", n, "request_id", by.Request)
	return n, nil
}
