package web

import (
	"errors"
	"net/http"
	"regexp"
	"strconv"

	"github.com/labstack/echo/v4"

	"github.com/blnk-cloud/apikeys/internal/blnk"
	"github.com/blnk-cloud/apikeys/views"
)

// currentTokenHash is the hash of the request's session token, which
// the session rows are stored under.
func (s *Server) currentTokenHash(c echo.Context) []byte {
	cs, _ := s.cookies.Get(c.Request(), sessionCookie)
	token, _ := cs.Values[tokenValue].(string)
	return tokenHash(token)
}

// SessionsList reads the signed-in person's sessions for
// views.SessionsSection; back is the page its forms return to (the
// security page embeds the list: pass its path).
func (s *Server) SessionsList(c echo.Context, back string) (views.Sessions, error) {
	list, err := s.db.ListSessions(c.Request().Context(), mustSession(c).User.ID, s.currentTokenHash(c))
	if err != nil {
		return views.Sessions{}, err
	}
	return views.Sessions{Sessions: list, Now: s.cfg.Now(), Back: back}, nil
}

func (s *Server) sessionList(c echo.Context) error {
	list, err := s.SessionsList(c, views.SessionsPath)
	if err != nil {
		return err
	}
	return renderPage(s, c, http.StatusOK, views.NavSessions, "Your sessions", views.SessionsPage, list)
}

var sessionIDRE = regexp.MustCompile(`^[0-9a-f]{32}$`)

// sessionsBack is where a sign-out form returns: its back field, a path
// under /settings/security, else the sessions page.
func sessionsBack(c echo.Context) string {
	back := localPath(c.FormValue("back"))
	if back != "/settings/security" && back != views.SessionsPath {
		back = views.SessionsPath
	}
	return back
}

// sessionRevoke signs out one of the person's other sessions; it ends
// on every server before the answer (the row is gone, and every server
// reads it on every request). Someone else's session is 404.
func (s *Server) sessionRevoke(c echo.Context) error {
	id := c.Param("id")
	if !sessionIDRE.MatchString(id) {
		return echo.ErrNotFound
	}
	cur := mustSession(c)
	err := s.accounts.SignOutSession(c.Request().Context(), s.actor(c), cur.Workspace.ID, s.currentTokenHash(c), id)
	if errors.Is(err, blnk.ErrNotFound) {
		return echo.ErrNotFound
	}
	if err != nil {
		return err
	}
	return s.redirectWithFlash(c, sessionsBack(c), "That session was signed out.")
}

// sessionsRevokeOthers signs out every session of the person but this
// one.
func (s *Server) sessionsRevokeOthers(c echo.Context) error {
	cur := mustSession(c)
	n, err := s.accounts.SignOutOtherSessions(c.Request().Context(), s.actor(c), cur.Workspace.ID, s.currentTokenHash(c))
	if err != nil {
		return err
	}
	msg := "You had no other session."
	switch {
	case n == 1:
		msg = "1 other session was signed out."
	case n > 1:
		msg = strconv.FormatInt(n, 10) + " other sessions were signed out."
	}
	return s.redirectWithFlash(c, sessionsBack(c), msg)
}
