package web

import (
	"context"
	"errors"
	"io"
	"net/http"
	"strconv"
	"time"

	"github.com/gorilla/sessions"
	"github.com/labstack/echo/v4"

	"github.com/blnk-cloud/apikeys/internal/audit"
	"github.com/blnk-cloud/apikeys/internal/blnk"
	"github.com/blnk-cloud/apikeys/internal/derrors"
	"github.com/blnk-cloud/apikeys/internal/passkeys"
	"github.com/blnk-cloud/apikeys/views"
)

// passkeyCookie carries the token of the passkey ceremony under way
// (passkeys: the store keeps the challenge under its hash), from the
// begin request to the finish request, encrypted, for 5 minutes at most.
// A ceremony begun in one browser cannot be finished in another.
const passkeyCookie = "blnk_passkey"

// maxPasskeyAnswer bounds the JSON a browser's passkey answer may be: an
// attestation with a certificate chain is a few KiB.
const maxPasskeyAnswer = 64 << 10

// beginCeremony answers the begin request of a passkey ceremony: the
// token goes to its finish request (in the passkey cookie), the options
// (JSON) to the browser's navigator.credentials call.
func (s *Server) beginCeremony(c echo.Context, options []byte, token string) error {
	cs := sessions.NewSession(s.cookies, passkeyCookie)
	cs.Options = &sessions.Options{Path: "/", MaxAge: int(passkeys.DefaultCeremonyTTL / time.Second), HttpOnly: true, SameSite: http.SameSiteStrictMode}
	cs.IsNew = true
	cs.Values[tokenValue] = token
	if err := s.saveCookie(c, cs); err != nil {
		return err
	}
	return c.JSONBlob(http.StatusOK, options)
}

// takeCeremony returns the token the passkey cookie carries ("" if none)
// and deletes the cookie: a ceremony is finished once.
func (s *Server) takeCeremony(c echo.Context) (string, error) {
	cs, _ := s.cookies.Get(c.Request(), passkeyCookie)
	token, _ := cs.Values[tokenValue].(string)
	if cs.IsNew {
		return token, nil
	}
	cs.Options = &sessions.Options{Path: "/", MaxAge: -1, HttpOnly: true, SameSite: http.SameSiteStrictMode}
	cs.Values = map[any]any{}
	return token, s.saveCookie(c, cs)
}

// passkeyAnswer reads the browser's answer: the PublicKeyCredential as
// JSON, 64 KiB at most.
func passkeyAnswer(c echo.Context) ([]byte, error) {
	b, err := io.ReadAll(http.MaxBytesReader(c.Response(), c.Request().Body, maxPasskeyAnswer))
	var tooBig *http.MaxBytesError
	if errors.As(err, &tooBig) {
		return nil, echo.NewHTTPError(http.StatusRequestEntityTooLarge)
	}
	return b, err
}

// passkeysOn answers the passkey ceremonies' routes (passkeys.js) of a
// server without a public URL with passkeysOff, before their handlers.
func (s *Server) passkeysOn(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		if s.passkeys == nil {
			return passkeysOff(c)
		}
		return next(c)
	}
}

// ceremonyAnswer reads what finishes a ceremony: the browser's answer
// and the token of the ceremony it answers (the cookie, taken once).
func (s *Server) ceremonyAnswer(c echo.Context) (answer []byte, token string, err error) {
	if answer, err = passkeyAnswer(c); err != nil {
		return nil, "", err
	}
	token, err = s.takeCeremony(c)
	return answer, token, err
}

// passkeyJSON answers a passkey request (passkeys.js) with JSON: the
// options for the browser, or where to go next.
func passkeyJSON(c echo.Context, status int, v any) error {
	c.Response().Header().Set("Cache-Control", "no-store")
	return c.JSON(status, v)
}

// passkeyProblem answers an error passkeys.js shows as it is: a known
// error's sentence with its status, {"error": "..."}; anything else goes
// to the error handler (a 500 with only the request id).
func (s *Server) passkeyProblem(c echo.Context, err error) error {
	status := statusOf[derrors.Code(err)]
	if errors.Is(err, blnk.ErrNotFound) {
		status = http.StatusNotFound
	}
	if status == 0 {
		return err
	}
	return passkeyJSON(c, status, map[string]string{"error": derrors.Message(err)})
}

// passkeysOff answers the passkey routes of a server without a public
// URL.
func passkeysOff(c echo.Context) error {
	return passkeyJSON(c, http.StatusNotFound, map[string]string{"error": "Passkeys are off on this server (it has no --public-url)."})
}

// passkeyView is what the passkeys section shows the signed-in person.
func (s *Server) passkeyView(c echo.Context) (views.Passkeys, error) {
	v := views.Passkeys{Enabled: s.passkeys != nil, Now: s.cfg.Now()}
	if s.passkeys == nil {
		return v, nil
	}
	keys, err := s.db.ListPasskeys(c.Request().Context(), mustSession(c).User.ID)
	if err != nil {
		return v, err
	}
	v.Keys, v.Here, v.Origin = keys, s.passkeys.RPID(), s.passkeyOrigin()
	return v, nil
}

