package web

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"time"

	"github.com/a-h/templ"
	"github.com/labstack/echo/v4"

	"github.com/blnk-cloud/apikeys/internal/apikey"
	"github.com/blnk-cloud/apikeys/internal/audit"
	"github.com/blnk-cloud/apikeys/internal/blnk"
	"github.com/blnk-cloud/apikeys/internal/derrors"
	"github.com/blnk-cloud/apikeys/internal/keys"
	"github.com/blnk-cloud/apikeys/views"
)

// keyEventsShown is how many of a key's events its details show.
const keyEventsShown = 5

// keyDetails is what a key's details show: the key, its recent events and
// its usage.
func (s *Server) keyDetails(ctx context.Context, k apikey.Key) (views.KeyDetails, error) {
	p, err := s.db.AuditEvents(ctx, blnk.AuditFilter{WorkspaceID: k.WorkspaceID, Key: k.ID}, 0, 0, keyEventsShown)
	if err != nil {
		return views.KeyDetails{}, err
	}
	u, err := s.keyUsage(ctx, k.ID)
	if err != nil {
		return views.KeyDetails{}, err
	}
	d := views.KeyDetails{Key: k, Now: s.cfg.Now(), Events: p.Events, Usage: &u}
	if d.LastRefused, err = s.lastRefused(ctx, k.ID); err != nil {
		return views.KeyDetails{}, err
	}
	return d, nil
}

// lastRefused returns the last refused call to key id, the newer of the
// stored one and this server's unflushed one; nil if none.
func (s *Server) lastRefused(ctx context.Context, id string) (*blnk.Refusal, error) {
	r, ok, err := s.db.LastRefused(ctx, id)
	if err != nil {
		return nil, err
	}
	if mem, inMem := s.auth.LastRefused(id); inMem && (!ok || mem.At.After(r.At)) {
		r, ok = mem, true
	}
	if !ok {
		return nil, nil
	}
	return &r, nil
}

func (s *Server) keyEditForm(c echo.Context) error {
	k, err := s.workspaceKey(c)
	if err != nil {
		return err
	}
	return s.renderEditForm(c, http.StatusOK, views.KeyEditForm{Key: k, Name: k.Name, Description: k.Description,
		Allowlist: views.AllowlistText(k.Allowlist)})
}

func (s *Server) renderEditForm(c echo.Context, status int, f views.KeyEditForm) error {
	policy, err := s.keys.Policy(c.Request().Context(), f.Key.WorkspaceID)
	if err != nil {
		return err
	}
	f.AllowlistRequired = policy.RequireAllowlist && f.Key.Works(s.cfg.Now())
	if !isFullPage(c) {
		return render(c, status, views.KeyEditFormBody(f, true))
	}
	return renderPage(s, c, status, "", "Edit "+f.Key.Name, views.KeyEditPage, f)
}

// validateEdit checks the edit form as create checks the same fields; f
// collects the problems.
func validateEdit(f *views.KeyEditForm) (keys.Edit, bool) {
	p := views.Problems{}
	e := cleanKeyFields(p, f.Name, f.Description, f.Allowlist)
	f.Problems = p
	return e, len(p) == 0
}

// keyEdit saves a key's name, description and IP allowlist. A field the
// form does not send keeps its value (a script may change only the name).
// Revoked keys can be renamed; they stay revoked.
func (s *Server) keyEdit(c echo.Context) error {
	k, err := s.workspaceKey(c)
	if err != nil {
		return err
	}
	form, err := c.FormParams()
	if err != nil {
		return formError(err)
	}
	f := views.KeyEditForm{Key: k, Name: k.Name, Description: k.Description, Allowlist: views.AllowlistText(k.Allowlist)}
	if _, ok := form["allowlist"]; ok {
		f.Allowlist = form.Get("allowlist")
	}
	if _, ok := form["name"]; ok {
		f.Name = form.Get("name")
	}
	if _, ok := form["description"]; ok {
		f.Description = form.Get("description")
	}
	e, ok := validateEdit(&f)
	if !ok {
		f.Name, f.Description, f.Allowlist = shown(f.Name), shown(f.Description), shown(f.Allowlist)
		return s.renderEditForm(c, http.StatusUnprocessableEntity, f)
	}
	cur := mustSession(c)
	ed, err := s.keys.Edit(c.Request().Context(), s.actor(c), cur.Workspace.ID, k.ID, e)
	if policyProblems(err, f.Problems) {
		f.Name, f.Description, f.Allowlist = shown(f.Name), shown(f.Description), shown(f.Allowlist)
		return s.renderEditForm(c, http.StatusUnprocessableEntity, f)
	}
	if err != nil {
		return err
	}
	if err := s.withPolicy(c); err != nil {
		return err
	}
	k = ed.Key
	s.freshLastUsed(&k)
	notice := "Changes saved."
	if !ed.Changed {
		notice = "Nothing to save: the key already had that name, description and allowlist."
	}
	if isFullPage(c) {
		return s.redirectWithFlash(c, views.KeyURL(k.ID), notice)
	}
	d, err := s.keyDetails(c.Request().Context(), k)
	if err != nil {
		return err
	}
	c.Response().Header().Set("HX-Trigger", toastTrigger(notice))
	parts := []templ.Component{views.KeyDetailsBody(d), views.TitleOOB(k)}
	if fromList(c) {
		counts, err := s.countsOOB(c)
		if err != nil {
			return err
		}
		parts = append(parts, views.KeyRowOOB(k, d.Now), counts)
	}
	return render(c, http.StatusOK, parts...)
}

