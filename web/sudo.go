package web

import (
	"errors"
	"net/http"
	"net/url"
	"slices"
	"strings"

	"github.com/labstack/echo/v4"

	"github.com/blnk-cloud/apikeys/internal/blnk"
	"github.com/blnk-cloud/apikeys/internal/derrors"
	"github.com/blnk-cloud/apikeys/views"
)

// Sudo mode: a dangerous action needs the password or a second factor
// given within blnk.SudoWindow by this session (signing in counts). The
// time is kept with the session on the server (sessions.sudo_at), so it
// holds on every server and ends with the session.
//
// A GET that needs it is sent to /sudo?next=... A POST is answered with
// the sudo form, which posts back to the same address with the POST's
// own values as hidden fields, a sudo marker and the password or code:
// sudo then checks them and, when right, lets the same request through
// to its handler, so the action continues with the values as given.

// sudoFields are the sudo form's own fields, never carried along.
var sudoFields = []string{"password", "code", "sudo", "next"}

// sudo is the middleware of the routes that need sudo mode.
func (s *Server) sudo(next echo.HandlerFunc) echo.HandlerFunc {
	return s.sudoWhen(nil)(next)
}

// sudoWhen is sudo for the requests need says need it (nil: all); e.g.
// a bulk revoke of more than one key.
func (s *Server) sudoWhen(need func(echo.Context) bool) echo.MiddlewareFunc {
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error {
			cur := mustSession(c)
			if need != nil && !need(c) || s.inSudo(cur) {
				return next(c)
			}
			r := c.Request()
			if r.Method == http.MethodGet || r.Method == http.MethodHead {
				return redirect(c, "/sudo?next="+r.URL.RequestURI())
			}
			form, err := c.FormParams()
			if err != nil {
				return formError(err)
			}
			sf := views.Sudo{Action: r.URL.RequestURI()}
			for name, vals := range r.PostForm {
				if slices.Contains(sudoFields, name) {
					continue
				}
				for _, v := range vals {
					sf.Fields = append(sf.Fields, views.Field{Name: name, Value: v})
				}
			}
			slices.SortStableFunc(sf.Fields, func(a, b views.Field) int {
				switch {
				case a.Name < b.Name:
					return -1
				case a.Name > b.Name:
					return 1
				}
				return 0
			})
			if form.Get("sudo") == "" {
				return s.sudoForm(c, http.StatusUnauthorized, sf)
			}
			ok, err := s.sudoCheck(c, &sf)
			if err != nil || !ok {
				return err
			}
			return next(c)
		}
	}
}

// inSudo reports whether cur gave a password or a factor recently.
func (s *Server) inSudo(cur *blnk.Session) bool {
	return !cur.SudoAt.IsZero() && s.cfg.Now().Sub(cur.SudoAt) < blnk.SudoWindow
}

// sudoForm answers the sudo form. To htmx, as the whole page in place of
// the body (a 200, so that htmx shows it): its form posts without htmx.
func (s *Server) sudoForm(c echo.Context, status int, sf views.Sudo) error {
	f, err := s.db.FindFactors(c.Request().Context(), mustSession(c).User.ID)
	if err != nil {
		return err
	}
	sf.HasCode = f.TOTP
	if f.Passkeys > 0 {
		sf.PasskeyOrigin = s.passkeyOrigin()
	}
	if sf.Cancel == "" {
		sf.Cancel = sudoCancel(c, sf)
	}
	c.Response().Header().Set("Cache-Control", "no-store")
	if !isFullPage(c) {
		h := c.Response().Header()
		h.Set("HX-Retarget", "body")
		h.Set("HX-Reswap", "innerHTML")
		status = http.StatusOK
	}
	return render(c, status, views.SudoPage(sf))
}