// passkeyOrigin is the origin passkeys work at; "": passkeys are off.
func (s *Server) passkeyOrigin() string {
	if s.passkeys == nil || len(s.cfg.Passkeys.Origins) == 0 {
		return ""
	}
	return s.cfg.Passkeys.Origins[0]
}

// passkeyList is the person's own passkeys page.
func (s *Server) passkeyList(c echo.Context) error {
	p, err := s.page(c, "Passkeys")
	if err != nil {
		return err
	}
	p.Nav = views.NavSecurity
	v, err := s.passkeyView(c)
	if err != nil {
		return err
	}
	return render(c, http.StatusOK, views.PasskeysPage(p, v))
}

// passkeyAddBegin starts adding a passkey (form field `name`): the
// options for navigator.credentials.create(), as JSON; 422 for a bad name.
func (s *Server) passkeyAddBegin(c echo.Context) error {
	if _, err := c.FormParams(); err != nil {
		return formError(err)
	}
	cur := mustSession(c)
	opts, token, err := s.passkeys.BeginAdd(c.Request().Context(), cur.User, c.FormValue("name"))
	if err != nil {
		return s.passkeyProblem(c, err)
	}
	return s.beginCeremony(c, opts, token)
}

// passkeyAddFinish stores the passkey the browser made (its answer as
// JSON): {"redirect": the passkeys page}, with a notice there.
func (s *Server) passkeyAddFinish(c echo.Context) error {
	answer, token, err := s.ceremonyAnswer(c)
	if err != nil {
		return err
	}
	cur := mustSession(c)
	p, err := s.passkeys.FinishAdd(c.Request().Context(), cur.User, token, answer, actorOf(c, cur.User.ID, cur.User.Email), cur.Workspace.ID)
	if err != nil {
		return s.passkeyProblem(c, err)
	}
	if err := s.addFlash(c, "Passkey “"+p.Name+"” added."); err != nil {
		return err
	}
	return passkeyJSON(c, http.StatusOK, map[string]string{"redirect": views.PasskeysPath})
}

// passkeyRemove removes one of the person's own passkeys; another
// person's, or none, is a 404. 303 to the passkeys page.
func (s *Server) passkeyRemove(c echo.Context) error {
	if s.passkeys == nil {
		return echo.ErrNotFound
	}
	cur := mustSession(c)
	p, err := s.passkeys.Remove(c.Request().Context(), cur.User.ID, c.Param("id"), actorOf(c, cur.User.ID, cur.User.Email), cur.Workspace.ID)
	if err != nil {
		return err
	}
	return s.redirectWithFlash(c, views.PasskeysPath, "Passkey “"+p.Name+"” removed.")
}

// passkeyLoginBegin starts a sign-in with a passkey: for the person
// pending a second factor, their own passkeys; otherwise a passkey alone
// (a discoverable credential names its person). The options for
// navigator.credentials.get(), as JSON.
func (s *Server) passkeyLoginBegin(c echo.Context) error {
	ctx := c.Request().Context()
	if limited, err := s.limitBegins(c); limited || err != nil {
		return err
	}
	var opts []byte
	var token string
	var err error
	if p, ok := s.pending(c); ok { // the pending sign-in of twofactor.go
		opts, token, err = s.passkeys.BeginSecondFactor(ctx, p.UserID)
		if errors.Is(err, blnk.ErrNotFound) {
			return passkeyJSON(c, http.StatusConflict, map[string]string{"error": "You have no passkey. Use another way to sign in."})
		}
	} else {
		opts, token, err = s.passkeys.BeginSignIn(ctx)
	}
	if err != nil {
		return err
	}
	return s.beginCeremony(c, opts, token)
}

// limitBegins answers 429 (and true) when the client's address has begun
// too many passkey ceremonies: each begin keeps a row until it is
// finished or runs out, and 30 in a row per address, then one every 2
// seconds, is plenty for people.
func (s *Server) limitBegins(c echo.Context) (bool, error) {
	wait, err := s.passkeyBegins.Take(c.Request().Context(), "ip:"+clientNet(c.RealIP()))
	if err != nil || wait <= 0 {
		return false, err
	}
	secs := int(wait.Seconds() + 0.999)
	c.Response().Header().Set("Retry-After", strconv.Itoa(secs))
	return true, passkeyJSON(c, http.StatusTooManyRequests, map[string]string{"error": "Too many passkey sign-ins begun. Wait " + strconv.Itoa(secs) + " seconds, then try again."})
}

