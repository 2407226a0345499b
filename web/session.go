package web

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"net/http"
	"time"

	"github.com/gorilla/sessions"
	"github.com/labstack/echo/v4"

	"github.com/blnk-cloud/apikeys/internal/audit"
	"github.com/blnk-cloud/apikeys/internal/blnk"
)

// Cookies. The session cookie holds a random token whose SHA-256 keys the
// server-side session row, plus one-time notices (flashes); signing out
// deletes the row, so a copy of an old cookie no longer signs in. The
// reveal cookie carries a new key's token, encrypted, from the create
// request to the one-time reveal page, scoped to that page's path.
const (
	sessionCookie = "blnk_session"
	revealCookie  = "blnk_reveal"
	tokenValue    = "token"
)

// revealTTL is how long a new key's token may wait for its reveal page.
const revealTTL = 10 * time.Minute

// newCookieStore returns a store whose cookies are signed (HMAC-SHA256)
// and encrypted (AES-256), with keys derived from the session secret.
func newCookieStore(secret []byte, lifetime time.Duration) *sessions.CookieStore {
	st := sessions.NewCookieStore(deriveKey(secret, "blnk session cookie: hmac"), deriveKey(secret, "blnk session cookie: aes"))
	st.Options = &sessions.Options{
		Path:     "/",
		MaxAge:   int(lifetime / time.Second),
		HttpOnly: true,
		SameSite: http.SameSiteLaxMode,
	}
	st.MaxAge(int(lifetime / time.Second))
	return st
}

const sessionKey = "session"

// tokenHash is what the database stores of a session token.
func tokenHash(token string) []byte {
	sum := sha256.Sum256([]byte(token))
	return sum[:]
}

