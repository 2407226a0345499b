package web

import (
	"errors"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/blnk-cloud/apikeys/internal/apikey"
	"github.com/blnk-cloud/apikeys/internal/blnk"
	"github.com/blnk-cloud/apikeys/internal/derrors"
	"github.com/blnk-cloud/apikeys/internal/members"
	"github.com/blnk-cloud/apikeys/internal/naming"
	"github.com/blnk-cloud/apikeys/internal/password"
	"github.com/blnk-cloud/apikeys/views"
)

// invitePrefix starts the address of an invitation link; the rest is its
// token, a secret kept out of the logs (logPath).
const invitePrefix = "/invite/"

// logPath is a request's path as the logs may show it: no key, and no
// invitation or password reset token.
func logPath(p string) string {
	if strings.HasPrefix(p, invitePrefix) {
		return invitePrefix + "…"
	}
	if strings.HasPrefix(p, resetPrefix) {
		return resetPrefix + "…"
	}
	return apikey.Redact(p)
}

// memberActor is who asks for a change of members: the signed-in person
// with their role in the workspace, as read with this request.
func (s *Server) memberActor(c echo.Context) members.Actor {
	cur := mustSession(c)
	return members.Actor{Actor: s.actor(c), WorkspaceID: cur.Workspace.ID, Role: cur.Role}
}

// memberID reads the :id parameter, a person's id; anything else is 404.
func memberID(c echo.Context) (int64, error) {
	id, err := strconv.ParseInt(c.Param("id"), 10, 64)
	if err != nil || id <= 0 {
		return 0, echo.ErrNotFound
	}
	return id, nil
}

func (s *Server) membersPage(c echo.Context, status int, m views.Members) error {
	cur := mustSession(c)
	ctx := c.Request().Context()
	var err error
	if m.Members, err = s.db.ListMembers(ctx, cur.Workspace.ID); err != nil {
		return err
	}
	if m.Factors, err = s.db.ListMemberFactors(ctx, cur.Workspace.ID); err != nil {
		return err
	}
	m.Now = s.cfg.Now()
	if cur.Role.Can(blnk.PermMembers) {
		if m.Invitations, err = s.db.ListInvitations(ctx, cur.Workspace.ID, m.Now); err != nil {
			return err
		}
	}
	return renderPage(s, c, status, views.NavMembers, "Members", views.MembersPage, m)
}

func (s *Server) memberList(c echo.Context) error {
	return s.membersPage(c, http.StatusOK, views.Members{})
}

// memberInvite makes an invitation and shows its link, this once.
func (s *Server) memberInvite(c echo.Context) error {
	if _, err := c.FormParams(); err != nil {
		return formError(err)
	}
	f := views.InviteForm{Email: c.FormValue("email"), Role: c.FormValue("role"), Problems: views.Problems{}}
	email, err := blnk.CleanEmail(f.Email)
	if err != nil {
		f.Problems["email"] = derrors.Message(err)
	}
	role, err := blnk.ParseRole(f.Role)
	if err != nil {
		f.Problems["role"] = derrors.Message(err)
	}
	cur := mustSession(c)
	if len(f.Problems) == 0 {
		if u, err := s.db.FindUser(c.Request().Context(), email); err == nil {
			if _, err := s.db.FindMember(c.Request().Context(), cur.Workspace.ID, u.ID); err == nil {
				f.Problems["email"] = email + " is a member of this workspace already."
			} else if !errors.Is(err, blnk.ErrNotFound) {
				return err
			}
		} else if !errors.Is(err, blnk.ErrNotFound) {
			return err
		}
	}
	if len(f.Problems) > 0 {
		f.Email = shown(f.Email)
		return s.membersPage(c, http.StatusUnprocessableEntity, views.Members{Form: f})
	}
	inv, err := s.members.Invite(c.Request().Context(), s.memberActor(c), email, role)
	if err != nil {
		return err
	}
	h := c.Response().Header()
	h.Set("Cache-Control", "no-store")
	h.Set("Referrer-Policy", "no-referrer")
	emailed := s.emailInvitation(c, inv.Invitation, cur.Workspace.Name, inv.Token)
	return s.membersPage(c, http.StatusOK, views.Members{Link: s.linkBase(c) + invitePrefix + inv.Token, Invited: inv.Invitation, Emailed: emailed})
}

var invitationIDRE = regexp.MustCompile(`^inv_[0-9a-f]{16}$`)

