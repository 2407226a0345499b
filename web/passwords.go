package web

import (
	"errors"
	"math"
	"net/http"
	"strconv"
	"strings"

	"github.com/labstack/echo/v4"

	"github.com/blnk-cloud/apikeys/internal/blnk"
	"github.com/blnk-cloud/apikeys/internal/derrors"
	"github.com/blnk-cloud/apikeys/internal/mail"
	"github.com/blnk-cloud/apikeys/internal/password"
	"github.com/blnk-cloud/apikeys/views"
)

// resetPrefix starts the address of a password reset link; the rest is
// its token, a secret kept out of the logs (logPath) and out of Referer
// headers (Referrer-Policy: no-referrer on its page).
const resetPrefix = "/password/reset/"

// linkBase is what links given out start with: the configured public
// URL, else (for links shown to the signed-in person who asked) the
// request's own origin.
func (s *Server) linkBase(c echo.Context) string {
	if s.cfg.PublicURL != "" {
		return s.cfg.PublicURL
	}
	return s.origin(c)
}

// secretPage marks an answer that holds or is reached by a secret link:
// not kept by caches, and no Referer to the next site.
func secretPage(c echo.Context) {
	h := c.Response().Header()
	h.Set("Cache-Control", "no-store")
	h.Set("Referrer-Policy", "no-referrer")
}

// memberResetLink makes a one-hour password reset link for a member and
// shows it, this once.
func (s *Server) memberResetLink(c echo.Context) error {
	id, err := memberID(c)
	if err != nil {
		return err
	}
	token, m, err := s.members.ResetLink(c.Request().Context(), s.memberActor(c), id)
	if err != nil {
		return err
	}
	secretPage(c)
	return s.membersPage(c, http.StatusOK, views.Members{
		ResetLink: s.linkBase(c) + resetPrefix + token, ResetFor: m, ResetExpires: s.cfg.Now().Add(blnk.ResetTTL),
	})
}

// emailInvitation sends an invitation's link by email, when the server
// sends email; it reports whether it did.
func (s *Server) emailInvitation(c echo.Context, inv blnk.Invitation, workspace, token string) bool {
	if s.cfg.Mail == nil {
		return false
	}
	m, err := mail.InvitationMessage(mail.Invitation{To: inv.Email, Workspace: workspace, Role: inv.Role.Label(),
		InvitedBy: mustSession(c).User.Email, Link: s.cfg.PublicURL + invitePrefix + token, Expires: inv.ExpiresAt})
	if err != nil {
		s.log.Error("invitation email", "request_id", requestIDOf(c), "err", err)
		return false
	}
	s.cfg.Mail.Post(m, requestIDOf(c))
	return true
}

func (s *Server) forgotForm(c echo.Context) error {
	return render(c, http.StatusOK, views.ForgotPasswordPage(views.ForgotPassword{Enabled: s.cfg.Mail != nil}))
}

// forgot emails a reset link to the account of the email typed, if there
// is one, and answers the same whether there is or not. Each request is
// counted against the client's address and the email, whatever the
// answer, so that nobody floods an inbox or probes many addresses.
func (s *Server) forgot(c echo.Context) error {
	if s.cfg.Mail == nil {
		return echo.ErrNotFound // only when the server sends email
	}
	if _, err := c.FormParams(); err != nil {
		return formError(err)
	}
	f := views.ForgotPassword{Enabled: true, Email: c.FormValue("email"), Problems: views.Problems{}}
	email, err := blnk.CleanEmail(f.Email)
	if err != nil {
		f.Problems["email"] = derrors.Message(err)
		f.Email = shown(f.Email)
		return render(c, http.StatusUnprocessableEntity, views.ForgotPasswordPage(f))
	}
	ctx := c.Request().Context()
	charges := []charge{{s.forgotByIP, "forgot-ip:" + clientNet(c.RealIP()), false}, {s.forgotByEmail, "forgot-email:" + email, false}}
	wait, err := takeAttempt(ctx, charges)
	if err != nil {
		return err
	}
	if wait > 0 {
		secs := int(math.Ceil(wait.Seconds()))
		c.Response().Header().Set("Retry-After", strconv.Itoa(secs))
		f.Problems[""] = "Too many requests for a reset link. Wait " + strconv.Itoa(secs) + " seconds, then try again."
		f.Email = email
		return render(c, http.StatusTooManyRequests, views.ForgotPasswordPage(f))
	}
	token, u, ok, err := s.accounts.ForgotPassword(ctx, email, actorOf(c, 0, ""))
	if err != nil {
		return err
	}
	if ok {
		m, err := mail.PasswordResetMessage(mail.PasswordReset{To: u.Email, Link: s.cfg.PublicURL + resetPrefix + token, Expires: s.cfg.Now().Add(blnk.ResetTTL)})
		if err != nil {
			return err
		}
		s.cfg.Mail.Post(m, requestIDOf(c))
	}
	return render(c, http.StatusOK, views.ForgotPasswordPage(views.ForgotPassword{Enabled: true, Sent: true}))
}

