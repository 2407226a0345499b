package web

import (
	"bytes"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"image/png"
	"math"
	"net/http"
	"strconv"
	"time"

	"github.com/gorilla/sessions"
	"github.com/labstack/echo/v4"

	"github.com/blnk-cloud/apikeys/internal/blnk"
	"github.com/blnk-cloud/apikeys/internal/derrors"
	"github.com/blnk-cloud/apikeys/internal/twofactor"
	"github.com/blnk-cloud/apikeys/views"
)

// Signing in with a second factor (issue 18). After the right password,
// a person with a second factor gets no session yet: the session cookie
// (signed and encrypted) holds a pending sign-in for pendingTTL, and
// /login/two-factor asks for a TOTP or recovery code. finishSecondFactor
// ends every way of completing it (a passkey can call it too).

// pendingTTL is how long a right password waits for its second factor.
const pendingTTL = 5 * time.Minute

// setupSecretTTL is how long the set-up page's secret waits for its first
// code (in the session cookie, never in the database until confirmed).
const setupSecretTTL = 15 * time.Minute

// The session cookie's values of a pending sign-in and of a TOTP set-up.
const (
	pendingUser      = "p_uid"
	pendingWorkspace = "p_ws"
	pendingEmail     = "p_email"
	pendingNext      = "p_next"
	pendingNonce     = "p_nonce"
	pendingUntil     = "p_until"
	setupSecret      = "totp_secret"
	setupUntil       = "totp_until"
)

// pendingSignIn is a sign-in whose password was right, waiting for its
// second factor.
type pendingSignIn struct {
	UserID, WorkspaceID int64
	Email               string
	Next                string // a local path, or ""
	// Nonce names this pending sign-in for its own attempt limit.
	Nonce string
	Until time.Time
}

// startPending keeps p in the session cookie, in place of any session
// the browser had.
func (s *Server) startPending(c echo.Context, p pendingSignIn) error {
	cs, _ := s.cookies.Get(c.Request(), sessionCookie)
	if old, _ := cs.Values[tokenValue].(string); old != "" {
		if err := s.accounts.EndSession(c.Request().Context(), tokenHash(old), nil); err != nil {
			return err
		}
	}
	nonce, err := randomToken(16)
	if err != nil {
		return err
	}
	cs.Values = map[any]any{
		pendingUser: p.UserID, pendingWorkspace: p.WorkspaceID, pendingEmail: p.Email, pendingNext: p.Next,
		pendingNonce: nonce, pendingUntil: s.cfg.Now().Add(pendingTTL).UnixMilli(),
	}
	cs.Options.MaxAge = s.cookies.Options.MaxAge
	return s.saveCookie(c, cs)
}

// pending returns the request's pending sign-in; false when there is
// none, or it is older than pendingTTL.
func (s *Server) pending(c echo.Context) (pendingSignIn, bool) {
	cs, _ := s.cookies.Get(c.Request(), sessionCookie)
	p := pendingSignIn{}
	p.UserID, _ = cs.Values[pendingUser].(int64)
	p.WorkspaceID, _ = cs.Values[pendingWorkspace].(int64)
	p.Email, _ = cs.Values[pendingEmail].(string)
	p.Next, _ = cs.Values[pendingNext].(string)
	p.Nonce, _ = cs.Values[pendingNonce].(string)
	until, _ := cs.Values[pendingUntil].(int64)
	p.Until = time.UnixMilli(until)
	if p.UserID == 0 || p.Nonce == "" || !s.cfg.Now().Before(p.Until) {
		return pendingSignIn{}, false
	}
	return p, true
}

// clearPending forgets the pending sign-in, leaving flash.
func (s *Server) clearPending(c echo.Context, flash string) error {
	cs, _ := s.cookies.Get(c.Request(), sessionCookie)
	for _, k := range []string{pendingUser, pendingWorkspace, pendingEmail, pendingNext, pendingNonce, pendingUntil} {
		delete(cs.Values, k)
	}
	if flash != "" {
		setFlash(cs, flash)
	}
	return s.saveCookie(c, cs)
}

// finishSecondFactor completes the pending sign-in p, whose second factor
// was just given (how: "totp", "recovery code", "passkey"): the real
// session starts, the browser becomes a known device of the account, and
// the person goes where they were going.
func (s *Server) finishSecondFactor(c echo.Context, p pendingSignIn, how string) error {
	to, err := s.completeSecondFactor(c, p, how)
	if err != nil {
		return err
	}
	return c.Redirect(http.StatusSeeOther, to)
}

