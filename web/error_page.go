package web

import (
	"github.com/a-h/templ"
	"github.com/labstack/echo/v4"

	"github.com/blnk-cloud/apikeys/views"
)

// errorPage is the page of an error: inside the app's shell (navigation,
// workspace, account menu) for someone signed in, so a wrong address does
// not look like being thrown out; on its own otherwise. It never pops the
// pending one-time notice: that belongs to the next real page.
func (s *Server) errorPage(c echo.Context, status int, title, message string) templ.Component {
	if _, err := c.Cookie(sessionCookie); err != nil {
		return views.ErrorPage(status, title, message, requestIDOf(c)) // never signed in: no session to look up
	}
	cur, err := s.currentSession(c)
	if err != nil || cur == nil {
		// Signed out, or the database that finds sessions is what failed.
		return views.ErrorPage(status, title, message, requestIDOf(c))
	}
	p := views.Page{Title: title, Email: cur.User.Email, Workspace: cur.Workspace.Name, Now: s.cfg.Now(), NotInNav: true}
	return views.AppErrorPage(p, status, title, message, requestIDOf(c))
}
