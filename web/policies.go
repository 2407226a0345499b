package web

import (
	"context"
	"errors"
	"net/http"

	"github.com/labstack/echo/v4"

	"github.com/blnk-cloud/apikeys/internal/blnk"
	"github.com/blnk-cloud/apikeys/internal/derrors"
	"github.com/blnk-cloud/apikeys/views"
)

// policiesPage renders Settings > Key policies with form f.
func (s *Server) policiesPage(c echo.Context, status int, f views.PolicyForm) error {
	ctx := c.Request().Context()
	cur := mustSession(c)
	saved, err := s.db.KeyPolicy(ctx, cur.Workspace.ID)
	if err != nil {
		return err
	}
	f.Saved, f.Now = saved, s.cfg.Now()
	counts, err := s.db.CountKeys(ctx, cur.Workspace.ID, blnk.ListQuery{Now: f.Now, Policy: saved})
	if err != nil {
		return err
	}
	f.NonCompliant = counts.NonCompliant
	return renderPage(s, c, status, views.NavPolicies, "Key policies", views.PoliciesPage, f)
}

func (s *Server) policiesShow(c echo.Context) error {
	p, err := s.db.KeyPolicy(c.Request().Context(), mustSession(c).Workspace.ID)
	if err != nil {
		return err
	}
	f := views.PolicyFormOf(p)
	f.RequireTwoFactor = mustSession(c).Workspace.RequireTwoFactor
	return s.policiesPage(c, http.StatusOK, f)
}

// policiesSave replaces the key policies by the form's: every field is
// read and checked before anything is written (a wrong field writes
// nothing), then the keys service saves them with policy.changed.
func (s *Server) policiesSave(c echo.Context) error {
	form, err := c.FormParams()
	if err != nil {
		return formError(err)
	}
	f := views.PolicyForm{MaxLifetime: form.Get("max_lifetime_days"), MemberScopes: form["member_scopes"], Problems: views.Problems{}}
	var p blnk.Policy
	if p.MaxLifetimeDays, err = blnk.ParseMaxLifetime(f.MaxLifetime); err != nil {
		f.Problems["max_lifetime_days"] = derrors.Message(err)
	}
	if p.RequireExpiry, err = blnk.ParseCheckbox("Require an expiry date", form["require_expiry"]); err != nil {
		f.Problems["require_expiry"] = derrors.Message(err)
	}
	if p.MemberScopes, err = blnk.ParseMemberScopes(f.MemberScopes); err != nil {
		f.Problems["member_scopes"] = derrors.Message(err)
	}
	if p.RequireAllowlist, err = blnk.ParseCheckbox("Require an IP allowlist", form["require_allowlist"]); err != nil {
		f.Problems["require_allowlist"] = derrors.Message(err)
	}
	require2FA, err := blnk.ParseCheckbox("Require two-factor sign-in", form["require_2fa"])
	if err != nil {
		f.Problems["require_2fa"] = derrors.Message(err)
	}
	cur := mustSession(c)
	if require2FA && !cur.Workspace.RequireTwoFactor {
		// Checked before anything is saved: the two-factor service
		// refuses an Owner without a factor, and the policies must not
		// be half written when it does.
		fs, err := s.db.FindFactors(c.Request().Context(), cur.User.ID)
		if err != nil {
			return err
		}
		if !fs.Any() {
			f.Problems["require_2fa"] = "Set up a second factor for yourself first (Security), then require one of everyone."
		}
	}
	f.RequireExpiry, f.RequireAllowlist, f.RequireTwoFactor = p.RequireExpiry, p.RequireAllowlist, require2FA
	if len(f.Problems) > 0 {
		f.MaxLifetime = shown(clip(f.MaxLifetime))
		for i, n := range f.MemberScopes {
			f.MemberScopes[i] = shown(n)
		}
		return s.policiesPage(c, http.StatusUnprocessableEntity, f)
	}
	r, err := s.keys.SetPolicy(c.Request().Context(), s.actor(c), cur.Workspace.ID, p)
	if err != nil {
		return err
	}
	changed := r.Changed
	if require2FA != cur.Workspace.RequireTwoFactor {
		if err := s.factors.SetRequireTwoFactor(c.Request().Context(), s.twoFactorActor(c), cur.Workspace.ID, require2FA); err != nil {
			return err
		}
		changed = true
	}
	notice := "Key policies saved."
	if !changed {
		notice = "Nothing to save: the key policies were already these."
	}
	if err := s.addFlash(c, notice); err != nil {
		return err
	}
	return redirect(c, views.PoliciesPath)
}

// withPolicy lets the views mark the keys they draw that break the
// workspace's key policies (views.NonCompliance): the policies, and the
// role of each person (through whom a key is bound by the member
// scopes).
func (s *Server) withPolicy(c echo.Context) error {
	ctx := c.Request().Context()
	ws := mustSession(c).Workspace.ID
	v, err := s.policyView(ctx, ws)
	if err != nil {
		return err
	}
	c.SetRequest(c.Request().WithContext(views.WithPolicy(ctx, v)))
	return nil
}

func (s *Server) policyView(ctx context.Context, ws int64) (views.PolicyView, error) {
	p, err := s.db.KeyPolicy(ctx, ws)
	if err != nil || p.IsZero() {
		return views.PolicyView{Policy: p}, err
	}
	v := views.PolicyView{Policy: p, Roles: map[int64]blnk.Role{}}
	if p.MemberScopes != 0 {
		ms, err := s.db.ListMembers(ctx, ws)
		if err != nil {
			return v, err
		}
		for _, m := range ms {
			v.Roles[m.User.ID] = m.Role
		}
	}
	return v, nil
}

// policyProblems puts the key policies' refusal of a key (a
// *blnk.PolicyError) next to its fields; false for any other error.
func policyProblems(err error, p views.Problems) bool {
	var pe *blnk.PolicyError
	if !errors.As(err, &pe) {
		return false
	}
	for _, pr := range pe.Problems {
		if p[pr.Field] == "" {
			p[pr.Field] = pr.Message
		} else {
			p[pr.Field] += " " + pr.Message
		}
	}
	return true
}
