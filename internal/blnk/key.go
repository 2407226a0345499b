package blnk

import (
	"net/netip"
	"time"

	"github.com/blnk-cloud/apikeys/internal/apikey"
	"github.com/blnk-cloud/apikeys/internal/audit"
	"github.com/blnk-cloud/apikeys/internal/derrors"
)

// Why a change to a key is refused.
var (
	ErrKeyRevoked = &derrors.Error{Code: derrors.ECONFLICT, Message: "This key has been revoked."}
	ErrKeyExpired = &derrors.Error{Code: derrors.ECONFLICT, Message: "This key has expired."}
	ErrKeyRolled  = &derrors.Error{Code: derrors.ECONFLICT, Message: "This key has been rolled already."}
	// ErrFormUsed: the form token of a roll made another key already (a
	// create form's token sent to a roll).
	ErrFormUsed = &derrors.Error{Code: derrors.ECONFLICT, Message: "This form was sent already; open it again."}
)

// NewKey is what CreateKey stores: a key's metadata, the hash of its
// token, and the one-time token of the form that created it.
type NewKey struct {
	Key         apikey.Key // ID, WorkspaceID, Name, Prefix, Scopes, ExpiresAt, CreatedAt, Allowlist
	Hash        apikey.Hash
	CreatedBy   int64 // user id; 0: unknown (the admin command line)
	CreateToken string
	// Actor made the key: the key.created event of the audit log names
	// it, with Details (the key's id, prefix and workspace are filled in).
	Actor   audit.Actor
	Details map[string]any
}

// Revocation is what RevokeKey did.
type Revocation struct {
	Key     apikey.Key
	Revoked bool  // false: the key was revoked already, nothing changed
	Seq     int64 // the key change that revoked it, when Revoked
}

// Leak is what ReportLeak did.
type Leak struct {
	Key apikey.Key
	// Revoked: the report revoked the key (it was not revoked before).
	Revoked bool
	Seq     int64 // the key change that revoked it, when Revoked
	// Recorded: this was the first report of the key; its exposure, the
	// audit event and the webhook were recorded. Later reports of the
	// same key change nothing.
	Recorded bool
}

// KeyEdit is what an edit may change about a key.
type KeyEdit struct {
	Name        string
	Description string
	Allowlist   []netip.Prefix // normalised; empty: any address
}

// Roll asks RollKey to replace a key by a new one.
type Roll struct {
	WorkspaceID int64
	ID          string // the key to roll
	Now         time.Time
	Overlap     apikey.Overlap
	// FormToken is the roll form's one-time token: it becomes the new
	// key's create token, so that the same form sent twice rolls once.
	FormToken string
	Actor     audit.Actor
	// Revealed marks the new key's token as shown already (the command
	// line prints it): its reveal page shows nothing.
	Revealed bool
	// Successor returns the new key given the old one as it is before the
	// roll, inside the roll's transaction. Its Key.RolledFrom, CreatedAt
	// and CreateToken are set by RollKey.
	Successor func(old apikey.Key) (NewKey, error)
}

// Rolled is what RollKey did.
type Rolled struct {
	Old, New apikey.Key
	// Rolled is false when the same form had rolled the key already:
	// nothing changed, and New is the key it made.
	Rolled bool
	Seq    int64 // the last key change the roll made, when Rolled
	// OldHash is the old key's hash, for the index, when Rolled.
	OldHash apikey.Hash
}

// Expired is a key the expiry sweep saw expired for the first time.
type Expired struct {
	ID          string
	WorkspaceID int64
	Prefix      string
	ExpiresAt   time.Time
}

// NoticeKind is which notice a key is due.
type NoticeKind string

// The notices.
const (
	Expiring7d NoticeKind = "expiring_7d"
	Expiring1d NoticeKind = "expiring_1d"
)

// Notice is a notice a key is due.
type Notice struct {
	Key  apikey.Key
	Kind NoticeKind
}
