package web

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/blnk-cloud/apikeys/internal/apikey"
	"github.com/blnk-cloud/apikeys/internal/audit"
	"github.com/blnk-cloud/apikeys/internal/derrors"
	"github.com/blnk-cloud/apikeys/internal/keys"
	"github.com/blnk-cloud/apikeys/views"
)

const listPath = "/settings/api-keys"

// freshLastUsed replaces a key's last use with the one in memory, which is
// newer than the database's until the next flush.
func (s *Server) freshLastUsed(k *apikey.Key) {
	if at, ip, ok := s.auth.LastUsed(k.ID); ok && at.After(k.LastUsedAt) {
		k.LastUsedAt, k.LastUsedIP = at, ip
	}
}

// newFormToken returns the one-time token of a create form.
func newFormToken() string {
	var b [16]byte
	rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// formToken is the one-time token form carries (form_token), or a new
// one when it carries none that newFormToken could have made: a client
// without the form has no resubmission to recognise.
func formToken(form url.Values) string {
	t := form.Get("form_token")
	if _, err := hex.DecodeString(t); err != nil || len(t) != 32 {
		return newFormToken()
	}
	return t
}

func (s *Server) keyNew(c echo.Context) error {
	f := views.KeyForm{Token: newFormToken(), Now: s.cfg.Now()}
	if err := s.keyFormPolicy(c, &f); err != nil {
		return err
	}
	f.Expires, f.ExpiresOn = views.DefaultExpiry(f.Policy, f.Now)
	return s.renderKeyForm(c, http.StatusOK, f)
}

// keyFormPolicy gives the create form the key policies it shows.
func (s *Server) keyFormPolicy(c echo.Context, f *views.KeyForm) error {
	var err error
	f.Policy, f.Bound, err = s.keys.PolicyFor(c.Request().Context(), s.actor(c), mustSession(c).Workspace.ID)
	return err
}

func (s *Server) renderKeyForm(c echo.Context, status int, f views.KeyForm) error {
	if !isFullPage(c) {
		if c.Request().Method == http.MethodPost {
			return render(c, status, views.KeyFormBody(f)) // swapped in place of the form
		}
		return render(c, status, views.NewKeyModal(f))
	}
	return renderPage(s, c, status, "", "Create API Key", views.NewKeyPage, f)
}

// keyInput is the validated create form.
type keyInput struct {
	keys.Edit  // name, description, allowlist: the fields edit changes
	scopes     apikey.Set
	expiresAt  time.Time // zero: never
	expiryDays int       // the "N days" choices' policy; 0 for a date or never
}

// validateKeyForm checks the create form; f collects the problems.
func validateKeyForm(f *views.KeyForm) (keyInput, bool) {
	p := views.Problems{}
	in := keyInput{Edit: cleanKeyFields(p, f.Name, f.Description, f.Allowlist)}
	in.scopes = clean(p, "scopes", apikey.ParseScopes, f.Scopes)
	var err error
	if in.expiresAt, err = apikey.Expiry(f.Expires, f.ExpiresOn, f.Now); err != nil {
		p["expires"] = derrors.Message(err)
	}
	in.expiryDays = apikey.ExpiryDays(f.Expires)
	f.Problems = p
	return in, len(p) == 0
}

// cleanKeyFields checks the fields a key's create and edit forms share
// (name, description, allowlist) by the same rules; p collects the
// problems.
func cleanKeyFields(p views.Problems, name, description, allowlist string) keys.Edit {
	return keys.Edit{
		Name:        clean(p, "name", apikey.CleanName, name),
		Description: clean(p, "description", apikey.CleanDescription, description),
		Allowlist:   clean(p, "allowlist", apikey.CleanAllowlist, allowlist),
	}
}

// clean returns what cleaner makes of in; when it refuses in, its
// message is field's problem in p.
func clean[In, Out any](p views.Problems, field string, cleaner func(In) (Out, error), in In) Out {
	out, err := cleaner(in)
	if err != nil {
		p[field] = derrors.Message(err)
	}
	return out
}

// keyFormOf reads the create form as a browser posts it: a date given
// without an expiry choice is the date choice.
func keyFormOf(form url.Values, now time.Time) views.KeyForm {
	f := views.KeyForm{
		Name:        form.Get("name"),
		Description: form.Get("description"),
		Scopes:      form["scopes"],
		Expires:     form.Get("expires"),
		ExpiresOn:   form.Get("expires_on"),
		Allowlist:   form.Get("allowlist"),
		Token:       formToken(form),
		Now:         now,
	}
	if f.Expires == "" && f.ExpiresOn != "" {
		f.Expires = apikey.ExpiresDate
	}
	return f
}

func (s *Server) keyCreate(c echo.Context) error {
	form, err := c.FormParams()
	if err != nil {
		return formError(err)
	}
	f := keyFormOf(form, s.cfg.Now())
	in, ok := validateKeyForm(&f)
	if !ok {
		return s.refuseKeyForm(c, f)
	}

	cur := mustSession(c)
	created, err := s.keys.Create(c.Request().Context(), s.actor(c), keys.Spec{
		WorkspaceID: cur.Workspace.ID,
		Workspace:   cur.Workspace.Name,
		Name:        in.Name,
		Description: in.Description,
		Scopes:      in.scopes,
		ExpiresAt:   in.expiresAt,
		ExpiryDays:  in.expiryDays,
		Allowlist:   in.Allowlist,
		FormToken:   f.Token,
	})
	if policyProblems(err, f.Problems) {
		return s.refuseKeyForm(c, f)
	}
	if err != nil {
		return err
	}
	if created.Token != "" {
		if err := s.setReveal(c, created.Key.ID, created.Token); err != nil {
			return err
		}
	}
	return redirect(c, revealPath(created.Key.ID))
}

// refuseKeyForm answers a create form with problems: 422 and the form
// again, with the input kept.
func (s *Server) refuseKeyForm(c echo.Context, f views.KeyForm) error {
	f.Name, f.Description, f.ExpiresOn = shown(f.Name), shown(f.Description), shown(f.ExpiresOn)
	f.Allowlist = shown(f.Allowlist)
	var err error
	if _, f.Duplicates, err = s.duplicateNames(c.Request().Context(), mustSession(c).Workspace.ID, f.Name); err != nil {
		return err
	}
	if err := s.keyFormPolicy(c, &f); err != nil {
		return err
	}
	return s.renderKeyForm(c, http.StatusUnprocessableEntity, f)
}

// actor is who makes a change through this request: the signed-in user.
func (s *Server) actor(c echo.Context) audit.Actor {
	cur := mustSession(c)
	return audit.Actor{UserID: cur.User.ID, Email: cur.User.Email, Kind: audit.User, IP: c.RealIP(), Request: requestIDOf(c)}
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

// loadInWorkspace loads, with load, what the :id parameter names in
// workspace ws. An id that valid says cannot exist is 404 without a
// query; load answers 404 (blnk.ErrNotFound) for another workspace's.
func loadInWorkspace[T any](c echo.Context, ws int64, valid func(string) bool, load func(context.Context, int64, string) (T, error)) (T, error) {
	id := c.Param("id")
	if !valid(id) {
		var none T
		return none, echo.ErrNotFound
	}
	return load(c.Request().Context(), ws, id)
}

// workspaceKey loads the key named by the :id parameter from the signed-in
// workspace. Keys of other workspaces, and ids that cannot exist, are 404.
func (s *Server) workspaceKey(c echo.Context) (apikey.Key, error) {
	k, err := loadInWorkspace(c, mustSession(c).Workspace.ID, apikey.ValidID, s.db.Key)
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
	// HEAD asks about the page without showing it: it must not use up
	// the one time the key can be shown.
	token := ""
	if c.Request().Method != http.MethodHead {
		if token, err = s.takeReveal(c, k.ID); err != nil {
			return err
		}
	}
	if token != "" {
		// Only the first request to claim the reveal shows the token: a
		// replayed cookie, a second tab or the back button find it used.
		if prefix, err := apikey.Parse(token); err != nil || prefix != k.Prefix {
			token = ""
		} else if first, err := s.keys.Reveal(c.Request().Context(), k.WorkspaceID, k.ID, s.actor(c)); err != nil {
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
	r := views.Reveal{Key: k, Token: token, Origin: s.origin(c), Now: p.Now}
	if token != "" {
		_, n, err := s.duplicateNames(c.Request().Context(), k.WorkspaceID, k.Name)
		if err != nil {
			return err
		}
		r.Duplicates = max(n-1, 0) // not counting the key itself
		if k.RolledFrom != "" {
			if r.Replaced, err = s.db.Key(c.Request().Context(), k.WorkspaceID, k.RolledFrom); err != nil {
				return err
			}
		}
	}
	return render(c, http.StatusOK, views.RevealPage(p, r))
}

func (s *Server) keyShow(c echo.Context) error {
	k, err := s.workspaceKey(c)
	if err != nil {
		return err
	}
	if err := s.withPolicy(c); err != nil {
		return err
	}
	d, err := s.keyDetails(c.Request().Context(), k)
	if err != nil {
		return err
	}
	if !isFullPage(c) {
		if c.Request().Header.Get("HX-Target") == views.DetailsID(k.ID) {
			return render(c, http.StatusOK, views.KeyDetailsBody(d)) // back from the edit form
		}
		return render(c, http.StatusOK, views.KeyPanel(d))
	}
	return renderPage(s, c, http.StatusOK, "", k.Name, views.KeyPage, d)
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
	return renderPage(s, c, http.StatusOK, "", "Revoke "+k.Name, views.RevokePage, d)
}

func (s *Server) keyRevoke(c echo.Context) error {
	id := c.Param("id")
	if !apikey.ValidID(id) {
		return echo.ErrNotFound
	}
	now := s.cfg.Now()
	r, err := s.keys.Revoke(c.Request().Context(), s.actor(c), mustSession(c).Workspace.ID, id)
	if err != nil {
		return err
	}
	k := r.Key
	s.freshLastUsed(&k)
	if err := s.withPolicy(c); err != nil {
		return err
	}

	if isFullPage(c) {
		return s.redirectWithFlash(c, views.KeyURL(k.ID), "The key “"+k.Name+"” was revoked.")
	}
	d, err := s.keyDetails(c.Request().Context(), k)
	if err != nil {
		return err
	}
	d.Now = now
	c.Response().Header().Set("HX-Trigger", `{"toast":"API key revoked."}`)
	if fromList(c) {
		counts, err := s.countsOOB(c)
		if err != nil {
			return err
		}
		return render(c, http.StatusOK, views.KeyDetailsBody(d), views.KeyRowOOB(k, now), counts)
	}
	return render(c, http.StatusOK, views.KeyDetailsBody(d))
}

// fromList reports whether an htmx request came from the keys list, whose
// row for the key should change in place.
func fromList(c echo.Context) bool {
	u, err := url.Parse(c.Request().Header.Get("HX-Current-URL"))
	return err == nil && strings.TrimSuffix(u.Path, "/") == listPath
}