// currentSession returns the request's session, or nil if it is not
// signed in. Expired sessions are deleted on the way.
func (s *Server) currentSession(c echo.Context) (*blnk.Session, error) {
	if cur, ok := c.Get(sessionKey).(*blnk.Session); ok {
		return cur, nil
	}
	cs, _ := s.cookies.Get(c.Request(), sessionCookie) // a bad cookie is no session
	token, _ := cs.Values[tokenValue].(string)
	if token == "" {
		return nil, nil
	}
	ds, err := s.accounts.Session(c.Request().Context(), tokenHash(token))
	if errors.Is(err, blnk.ErrNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	c.Set(sessionKey, &ds)
	return &ds, nil
}

// mustSession returns the session that requireSession found.
func mustSession(c echo.Context) *blnk.Session {
	return c.Get(sessionKey).(*blnk.Session)
}

// startSession signs u in to workspaceID with a new token and a new
// cookie, which also carries flash if it is not empty: whatever session
// the browser had before is ended, so a session id planted before sign-in
// is worthless after it. The audit log records user.signed_in with the
// session.
func (s *Server) startSession(c echo.Context, u blnk.User, workspaceID int64, flash string) error {
	return s.startSessionBy(c, u, workspaceID, flash, "")
}

// startSessionBy is startSession for a sign-in by method ("passkey"),
// which user.signed_in records.
func (s *Server) startSessionBy(c echo.Context, u blnk.User, workspaceID int64, flash, method string) error {
	r := c.Request()
	// The request's own session object, so that anything else this
	// request writes to it keeps the new token.
	cs, _ := s.cookies.Get(r, sessionCookie)
	if old, _ := cs.Values[tokenValue].(string); old != "" {
		if err := s.accounts.EndSession(r.Context(), tokenHash(old), nil); err != nil {
			return err
		}
	}
	var raw [32]byte
	if _, err := rand.Read(raw[:]); err != nil {
		return err
	}
	token := base64.RawURLEncoding.EncodeToString(raw[:])
	if err := s.accounts.StartSessionBy(r.Context(), tokenHash(token), u, workspaceID, actorOf(c, u.ID, u.Email), r.UserAgent(), method); err != nil {
		return err
	}
	cs.Values = map[any]any{tokenValue: token}
	if flash != "" {
		setFlash(cs, flash)
	}
	cs.Options.MaxAge = s.cookies.Options.MaxAge
	return s.saveCookie(c, cs)
}

// endSession signs the request's session out for good, leaving flash (if
// not empty) for the next page. The audit log records user.signed_out
// with the end of a session that was signed in.
func (s *Server) endSession(c echo.Context, flash string) error {
	r := c.Request()
	cs, _ := s.cookies.Get(r, sessionCookie)
	if t, _ := cs.Values[tokenValue].(string); t != "" {
		var signedOut *audit.Event
		if cur, ok := c.Get(sessionKey).(*blnk.Session); ok {
			signedOut = &audit.Event{WorkspaceID: cur.Workspace.ID, Action: audit.UserSignedOut,
				Actor: actorOf(c, cur.User.ID, cur.User.Email)}
		}
		if err := s.accounts.EndSession(r.Context(), tokenHash(t), signedOut); err != nil {
			return err
		}
	}
	delete(cs.Values, tokenValue)
	if flash != "" {
		setFlash(cs, flash)
	}
	return s.saveCookie(c, cs)
}

// saveCookie writes a cookie, Secure when the request came over TLS.
func (s *Server) saveCookie(c echo.Context, cs *sessions.Session) error {
	cs.Options.Secure = s.isTLS(c.Request())
	return cs.Save(c.Request(), c.Response())
}

// isTLS reports whether the browser reached us over HTTPS, directly or
// through a trusted proxy that says so.
func (s *Server) isTLS(r *http.Request) bool {
	if r.TLS != nil {
		return true
	}
	return r.Header.Get("X-Forwarded-Proto") == "https" && fromTrustedProxy(s.cfg.TrustedProxies, r)
}

// setFlash makes msg the one pending notice of cs. A page shows only the
// last notice anyway, and notices that piled up (a script revoking keys
// without loading a page between) would outgrow the cookie.
func setFlash(cs *sessions.Session, msg string) {
	cs.Flashes() // takes the earlier ones out
	cs.AddFlash(msg)
}

// addFlash leaves a one-time notice for the next page, in place of any
// pending one.
func (s *Server) addFlash(c echo.Context, msg string) error {
	cs, _ := s.cookies.Get(c.Request(), sessionCookie)
	setFlash(cs, msg)
	return s.saveCookie(c, cs)
}

// redirectWithFlash answers 303 See Other to the page at to, leaving it
// msg as its one-time notice: the end of a form that changed something.
func (s *Server) redirectWithFlash(c echo.Context, to, msg string) error {
	if err := s.addFlash(c, msg); err != nil {
		return err
	}
	return c.Redirect(http.StatusSeeOther, to)
}

// popFlash returns and forgets the pending notice, if any. A HEAD
// request changes nothing: the notice waits for the GET.
func (s *Server) popFlash(c echo.Context) (string, error) {
	if c.Request().Method == http.MethodHead {
		return "", nil
	}
	cs, _ := s.cookies.Get(c.Request(), sessionCookie)
	fl := cs.Flashes()
	if len(fl) == 0 {
		return "", nil
	}
	msg, _ := fl[len(fl)-1].(string)
	return msg, s.saveCookie(c, cs)
}

// setReveal hands a new key's token to its reveal page, in an encrypted
// cookie only that page's path receives, for ten minutes at most.
func (s *Server) setReveal(c echo.Context, keyID, token string) error {
	cs := sessions.NewSession(s.cookies, revealCookie)
	cs.Options = &sessions.Options{
		Path:     revealPath(keyID),
		MaxAge:   int(revealTTL / time.Second),
		HttpOnly: true,
		SameSite: http.SameSiteStrictMode,
	}
	cs.IsNew = true
	cs.Values["id"] = keyID
	cs.Values[tokenValue] = token
	// The cookie codec accepts cookies as old as a session, so the ten
	// minutes are checked here too, not left to the browser.
	cs.Values["until"] = s.cfg.Now().Add(revealTTL).UnixMilli()
	return s.saveCookie(c, cs)
}

// takeReveal returns the token the reveal cookie carries for keyID ("" if
// none) and deletes the cookie.
func (s *Server) takeReveal(c echo.Context, keyID string) (string, error) {
	cs, _ := s.cookies.Get(c.Request(), revealCookie)
	token, _ := cs.Values[tokenValue].(string)
	if id, _ := cs.Values["id"].(string); id != keyID {
		token = ""
	}
	if until, _ := cs.Values["until"].(int64); s.cfg.Now().UnixMilli() >= until {
		token = ""
	}
	if cs.IsNew {
		return token, nil // no cookie to delete
	}
	cs.Options = &sessions.Options{Path: revealPath(keyID), MaxAge: -1, HttpOnly: true, SameSite: http.SameSiteStrictMode}
	cs.Values = map[any]any{}
	return token, s.saveCookie(c, cs)
}

func revealPath(keyID string) string {
	return "/settings/api-keys/" + keyID + "/reveal"
}