// passwordReset reads the reset link of the :token parameter, for its
// page: what the page shows, and the status to answer with.
func (s *Server) passwordReset(c echo.Context) (views.ResetPassword, int, error) {
	secretPage(c)
	token := c.Param("token")
	refuse := func(err error, status int) (views.ResetPassword, int, error) {
		return views.ResetPassword{Refusal: derrors.Message(err)}, status, nil
	}
	if len(token) < 20 || len(token) > 100 {
		return refuse(blnk.ErrResetInvalid, http.StatusNotFound)
	}
	r, err := s.db.FindPasswordReset(c.Request().Context(), blnk.TokenHash(token))
	if errors.Is(err, blnk.ErrResetInvalid) {
		return refuse(err, http.StatusNotFound)
	}
	if err != nil {
		return views.ResetPassword{}, 0, err
	}
	if err := r.Unusable(s.cfg.Now()); err != nil {
		return refuse(err, http.StatusGone)
	}
	return views.ResetPassword{Email: r.User.Email, Problems: views.Problems{}}, http.StatusOK, nil
}

// resetSubmit sets the password chosen from a reset link: every session
// of the person ends (this browser's too), and they sign in again with
// it. Signing them in here would skip a second factor; /login asks for
// it.
func (s *Server) resetSubmit(c echo.Context) error {
	link, err := linkPage(c, s.passwordReset, views.ResetPasswordPage)
	if link == nil || err != nil {
		return err
	}
	r := *link
	pw := c.FormValue("password")
	if err := password.Check(pw); err != nil {
		r.Problems["password"] = derrors.Message(err)
	} else if confirm, sent := c.Request().PostForm["confirm"]; sent && strings.Join(confirm, "") != pw {
		r.Problems["confirm"] = "The passwords do not match."
	}
	if len(r.Problems) > 0 {
		return render(c, http.StatusUnprocessableEntity, views.ResetPasswordPage(r))
	}
	ctx := c.Request().Context()
	hash, err := s.hashPassword(c, pw)
	if err != nil {
		return err
	}
	out, err := s.accounts.SetPasswordFromLink(ctx, c.Param("token"), hash, actorOf(c, 0, ""))
	if errors.Is(err, blnk.ErrResetUsed) || errors.Is(err, blnk.ErrResetExpired) || errors.Is(err, blnk.ErrResetInvalid) {
		// Used or expired meanwhile (two submissions at once).
		return render(c, http.StatusGone, views.ResetPasswordPage(views.ResetPassword{Refusal: derrors.Message(err)}))
	}
	if err != nil {
		return err
	}
	// This browser's session, if it had one, ended with the others:
	// forget its token, and say what happened on the sign-in page.
	cs, _ := s.cookies.Get(c.Request(), sessionCookie)
	delete(cs.Values, tokenValue)
	setFlash(cs, "Your password was changed and every session of "+out.User.Email+" was signed out. Sign in with your new password.")
	if err := s.saveCookie(c, cs); err != nil {
		return err
	}
	return c.Redirect(http.StatusSeeOther, "/login")
}
