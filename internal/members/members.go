// Package members is the service that owns every change to who belongs
// to a workspace and with what role: invitations (made, revoked,
// accepted), role changes, removals with their keys' hand-off, and the
// command line's additions, with the rules of the roles table
// (web/README.md, "People and roles") and their audit events. The web
// pages and the command line go through it, never to the store.
package members

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"log/slog"
	"time"

	"github.com/blnk-cloud/apikeys/internal/apikey"
	"github.com/blnk-cloud/apikeys/internal/audit"
	"github.com/blnk-cloud/apikeys/internal/blnk"
)

// Store is what the service needs of the database (db.DB). Each write
// records its audit events in the same transaction.
type Store interface {
	FindMember(ctx context.Context, workspaceID, userID int64) (blnk.Member, error)
	CreateInvitation(ctx context.Context, ni blnk.NewInvitation) (blnk.Invitation, error)
	RevokeMemberInvitation(ctx context.Context, workspaceID int64, id string, by audit.Actor, now time.Time) (blnk.Invitation, error)
	AcceptInvitation(ctx context.Context, a blnk.Acceptance) (blnk.User, blnk.Invitation, error)
	AddMember(ctx context.Context, workspaceID int64, email, passwordHash string, role blnk.Role, by audit.Actor, now time.Time) (blnk.User, bool, error)
	ChangeMemberRole(ctx context.Context, c blnk.RoleChange) (blnk.Member, error)
	RemoveMember(ctx context.Context, r blnk.Removal) (blnk.Removed, error)
	CreatePasswordReset(ctx context.Context, r blnk.NewPasswordReset) error
}

// Revoker makes revocations just committed exact on every server
// (keys.Service.Revoked): a removal that revokes keys answers once the
// servers refuse them.
type Revoker interface {
	Revoked(ctx context.Context, keys []apikey.Key, seq int64, committed time.Time) apikey.Confirmation
}

// Service changes a workspace's members.
type Service struct {
	store   Store
	revoker Revoker
	now     func() time.Time
	log     *slog.Logger
}

// New returns a Service on store; revoker (may be nil in tools that
// revoke nothing) confirms the revocations of removals.
func New(store Store, revoker Revoker, now func() time.Time, log *slog.Logger) *Service {
	if now == nil {
		now = time.Now
	}
	return &Service{store: store, revoker: revoker, now: now, log: log}
}

// Actor is who asks for a change: the person, their role in the
// workspace as read with this request, and how they reach us.
type Actor struct {
	audit.Actor
	WorkspaceID int64
	Role        blnk.Role
}

// TokenHash is what the database stores of an invitation token.
func TokenHash(token string) []byte {
	sum := sha256.Sum256([]byte(token))
	return sum[:]
}

// Invited is a new invitation and its token, to be shown once.
type Invited struct {
	Invitation blnk.Invitation
	Token      string
}

// Invite invites email to the workspace with role. Admins invite Admins,
// Members and Viewers; only Owners invite Owners.
func (s *Service) Invite(ctx context.Context, by Actor, email string, role blnk.Role) (Invited, error) {
	if !by.Role.CanManage(role) {
		return Invited{}, blnk.Forbidden(needed(role), "Inviting someone as "+role.Label())
	}
	var raw [32]byte // 256 bits
	if _, err := rand.Read(raw[:]); err != nil {
		return Invited{}, err
	}
	token := base64.RawURLEncoding.EncodeToString(raw[:])
	var id [8]byte
	if _, err := rand.Read(id[:]); err != nil {
		return Invited{}, err
	}
	now := s.now()
	inv, err := s.store.CreateInvitation(ctx, blnk.NewInvitation{
		Invitation: blnk.Invitation{
			ID: "inv_" + fmt.Sprintf("%x", id[:]), WorkspaceID: by.WorkspaceID, Email: email, Role: role,
			CreatedAt: now, ExpiresAt: now.Add(blnk.InvitationTTL),
		},
		TokenHash: TokenHash(token),
		Actor:     by.Actor,
	})
	if err != nil {
		return Invited{}, err
	}
	s.log.Info("member invited", "workspace_id", by.WorkspaceID, "invitation", inv.ID, "role", role, "actor", by.Name(), "request_id", by.Request)
	return Invited{Invitation: inv, Token: token}, nil
}

// needed is the role that manages people of role r.
func needed(r blnk.Role) blnk.Role {
	if r == blnk.RoleOwner {
		return blnk.PermOwners.Needs()
	}
	return blnk.PermMembers.Needs()
}

// RevokeInvitation revokes a pending invitation of the actor's workspace.
func (s *Service) RevokeInvitation(ctx context.Context, by Actor, id string) (blnk.Invitation, error) {
	if !by.Role.Can(blnk.PermMembers) {
		return blnk.Invitation{}, blnk.Forbidden(blnk.PermMembers.Needs(), "Revoking an invitation")
	}
	inv, err := s.store.RevokeMemberInvitation(ctx, by.WorkspaceID, id, by.Actor, s.now())
	if err != nil {
		return blnk.Invitation{}, err
	}
	s.log.Info("invitation revoked", "workspace_id", by.WorkspaceID, "invitation", inv.ID, "actor", by.Name(), "request_id", by.Request)
	return inv, nil
}

// Accept uses an invitation's token: a new person (userID 0) with name
// and passwordHash, or the signed-in existing person userID, joins the
// invitation's workspace with its role.
func (s *Service) Accept(ctx context.Context, token string, userID int64, name, passwordHash string, via audit.Actor) (blnk.User, blnk.Invitation, error) {
	u, inv, err := s.store.AcceptInvitation(ctx, blnk.Acceptance{
		TokenHash: TokenHash(token), UserID: userID, Name: name, PasswordHash: passwordHash, Actor: via, Now: s.now(),
	})
	if err != nil {
		return blnk.User{}, blnk.Invitation{}, err
	}
	s.log.Info("member joined", "workspace_id", inv.WorkspaceID, "user_id", u.ID, "invitation", inv.ID, "role", inv.Role, "request_id", via.Request)
	return u, inv, nil
}

