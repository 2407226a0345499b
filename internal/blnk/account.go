package blnk

import (
	"time"

	"github.com/blnk-cloud/apikeys/internal/account"
)

// Login is what signing in needs to know about an email address.
type Login struct {
	User         account.User
	Workspace    account.Workspace
	PasswordHash string
}

// Session is a signed-in browser session.
type Session struct {
	User       account.User
	Workspace  account.Workspace
	CreatedAt  time.Time
	LastSeenAt time.Time
}
