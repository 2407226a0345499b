package views

import (
	"context"
	"strconv"
	"strings"
	"time"

	"github.com/blnk-cloud/apikeys/internal/apikey"
	"github.com/blnk-cloud/apikeys/internal/blnk"
)

// NavMembers is Page.Nav for the members pages.
const NavMembers = "members"

// MembersPath is the members page.
const MembersPath = "/settings/members"

// MemberURL is the address of a member's action: "role" or "remove".
func MemberURL(userID int64, action string) string {
	return MembersPath + "/" + strconv.FormatInt(userID, 10) + "/" + action
}

// InvitationRevokeURL revokes a pending invitation.
func InvitationRevokeURL(id string) string { return MembersPath + "/invitations/" + id + "/revoke" }

// Members is the members page: the people, the pending invitations, the
// invite form, and a new invitation's link, shown once.
type Members struct {
	Members     []blnk.Member
	Invitations []blnk.Invitation
	Form        InviteForm
	// Link is the link of the invitation just made ("" otherwise): shown
	// this once.
	Link    string
	Invited blnk.Invitation
	// Emailed: the invitation was also sent by email.
	Emailed bool
	// ResetLink is the password reset link just made for ResetFor ("" otherwise):
	// shown this once, valid until ResetExpires.
	ResetLink    string
	ResetFor     blnk.Member
	ResetExpires time.Time
	Now          time.Time
	// Factors are the second factors of the members who have one.
	Factors map[int64]blnk.Factors
}

// factorLabel says which second factors a member has.
func factorLabel(f blnk.Factors) string {
	var parts []string
	if f.TOTP {
		parts = append(parts, "Authenticator app")
	}
	switch {
	case f.Passkeys == 1:
		parts = append(parts, "1 passkey")
	case f.Passkeys > 1:
		parts = append(parts, strconv.Itoa(f.Passkeys)+" passkeys")
	}
	if len(parts) == 0 {
		return "None"
	}
	return strings.Join(parts, ", ")
}

// InviteForm is the invite form, with its problems when refused.
type InviteForm struct {
	Email, Role string
	Problems    Problems
}

// RemoveMember is the removal's confirmation: the member and the active
// keys that go to the remover or are revoked.
type RemoveMember struct {
	Member  blnk.Member
	Keys    []apikey.Key
	Self    bool // the person removes themselves (leaves)
	Problem string
	Now     time.Time
}

// AcceptInvitation is the page of an invitation link.
type AcceptInvitation struct {
	Invitation blnk.Invitation
	// Refusal says why the invitation cannot be used ("" if it can).
	Refusal string
	// Existing: the invited email has an account, which signs in to
	// join; else a new person sets a name and a password.
	Existing bool
	Name     string
	Problems Problems
}

// assignable lists the roles the person drawn for may give.
func assignable(ctx context.Context) []blnk.Role {
	var out []blnk.Role
	for _, r := range blnk.Roles() {
		if ViewerOf(ctx).Role.CanManage(r) {
			out = append(out, r)
		}
	}
	return out
}

// manageable reports whether the person drawn for may change m's role
// or remove them.
func manageable(ctx context.Context, m blnk.Member) bool {
	return ViewerOf(ctx).Role.CanManage(m.Role)
}

func memberName(m blnk.Member) string {
	if m.User.Name != "" {
		return m.User.Name
	}
	return m.User.Email
}

func lastSignIn(m blnk.Member, now time.Time) string {
	if m.LastSignInAt.IsZero() {
		return "Never"
	}
	return Ago(m.LastSignInAt, now)
}

func memberRowID(m blnk.Member) string { return "member-" + strconv.FormatInt(m.User.ID, 10) }

// manageableRole reports whether the person drawn for manages people of
// role r.
func manageableRole(ctx context.Context, r blnk.Role) bool { return ViewerOf(ctx).Role.CanManage(r) }

// SwitchURL makes workspace id the session's current one.
func SwitchURL(id int64) string { return "/workspaces/" + strconv.FormatInt(id, 10) + "/switch" }