// passkeyLoginFinish checks the browser's answer (JSON) and signs the
// person in: {"redirect": `next` or the keys}. Failures are charged to
// the sign-in throttle of the client's address, as wrong passwords are;
// 429 with Retry-After when it has none left.
func (s *Server) passkeyLoginFinish(c echo.Context) error {
	answer, token, err := s.ceremonyAnswer(c)
	if err != nil {
		return err
	}
	if p, ok := s.pending(c); ok {
		// A passkey as the second factor: charged to the account and
		// to this pending sign-in, as codes are (5 wrong, then wait).
		charges := s.secondFactorCharges(p.UserID, p.Nonce)
		wait, err := takeAttempt(c.Request().Context(), charges)
		if err != nil {
			return err
		}
		if wait > 0 {
			return passkeyJSON(c, http.StatusTooManyRequests, map[string]string{"error": retryIn(c, wait)})
		}
		ok, err := s.passkeyAssertion(c, p.UserID, token, answer)
		if err != nil || !ok {
			if err != nil && !errors.Is(err, blnk.ErrPasskeyRefused) {
				s.refundAttempt(c, charges) // not checked: no failure
			}
			return s.passkeyProblem(c, err)
		}
		s.signedInAttempt(c, charges)
		to, err := s.completeSecondFactor(c, p, "passkey")
		if err != nil {
			return err
		}
		return passkeyJSON(c, http.StatusOK, map[string]string{"redirect": to})
	}

	ctx := c.Request().Context()
	charges := []charge{{s.cfg.LoginByIP, "ip:" + clientNet(c.RealIP()), false}}
	wait, err := takeAttempt(ctx, charges)
	if err != nil {
		return err
	}
	if wait > 0 {
		secs := int(wait.Seconds() + 0.999)
		c.Response().Header().Set("Retry-After", strconv.Itoa(secs))
		return passkeyJSON(c, http.StatusTooManyRequests, map[string]string{"error": "Too many failed sign-ins. Wait " + strconv.Itoa(secs) + " seconds, then try again."})
	}
	userID, took, err := s.passkeys.FinishSignIn(ctx, token, answer)
	if errors.Is(err, blnk.ErrPasskeyRefused) {
		s.log.Info("sign-in failed", "request_id", requestIDOf(c), "ip", c.RealIP(), "method", "passkey")
		s.recordPasskeyFailed(c)
		return s.passkeyProblem(c, err)
	}
	if err != nil {
		s.refundAttempt(c, charges) // nothing was checked (an old ceremony, the database)
		return s.passkeyProblem(c, err)
	}
	s.refundAttempt(c, charges)
	l, err := s.db.LoginByUserID(ctx, userID)
	if err != nil {
		return err
	}
	if l.Workspace.ID == 0 {
		return passkeyJSON(c, http.StatusForbidden, map[string]string{"error": "You are not a member of any workspace. Ask an Owner or Admin for an invitation."})
	}
	if err := s.startSessionBy(c, l.User, l.Workspace.ID, "", "passkey"); err != nil {
		return err
	}
	s.log.Info("signed in", "request_id", requestIDOf(c), "user_id", userID, "method", "passkey", "verify_ms", float64(took.Microseconds())/1000)
	to := localPath(c.QueryParam("next"))
	if to == "" {
		to = "/settings/api-keys"
	}
	return passkeyJSON(c, http.StatusOK, map[string]string{"redirect": to})
}

// passkeyAssertion checks a passkey answer (answer, JSON) of userID's own
// passkeys to the second-factor ceremony of token, begun for userID by
// POST /login/passkey/begin. ok with a nil error when it checks out;
// otherwise the error says why (blnk.ErrPasskeyRefused,
// blnk.ErrCeremonyGone, or a failure of the database). Failures are
// logged; the caller limits attempts.
func (s *Server) passkeyAssertion(c echo.Context, userID int64, token string, answer []byte) (bool, error) {
	if s.passkeys == nil {
		return false, blnk.ErrPasskeyRefused
	}
	took, err := s.passkeys.FinishSecondFactor(c.Request().Context(), userID, token, answer)
	if err != nil {
		s.log.Info("second factor refused", "request_id", requestIDOf(c), "user_id", userID, "method", "passkey", "err", err)
		return false, err
	}
	s.log.Info("second factor accepted", "request_id", requestIDOf(c), "user_id", userID, "method", "passkey", "verify_ms", float64(took.Microseconds())/1000)
	return true, nil
}

// recordPasskeyFailed records user.sign_in_failed for a passkey refused:
// in no workspace (the passkey's person is not known, or not to be
// trusted), with the reason. A failure to record is logged.
func (s *Server) recordPasskeyFailed(c echo.Context) {
	ev := audit.Event{Actor: actorOf(c, 0, ""), Details: map[string]any{"reason": "passkey refused", "method": "passkey"}}
	if err := s.accounts.SignInFailed(context.WithoutCancel(c.Request().Context()), ev); err != nil {
		s.log.Error("record failed sign-in", "request_id", requestIDOf(c), "err", err)
	}
}