func (s *Server) invitationRevoke(c echo.Context) error {
	id := c.Param("id")
	if !invitationIDRE.MatchString(id) {
		return echo.ErrNotFound
	}
	inv, err := s.members.RevokeInvitation(c.Request().Context(), s.memberActor(c), id)
	if err != nil {
		return err
	}
	return s.redirectWithFlash(c, views.MembersPath, "The invitation of "+inv.Email+" was revoked: its link no longer works.")
}

func (s *Server) memberRole(c echo.Context) error {
	id, err := memberID(c)
	if err != nil {
		return err
	}
	role, err := blnk.ParseRole(c.FormValue("role"))
	if err != nil {
		return err
	}
	m, err := s.members.ChangeRole(c.Request().Context(), s.memberActor(c), id, role)
	if err != nil {
		return err
	}
	return s.redirectWithFlash(c, views.MembersPath, m.User.Email+" is now "+article(m.Role)+" "+m.Role.Label()+".")
}

// article is "an" before Owner and Admin, else "a".
func article(r blnk.Role) string {
	if r == blnk.RoleOwner || r == blnk.RoleAdmin {
		return "an"
	}
	return "a"
}

// removal reads what a removal's confirmation shows.
func (s *Server) removal(c echo.Context) (views.RemoveMember, error) {
	id, err := memberID(c)
	if err != nil {
		return views.RemoveMember{}, err
	}
	m, err := s.members.Removable(c.Request().Context(), s.memberActor(c), id)
	if err != nil {
		return views.RemoveMember{}, err
	}
	r := views.RemoveMember{Member: m, Self: m.User.ID == mustSession(c).User.ID, Now: s.cfg.Now()}
	if r.Keys, err = s.db.ListMemberKeys(c.Request().Context(), mustSession(c).Workspace.ID, id, r.Now); err != nil {
		return views.RemoveMember{}, err
	}
	for i := range r.Keys {
		s.freshLastUsed(&r.Keys[i])
	}
	return r, nil
}

func (s *Server) renderRemoval(c echo.Context, status int, r views.RemoveMember) error {
	title := "Remove " + r.Member.User.Email
	if r.Self {
		title = "Leave " + mustSession(c).Workspace.Name
	}
	return renderPage(s, c, status, views.NavMembers, title, views.RemoveMemberPage, r)
}

func (s *Server) memberRemoveConfirm(c echo.Context) error {
	r, err := s.removal(c)
	if err != nil {
		return err
	}
	return s.renderRemoval(c, http.StatusOK, r)
}

// memberRemove removes a member; the form says what happens to their
// active keys (field keys, no default: without it, 422).
func (s *Server) memberRemove(c echo.Context) error {
	id, err := memberID(c)
	if err != nil {
		return err
	}
	if _, err := c.FormParams(); err != nil {
		return formError(err)
	}
	handOff, err := blnk.ParseKeyHandOff(c.FormValue("keys"))
	if err != nil {
		r, rerr := s.removal(c)
		if rerr != nil {
			return rerr
		}
		r.Problem = derrors.Message(err)
		return s.renderRemoval(c, http.StatusUnprocessableEntity, r)
	}
	out, err := s.members.Remove(c.Request().Context(), s.memberActor(c), id, handOff)
	if err != nil {
		return err
	}
	if id == mustSession(c).User.ID {
		// Leaving: this session was one of those that ended.
		if err := s.endSession(c, "You left "+mustSession(c).Workspace.Name+"."); err != nil {
			return err
		}
		return c.Redirect(http.StatusSeeOther, "/login")
	}
	msg := out.Member.User.Email + " was removed."
	switch n := len(out.Keys); {
	case n == 0:
	case handOff == blnk.KeysTransfer:
		msg += " " + keyCount(n) + " transferred to you."
	default:
		msg += " " + keyCount(n) + " revoked."
	}
	return s.redirectWithFlash(c, views.MembersPath, msg)
}

func keyCount(n int) string {
	if n == 1 {
		return "1 key"
	}
	return strconv.Itoa(n) + " keys"
}

