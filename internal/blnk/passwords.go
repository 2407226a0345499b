package blnk

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"time"

	"github.com/blnk-cloud/apikeys/internal/audit"
	"github.com/blnk-cloud/apikeys/internal/derrors"
)

// ResetTTL is how long a password reset link works.
const ResetTTL = time.Hour

// NewLinkToken returns a random secret for a link (256 bits, base64url): an
// invitation's or a password reset's. Only its TokenHash is stored.
func NewLinkToken() (string, error) {
	var raw [32]byte
	if _, err := rand.Read(raw[:]); err != nil {
		return "", err
	}
	return base64.RawURLEncoding.EncodeToString(raw[:]), nil
}

// TokenHash is what the database stores of a link's token.
func TokenHash(token string) []byte {
	sum := sha256.Sum256([]byte(token))
	return sum[:]
}

// PasswordReset is a password reset link as stored (never its token).
type PasswordReset struct {
	User      User
	CreatedAt time.Time
	ExpiresAt time.Time
	UsedAt    time.Time // zero: not used
}

// Unusable says why the link cannot be used at now (an error with a
// sentence), or nil.
func (r PasswordReset) Unusable(now time.Time) error {
	switch {
	case !r.UsedAt.IsZero():
		return ErrResetUsed
	case !now.Before(r.ExpiresAt):
		return ErrResetExpired
	}
	return nil
}

// NewPasswordReset is a reset link to store: password.reset_link_created
// is recorded with it, in WorkspaceID, or in each workspace of the
// person when WorkspaceID is 0 ("forgot password", the command line).
type NewPasswordReset struct {
	UserID      int64
	WorkspaceID int64
	TokenHash   []byte
	CreatedAt   time.Time
	ExpiresAt   time.Time
	Actor       audit.Actor
	Details     map[string]any
}

// PasswordChange uses a reset link: the person's password becomes
// PasswordHash, every session of theirs ends, the link is used, and
// password.changed is recorded in each of their workspaces.
type PasswordChange struct {
	TokenHash    []byte
	PasswordHash string
	Actor        audit.Actor
	Now          time.Time
}

// PasswordChanged is what a PasswordChange did.
type PasswordChanged struct {
	User     User
	Sessions int64 // sessions ended
}

// SessionInfo is one of a person's sessions, as their list shows it.
type SessionInfo struct {
	ID         string // public: never the token or its hash
	UserAgent  string // as the browser sent it at sign-in
	IP         string // the address it signed in from
	Workspace  string
	CreatedAt  time.Time
	LastSeenAt time.Time
	Current    bool // the session of the request that lists them
}

// SessionClient is where a new session signs in from.
type SessionClient struct {
	ID        string
	UserAgent string
	IP        string
}

// Limits on what a session records of its client.
const (
	MaxUserAgent = 512
	MaxIP        = 64
)

// Why a reset link is refused.
var (
	ErrResetInvalid = &derrors.Error{Code: derrors.ENOTFOUND, Message: "This password reset link is not valid. Check that you copied all of it, or ask for a new one."}
	ErrResetUsed    = &derrors.Error{Code: derrors.ECONFLICT, Message: "This password reset link was used already. Ask for a new one if you need it."}
	ErrResetExpired = &derrors.Error{Code: derrors.ECONFLICT, Message: "This password reset link has expired (links work for an hour). Ask for a new one."}
)