// completeSecondFactor starts the session of the pending sign-in p and
// returns where the person goes: finishSecondFactor redirects there, a
// passkey's answer (JSON, for passkeys.js) names it.
func (s *Server) completeSecondFactor(c echo.Context, p pendingSignIn, how string) (string, error) {
	if err := s.startSessionBy(c, blnk.User{ID: p.UserID, Email: p.Email}, p.WorkspaceID, "", how); err != nil {
		return "", err
	}
	if err := s.setDeviceCookie(c, p.Email); err != nil {
		return "", err
	}
	s.log.Info("signed in", "request_id", requestIDOf(c), "user_id", p.UserID, "second_factor", how)
	to := p.Next
	if to == "" {
		to = "/settings/api-keys"
	}
	return to, nil
}

// pendingExpired sends a browser whose pending sign-in is gone back to
// the sign-in form.
func (s *Server) pendingExpired(c echo.Context) error {
	if err := s.clearPending(c, "Your sign-in took too long. Sign in again."); err != nil {
		return err
	}
	return c.Redirect(http.StatusSeeOther, "/login")
}

func (s *Server) twoFactorForm(c echo.Context) error {
	p, ok := s.pending(c)
	if !ok {
		return s.pendingExpired(c)
	}
	f, err := s.twoFactorPageForm(c, p)
	if err != nil {
		return err
	}
	return render(c, http.StatusOK, views.TwoFactorPage(f))
}

// twoFactorPageForm is the second step's form for p: "Use a passkey"
// when the person has one and passkeys are on.
func (s *Server) twoFactorPageForm(c echo.Context, p pendingSignIn) (views.TwoFactorForm, error) {
	origin := s.passkeyOrigin()
	if origin == "" {
		return views.TwoFactorForm{}, nil
	}
	fs, err := s.db.FindFactors(c.Request().Context(), p.UserID)
	if err != nil || fs.Passkeys == 0 {
		return views.TwoFactorForm{}, err
	}
	return views.TwoFactorForm{PasskeyOrigin: origin}, nil
}

// secondFactorCharges are the counts a second-factor attempt is charged
// to: the account, and this pending sign-in.
func (s *Server) secondFactorCharges(userID int64, nonce string) []charge {
	ch := []charge{{s.cfg.TwoFactorByUser, "2fa:user:" + strconv.FormatInt(userID, 10), true}}
	if nonce != "" {
		ch = append(ch, charge{s.cfg.TwoFactorBySession, "2fa:pending:" + nonce, true})
	}
	return ch
}

// checkSecondFactor checks code as userID's second factor, charged to
// the account (and the pending sign-in nonce, if any): the method, or
// the wait when the attempts are used up, or twofactor's refusal.
func (s *Server) checkSecondFactor(c echo.Context, by twofactor.Actor, nonce, code string) (twofactor.Method, time.Duration, error) {
	charges := s.secondFactorCharges(by.UserID, nonce)
	wait, err := takeAttempt(c.Request().Context(), charges)
	if err != nil || wait > 0 {
		return "", wait, err
	}
	how, err := s.factors.Check(c.Request().Context(), by, code)
	switch {
	case err == nil:
		s.signedInAttempt(c, charges)
	case errors.Is(err, twofactor.ErrNoCode) || derrors.Code(err) != derrors.EINVALID:
		s.refundAttempt(c, charges) // nothing typed, or not checked: no failure
	}
	return how, 0, err
}

// retryIn sets Retry-After and says how long to wait.
func retryIn(c echo.Context, wait time.Duration) string {
	secs := int(math.Ceil(wait.Seconds()))
	c.Response().Header().Set("Retry-After", strconv.Itoa(secs))
	return fmt.Sprintf("Too many wrong codes. Wait %d seconds, then try again.", secs)
}