// sudoCheck checks the sudo form's password or code and, when right,
// records sudo mode for the session (user.sudo). Otherwise it answers
// the form again with the problem (and false).
func (s *Server) sudoCheck(c echo.Context, sf *views.Sudo) (bool, error) {
	cur := mustSession(c)
	ctx := c.Request().Context()
	by := s.twoFactorActor(c)
	code, pw := c.FormValue("code"), c.FormValue("password")
	how := ""
	switch {
	case code != "":
		m, wait, err := s.checkSecondFactor(c, by, "", code)
		if wait > 0 {
			sf.Problem = retryIn(c, wait)
			return false, s.sudoForm(c, http.StatusTooManyRequests, *sf)
		}
		if derrors.Code(err) == derrors.EINVALID {
			sf.Problem = derrors.Message(err)
			return false, s.sudoForm(c, http.StatusUnauthorized, *sf)
		}
		if err != nil {
			return false, err
		}
		how = string(m)
	case pw != "":
		// Charged to the account's second-factor count too: sudo is
		// no way around its limit.
		charges := s.secondFactorCharges(cur.User.ID, "")
		wait, err := takeAttempt(ctx, charges)
		if err != nil {
			return false, err
		}
		if wait > 0 {
			sf.Problem = retryIn(c, wait)
			return false, s.sudoForm(c, http.StatusTooManyRequests, *sf)
		}
		_, ok, err := s.checkPassword(ctx, cur.User.Email, pw)
		if err != nil {
			s.refundAttempt(c, charges)
			if errors.Is(err, errBusy) {
				c.Response().Header().Set("Retry-After", "2")
				sf.Problem = "The server is busy. Wait a few seconds, then try again."
				return false, s.sudoForm(c, http.StatusServiceUnavailable, *sf)
			}
			return false, err
		}
		if !ok {
			sf.Problem = "That password is not right."
			return false, s.sudoForm(c, http.StatusUnauthorized, *sf)
		}
		s.signedInAttempt(c, charges)
		how = "password"
	default:
		sf.Problem = "Enter your password, or a code from your authenticator app."
		return false, s.sudoForm(c, http.StatusUnprocessableEntity, *sf)
	}
	if err := s.factors.GrantSudo(ctx, by, s.sessionTokenHash(c), how); err != nil {
		return false, err
	}
	return true, nil
}

// sessionTokenHash is the stored hash of the request's session token.
func (s *Server) sessionTokenHash(c echo.Context) []byte {
	cs, _ := s.cookies.Get(c.Request(), sessionCookie)
	t, _ := cs.Values[tokenValue].(string)
	return tokenHash(t)
}

// sudoPage is GET /sudo?next=: the form for a page that needs sudo.
func (s *Server) sudoPage(c echo.Context) error {
	next := localPath(c.QueryParam("next"))
	if s.inSudo(mustSession(c)) && next != "" {
		return c.Redirect(http.StatusSeeOther, next)
	}
	return s.sudoForm(c, http.StatusOK, views.Sudo{Action: "/sudo", Next: next})
}

// sudoSubmit is POST /sudo: check, then 303 to next. A session in sudo
// mode already (a passkey was just given: sudoPasskeyFinish) goes to
// next at once.
func (s *Server) sudoSubmit(c echo.Context) error {
	if _, err := c.FormParams(); err != nil {
		return formError(err)
	}
	next := localPath(c.FormValue("next"))
	if s.inSudo(mustSession(c)) {
		if next == "" {
			next = views.SecurityPath
		}
		return c.Redirect(http.StatusSeeOther, next)
	}
	sf := views.Sudo{Action: "/sudo", Next: next}
	ok, err := s.sudoCheck(c, &sf)
	if err != nil || !ok {
		return err
	}
	if next == "" {
		next = views.SecurityPath
	}
	return c.Redirect(http.StatusSeeOther, next)
}

