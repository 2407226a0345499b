package blnk

import (
	"slices"
	"strings"
	"time"

	"github.com/blnk-cloud/apikeys/internal/apikey"
	"github.com/blnk-cloud/apikeys/internal/audit"
	"github.com/blnk-cloud/apikeys/internal/derrors"
)

// TokenScope is what a management token may be used for (SPEC
// "Management API"). Within it, the token can never do more than its
// person's role allows at the time of each request.
type TokenScope string

// The scopes of a management token. keys:write includes keys:read.
const (
	TokenKeysRead    TokenScope = "keys:read"
	TokenKeysWrite   TokenScope = "keys:write"
	TokenMembersRead TokenScope = "members:read"
	TokenAuditRead   TokenScope = "audit:read"
)

// TokenScopeInfo describes a token scope for people choosing one.
type TokenScopeInfo struct {
	Scope       TokenScope
	Description string
}

// TokenScopes returns every token scope, in display order.
func TokenScopes() []TokenScopeInfo {
	return []TokenScopeInfo{
		{TokenKeysRead, "List and read keys."},
		{TokenKeysWrite, "Create, edit, roll and revoke keys, as your role allows. Includes keys:read."},
		{TokenMembersRead, "List the workspace's members."},
		{TokenAuditRead, "Read the audit log."},
	}
}

// ParseTokenScopes validates the scopes of a new token: at least one, none
// unknown; returned sorted and without duplicates.
func ParseTokenScopes(names []string) ([]TokenScope, error) {
	var out []TokenScope
	for _, n := range names {
		s := TokenScope(strings.TrimSpace(n))
		known := false
		for _, i := range TokenScopes() {
			known = known || i.Scope == s
		}
		if !known {
			return nil, derrors.Errorf(derrors.EINVALID, "Unknown scope “%s”: choose from keys:read, keys:write, members:read, audit:read.", clipText(string(s)))
		}
		if !slices.Contains(out, s) {
			out = append(out, s)
		}
	}
	if len(out) == 0 {
		return nil, derrors.Errorf(derrors.EINVALID, "Choose at least one scope.")
	}
	slices.Sort(out)
	return out, nil
}

func clipText(s string) string {
	if r := []rune(s); len(r) > 40 {
		return string(r[:40]) + "…"
	}
	return s
}

// Token expiry choices of the form (field expires; expires_on for a date).
const (
	TokenExpires30d  = "30d"
	TokenExpires90d  = "90d"
	TokenExpires365d = "365d"
	TokenExpiresDate = "date"
)

// MaxTokenLifetime is the longest a management token may live.
const MaxTokenLifetime = 365 * 24 * time.Hour

// TokenExpiry turns an expiry choice into the instant the token stops
// working. Expiry is required and at most a year away; a date means
// through the end of that day (UTC), as for keys.
func TokenExpiry(choice, date string, now time.Time) (time.Time, error) {
	switch choice {
	case TokenExpires30d:
		return now.Add(30 * 24 * time.Hour), nil
	case TokenExpires90d:
		return now.Add(90 * 24 * time.Hour), nil
	case TokenExpires365d:
		return now.Add(MaxTokenLifetime), nil
	case TokenExpiresDate:
		t, err := apikey.Expiry(apikey.ExpiresDate, date, now)
		if err != nil {
			return time.Time{}, err
		}
		if t.Sub(now) > MaxTokenLifetime+24*time.Hour {
			return time.Time{}, derrors.Errorf(derrors.EINVALID, "A token may live at most a year: choose a date up to %s.", now.Add(MaxTokenLifetime).UTC().Format(apikey.DateLayout))
		}
		return t, nil
	case "", "never":
		return time.Time{}, derrors.Errorf(derrors.EINVALID, "Choose when the token expires: a token must expire, at most a year from now.")
	}
	return time.Time{}, derrors.Errorf(derrors.EINVALID, "Choose when the token expires: 30, 90 or 365 days, or a date.")
}

// Token is a management token as stored, without its secret (only a hash
// of it is stored).
type Token struct {
	ID          string // "tok_" and 20 base32 characters
	WorkspaceID int64
	UserID      int64 // the person it acts as
	Name        string
	Prefix      string // "blnkm_" and 8 hex characters
	Scopes      []TokenScope
	CreatedAt   time.Time
	ExpiresAt   time.Time // required: every token expires
	LastUsedAt  time.Time // zero: never
	LastUsedIP  string
	RevokedAt   time.Time
}

// Allows reports whether t holds s; keys:write includes keys:read.
func (t Token) Allows(s TokenScope) bool {
	for _, have := range t.Scopes {
		if have == s || have == TokenKeysWrite && s == TokenKeysRead {
			return true
		}
	}
	return false
}

// Status is "active", "expired" or "revoked" at now.
func (t Token) Status(now time.Time) string {
	switch {
	case !t.RevokedAt.IsZero():
		return "revoked"
	case !now.Before(t.ExpiresAt):
		return "expired"
	}
	return "active"
}

// NewTokenID returns a random token id such as "tok_3kq9x0c1m7f2a8d4w6e5".
func NewTokenID() string { return apikey.RandomID("tok_") }

// ValidTokenID reports whether s has the shape of an id made by NewTokenID.
func ValidTokenID(s string) bool { return apikey.IDShaped(s, "tok_") }

// NewToken is a token to store, with the hash of its secret and the event
// that records it.
type NewToken struct {
	Token Token
	Hash  apikey.Hash
	Actor audit.Actor
}

// TokenGrant is what a request made with a management token may do: the
// token, its person and workspace, and the person's role in it now (read
// on every request, so that a demotion or a removal takes effect at
// once, on every server).
type TokenGrant struct {
	Token     Token
	User      User
	Workspace Workspace
	Role      Role
}

// Errors of a management token that cannot be used: every one is a 401
// invalid_token.
var (
	ErrTokenInvalid = &derrors.Error{Code: derrors.EUNAUTHORIZED, Message: "The management token is not valid. Create one at /settings/tokens and send it as Authorization: Bearer blnkm_..."}
	ErrTokenExpired = &derrors.Error{Code: derrors.EUNAUTHORIZED, Message: "The management token has expired. Create a new one at /settings/tokens."}
	ErrTokenRevoked = &derrors.Error{Code: derrors.EUNAUTHORIZED, Message: "The management token was revoked."}
)
