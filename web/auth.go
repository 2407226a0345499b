package web

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"errors"
	"fmt"
	"math"
	"net/http"
	"net/netip"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/labstack/echo/v4"

	"github.com/blnk-cloud/apikeys/internal/audit"
	"github.com/blnk-cloud/apikeys/internal/blnk"
	"github.com/blnk-cloud/apikeys/internal/derrors"
	"github.com/blnk-cloud/apikeys/internal/password"
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

// setupLinked reports whether the request may set up: always, unless the
// server asks for its setup link's token (Config.SetupToken), which the
// request then carries as "token" (the link's query, then the form's
// hidden field). Otherwise it answers with a page that says to open the
// link.
func (s *Server) setupLinked(c echo.Context) (bool, error) {
	if s.setupHash == nil {
		return true, nil
	}
	h := c.Response().Header()
	h.Set("Cache-Control", "no-store")
	h.Set("Referrer-Policy", "no-referrer")
	got := sha256.Sum256([]byte(c.FormValue("token")))
	if subtle.ConstantTimeCompare(got[:], s.setupHash[:]) == 1 {
		return true, nil
	}
	return false, render(c, http.StatusForbidden, views.SetupLinkPage())
}

func (s *Server) setupForm(c echo.Context) error {
	if gone, err := s.setupGone(c); gone || err != nil {
		return err
	}
	if ok, err := s.setupLinked(c); !ok {
		return err
	}
	return render(c, http.StatusOK, views.SetupPage(views.SetupForm{Token: s.setupToken(c)}))
}

// setupToken is the token the setup form carries on, "" when none is
// asked for.
func (s *Server) setupToken(c echo.Context) string {
	if s.setupHash == nil {
		return ""
	}
	return c.FormValue("token")
}

// setupInput is the validated setup form.
type setupInput struct {
	workspace, email, password string
}

