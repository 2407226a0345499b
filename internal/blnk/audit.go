package blnk

import (
	"time"

	"github.com/blnk-cloud/apikeys/internal/audit"
)

// AuditFilter selects audit events. Its zero value selects every event of
// every workspace (the command line's export); the dashboard always sets
// WorkspaceID.
type AuditFilter struct {
	WorkspaceID int64  // 0: every workspace, and events of none
	Key         string // a key id, or a display prefix ("blnk_" and 8 hex characters); "": any
	Actor       string // the actor as shown (a user's email, "command line", "system", ...); "": any
	Action      audit.Action
	Since       time.Time // events at or after; zero: no bound
	Until       time.Time // events before; zero: no bound
}

// AuditPage is one page of the audit log, newest first, with the cursors
// of the pages around it (0: none): events older than Older follow,
// events newer than Newer precede.
type AuditPage struct {
	Events       []audit.Event
	Older, Newer int64
}