// toastTrigger is the HX-Trigger header that makes app.js show message.
func toastTrigger(message string) string {
	b, _ := json.Marshal(map[string]string{"toast": message})
	return string(b)
}

// rollRefusal says why k cannot be rolled at now, "" if it can.
func rollRefusal(k apikey.Key, now time.Time) string {
	switch k.Status(now) {
	case apikey.Revoked:
		return "This key is revoked: it can no longer authenticate, so there is nothing to replace. Create a new key instead."
	case apikey.Expired:
		if k.RolledInto != "" {
			return "This key was rolled and its overlap has ended: it no longer works. Its replacement is " + k.RolledIntoPrefix + "...; roll that one if you need to."
		}
		return "This key has expired: it can no longer authenticate, so there is nothing to replace. Create a new key instead."
	case apikey.Rolled:
		return "This key was rolled already on " + views.Exact(k.RolledAt) + ": it was replaced by " + k.RolledIntoPrefix + "... and stops working " +
			blnk.Until(k.ExpiresAt, now) + ". Roll the new key instead."
	}
	return ""
}

func (s *Server) keyRollConfirm(c echo.Context) error {
	k, err := s.workspaceKey(c)
	if err != nil {
		return err
	}
	now := s.cfg.Now()
	f := views.RollForm{Key: k, Overlap: string(apikey.DefaultRoll), Token: newFormToken(), Now: now, Refusal: rollRefusal(k, now)}
	return s.renderRollForm(c, http.StatusOK, f)
}

func (s *Server) renderRollForm(c echo.Context, status int, f views.RollForm) error {
	var err error
	if f.Policy, f.Bound, err = s.keys.PolicyFor(c.Request().Context(), s.actor(c), mustSession(c).Workspace.ID); err != nil {
		return err
	}
	if !isFullPage(c) {
		if c.Request().Method == http.MethodPost {
			return render(c, status, views.RollBody(f, true)) // in place of the dialog's content
		}
		return render(c, status, views.RollModal(f))
	}
	return renderPage(s, c, status, "", "Roll "+f.Key.Name, views.RollPage, f)
}

// keyRoll replaces a key by a new one and leads to the new key's one-time
// reveal page. A roll the key's state forbids (revoked, expired, rolled
// already) is answered 409 with the reason; a bad overlap 422.
func (s *Server) keyRoll(c echo.Context) error {
	if !apikey.ValidID(c.Param("id")) {
		return echo.ErrNotFound
	}
	form, err := c.FormParams()
	if err != nil {
		return formError(err)
	}
	token := formToken(form)
	overlap, overlapErr := apikey.ParseOverlap(form.Get("overlap"))
	if overlapErr != nil {
		k, err := s.workspaceKey(c)
		if err != nil {
			return err
		}
		now := s.cfg.Now()
		f := views.RollForm{Key: k, Overlap: shown(form.Get("overlap")), Token: token, Now: now,
			Refusal: rollRefusal(k, now), Problem: derrors.Message(overlapErr)}
		return s.renderRollForm(c, http.StatusUnprocessableEntity, f)
	}
	cur := mustSession(c)
	r, err := s.keys.Roll(c.Request().Context(), s.actor(c), keys.RollSpec{
		WorkspaceID: cur.Workspace.ID,
		Workspace:   cur.Workspace.Name,
		ID:          c.Param("id"),
		Overlap:     overlap,
		FormToken:   token,
	})
	switch {
	case errors.Is(err, keys.ErrRevoked), errors.Is(err, keys.ErrExpired), errors.Is(err, keys.ErrRolled):
		now := s.cfg.Now()
		f := views.RollForm{Key: r.Old, Overlap: string(overlap), Token: newFormToken(), Now: now, Refusal: rollRefusal(r.Old, now)}
		return s.renderRollForm(c, http.StatusConflict, f)
	case errors.As(err, new(*blnk.PolicyError)):
		// The dialog says why, from the policies (the same rule).
		now := s.cfg.Now()
		f := views.RollForm{Key: r.Old, Overlap: string(overlap), Token: newFormToken(), Now: now}
		if f.Key.ID == "" {
			if f.Key, err = s.workspaceKey(c); err != nil {
				return err
			}
		}
		return s.renderRollForm(c, http.StatusUnprocessableEntity, f)
	case errors.Is(err, keys.ErrFormUsed):
		k, err := s.workspaceKey(c)
		if err != nil {
			return err
		}
		now := s.cfg.Now()
		f := views.RollForm{Key: k, Overlap: string(overlap), Token: newFormToken(), Now: now,
			Problem: "This form was used already. Check the key's status, then try again."}
		return s.renderRollForm(c, http.StatusConflict, f)
	case err != nil:
		return err
	}
	if r.Token != "" {
		if err := s.setReveal(c, r.New.ID, r.Token); err != nil {
			return err
		}
	}
	return redirect(c, revealPath(r.New.ID))
}

// actorOf is who makes a change through a request of someone who may not
// be signed in (a sign-in): the address only, and the user if known.
func actorOf(c echo.Context, userID int64, email string) audit.Actor {
	return audit.Actor{UserID: userID, Email: email, Kind: audit.User, IP: c.RealIP(), Request: requestIDOf(c)}
}