func (s *Server) twoFactor(c echo.Context) error {
	if _, err := c.FormParams(); err != nil {
		return formError(err)
	}
	p, ok := s.pending(c)
	if !ok {
		return s.pendingExpired(c)
	}
	by := twofactor.Actor{Actor: actorOf(c, p.UserID, p.Email), WorkspaceID: p.WorkspaceID}
	how, wait, err := s.checkSecondFactor(c, by, p.Nonce, c.FormValue("code"))
	if wait > 0 {
		return render(c, http.StatusTooManyRequests, views.TwoFactorPage(views.TwoFactorForm{Problem: retryIn(c, wait)}))
	}
	if derrors.Code(err) == derrors.EINVALID {
		status := http.StatusUnauthorized
		if errors.Is(err, twofactor.ErrNoCode) {
			status = http.StatusUnprocessableEntity
		}
		s.log.Info("second factor refused", "request_id", requestIDOf(c), "user_id", p.UserID)
		f, ferr := s.twoFactorPageForm(c, p)
		if ferr != nil {
			return ferr
		}
		f.Problem = derrors.Message(err)
		return render(c, status, views.TwoFactorPage(f))
	}
	if err != nil {
		return err
	}
	return s.finishSecondFactor(c, p, string(how))
}

// twoFactorActor is the signed-in person as the twofactor service sees
// them.
func (s *Server) twoFactorActor(c echo.Context) twofactor.Actor {
	cur := mustSession(c)
	return twofactor.Actor{Actor: s.actor(c), WorkspaceID: cur.Workspace.ID, Role: cur.Role}
}

func (s *Server) securityPage(c echo.Context, status int, sec views.Security) error {
	cur := mustSession(c)
	f, err := s.db.FindFactors(c.Request().Context(), cur.User.ID)
	if err != nil {
		return err
	}
	sec.Factors, sec.Required = f, cur.Workspace.RequireTwoFactor
	if sec.Passkeys, err = s.passkeyView(c); err != nil {
		return err
	}
	if sec.Sessions, err = s.SessionsList(c, views.SecurityPath); err != nil {
		return err
	}
	return renderPage(s, c, status, views.NavSecurity, "Security", views.SecurityPage, sec)
}

func (s *Server) security(c echo.Context) error {
	return s.securityPage(c, http.StatusOK, views.Security{})
}

// setupSecretOf returns the set-up secret the session cookie holds, or a
// new one it then holds, for setupSecretTTL.
func (s *Server) setupSecretOf(c echo.Context, renew bool) (string, *sessions.Session, error) {
	cs, _ := s.cookies.Get(c.Request(), sessionCookie)
	secret, _ := cs.Values[setupSecret].(string)
	until, _ := cs.Values[setupUntil].(int64)
	if secret != "" && s.cfg.Now().UnixMilli() < until || !renew {
		if s.cfg.Now().UnixMilli() >= until {
			secret = ""
		}
		return secret, cs, nil
	}
	secret, err := twofactor.NewSecret()
	if err != nil {
		return "", nil, err
	}
	cs.Values[setupSecret] = secret
	cs.Values[setupUntil] = s.cfg.Now().Add(setupSecretTTL).UnixMilli()
	return secret, cs, s.saveCookie(c, cs)
}

func (s *Server) totpSetupPage(c echo.Context, status int, secret string, t views.TOTPSetup) error {
	cur := mustSession(c)
	key, err := twofactor.Key(secret, cur.User.Email)
	if err != nil {
		return err
	}
	img, err := key.Image(200, 200)
	if err != nil {
		return err
	}
	var buf bytes.Buffer
	if err := png.Encode(&buf, img); err != nil {
		return err
	}
	t.QR = "data:image/png;base64," + base64.StdEncoding.EncodeToString(buf.Bytes())
	t.Secret = secret
	p, err := s.page(c, "Set up an authenticator app")
	if err != nil {
		return err
	}
	p.Nav = views.NavSecurity
	c.Response().Header().Set("Referrer-Policy", "no-referrer")
	return render(c, status, views.TOTPSetupPage(p, t))
}

// hasTOTP reports whether the signed-in person has a TOTP factor.
func (s *Server) hasTOTP(c echo.Context) (bool, error) {
	f, err := s.db.FindFactors(c.Request().Context(), mustSession(c).User.ID)
	return f.TOTP, err
}

func (s *Server) totpSetup(c echo.Context) error {
	if has, err := s.hasTOTP(c); err != nil || has {
		if err != nil {
			return err
		}
		return c.Redirect(http.StatusSeeOther, views.SecurityPath)
	}
	secret, _, err := s.setupSecretOf(c, c.Request().Method != http.MethodHead)
	if err != nil {
		return err
	}
	if secret == "" { // HEAD: no secret made
		return c.NoContent(http.StatusOK)
	}
	return s.totpSetupPage(c, http.StatusOK, secret, views.TOTPSetup{})
}

