// Package apiv1 holds the JSON bodies of the management API's key
// routes (/api/v1/keys, described by web/openapi) as Go types: the server
// (package web) writes them and the command line's client
// (cmd/dashboard, keys ... --server) reads them, so that the two cannot
// drift apart.
package apiv1

import (
	"time"

	"github.com/blnk-cloud/apikeys/internal/apikey"
)

// Key is a key as the management API shows it.
type Key struct {
	ID          string     `json:"id"`
	WorkspaceID int64      `json:"workspace_id"`
	Name        string     `json:"name"`
	Prefix      string     `json:"prefix"`
	Status      string     `json:"status"`
	Scopes      []string   `json:"scopes"`
	Role        string     `json:"role"` // always member, as whoami says
	Description string     `json:"description"`
	Allowlist   []string   `json:"allowlist"`
	CreatedAt   time.Time  `json:"created_at"`
	CreatedBy   *string    `json:"created_by"` // null: the command line
	ExpiresAt   *time.Time `json:"expires_at"` // null: never
	LastUsedAt  *time.Time `json:"last_used_at"`
	RevokedAt   *time.Time `json:"revoked_at"`
	RolledFrom  *KeyRef    `json:"rolled_from"`
	RolledInto  *KeyRef    `json:"rolled_into"`
}

// KeyRef names a key without saying anything secret.
type KeyRef struct {
	ID     string `json:"id"`
	Prefix string `json:"prefix"`
}

// Page is a page of a list: its items, and the cursor of the next page
// (null and has_more false on the last).
type Page[T any] struct {
	Data       []T     `json:"data"`
	NextCursor *string `json:"next_cursor"`
	HasMore    bool    `json:"has_more"`
}

// CreatedKey is the answer to a create or a roll: the key and its
// secret, this once.
type CreatedKey struct {
	Key
	Secret string `json:"secret"`
}

// Confirmation is how the running servers confirmed a change.
type Confirmation struct {
	Confirmed int   `json:"confirmed"`
	Lapsed    int   `json:"lapsed"` // servers that stopped trusting their memory instead
	Servers   int   `json:"servers"`
	MS        int64 `json:"ms"`
	Complete  bool  `json:"complete"`
}

// ConfirmationOf is c as the API shows it.
func ConfirmationOf(c apikey.Confirmation) Confirmation {
	return Confirmation{Confirmed: c.Confirmed, Lapsed: c.Lapsed, Servers: c.Servers, MS: c.Took.Milliseconds(), Complete: c.Complete()}
}

// Result is the confirmation c shows, as package apikey has it.
func (c Confirmation) Result() apikey.Confirmation {
	return apikey.Confirmation{Confirmed: c.Confirmed, Lapsed: c.Lapsed, Servers: c.Servers, Took: time.Duration(c.MS) * time.Millisecond}
}

// RolledKey is the answer to a roll: the new key with its secret, the
// key it replaces, and the servers' confirmation of the old key's end.
type RolledKey struct {
	CreatedKey
	Replaced     Key          `json:"replaced"`
	Confirmation Confirmation `json:"confirmation"`
}

// RevokedKey is the answer to a revoke.
type RevokedKey struct {
	Confirmation
	// Revoked is false when the key was revoked already.
	Revoked bool `json:"revoked"`
	Key     Key  `json:"key"`
}

// Error is the API's error: {"error": {"code", "message", "fields"}},
// fields only for validation_failed.
type Error struct {
	Error ErrorObject `json:"error"`
}

// ErrorObject is what an Error says.
type ErrorObject struct {
	Code    string            `json:"code"`
	Message string            `json:"message"`
	Fields  map[string]string `json:"fields,omitempty"`
}