// ChangeRole gives member userID the role to. Admins change Admins,
// Members and Viewers among themselves; only Owners make or unmake
// Owners; the last Owner stays one.
func (s *Service) ChangeRole(ctx context.Context, by Actor, userID int64, to blnk.Role) (blnk.Member, error) {
	m, err := s.manageable(ctx, by, userID, "Changing this person's role")
	if err != nil {
		return blnk.Member{}, err
	}
	if !by.Role.CanManage(to) {
		return blnk.Member{}, blnk.Forbidden(needed(to), "Making someone an "+to.Label())
	}
	out, err := s.store.ChangeMemberRole(ctx, blnk.RoleChange{WorkspaceID: by.WorkspaceID, UserID: userID, From: m.Role, To: to, Actor: by.Actor, Now: s.now()})
	if err != nil {
		return blnk.Member{}, err
	}
	s.log.Info("member role changed", "workspace_id", by.WorkspaceID, "user_id", userID, "from", m.Role, "to", to, "actor", by.Name(), "request_id", by.Request)
	return out, nil
}

// manageable returns member userID of the actor's workspace if the actor
// may change them.
func (s *Service) manageable(ctx context.Context, by Actor, userID int64, what string) (blnk.Member, error) {
	if !by.Role.Can(blnk.PermMembers) {
		return blnk.Member{}, blnk.Forbidden(blnk.PermMembers.Needs(), what)
	}
	m, err := s.store.FindMember(ctx, by.WorkspaceID, userID)
	if err != nil {
		return blnk.Member{}, err
	}
	if !by.Role.CanManage(m.Role) {
		return blnk.Member{}, blnk.Forbidden(needed(m.Role), what+" (an Owner)")
	}
	return m, nil
}

// Removable returns member userID of the actor's workspace if the actor may
// remove them (for the removal's confirmation).
func (s *Service) Removable(ctx context.Context, by Actor, userID int64) (blnk.Member, error) {
	return s.manageable(ctx, by, userID, "Removing this person")
}

// Remove removes member userID from the actor's workspace: their active
// keys go to the actor (transfer) or are revoked, and their sessions in
// the workspace end, before it returns. The last Owner stays.
func (s *Service) Remove(ctx context.Context, by Actor, userID int64, keys blnk.KeyHandOff) (blnk.Removed, error) {
	m, err := s.manageable(ctx, by, userID, "Removing this person")
	if err != nil {
		return blnk.Removed{}, err
	}
	if keys == blnk.KeysTransfer && userID == by.UserID {
		return blnk.Removed{}, blnk.ErrTransferToSelf
	}
	out, err := s.store.RemoveMember(ctx, blnk.Removal{
		WorkspaceID: by.WorkspaceID, UserID: userID, Role: m.Role, Keys: keys, To: by.UserID, Actor: by.Actor, Now: s.now(),
	})
	if err != nil {
		return blnk.Removed{}, err
	}
	committed := time.Now()
	if keys == blnk.KeysRevoke && len(out.Keys) > 0 && s.revoker != nil {
		c := s.revoker.Revoked(ctx, out.Keys, out.Seq, committed)
		for i := range out.Keys {
			out.Keys[i].RevokeConfirmation = c
		}
	}
	s.log.Info("member removed", "workspace_id", by.WorkspaceID, "user_id", userID, "keys", keys, "key_count", len(out.Keys),
		"sessions", out.Sessions, "actor", by.Name(), "request_id", by.Request)
	return out, nil
}

// Add makes the person with email a member of workspaceID with role (the
// command line): a new person gets passwordHash.
func (s *Service) Add(ctx context.Context, workspaceID int64, email, passwordHash string, role blnk.Role) (blnk.User, bool, error) {
	u, created, err := s.store.AddMember(ctx, workspaceID, email, passwordHash, role, audit.Actor{Kind: audit.CommandLine}, s.now())
	if err != nil {
		return blnk.User{}, false, err
	}
	s.log.Info("member added", "workspace_id", workspaceID, "user_id", u.ID, "role", role, "new_person", created)
	return u, created, nil
}

// ResetLink makes a one-hour password reset link for member userID and
// returns its token, to be shown once. Owners and Admins make them;
// only Owners make them for Owners (the roles table: who may remove
// someone may reset their password). password.reset_link_created is
// recorded in the actor's workspace.
func (s *Service) ResetLink(ctx context.Context, by Actor, userID int64) (string, blnk.Member, error) {
	m, err := s.manageable(ctx, by, userID, "Making a password reset link")
	if err != nil {
		return "", blnk.Member{}, err
	}
	token, err := blnk.NewLinkToken()
	if err != nil {
		return "", blnk.Member{}, err
	}
	now := s.now()
	if err := s.store.CreatePasswordReset(ctx, blnk.NewPasswordReset{
		UserID: userID, WorkspaceID: by.WorkspaceID, TokenHash: blnk.TokenHash(token),
		CreatedAt: now, ExpiresAt: now.Add(blnk.ResetTTL), Actor: by.Actor,
	}); err != nil {
		return "", blnk.Member{}, err
	}
	s.log.Info("password reset link created", "workspace_id", by.WorkspaceID, "user_id", userID, "actor", by.Name(), "request_id", by.Request)
	return token, m, nil
}