func (s *Server) totpEnable(c echo.Context) error {
	if _, err := c.FormParams(); err != nil {
		return formError(err)
	}
	secret, cs, err := s.setupSecretOf(c, false)
	if err != nil {
		return err
	}
	if secret == "" {
		return s.redirectWithFlash(c, "/settings/security/totp", "The setup took too long. Scan the new code.")
	}
	code := c.FormValue("code")
	codes, err := s.factors.Enable(c.Request().Context(), s.twoFactorActor(c), secret, code)
	if derrors.Code(err) == derrors.EINVALID {
		t := views.TOTPSetup{Code: shown(code), Problem: derrors.Message(err)}
		if len(t.Code) > 64 {
			t.Code = ""
		}
		return s.totpSetupPage(c, http.StatusUnprocessableEntity, secret, t)
	}
	if errors.Is(err, blnk.ErrAlreadySet) {
		return c.Redirect(http.StatusSeeOther, views.SecurityPath)
	}
	if err != nil {
		return err
	}
	delete(cs.Values, setupSecret)
	delete(cs.Values, setupUntil)
	if err := s.saveCookie(c, cs); err != nil {
		return err
	}
	return s.showRecoveryCodes(c, codes)
}

func (s *Server) showRecoveryCodes(c echo.Context, codes []string) error {
	p, err := s.page(c, "Your recovery codes")
	if err != nil {
		return err
	}
	p.Nav = views.NavSecurity
	h := c.Response().Header()
	h.Set("Cache-Control", "no-store")
	h.Set("Referrer-Policy", "no-referrer")
	return render(c, http.StatusOK, views.RecoveryCodesPage(p, views.RecoveryCodes{Codes: codes}))
}

func (s *Server) recoveryRegenerate(c echo.Context) error {
	codes, err := s.factors.RegenerateCodes(c.Request().Context(), s.twoFactorActor(c))
	if errors.Is(err, blnk.ErrNotFound) {
		return derrors.Errorf(derrors.ECONFLICT, "Recovery codes come with an authenticator app; set one up first.")
	}
	if err != nil {
		return err
	}
	return s.showRecoveryCodes(c, codes)
}

func (s *Server) totpRemove(c echo.Context) error {
	err := s.factors.Disable(c.Request().Context(), s.twoFactorActor(c))
	if err != nil && !errors.Is(err, blnk.ErrNotFound) {
		return err
	}
	if err := s.addFlash(c, "The authenticator app was removed; signing in asks for your password only."); err != nil {
		return err
	}
	return redirect(c, views.SecurityPath)
}

// requireTwoFactor is the Owner's switch (field require_2fa: "on", or
// absent for off).
func (s *Server) requireTwoFactor(c echo.Context) error {
	v := c.FormValue("require_2fa")
	if v != "" && v != "on" {
		return echo.NewHTTPError(http.StatusBadRequest, `require_2fa is "on" or absent.`)
	}
	cur := mustSession(c)
	err := s.factors.SetRequireTwoFactor(c.Request().Context(), s.twoFactorActor(c), cur.Workspace.ID, v == "on")
	if errors.Is(err, twofactor.ErrNeedFactorFirst) {
		return s.securityPage(c, http.StatusConflict, views.Security{Problem: derrors.Message(err)})
	}
	if err != nil {
		return err
	}
	msg := "Two-factor sign-in is no longer required."
	if v == "on" {
		msg = "Two-factor sign-in is now required of every member."
	}
	if err := s.addFlash(c, msg); err != nil {
		return err
	}
	return redirect(c, views.SecurityPath)
}

// requireFactor sends a member of a workspace that requires a second
// factor, who has none, to set one up before any other page.
func (s *Server) requireFactor(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		cur := mustSession(c)
		if !cur.Workspace.RequireTwoFactor {
			return next(c)
		}
		f, err := s.db.FindFactors(c.Request().Context(), cur.User.ID)
		if err != nil {
			return err
		}
		if f.Any() {
			return next(c)
		}
		return redirect(c, views.SecurityPath)
	}
}

// randomToken returns n random bytes, base64url.
func randomToken(n int) (string, error) {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		return "", err
	}
	return base64.RawURLEncoding.EncodeToString(b), nil
}
