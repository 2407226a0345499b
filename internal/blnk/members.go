package blnk

import (
	"strings"
	"time"

	"github.com/blnk-cloud/apikeys/internal/apikey"
	"github.com/blnk-cloud/apikeys/internal/audit"
	"github.com/blnk-cloud/apikeys/internal/derrors"
)

// Role is what a person may do in one workspace (web/README.md, "People
// and roles"). A person has one role in each workspace they belong to.
// An API key's role is another thing (apikey.Member): what the key may
// do in the workspace's APIs.
type Role string

// The roles, from most to least.
const (
	RoleOwner  Role = "owner"
	RoleAdmin  Role = "admin"
	RoleMember Role = "member"
	RoleViewer Role = "viewer"
)

// Roles returns every role, from most to least.
func Roles() []Role { return []Role{RoleOwner, RoleAdmin, RoleMember, RoleViewer} }

// ParseRole reads a role as forms and the command line write it.
func ParseRole(s string) (Role, error) {
	r := Role(strings.ToLower(strings.TrimSpace(s)))
	if r.rank() == 0 {
		return "", derrors.Errorf(derrors.EINVALID, "Choose a role: Owner, Admin, Member or Viewer.")
	}
	return r, nil
}

// Label is how pages name the role: "Owner".
func (r Role) Label() string {
	if r == "" {
		return ""
	}
	return strings.ToUpper(string(r[:1])) + string(r[1:])
}

// rank orders the roles: each may do everything the ones below it may
// (the SPEC's table is monotonic); 0 is no role.
func (r Role) rank() int {
	switch r {
	case RoleOwner:
		return 4
	case RoleAdmin:
		return 3
	case RoleMember:
		return 2
	case RoleViewer:
		return 1
	}
	return 0
}

// AtLeast reports whether r may do everything min may.
func (r Role) AtLeast(min Role) bool { return r.rank() >= min.rank() && min.rank() > 0 }

// Permission is one line of the roles table: a kind of action a role
// may or may not take.
type Permission int

// The lines of the roles table.
const (
	// PermRead: see keys, their details and usage, the audit log, the
	// members.
	PermRead Permission = iota
	// PermCreateKeys: create keys, and edit, roll and revoke the keys one
	// created.
	PermCreateKeys
	// PermAnyKey: edit, roll and revoke any key of the workspace.
	PermAnyKey
	// PermWebhooks: see and change webhook endpoints.
	PermWebhooks
	// PermMembers: invite, remove and change the role of Admins, Members
	// and Viewers.
	PermMembers
	// PermOwners: make or remove Owners.
	PermOwners
	// PermPolicies: set the workspace's key policies.
	PermPolicies
)

// Needs returns the least role that has p.
func (p Permission) Needs() Role {
	switch p {
	case PermRead:
		return RoleViewer
	case PermCreateKeys:
		return RoleMember
	case PermAnyKey, PermWebhooks, PermMembers:
		return RoleAdmin
	}
	return RoleOwner
}

// Can reports whether r has p.
func (r Role) Can(p Permission) bool { return r.AtLeast(p.Needs()) }

// CanManage reports whether r may invite someone as, remove, or change
// the role of a person whose role is target (or who is to get it): Admins
// manage Admins, Members and Viewers; only Owners manage Owners.
func (r Role) CanManage(target Role) bool {
	if target == RoleOwner {
		return r.Can(PermOwners)
	}
	return r.Can(PermMembers)
}

// Forbidden is the error of an action role may not take: its message
// names the role the action needs.
func Forbidden(need Role, what string) error {
	more := ""
	if need != RoleOwner {
		more = " or higher"
	}
	return derrors.Errorf(derrors.EFORBIDDEN, "%s needs the %s role%s in this workspace. Ask an Owner or Admin to change your role.", what, need.Label(), more)
}

// Membership is a person's place in one workspace.
type Membership struct {
	Workspace Workspace
	Role      Role
}

// Member is a person of a workspace, as the members page lists them.
type Member struct {
	User     User
	Role     Role
	JoinedAt time.Time
	// LastSignInAt is the person's last sign-in (to any workspace); zero
	// if never since they joined.
	LastSignInAt time.Time
}

// InvitationTTL is how long an invitation may be accepted.
const InvitationTTL = 7 * 24 * time.Hour

