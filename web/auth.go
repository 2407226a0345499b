package web

import (
	"context"
	"errors"
	"fmt"
	"math"
	"net/http"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/labstack/echo/v4"

	"github.com/blnk-cloud/apikeys/db"
	"github.com/blnk-cloud/apikeys/internal/account"
	"github.com/blnk-cloud/apikeys/internal/audit"
	"github.com/blnk-cloud/apikeys/views"
)

// setupGone answers setup requests once an admin exists: the page is gone
// for good.
func (s *Server) setupGone(c echo.Context) (bool, error) {
	done, err := s.isSetUp(c)
	if err != nil || !done {
		return false, err
	}
	return true, echo.ErrNotFound
}

func (s *Server) setupForm(c echo.Context) error {
	if gone, err := s.setupGone(c); gone || err != nil {
		return err
	}
	return render(c, http.StatusOK, views.SetupPage(views.SetupForm{}))
}

// setupInput is the validated setup form.
type setupInput struct {
	workspace, email, password string
}

// validateSetup checks the setup form; f collects the problems.
func validateSetup(f *views.SetupForm, password, confirm string) (setupInput, bool) {
	p := views.Problems{}
	var in setupInput
	var err error
	if in.workspace, err = account.CleanWorkspaceName(f.Workspace); err != nil {
		p["workspace"] = err.Error()
	}
	if in.email, err = account.CleanEmail(f.Email); err != nil {
		p["email"] = err.Error()
	}
	if err := account.CheckPassword(password); err != nil {
		p["password"] = err.Error()
	} else if password != confirm {
		p["confirm"] = "The passwords do not match."
	}
	in.password = password
	f.Problems = p
	return in, len(p) == 0
}

func (s *Server) setup(c echo.Context) error {
	if gone, err := s.setupGone(c); gone || err != nil {
		return err
	}
	if _, err := c.FormParams(); err != nil {
		return formError(err)
	}
	f := views.SetupForm{Workspace: c.FormValue("workspace"), Email: c.FormValue("email")}
	in, ok := validateSetup(&f, c.FormValue("password"), c.FormValue("confirm"))
	if !ok {
		f.Workspace, f.Email = shown(f.Workspace), shown(f.Email)
		return render(c, http.StatusUnprocessableEntity, views.SetupPage(f))
	}
	hash, err := s.cfg.Passwords.Hash(in.password)
	if err != nil {
		return err
	}
	ws, u, err := s.db.SetupFirstAdmin(c.Request().Context(), in.workspace, in.email, hash, s.cfg.Now())
	if errors.Is(err, db.ErrAlreadySet) {
		return echo.ErrNotFound // another setup won the race
	}
	if err != nil {
		return err
	}
	s.setupDone.Store(true)
	s.log.Info("first admin created", "request_id", requestIDOf(c), "workspace_id", ws.ID, "user_id", u.ID)
	if err := s.startSession(c, u, ws.ID, "Welcome! Your workspace is ready."); err != nil {
		return err
	}
	return c.Redirect(http.StatusSeeOther, "/settings/api-keys")
}

func (s *Server) loginForm(c echo.Context) error {
	if cur, err := s.currentSession(c); err != nil || cur != nil {
		if err != nil {
			return err
		}
		return c.Redirect(http.StatusSeeOther, "/settings/api-keys")
	}
	f := views.LoginForm{Next: localPath(c.QueryParam("next"))}
	notice, err := s.popFlash(c)
	if err != nil {
		return err
	}
	f.Notice = notice
	return render(c, http.StatusOK, views.LoginPage(f))
}

// badLogin is the one message for every failed sign-in, so that it never
// tells whether the email exists.
const badLogin = "The email or password is not right."

