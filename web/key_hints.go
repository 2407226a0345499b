package web

import (
	"context"
	"net/http"

	"github.com/labstack/echo/v4"

	"github.com/blnk-cloud/apikeys/internal/apikey"
	"github.com/blnk-cloud/apikeys/views"
)

// keyNameCheck answers the create form as a name is typed: a warning if
// active keys of the workspace already have that name, else nothing.
// Duplicate names are allowed, so this never refuses anything.
func (s *Server) keyNameCheck(c echo.Context) error {
	name, n, err := s.duplicateNames(c.Request().Context(), mustSession(c).Workspace.ID, c.QueryParam("name"))
	if err != nil {
		return err
	}
	c.Response().Header().Set("Cache-Control", "no-store")
	return render(c, http.StatusOK, views.NameWarning(name, n))
}

// duplicateNames returns name as it would be stored and how many active
// keys of the workspace already have it; 0 for a name the form would
// refuse anyway (its problem says so), without asking the database.
func (s *Server) duplicateNames(ctx context.Context, workspaceID int64, name string) (string, int, error) {
	clean, err := apikey.CleanName(name)
	if err != nil {
		return "", 0, nil
	}
	n, err := s.db.CountActiveKeysNamed(ctx, workspaceID, clean, s.cfg.Now())
	return clean, n, err
}

// origin is this server's address as the browser reached it, for the
// examples the pages show.
func (s *Server) origin(c echo.Context) string {
	scheme := "http"
	if s.isTLS(c.Request()) {
		scheme = "https"
	}
	return scheme + "://" + c.Request().Host
}