// Invitation asks a person (an email) to join a workspace with a role.
// Only a hash of its token is stored; the link is shown once.
type Invitation struct {
	ID          string
	WorkspaceID int64
	Workspace   string // its name
	Email       string
	Role        Role
	InvitedBy   string // email of the person who invited; "" if unknown
	CreatedAt   time.Time
	ExpiresAt   time.Time
	AcceptedAt  time.Time
	RevokedAt   time.Time
}

// Pending reports whether the invitation may still be accepted at now.
func (i Invitation) Pending(now time.Time) bool {
	return i.AcceptedAt.IsZero() && i.RevokedAt.IsZero() && now.Before(i.ExpiresAt)
}

// Unusable says why an invitation cannot be accepted at now (an error
// with a sentence), or nil.
func (i Invitation) Unusable(now time.Time) error {
	switch {
	case !i.RevokedAt.IsZero():
		return ErrInvitationRevoked
	case !i.AcceptedAt.IsZero():
		return ErrInvitationUsed
	case !now.Before(i.ExpiresAt):
		return ErrInvitationExpired
	}
	return nil
}

// KeyHandOff is what happens to a removed member's active keys.
type KeyHandOff string

// The choices of a removal: the keys go to the person who removes, or
// are revoked.
const (
	KeysTransfer KeyHandOff = "transfer"
	KeysRevoke   KeyHandOff = "revoke"
)

// ParseKeyHandOff reads the removal form's keys field; there is no
// default.
func ParseKeyHandOff(s string) (KeyHandOff, error) {
	switch KeyHandOff(s) {
	case KeysTransfer, KeysRevoke:
		return KeyHandOff(s), nil
	}
	return "", derrors.Errorf(derrors.EINVALID, "Choose what happens to the member's keys: transfer them to you, or revoke them.")
}

// The errors of members and invitations.
var (
	ErrLastOwner         = &derrors.Error{Code: derrors.ECONFLICT, Message: "A workspace needs at least one Owner: make someone else an Owner first."}
	ErrAlreadyMember     = &derrors.Error{Code: derrors.ECONFLICT, Message: "This person is a member of the workspace already."}
	ErrInvitationExpired = &derrors.Error{Code: derrors.ECONFLICT, Message: "This invitation has expired. Ask for a new one."}
	ErrInvitationRevoked = &derrors.Error{Code: derrors.ECONFLICT, Message: "This invitation was revoked. Ask for a new one."}
	ErrInvitationUsed    = &derrors.Error{Code: derrors.ECONFLICT, Message: "This invitation has been used already."}
	ErrWrongInvitee      = &derrors.Error{Code: derrors.EFORBIDDEN, Message: "This invitation is meant for another email address."}
	ErrRoleChanged       = &derrors.Error{Code: derrors.ECONFLICT, Message: "This person's role changed meanwhile: reload the page and try again."}
	ErrTransferToSelf    = &derrors.Error{Code: derrors.EINVALID, Message: "You cannot transfer your keys to yourself: choose to revoke them, or ask another Admin to remove you."}
	ErrWorkspaceTaken    = &derrors.Error{Code: derrors.ECONFLICT, Message: "A workspace with this name exists already."}
)

// NewInvitation is what CreateInvitation stores.
type NewInvitation struct {
	Invitation Invitation // ID, WorkspaceID, Email, Role, CreatedAt, ExpiresAt
	TokenHash  []byte     // SHA-256 of the link's token
	Actor      audit.Actor
}

// Acceptance is an invitation being accepted: by a new person (UserID 0,
// with Name and PasswordHash) or by the existing person UserID, whose
// email must be the invitation's.
type Acceptance struct {
	TokenHash    []byte
	UserID       int64
	Name         string
	PasswordHash string
	Actor        audit.Actor // IP and request; the person is filled in
	Now          time.Time
}

// RoleChange changes a member's role from From (as read when the change
// was allowed) to To.
type RoleChange struct {
	WorkspaceID int64
	UserID      int64
	From, To    Role
	Actor       audit.Actor
	Now         time.Time
}

// Removal removes a member whose role is Role (as read when the removal
// was allowed), handing their active keys to the user To or revoking
// them.
type Removal struct {
	WorkspaceID int64
	UserID      int64
	Role        Role
	Keys        KeyHandOff
	To          int64 // the remover, who takes the keys on transfer
	Actor       audit.Actor
	Now         time.Time
}

// Removed is what RemoveMember did.
type Removed struct {
	Member Member
	// Keys are the member's active keys, transferred or revoked.
	Keys []apikey.Key
	// Seq is the last key change the revocations or transfers made (0 if
	// none).
	Seq int64
	// Sessions is how many sessions of the member ended.
	Sessions int64
}
