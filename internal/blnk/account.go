package blnk

import (
	"time"

	"github.com/blnk-cloud/apikeys/internal/derrors"
)

// The errors of accounts.
var (
	// ErrEmailTaken: an account with this email exists already.
	ErrEmailTaken = &derrors.Error{Code: derrors.ECONFLICT, Message: "An account with this email exists already."}
	// ErrAlreadySet: the first-run setup was done already.
	ErrAlreadySet = &derrors.Error{Code: derrors.ECONFLICT, Message: "This dashboard has been set up already."}
)

// Login is what signing in needs to know about an email address.
type Login struct {
	User         User
	Workspace    Workspace
	PasswordHash string
}

// Session is a signed-in browser session.
type Session struct {
	User      User
	Workspace Workspace
	// Role is the user's role in Workspace, read with the session on
	// every request: a change takes effect on the next one.
	Role       Role
	CreatedAt  time.Time
	LastSeenAt time.Time
	// SudoAt is when the session last gave a password or a second
	// factor (signing in included); zero: never.
	SudoAt time.Time
}
