package web

import (
	"net/http"
	"net/url"
	"slices"
	"strings"

	"github.com/labstack/echo/v4"

	"github.com/blnk-cloud/apikeys/internal/apikey"
	"github.com/blnk-cloud/apikeys/internal/blnk"
	"github.com/blnk-cloud/apikeys/internal/keys"
	"github.com/blnk-cloud/apikeys/views"
)

// bulkIDs reads the keys a bulk revoke names: repeated "id" fields, and,
// from the list's "select all on this page" box, "page" fields of ids
// separated by spaces; each id once, in order. An id that cannot exist
// is not found (404), as a key of another workspace is. None, or more
// than keys.MaxRevokeMany, is the service's problem to answer.
func bulkIDs(v url.Values) ([]string, error) {
	var ids []string
	add := func(id string) error {
		if !apikey.ValidID(id) {
			return echo.ErrNotFound
		}
		if !slices.Contains(ids, id) {
			ids = append(ids, id)
		}
		return nil
	}
	for _, id := range v["id"] {
		if err := add(id); err != nil {
			return nil, err
		}
	}
	for _, p := range v["page"] {
		for _, id := range strings.Fields(p) {
			if err := add(id); err != nil {
				return nil, err
			}
		}
	}
	switch {
	case len(ids) == 0:
		return nil, keys.ErrNoKeys
	case len(ids) > keys.MaxRevokeMany:
		return nil, keys.ErrTooMany
	}
	return ids, nil
}

// keyBulkRevokeConfirm names every key selected in the list and asks
// before revoking them (GET /settings/api-keys/revoke?id=...&id=...).
func (s *Server) keyBulkRevokeConfirm(c echo.Context) error {
	q := c.Request().URL.Query()
	ids, err := bulkIDs(q)
	if err != nil {
		return err
	}
	if err := s.mayChangeAll(c, ids); err != nil {
		return err
	}
	ctx := c.Request().Context()
	page, err := s.db.ListKeys(ctx, mustSession(c).Workspace.ID, blnk.ListQuery{
		Among: ids, Sort: blnk.SortName, Limit: len(ids), Now: s.cfg.Now(),
	})
	if err != nil {
		return err
	}
	if len(page.Keys) != len(ids) {
		return blnk.ErrNotFound // one of them is not a key of this workspace
	}
	b := views.BulkRevoke{Keys: page.Keys, Now: s.cfg.Now(), Back: q.Get("back")}
	if b.Back == "" && !isFullPage(c) {
		// A row's menu: back to the list the browser shows.
		if u, err := url.Parse(c.Request().Header.Get("HX-Current-URL")); err == nil {
			b.Back = u.RequestURI()
		}
	}
	if !isFullPage(c) {
		return render(c, http.StatusOK, views.BulkRevokeModal(b))
	}
	return renderPage(s, c, http.StatusOK, "", b.Title(), views.BulkRevokePage, b)
}

// keyBulkRevoke revokes the keys named by repeated "id" fields (POST
// /settings/api-keys/revoke), all or none: an id of another workspace or
// of no key is a 404 and nothing is revoked. Keys revoked already are
// skipped, and the answer says so. Without JavaScript it answers with a
// 303 to the list and a notice; with htmx, with the list's results as
// they are now, and the notice as a toast.
func (s *Server) keyBulkRevoke(c echo.Context) error {
	form, err := c.FormParams()
	if err != nil {
		return formError(err)
	}
	if len(form["page"]) > 0 {
		return echo.NewHTTPError(http.StatusBadRequest, "Name each key in an id field.")
	}
	ids, err := bulkIDs(form)
	if err != nil {
		return err
	}
	if err := s.mayChangeAll(c, ids); err != nil {
		return err
	}
	ws := mustSession(c).Workspace.ID
	r, err := s.keys.RevokeMany(c.Request().Context(), s.actor(c), ws, ids)
	if err != nil {
		return err
	}
	msg := views.BulkRevokedText(len(r.Revoked), len(r.Skipped), r.Confirmation)
	back := views.ListBackURL(form.Get("back"))
	if isFullPage(c) {
		return s.redirectWithFlash(c, back, msg)
	}
	u, _ := url.Parse(back)
	if err := s.withPolicy(c); err != nil {
		return err
	}
	l, err := s.keyListOf(c.Request().Context(), mustSession(c), u.Query())
	if err != nil {
		return err
	}
	c.Response().Header().Set("HX-Trigger", toastTrigger(msg))
	return render(c, http.StatusOK, views.KeysResultsSwap(l, false), views.ExpiringBanner(l.ExpiringSoon, true))
}

// mayChangeAll refuses, as keyOwner does for one key, a change of several
// keys that the person may not make: Admins and Owners may change any,
// Members only keys they created, Viewers none. A key of another
// workspace, or none, is a 404 for the whole request, whatever the role.
func (s *Server) mayChangeAll(c echo.Context, ids []string) error {
	cur := mustSession(c)
	if cur.Role.Can(blnk.PermAnyKey) {
		return nil
	}
	page, err := s.db.ListKeys(c.Request().Context(), cur.Workspace.ID, blnk.ListQuery{
		Among: ids, Sort: blnk.SortName, Limit: len(ids), Now: s.cfg.Now(),
	})
	if err != nil {
		return err
	}
	if len(page.Keys) != len(ids) {
		return blnk.ErrNotFound
	}
	for _, k := range page.Keys {
		if k.CreatedByID == 0 || k.CreatedByID != cur.User.ID {
			return blnk.Forbidden(blnk.PermAnyKey.Needs(), "Revoking keys someone else created")
		}
	}
	if !cur.Role.Can(blnk.PermCreateKeys) {
		return blnk.Forbidden(blnk.PermCreateKeys.Needs(), "Revoking your keys")
	}
	return nil
}