// invitation reads the invitation of the :token parameter, for its page:
// what the page shows, and the status to answer with.
func (s *Server) invitation(c echo.Context) (views.AcceptInvitation, int, error) {
	c.Response().Header().Set("Cache-Control", "no-store")
	c.Response().Header().Set("Referrer-Policy", "no-referrer") // the token is in the address
	token := c.Param("token")
	if len(token) < 20 || len(token) > 100 {
		return views.AcceptInvitation{Refusal: "This invitation link is not valid. Check that you copied all of it."}, http.StatusNotFound, nil
	}
	inv, err := s.db.FindInvitation(c.Request().Context(), members.TokenHash(token))
	if errors.Is(err, blnk.ErrNotFound) {
		return views.AcceptInvitation{Refusal: "This invitation link is not valid. Check that you copied all of it."}, http.StatusNotFound, nil
	}
	if err != nil {
		return views.AcceptInvitation{}, 0, err
	}
	a := views.AcceptInvitation{Invitation: inv, Problems: views.Problems{}}
	if err := inv.Unusable(s.cfg.Now()); err != nil {
		a.Refusal = derrors.Message(err)
		return a, http.StatusGone, nil
	}
	_, err = s.db.FindUser(c.Request().Context(), inv.Email)
	switch {
	case err == nil:
		a.Existing = true
	case !errors.Is(err, blnk.ErrNotFound):
		return views.AcceptInvitation{}, 0, err
	}
	return a, http.StatusOK, nil
}

// inviteAccept joins the invitation's workspace: a new person with a
// name and a password, an existing one with their password. The email
// must be the invitation's.
func (s *Server) inviteAccept(c echo.Context) error {
	link, err := linkPage(c, s.invitation, views.AcceptInvitationPage)
	if link == nil || err != nil {
		return err
	}
	a := *link
	ctx := c.Request().Context()
	token := c.Param("token")
	var userID int64
	var name, hash string
	if a.Existing {
		email, err := blnk.CleanEmail(c.FormValue("email"))
		if err != nil || email != strings.ToLower(a.Invitation.Email) {
			a.Refusal = derrors.Message(blnk.ErrWrongInvitee)
			return render(c, http.StatusForbidden, views.AcceptInvitationPage(a))
		}
		charges, _ := s.signInCharges(c, email)
		wait, err := takeAttempt(ctx, charges)
		if err != nil {
			return err
		}
		if wait > 0 {
			c.Response().Header().Set("Retry-After", strconv.Itoa(int(wait/time.Second)+1))
			a.Problems[""] = "Too many failed sign-ins. Wait a little, then try again."
			return render(c, http.StatusTooManyRequests, views.AcceptInvitationPage(a))
		}
		l, ok, err := s.checkPassword(ctx, email, c.FormValue("password"))
		if err != nil {
			s.refundAttempt(c, charges)
			return err
		}
		if !ok {
			a.Problems["password"] = "The password is not right."
			return render(c, http.StatusUnauthorized, views.AcceptInvitationPage(a))
		}
		s.signedInAttempt(c, charges)
		userID = l.User.ID
	} else {
		a.Name = c.FormValue("name")
		if name, err = naming.Clean(a.Name, 100); err != nil {
			a.Problems["name"] = "Enter your name (up to 100 characters)."
		}
		pw := c.FormValue("password")
		if err := password.Check(pw); err != nil {
			a.Problems["password"] = derrors.Message(err)
		}
		if len(a.Problems) > 0 {
			a.Name = shown(a.Name)
			return render(c, http.StatusUnprocessableEntity, views.AcceptInvitationPage(a))
		}
		if hash, err = s.hashPassword(c, pw); err != nil {
			return err
		}
	}
	u, inv, err := s.members.Accept(ctx, token, userID, name, hash, actorOf(c, 0, ""))
	if err != nil {
		return err
	}
	if err := s.startSession(c, u, inv.WorkspaceID, "Welcome to "+inv.Workspace+"."); err != nil {
		return err
	}
	if err := s.setDeviceCookie(c, u.Email); err != nil {
		return err
	}
	return c.Redirect(http.StatusSeeOther, "/settings/api-keys")
}

// workspaceSwitch makes another of the person's workspaces the current
// one of their session; a workspace they are not a member of is 404.
func (s *Server) workspaceSwitch(c echo.Context) error {
	id, err := memberID(c)
	if err != nil {
		return err
	}
	cs, _ := s.cookies.Get(c.Request(), sessionCookie)
	token, _ := cs.Values[tokenValue].(string)
	if err := s.accounts.Switch(c.Request().Context(), tokenHash(token), mustSession(c).User.ID, id); err != nil {
		return err
	}
	return redirect(c, "/settings/api-keys")
}
