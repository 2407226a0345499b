// Package audit describes the workspace's audit log: who did what to which
// key, when and from where. Events are written by the db package in the
// same transaction as the change they record, so that neither exists
// without the other, and are never updated or deleted (only retention
// removes old ones). Standard library only.
package audit

import (
	"encoding/json"
	"time"
)

// Action is what an event records.
type Action string

// The actions of the audit log (web/README.md, "Audit log").
const (
	KeyCreated       Action = "key.created"
	KeyRevealed      Action = "key.revealed"
	KeyEdited        Action = "key.edited"
	KeyRolled        Action = "key.rolled"
	KeyRevoked       Action = "key.revoked"
	KeyLeaked        Action = "key.leaked"
	KeyExpired       Action = "key.expired"
	WebhookCreated   Action = "webhook.created"
	WebhookDeleted   Action = "webhook.deleted"
	WebhookEnabled   Action = "webhook.enabled"
	WebhookDisabled  Action = "webhook.disabled"
	WebhookTested    Action = "webhook.tested"
	UserSignedIn     Action = "user.signed_in"
	UserSignInFailed Action = "user.sign_in_failed"
	UserSignedOut    Action = "user.signed_out"

	KeyTransferred          Action = "key.transferred"
	MemberInvited           Action = "member.invited"
	MemberInvitationRevoked Action = "member.invitation_revoked"
	MemberJoined            Action = "member.joined"
	MemberRoleChanged       Action = "member.role_changed"
	MemberRemoved           Action = "member.removed"

	PolicyChanged            Action = "policy.changed"
	TwoFactorEnabled         Action = "two_factor.enabled"
	TwoFactorDisabled        Action = "two_factor.disabled"
	TwoFactorRecoveryUsed    Action = "two_factor.recovery_used"
	TwoFactorRecoveryNew     Action = "two_factor.recovery_regenerated"
	TwoFactorRequired        Action = "two_factor.required"
	UserSudo                 Action = "user.sudo"
	PasswordResetLinkCreated Action = "password.reset_link_created"
	PasswordChanged          Action = "password.changed"
	SessionRevoked           Action = "session.revoked"
	TokenCreated             Action = "token.created"
	TokenRevoked             Action = "token.revoked"
	PasskeyAdded             Action = "passkey.added"
	PasskeyRemoved           Action = "passkey.removed"
)

// Actions returns every action, in the order web/README.md lists them.
func Actions() []Action {
	return []Action{KeyCreated, KeyRevealed, KeyEdited, KeyRolled, KeyRevoked, KeyLeaked, KeyExpired,
		WebhookCreated, WebhookDeleted, WebhookEnabled, WebhookDisabled, WebhookTested,
		UserSignedIn, UserSignInFailed, UserSignedOut,
		KeyTransferred, MemberInvited, MemberInvitationRevoked, MemberJoined, MemberRoleChanged, MemberRemoved,
		PolicyChanged,
		TwoFactorEnabled, TwoFactorDisabled, TwoFactorRecoveryUsed, TwoFactorRecoveryNew, TwoFactorRequired, UserSudo,
		PasswordResetLinkCreated, PasswordChanged, SessionRevoked,
		TokenCreated, TokenRevoked,
		PasskeyAdded, PasskeyRemoved}
}

// Known reports whether a is one of Actions.
func Known(a Action) bool {
	for _, k := range Actions() {
		if a == k {
			return true
		}
	}
	return false
}

// Actor is who made a change.
type Actor struct {
	UserID int64  // 0: not a signed-in user
	Email  string // the user's, if one
	Kind   ActorKind
	IP     string // the client's address, if any
	// Request is the id of the request that asked, for the logs; it is
	// not stored.
	Request string
	// Via names the management token a user acted through ("" for the
	// browser): events show "EMAIL via token NAME".
	Via string
}

// ActorKind says what kind of actor made a change.
type ActorKind string

// The kinds of actors.
const (
	User        ActorKind = "user"
	CommandLine ActorKind = "command line"
	LeakReport  ActorKind = "leak report"
	System      ActorKind = "system"
)

// Name is how the actor is shown: the user's email, else its kind.
func (a Actor) Name() string {
	if a.Email != "" {
		return a.Email
	}
	return string(a.Kind)
}

// Shown is how the actor is shown with how it acted: Name, and "via
// token NAME" for a change made with a management token.
func (a Actor) Shown() string {
	if a.Via != "" {
		return a.Name() + " via token " + a.Via
	}
	return a.Name()
}

// Event is one entry of the audit log.
type Event struct {
	ID          int64 // assigned when stored; orders events
	WorkspaceID int64 // 0: none (a failed sign-in with an unknown email)
	At          time.Time
	Action      Action
	Actor       Actor
	KeyID       string // "" if the event is not about a key
	KeyPrefix   string
	// Details says what changed: before/after for edits, the overlap of a
	// roll, where a leak was reported. Never a secret.
	Details map[string]any
	// RawDetails is the details as stored (a JSON object), when the event
	// was read from the log.
	RawDetails json.RawMessage
}

// DetailsJSON returns the event's details as stored: a JSON object.
func (e Event) DetailsJSON() string {
	if e.RawDetails != nil {
		return string(e.RawDetails)
	}
	if len(e.Details) == 0 {
		return "{}"
	}
	b, err := json.Marshal(e.Details)
	if err != nil {
		return "{}"
	}
	return string(b)
}
