package web

import (
	"errors"
	"net/http"
	"slices"

	"github.com/labstack/echo/v4"

	"github.com/blnk-cloud/apikeys/internal/blnk"
	"github.com/blnk-cloud/apikeys/internal/tokens"
	"github.com/blnk-cloud/apikeys/views"
)

// tokensPage renders Settings > Management tokens with t's form, secret
// and status.
func (s *Server) tokensPage(c echo.Context, status int, t views.Tokens) error {
	cur := mustSession(c)
	var err error
	if t.Tokens, err = s.db.ListTokens(c.Request().Context(), cur.Workspace.ID, cur.User.ID); err != nil {
		return err
	}
	t.Now = s.cfg.Now()
	return renderPage(s, c, status, views.NavTokens, "Management tokens", views.TokensPage, t)
}

func (s *Server) tokenList(c echo.Context) error {
	return s.tokensPage(c, http.StatusOK, views.Tokens{Form: views.TokenForm{Expires: blnk.TokenExpires90d}})
}

// tokenCreate makes a management token for the signed-in person in this
// workspace, and answers with its secret, this once (never stored, never
// in a redirect or a cookie): the answer is not cached.
func (s *Server) tokenCreate(c echo.Context) error {
	form, err := c.FormParams()
	if err != nil {
		return formError(err)
	}
	f := views.TokenForm{Name: form.Get("name"), Scopes: form["scopes"], Expires: form.Get("expires"), ExpiresOn: form.Get("expires_on")}
	if f.Expires == "" && f.ExpiresOn != "" {
		f.Expires = blnk.TokenExpiresDate
	}
	cur := mustSession(c)
	created, err := s.tokens.Create(c.Request().Context(), s.actor(c), tokens.Spec{
		WorkspaceID: cur.Workspace.ID, UserID: cur.User.ID, Name: f.Name, Scopes: f.Scopes, Expires: f.Expires, ExpiresOn: f.ExpiresOn,
	})
	var problems tokens.Problems
	if errors.As(err, &problems) {
		f.Name, f.ExpiresOn = shown(f.Name), shown(f.ExpiresOn)
		f.Problems = views.Problems(problems)
		return s.tokensPage(c, http.StatusUnprocessableEntity, views.Tokens{Form: f})
	}
	if err != nil {
		return err
	}
	h := c.Response().Header()
	h.Set("Cache-Control", "no-store")
	h.Set("Referrer-Policy", "no-referrer")
	return s.tokensPage(c, http.StatusCreated, views.Tokens{Created: created.Token, Secret: created.Secret,
		Form: views.TokenForm{Expires: blnk.TokenExpires90d}})
}

// tokenRevokeConfirm names one of the signed-in person's tokens and asks
// before revoking it (GET /settings/tokens/{id}/revoke): a dialog to
// htmx, a page otherwise. Another person's or workspace's token is 404.
func (s *Server) tokenRevokeConfirm(c echo.Context) error {
	id := c.Param("id")
	if !blnk.ValidTokenID(id) {
		return echo.ErrNotFound
	}
	cur := mustSession(c)
	ts, err := s.db.ListTokens(c.Request().Context(), cur.Workspace.ID, cur.User.ID)
	if err != nil {
		return err
	}
	i := slices.IndexFunc(ts, func(t blnk.Token) bool { return t.ID == id })
	if i < 0 {
		return echo.ErrNotFound
	}
	now := s.cfg.Now()
	if !isFullPage(c) {
		return render(c, http.StatusOK, views.TokenRevokeModal(ts[i], now))
	}
	p, err := s.page(c, "Revoke the token "+ts[i].Name)
	if err != nil {
		return err
	}
	p.Nav = views.NavTokens
	return render(c, http.StatusOK, views.TokenRevokePage(p, ts[i], now))
}

// tokenRevoke revokes one of the signed-in person's tokens; another
// person's or workspace's token is 404.
func (s *Server) tokenRevoke(c echo.Context) error {
	id := c.Param("id")
	if !blnk.ValidTokenID(id) {
		return echo.ErrNotFound
	}
	t, revoked, err := s.tokens.Revoke(c.Request().Context(), s.actor(c), mustSession(c).Workspace.ID, id)
	if err != nil {
		return err
	}
	msg := "The token “" + t.Name + "” was revoked: it no longer works."
	if !revoked {
		msg = "The token “" + t.Name + "” was revoked already."
	}
	return s.redirectWithFlash(c, views.TokensPath, msg)
}