// validateSetup checks the setup form; f collects the problems.
func validateSetup(f *views.SetupForm, pw, confirm string) (setupInput, bool) {
	p := views.Problems{}
	in := setupInput{
		workspace: clean(p, "workspace", blnk.CleanWorkspaceName, f.Workspace),
		email:     clean(p, "email", blnk.CleanEmail, f.Email),
		password:  pw,
	}
	if err := password.Check(pw); err != nil {
		p["password"] = derrors.Message(err)
	} else if pw != confirm {
		p["confirm"] = "The passwords do not match."
	}
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
	if ok, err := s.setupLinked(c); !ok {
		return err
	}
	f := views.SetupForm{Workspace: c.FormValue("workspace"), Email: c.FormValue("email"), Token: s.setupToken(c)}
	in, ok := validateSetup(&f, c.FormValue("password"), c.FormValue("confirm"))
	if !ok {
		f.Workspace, f.Email = shown(f.Workspace), shown(f.Email)
		return render(c, http.StatusUnprocessableEntity, views.SetupPage(f))
	}
	hash, err := s.hashPassword(c, in.password)
	if err != nil {
		return err
	}
	ws, u, err := s.accounts.Setup(c.Request().Context(), in.workspace, in.email, hash)
	if errors.Is(err, blnk.ErrAlreadySet) {
		return echo.ErrNotFound // another setup won the race
	}
	if err != nil {
		return err
	}
	s.setupDone.Store(true)
	if err := s.startSession(c, u, ws.ID, "Welcome! Your workspace is ready."); err != nil {
		return err
	}
	if err := s.setDeviceCookie(c, in.email); err != nil {
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
	f := views.LoginForm{Next: localPath(c.QueryParam("next")), PasskeyOrigin: s.passkeyOrigin()}
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
	f := views.LoginForm{Email: strings.TrimSpace(c.FormValue("email")), Next: localPath(c.FormValue("next")), PasskeyOrigin: s.passkeyOrigin()}
	password := c.FormValue("password")
	if len(f.Email) > blnk.MaxEmail {
		// Cut on a character boundary: the email is shown again.
		cut := blnk.MaxEmail
		for cut > 0 && !utf8.RuneStart(f.Email[cut]) {
			cut--
		}
		f.Email = f.Email[:cut]
	}
	f.Email = shown(f.Email)
	email := strings.ToLower(f.Email)
	if email == "" || password == "" {
		f.Problem = "Enter your email and password."
		return render(c, http.StatusUnprocessableEntity, views.LoginPage(f))
	}

	// The attempt is counted before the password is checked, and given
	// back if it turns out right: sign-ins that arrive together cannot
	// all pass a check made before any failure was recorded.
	ctx := c.Request().Context()
	charges, known := s.signInCharges(c, email)
	wait, err := takeAttempt(ctx, charges)
	if err != nil {
		return err
	}
	if wait > 0 {
		return s.loginThrottled(c, f, wait)
	}
	l, ok, err := s.checkPassword(ctx, email, password)
	if err != nil {
		// Not checked: not a failure either.
		s.refundAttempt(c, charges)
		if errors.Is(err, errBusy) {
			return s.loginBusy(c, f)
		}
		return err
	}
	if !ok {
		s.log.Info("sign-in failed", "request_id", requestIDOf(c), "ip", c.RealIP(), "known_device", known)
		s.recordSignInFailed(c, l, l.User.ID != 0)
		f.Problem = badLogin
		return render(c, http.StatusUnauthorized, views.LoginPage(f))
	}
	// The right password: the attempt was no failure, and this client's
	// earlier failures at the account are forgiven.
	s.signedInAttempt(c, charges)
	if l.Workspace.ID == 0 {
		// The right password, but no workspace left to sign in to.
		f.Problem = "You are not a member of any workspace. Ask an Owner or Admin for an invitation."
		return render(c, http.StatusForbidden, views.LoginPage(f))
	}
	factors, err := s.db.FindFactors(ctx, l.User.ID)
	if err != nil {
		return err
	}
	if factors.Any() {
		// The right password is half of it: no session until the
		// second factor (finishSecondFactor).
		p := pendingSignIn{UserID: l.User.ID, WorkspaceID: l.Workspace.ID, Email: l.User.Email, Next: f.Next}
		if err := s.startPending(c, p); err != nil {
			return err
		}
		s.log.Info("password right; second factor asked", "request_id", requestIDOf(c), "user_id", l.User.ID)
		return c.Redirect(http.StatusSeeOther, "/login/two-factor")
	}
	if err := s.startSession(c, l.User, l.Workspace.ID, ""); err != nil {
		return err
	}
	if err := s.setDeviceCookie(c, email); err != nil {
		return err
	}
	s.log.Info("signed in", "request_id", requestIDOf(c), "user_id", l.User.ID, "known_device", known)
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
func (s *Server) recordSignInFailed(c echo.Context, l blnk.Login, known bool) {
	ev := audit.Event{Actor: actorOf(c, 0, ""),
		Details: map[string]any{"reason": "unknown email"}}
	if known {
		ev.WorkspaceID, ev.Actor.UserID, ev.Actor.Email = l.Workspace.ID, l.User.ID, l.User.Email
		ev.Details = map[string]any{"reason": "wrong password"}
	}
	if err := s.accounts.SignInFailed(context.WithoutCancel(c.Request().Context()), ev); err != nil {
		s.log.Error("record failed sign-in", "request_id", requestIDOf(c), "err", err)
	}
}

// charge is one count a sign-in attempt is charged to.
type charge struct {
	th  LoginThrottle
	key string
	// forgive: a correct password forgets key's earlier failures, not
	// only gives back this attempt.
	forgive bool
}

// signInCharges returns the counts a sign-in at email is charged to, and
// whether the browser is known to the account (it carries the account's
// valid device cookie).
//
// A known browser is charged to its device cookie only: failures from
// elsewhere, however many, never block it, and its own mistakes lock only
// itself. Any other client is charged to its address (all the emails it
// tries), to its address at this email (what one address may guess at
// one account), and to the account (guesses spread over many addresses);
// Config.setDefaults explains why one address cannot fill the last.
// Whether the account exists makes no difference to any of them.
func (s *Server) signInCharges(c echo.Context, email string) ([]charge, bool) {
	if nonce := s.knownDevice(c, email); nonce != "" {
		return []charge{{s.cfg.LoginByDevice, "device:" + nonce, true}}, true
	}
	addr := clientNet(c.RealIP())
	return []charge{
		{s.cfg.LoginByIP, "ip:" + addr, false},
		{s.cfg.LoginByIPEmail, "ip+email:" + addr + " " + email, true},
		// Given back, not forgotten: forgetting would forgive the
		// failures of strangers elsewhere every time the owner signs in.
		{s.cfg.LoginByEmail, "email:" + email, false},
	}, false
}

// clientNet is the client address a sign-in is counted under: an IPv6
// address's /64, which one host commonly holds whole (an address per
// guess would escape every per-address count), or the IPv4 address.
func clientNet(ip string) string {
	a, err := netip.ParseAddr(ip)
	if err != nil || !a.Is6() || a.Is4In6() {
		return ip
	}
	p, err := a.Prefix(64)
	if err != nil {
		return ip
	}
	return p.String()
}

// takeAttempt charges a sign-in attempt to every count of charges, or
// to none, and returns how long to wait if one has nothing left.
func takeAttempt(ctx context.Context, charges []charge) (time.Duration, error) {
	for i, ch := range charges {
		wait, err := ch.th.Take(ctx, ch.key)
		if err != nil || wait > 0 {
			for _, taken := range charges[:i] {
				if rerr := taken.th.Refund(ctx, taken.key); rerr != nil {
					err = errors.Join(err, rerr)
				}
			}
			return wait, err
		}
	}
	return 0, nil
}

// refundAttempt gives back an attempt that was not a failure: the
// password could not be checked. Even when the client has gone: it must
// not be charged for it.
func (s *Server) refundAttempt(c echo.Context, charges []charge) {
	ctx := context.WithoutCancel(c.Request().Context())
	var err error
	for _, ch := range charges {
		err = errors.Join(err, ch.th.Refund(ctx, ch.key))
	}
	if err != nil {
		s.log.Error("sign-in throttle: refund", "request_id", requestIDOf(c), "err", err)
	}
}

// signedInAttempt gives back the attempt of a correct password, and
// forgets the earlier failures of the counts that forgive.
func (s *Server) signedInAttempt(c echo.Context, charges []charge) {
	ctx := context.WithoutCancel(c.Request().Context())
	var err error
	for _, ch := range charges {
		if ch.forgive {
			err = errors.Join(err, ch.th.Reset(ctx, ch.key))
		} else {
			err = errors.Join(err, ch.th.Refund(ctx, ch.key))
		}
	}
	if err != nil {
		s.log.Error("sign-in throttle: give back", "request_id", requestIDOf(c), "err", err)
	}
}

// errBusy is returned when a password could not be hashed in time
// because as many hashes as allowed were running.
var errBusy = errors.New("web: too many password hashes at once")

// hashing runs f, which hashes a password, once one of the
// cfg.PasswordChecks slots is free, waiting cfg.PasswordWait at most
// (errBusy). argon2id takes a core and 19 MiB per hash: without a bound,
// a storm of sign-ins (even ones the throttle lets through, from many
// addresses) would take as much memory as there are requests.
func (s *Server) hashing(ctx context.Context, f func()) error {
	select {
	case s.hashSlots <- struct{}{}:
	default:
		t := time.NewTimer(s.cfg.PasswordWait)
		defer t.Stop()
		select {
		case s.hashSlots <- struct{}{}:
		case <-t.C:
			return errBusy
		case <-ctx.Done():
			return errBusy
		}
	}
	defer func() { <-s.hashSlots }()
	f()
	return nil
}

// hashPassword hashes a new password in one of the hashing slots: 503
// with Retry-After when none frees up in time.
func (s *Server) hashPassword(c echo.Context, password string) (string, error) {
	var hash string
	var hashErr error
	if err := s.hashing(c.Request().Context(), func() { hash, hashErr = s.cfg.Passwords.Hash(password) }); err != nil {
		c.Response().Header().Set("Retry-After", strconv.Itoa(int(busyRetry/time.Second)))
		return "", echo.NewHTTPError(http.StatusServiceUnavailable, "The server is busy. Wait a few seconds, then try again.").SetInternal(err)
	}
	return hash, hashErr
}

// checkPassword reports whether password is email's. An unknown email
// costs the same hash as a known one, so that timing tells nothing.
func (s *Server) checkPassword(ctx context.Context, email, password string) (blnk.Login, bool, error) {
	l, err := s.db.LoginByEmail(ctx, email)
	known := err == nil
	if err != nil && !errors.Is(err, blnk.ErrNotFound) {
		return blnk.Login{}, false, err
	}
	ok := false
	err = s.hashing(ctx, func() {
		hash := l.PasswordHash
		if !known {
			hash = s.dummyHash()
		}
		ok = s.verifyPassword(hash, password) && known
	})
	return l, ok, err
}

// busyRetry is the Retry-After of a sign-in refused because the server
// was busy hashing other passwords.
const busyRetry = 2 * time.Second

// loginBusy refuses a sign-in the server had no time to check.
func (s *Server) loginBusy(c echo.Context, f views.LoginForm) error {
	s.log.Warn("sign-in refused: too many password checks at once", "request_id", requestIDOf(c), "ip", c.RealIP())
	c.Response().Header().Set("Retry-After", strconv.Itoa(int(busyRetry/time.Second)))
	f.Problem = "Too many people are signing in right now. Wait a few seconds, then try again."
	return render(c, http.StatusServiceUnavailable, views.LoginPage(f))
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