func (s *Server) login(c echo.Context) error {
	if _, err := c.FormParams(); err != nil {
		return formError(err)
	}
	f := views.LoginForm{Email: strings.TrimSpace(c.FormValue("email")), Next: localPath(c.FormValue("next"))}
	password := c.FormValue("password")
	if len(f.Email) > account.MaxEmail {
		// Cut on a character boundary: the email is shown again.
		cut := account.MaxEmail
		for cut > 0 && !utf8.RuneStart(f.Email[cut]) {
			cut--
		}
		f.Email = f.Email[:cut]
	}
	f.Email = shown(f.Email)
	email := strings.ToLower(f.Email)
	ipKey, emailKey := "ip:"+c.RealIP(), "email:"+email

	if wait := max(s.loginByEmail.Wait(emailKey), s.loginByIP.Wait(ipKey)); wait > 0 {
		return s.loginThrottled(c, f, wait)
	}
	if email == "" || password == "" {
		f.Problem = "Enter your email and password."
		return render(c, http.StatusUnprocessableEntity, views.LoginPage(f))
	}

	l, err := s.db.LoginByEmail(c.Request().Context(), email)
	hash := l.PasswordHash
	if errors.Is(err, db.ErrNotFound) {
		hash = s.dummyHash() // same work as for a real account: timing tells nothing
	} else if err != nil {
		return err
	}
	if !account.Verify(hash, password) || err != nil {
		s.log.Info("sign-in failed", "request_id", requestIDOf(c), "ip", c.RealIP())
		// Each failure within the allowance is told as such; once it is
		// used up, the check above makes the next attempt wait.
		s.loginByEmail.Fail(emailKey)
		s.loginByIP.Fail(ipKey)
		s.recordSignInFailed(c, l, err == nil)
		f.Problem = badLogin
		return render(c, http.StatusUnauthorized, views.LoginPage(f))
	}
	s.loginByEmail.Reset(emailKey)
	if err := s.startSession(c, l.User, l.Workspace.ID, ""); err != nil {
		return err
	}
	s.log.Info("signed in", "request_id", requestIDOf(c), "user_id", l.User.ID)
	to := f.Next
	if to == "" {
		to = "/settings/api-keys"
	}
	return c.Redirect(http.StatusSeeOther, to)
}

// recordSignInFailed records user.sign_in_failed: in the workspace of
// the account whose password was wrong (known), or in none when no
// account has the email, which is then not recorded (it may be anything
// typed, a password included). A failure to record is logged: the person
// signing in is told the same either way.
func (s *Server) recordSignInFailed(c echo.Context, l db.Login, known bool) {
	ev := audit.Event{At: s.cfg.Now(), Action: audit.UserSignInFailed, Actor: actorOf(c, 0, ""),
		Details: map[string]any{"reason": "unknown email"}}
	if known {
		ev.WorkspaceID, ev.Actor.UserID, ev.Actor.Email = l.Workspace.ID, l.User.ID, l.User.Email
		ev.Details = map[string]any{"reason": "wrong password"}
	}
	if err := s.db.RecordEvent(context.WithoutCancel(c.Request().Context()), ev); err != nil {
		s.log.Error("record failed sign-in", "request_id", requestIDOf(c), "err", err)
	}
}

// loginThrottled refuses a sign-in after too many failures.
func (s *Server) loginThrottled(c echo.Context, f views.LoginForm, wait time.Duration) error {
	secs := int(math.Ceil(wait.Seconds()))
	c.Response().Header().Set("Retry-After", strconv.Itoa(secs))
	f.Problem = fmt.Sprintf("Too many failed sign-ins. Wait %d seconds, then try again.", secs)
	return render(c, http.StatusTooManyRequests, views.LoginPage(f))
}

func (s *Server) logout(c echo.Context) error {
	cur, err := s.currentSession(c)
	if err != nil {
		return err
	}
	flash := ""
	if cur != nil {
		flash = "You have been signed out."
	}
	if err := s.endSession(c, flash); err != nil {
		return err
	}
	if cur != nil {
		s.log.Info("signed out", "request_id", requestIDOf(c), "user_id", cur.User.ID)
	}
	return c.Redirect(http.StatusSeeOther, "/login")
}

// shown makes text typed into a form fit to be shown again: bytes that
// are not UTF-8 become U+FFFD (the form refused them already).
func shown(s string) string { return strings.ToValidUTF8(s, "\uFFFD") }

// localPath returns p if it is a path on this site, else "": the
// destination after sign-in must not lead elsewhere.
func localPath(p string) string {
	if !strings.HasPrefix(p, "/") || strings.HasPrefix(p, "//") || strings.HasPrefix(p, "/\\") ||
		len(p) > 512 || strings.ContainsAny(p, "\r\n\t") {
		return ""
	}
	return p
}
