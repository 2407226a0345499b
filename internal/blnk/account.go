package blnk

import (
	"time"
)

// Login is what signing in needs to know about an email address.
type Login struct {
	User         User
	Workspace    Workspace
	PasswordHash string
}

// Session is a signed-in browser session.
type Session struct {
	User       User
	Workspace  Workspace
	CreatedAt  time.Time
	LastSeenAt time.Time
}