// sudoPasskeyBegin is POST /sudo/passkey/begin: the options for
// navigator.credentials.get() naming the signed-in person's own passkeys
// (the ceremony of the two-factor page's "Use a passkey"), as JSON; 409
// when they have none.
func (s *Server) sudoPasskeyBegin(c echo.Context) error {
	if limited, err := s.limitBegins(c); limited || err != nil {
		return err
	}
	opts, token, err := s.passkeys.BeginSecondFactor(c.Request().Context(), mustSession(c).User.ID)
	if errors.Is(err, blnk.ErrNotFound) {
		return passkeyJSON(c, http.StatusConflict, map[string]string{"error": "You have no passkey. Use your password."})
	}
	if err != nil {
		return err
	}
	return s.beginCeremony(c, opts, token)
}

// sudoPasskeyFinish is POST /sudo/passkey/finish: checks the browser's
// answer (JSON) and, when it is one of the person's own passkeys, puts
// the session in sudo mode (user.sudo with "passkey"): {"sudo": true},
// after which passkeys.js sends the sudo form, values and all. Refused
// passkeys are charged to the account's second-factor count, as wrong
// codes are (429 with Retry-After when it has none left).
func (s *Server) sudoPasskeyFinish(c echo.Context) error {
	answer, token, err := s.ceremonyAnswer(c)
	if err != nil {
		return err
	}
	ctx := c.Request().Context()
	cur := mustSession(c)
	charges := s.secondFactorCharges(cur.User.ID, "")
	wait, err := takeAttempt(ctx, charges)
	if err != nil {
		return err
	}
	if wait > 0 {
		return passkeyJSON(c, http.StatusTooManyRequests, map[string]string{"error": retryIn(c, wait)})
	}
	if ok, err := s.passkeyAssertion(c, cur.User.ID, token, answer); err != nil || !ok {
		if err != nil && !errors.Is(err, blnk.ErrPasskeyRefused) {
			s.refundAttempt(c, charges) // not checked: no failure
		}
		return s.passkeyProblem(c, err)
	}
	s.signedInAttempt(c, charges)
	if err := s.factors.GrantSudo(ctx, s.twoFactorActor(c), s.sessionTokenHash(c), "passkey"); err != nil {
		return err
	}
	return passkeyJSON(c, http.StatusOK, map[string]bool{"sudo": true})
}

// bulkNeedsSudo: revoking more than one key at once needs sudo mode.
func bulkNeedsSudo(c echo.Context) bool {
	form, err := c.FormParams()
	return err != nil || len(form["id"]) > 1
}

// sudoCancel is where the sudo form's Cancel goes: back, to a page of
// the app, never to another site. It is the first page of: the next of
// GET /sudo?next= (else the page the form was sent from, its
// same-origin Referer: a dialog's list), then the pages above the path
// of next or of the action (POST /settings/members/5/role: the
// members' page); else the keys list.
func sudoCancel(c echo.Context, sf views.Sudo) string {
	want, from := sf.Next, sf.Next
	if from == "" {
		from = sf.Action
		if u, err := url.Parse(c.Request().Referer()); err == nil && u.Host == c.Request().Host {
			want = u.RequestURI()
		}
	}
	if p := localPath(want); p != "" && isPage(c.Echo(), p) {
		return p
	}
	path, _, _ := strings.Cut(localPath(from), "?")
	for path != "" {
		path = path[:strings.LastIndexByte(path, '/')]
		if isPage(c.Echo(), path) {
			return path
		}
	}
	return listPath
}

// isPage reports whether the local path p (a query allowed) is a page of
// the app a Cancel may go back to: under /settings/, answered by a GET
// route (Echo's own router decides, on a context of its own).
func isPage(e *echo.Echo, p string) bool {
	path, _, _ := strings.Cut(p, "?")
	if !strings.HasPrefix(path, "/settings/") {
		return false
	}
	c := e.NewContext(nil, nil)
	e.Router().Find(http.MethodGet, path, c)
	for _, r := range e.Routes() {
		if r.Method == http.MethodGet && r.Path == c.Path() {
			return true
		}
	}
	return false
}
