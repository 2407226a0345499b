package web

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/blnk-cloud/apikeys/db"
	"github.com/blnk-cloud/apikeys/internal/apikey"
	"github.com/blnk-cloud/apikeys/views"
)

const listPath = "/settings/api-keys"

func (s *Server) keyList(c echo.Context) error {
	p, err := s.page(c, "API Keys")
	if err != nil {
		return err
	}
	keys, err := s.db.Keys(c.Request().Context(), mustSession(c).Workspace.ID)
	if err != nil {
		return err
	}
	for i := range keys {
		s.freshLastUsed(&keys[i])
	}
	return render(c, http.StatusOK, views.KeysPage(p, views.KeyList{Keys: keys, Now: p.Now}))
}

// freshLastUsed replaces a key's last use with the one in memory, which is
// newer than the database's until the next flush.
func (s *Server) freshLastUsed(k *apikey.Key) {
	if at, ip, ok := s.keys.LastUsed(k.ID); ok && at.After(k.LastUsedAt) {
		k.LastUsedAt, k.LastUsedIP = at, ip
	}
}

// newFormToken returns the one-time token of a create form.
func newFormToken() string {
	var b [16]byte
	rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

func validFormToken(t string) bool {
	if len(t) != 32 {
		return false
	}
	_, err := hex.DecodeString(t)
	return err == nil
}

func (s *Server) keyNew(c echo.Context) error {
	f := views.KeyForm{Expires: apikey.Expires30d, Token: newFormToken(), Now: s.cfg.Now()}
	return s.renderKeyForm(c, http.StatusOK, f)
}

func (s *Server) renderKeyForm(c echo.Context, status int, f views.KeyForm) error {
	if !isFullPage(c) {
		if c.Request().Method == http.MethodPost {
			return render(c, status, views.KeyFormBody(f)) // swapped in place of the form
		}
		return render(c, status, views.NewKeyModal(f))
	}
	p, err := s.page(c, "Create API Key")
	if err != nil {
		return err
	}
	return render(c, status, views.NewKeyPage(p, f))
}

// keyInput is the validated create form.
type keyInput struct {
	name      string
	scopes    apikey.Set
	expiresAt time.Time // zero: never
}

// validateKeyForm checks the create form; f collects the problems.
func validateKeyForm(f *views.KeyForm) (keyInput, bool) {
	p := views.Problems{}
	var in keyInput
	var err error
	if in.name, err = apikey.CleanName(f.Name); err != nil {
		p["name"] = err.Error()
	}
	if in.scopes, err = apikey.ParseScopes(f.Scopes); err != nil {
		p["scopes"] = err.Error()
	}
	if in.expiresAt, err = apikey.Expiry(f.Expires, f.ExpiresOn, f.Now); err != nil {
		p["expires"] = err.Error()
	}
	f.Problems = p
	return in, len(p) == 0
}

func (s *Server) keyCreate(c echo.Context) error {
	form, err := c.FormParams()
	if err != nil {
		return formError(err)
	}
	f := views.KeyForm{
		Name:      form.Get("name"),
		Scopes:    form["scopes"],
		Expires:   form.Get("expires"),
		ExpiresOn: form.Get("expires_on"),
		Token:     form.Get("form_token"),
		Now:       s.cfg.Now(),
	}
	if f.Expires == "" && f.ExpiresOn != "" {
		f.Expires = apikey.ExpiresDate
	}
	if !validFormToken(f.Token) {
		f.Token = newFormToken() // a client without the form: no resubmission to recognise
	}
	in, ok := validateKeyForm(&f)
	if !ok {
		f.Name, f.ExpiresOn = shown(f.Name), shown(f.ExpiresOn)
		if _, f.Duplicates, err = s.duplicateNames(c.Request().Context(), mustSession(c).Workspace.ID, f.Name); err != nil {
			return err
		}
		return s.renderKeyForm(c, http.StatusUnprocessableEntity, f)
	}

	token, err := apikey.Generate()
	if err != nil {
		return err
	}
	cur := mustSession(c)
	k := apikey.Key{
		ID:          apikey.NewID(),
		WorkspaceID: cur.Workspace.ID,
		Name:        in.name,
		Prefix:      token[:apikey.PrefixLen],
		Scopes:      in.scopes,
		ExpiresAt:   in.expiresAt,
		CreatedAt:   f.Now,
	}
	hash := apikey.HashOf(token)
	stored, created, err := s.db.CreateKey(c.Request().Context(), db.NewKey{Key: k, Hash: hash, CreatedBy: cur.User.ID, CreateToken: f.Token})
	if err != nil {
		return err
	}
	if created {
		s.keys.Created(stored, hash, cur.Workspace.Name)
		if err := s.setReveal(c, stored.ID, token); err != nil {
			return err
		}
		s.log.Info("api key created", "request_id", requestIDOf(c), "key_id", stored.ID, "prefix", stored.Prefix,
			"workspace_id", cur.Workspace.ID, "user_id", cur.User.ID)
	} else {
		// The same form again (a double click, a resent request): one key,
		// whose token went with the first answer.
		s.log.Info("api key form resubmitted", "request_id", requestIDOf(c), "key_id", stored.ID)
	}
	return redirect(c, revealPath(stored.ID))
}

// formError is the answer to a form that could not be read: BodyLimit's
// 413 for a body over the limit (found while reading when the request has
// no Content-Length), else 400.
func formError(err error) error {
	var he *echo.HTTPError
	if errors.As(err, &he) {
		return err
	}
	return echo.NewHTTPError(http.StatusBadRequest, "The form could not be read.").SetInternal(err)
}

// workspaceKey loads the key named by the :id parameter from the signed-in
// workspace. Keys of other workspaces, and ids that cannot exist, are 404.
func (s *Server) workspaceKey(c echo.Context) (apikey.Key, error) {
	id := c.Param("id")
	if !apikey.ValidID(id) {
		return apikey.Key{}, echo.ErrNotFound
	}
	k, err := s.db.Key(c.Request().Context(), mustSession(c).Workspace.ID, id)
	if err != nil {
		return apikey.Key{}, err
	}
	s.freshLastUsed(&k)
	return k, nil
}

func (s *Server) keyReveal(c echo.Context) error {
	k, err := s.workspaceKey(c)
	if err != nil {
		return err
	}
	token, err := s.takeReveal(c, k.ID)
	if err != nil {
		return err
	}
	if token != "" {
		// Only the first request to claim the reveal shows the token: a
		// replayed cookie, a second tab or the back button find it used.
		if prefix, err := apikey.Parse(token); err != nil || prefix != k.Prefix {
			token = ""
		} else if first, err := s.db.MarkRevealed(c.Request().Context(), k.WorkspaceID, k.ID, s.cfg.Now()); err != nil {
			return err
		} else if !first {
			token = ""
		}
	}
	h := c.Response().Header()
	h.Set("Cache-Control", "no-store")
	h.Set("Referrer-Policy", "no-referrer")
	p, err := s.page(c, "Save your API key")
	if err != nil {
		return err
	}
	r := views.Reveal{Key: k, Token: token, Origin: s.origin(c)}
	if token != "" {
		_, n, err := s.duplicateNames(c.Request().Context(), k.WorkspaceID, k.Name)
		if err != nil {
			return err
		}
		r.Duplicates = max(n-1, 0) // not counting the key itself
	}
	return render(c, http.StatusOK, views.RevealPage(p, r))
}

func (s *Server) keyShow(c echo.Context) error {
	k, err := s.workspaceKey(c)
	if err != nil {
		return err
	}
	d := views.KeyDetails{Key: k, Now: s.cfg.Now()}
	if !isFullPage(c) {
		return render(c, http.StatusOK, views.KeyPanel(d))
	}
	p, err := s.page(c, k.Name)
	if err != nil {
		return err
	}
	return render(c, http.StatusOK, views.KeyPage(p, d))
}

func (s *Server) keyRevokeConfirm(c echo.Context) error {
	k, err := s.workspaceKey(c)
	if err != nil {
		return err
	}
	d := views.KeyDetails{Key: k, Now: s.cfg.Now()}
	if !isFullPage(c) {
		return render(c, http.StatusOK, views.RevokeModal(d))
	}
	p, err := s.page(c, "Revoke "+k.Name)
	if err != nil {
		return err
	}
	return render(c, http.StatusOK, views.RevokePage(p, d))
}

func (s *Server) keyRevoke(c echo.Context) error {
	id := c.Param("id")
	if !apikey.ValidID(id) {
		return echo.ErrNotFound
	}
	cur := mustSession(c)
	now := s.cfg.Now()
	k, revoked, err := s.db.RevokeKey(c.Request().Context(), cur.Workspace.ID, id, cur.User.ID, now)
	if err != nil {
		return err
	}
	if revoked {
		// Before answering: from the moment the answer is sent, the key is refused.
		s.keys.Revoked(k.ID, k.RevokedAt)
		s.log.Info("api key revoked", "request_id", requestIDOf(c), "key_id", k.ID, "prefix", k.Prefix,
			"workspace_id", cur.Workspace.ID, "user_id", cur.User.ID)
	}
	s.freshLastUsed(&k)

	if isFullPage(c) {
		if err := s.addFlash(c, "The key “"+k.Name+"” was revoked."); err != nil {
			return err
		}
		return c.Redirect(http.StatusSeeOther, views.KeyURL(k.ID))
	}
	d := views.KeyDetails{Key: k, Now: now}
	c.Response().Header().Set("HX-Trigger", `{"toast":"API key revoked."}`)
	if err := render(c, http.StatusOK, views.KeyDetailsBody(d)); err != nil {
		return err
	}
	if fromList(c) {
		return views.KeyRowOOB(k, now).Render(c.Request().Context(), c.Response())
	}
	return nil
}

// fromList reports whether an htmx request came from the keys list, whose
// row for the key should change in place.
func fromList(c echo.Context) bool {
	u, err := url.Parse(c.Request().Header.Get("HX-Current-URL"))
	return err == nil && strings.TrimSuffix(u.Path, "/") == listPath
}
