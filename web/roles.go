package web

import (
	"github.com/labstack/echo/v4"

	"github.com/blnk-cloud/apikeys/internal/apikey"
	"github.com/blnk-cloud/apikeys/internal/blnk"
	"github.com/blnk-cloud/apikeys/views"
)

// The roles table (web/README.md, "People and roles") is checked here,
// on the server, before any handler runs: routes.go gives each route the
// permission it needs. The role comes with the session, read from the
// database on every request, so that a change of role or a removal
// takes effect on the person's next request, on every server.

// need refuses, with a 403 that names the role it takes, a request of a
// person whose role lacks p; what says what was asked ("Creating keys").
func (s *Server) need(p blnk.Permission, what string) echo.MiddlewareFunc {
	return guard(func(c echo.Context) error {
		if !mustSession(c).Role.Can(p) {
			return blnk.Forbidden(p.Needs(), what)
		}
		return nil
	})
}

// keyOwner lets through a request that changes the key of the :id
// parameter only if the person may change that key: Admins and Owners
// any key, Members the keys they created. Another workspace's key is a
// 404 whatever the role, as everywhere.
func (s *Server) keyOwner(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		k, err := s.workspaceKey(c)
		if err != nil {
			return err
		}
		cur := mustSession(c)
		if err := mayChangeKey(cur.Role, cur.User.ID, k); err != nil {
			return err
		}
		return next(c)
	}
}

// mayChangeKey says whether a person (userID, with role) may edit, roll
// or revoke k: Admins and Owners any key, Members the keys they created.
// The pages (keyOwner) and the management API both ask it.
func mayChangeKey(role blnk.Role, userID int64, k apikey.Key) error {
	mine := k.CreatedByID != 0 && k.CreatedByID == userID
	switch {
	case !mine && !role.Can(blnk.PermAnyKey):
		return blnk.Forbidden(blnk.PermAnyKey.Needs(), "Changing a key someone else created")
	case !role.Can(blnk.PermCreateKeys):
		return blnk.Forbidden(blnk.PermCreateKeys.Needs(), "Changing your keys")
	}
	return nil
}

// withViewer tells the views who the page is drawn for, so that they
// leave out the controls the person's role cannot use.
func withViewer(c echo.Context, cur *blnk.Session) {
	r := c.Request()
	c.SetRequest(r.WithContext(views.WithViewer(r.Context(), views.Viewer{UserID: cur.User.ID, Role: cur.Role})))
}
