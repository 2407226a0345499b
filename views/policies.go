package views

import (
	"context"
	"slices"
	"time"

	"github.com/blnk-cloud/apikeys/internal/apikey"
	"github.com/blnk-cloud/apikeys/internal/blnk"
)

// NavPolicies is Page.Nav for the key policies page.
const NavPolicies = "policies"

// PoliciesPath is the key policies page.
const PoliciesPath = "/settings/policies"

// PolicyForm is the key policies form, as stored or as typed.
type PolicyForm struct {
	MaxLifetime      string   // days as typed; "": no limit
	RequireExpiry    bool     // as ticked
	MemberScopes     []string // scope names as ticked
	RequireAllowlist bool
	Problems         Problems
	// Saved is the policies as stored (who changed them last, when).
	Saved blnk.Policy
	// NonCompliant is how many working keys break the saved policies.
	NonCompliant int
	// RequireTwoFactor: every member must sign in with a second factor
	// (the workspace's switch, kept by the two-factor service).
	RequireTwoFactor bool
	Now              time.Time
}

// PolicyFormOf is the form showing p.
func PolicyFormOf(p blnk.Policy) PolicyForm {
	f := PolicyForm{RequireExpiry: p.RequireExpiry, RequireAllowlist: p.RequireAllowlist, Saved: p}
	if p.MaxLifetimeDays > 0 {
		f.MaxLifetime = itoa(p.MaxLifetimeDays)
	}
	for _, si := range apikey.Scopes() {
		if p.MemberScopes == 0 || p.MemberScopes.Has(si.Scope) || si.Scope != apikey.All && p.MemberScopes.Has(apikey.All) {
			f.MemberScopes = append(f.MemberScopes, string(si.Scope))
		}
	}
	return f
}

// HasScope reports whether the form has scope s ticked.
func (f PolicyForm) HasScope(s apikey.Scope) bool {
	return slices.Contains(f.MemberScopes, string(s))
}

// policyFields are the policy form's fields in their order.
var policyFields = []fieldRef{{"max_lifetime_days", "f-max_lifetime_days"}, {"require_expiry", "f-require_expiry"},
	{"member_scopes", "f-member_scopes"}, {"require_allowlist", "f-require_allowlist"}, {"require_2fa", "f-require_2fa"}}

// NonCompliantURL is the keys list of the keys that break the policies.
var NonCompliantURL = ListFilter{Compliance: ComplianceNon}.URL()

// ComplianceNon is the list's compliance filter of the keys that break
// the key policies.
const ComplianceNon = "noncompliant"

// PolicyView is what the pages need to mark keys non-compliant: the
// workspace's key policies and the role of each of its people (a key is
// bound by the member scopes through its creator's role).
type PolicyView struct {
	Policy blnk.Policy
	Roles  map[int64]blnk.Role
}

// WithPolicy returns ctx carrying the key policies the pages mark keys
// by.
func WithPolicy(ctx context.Context, v PolicyView) context.Context {
	return withCarried(ctx, v)
}

// PolicyOf returns the key policies ctx carries (none: no rule).
func PolicyOf(ctx context.Context) PolicyView {
	return carriedOf[PolicyView](ctx)
}

// NonCompliance returns the rules of the key policies that k breaks at
// now (blnk.Policy.NonCompliant), nil if none.
func NonCompliance(ctx context.Context, k apikey.Key, now time.Time) []blnk.Breach {
	v := PolicyOf(ctx)
	return v.Policy.NonCompliant(k, v.Roles[k.CreatedByID], now)
}

// PolicyLimits says what the key policies ask of a new key, for the
// create form: nil when they ask nothing of the person.
func PolicyLimits(p blnk.Policy, bound bool, now time.Time) []string {
	var out []string
	switch {
	case p.MaxLifetimeDays > 0:
		out = append(out, "Keys expire within "+blnk.Days(p.MaxLifetimeDays)+" (by "+Date(apikey.LastValidDay(p.Latest(now)))+").")
	case p.RequireExpiry:
		out = append(out, "Keys need an expiry date.")
	}
	if bound && p.MemberScopes != 0 {
		out = append(out, "Members may grant only "+p.MemberScopesText()+".")
	}
	if p.RequireAllowlist {
		out = append(out, "Keys need an IP allowlist.")
	}
	return out
}

// choiceAllowed reports whether the create form's expiry choice is
// within the policies at now.
func choiceAllowed(p blnk.Policy, choice string, now time.Time) bool {
	if choice == apikey.ExpiresNever {
		return !p.ExpiryRequired()
	}
	if choice == apikey.ExpiresDate || p.MaxLifetimeDays == 0 {
		return true
	}
	exp, err := apikey.Expiry(choice, "", now)
	return err == nil && !exp.After(p.Latest(now))
}

// latestDate is the latest expiry date the form's date field offers: ten
// years ahead, or the policies' latest.
func latestDate(p blnk.Policy, now time.Time) string {
	d := now.UTC().AddDate(apikey.MaxExpiry, 0, 0)
	if l := p.Latest(now); !l.IsZero() && apikey.LastValidDay(l).Before(d) {
		d = apikey.LastValidDay(l)
	}
	return d.Format(apikey.DateLayout)
}

// DefaultExpiry is the create form's first expiry choice under p: 30
// days, or when the policies allow less, a date, their latest.
func DefaultExpiry(p blnk.Policy, now time.Time) (choice, date string) {
	if choiceAllowed(p, apikey.Expires30d, now) {
		return apikey.Expires30d, ""
	}
	return apikey.ExpiresDate, latestDate(p, now)
}

// breachList says why a key is non-compliant: "no IP allowlist, one is
// required; …".
func breachList(bs []blnk.Breach) []string {
	out := make([]string, len(bs))
	for i, b := range bs {
		out[i] = b.Short()
	}
	return out
}

// joinWords joins phrases with "; ".
func joinWords(s []string) string {
	out := ""
	for i, w := range s {
		if i > 0 {
			out += "; "
		}
		out += w
	}
	return out
}

// breakWord is "breaks" or "break" for n keys.
func breakWord(n int) string {
	if n == 1 {
		return "breaks"
	}
	return "break"
}

// PolicyProblems are the key policies' reasons to refuse the roll (the
// messages the keys service answers with), none if they allow it.
func (f RollForm) PolicyProblems() []string {
	_, _, _, bs := f.Policy.Successor(f.Key, f.Bound, f.Now)
	out := make([]string, len(bs))
	for i, b := range bs {
		out[i] = f.Policy.Problem(b, f.Now)
	}
	return out
}

// PolicyExpiryNote says when the new key expires if the key policies
// shorten its expiry; "" if they do not.
func (f RollForm) PolicyExpiryNote() string {
	exp, _, clamped, _ := f.Policy.Successor(f.Key, f.Bound, f.Now)
	if !clamped {
		return ""
	}
	return "your workspace's key policies allow keys to live at most " + blnk.Days(f.Policy.MaxLifetimeDays) +
		", so the new key works through " + Date(apikey.LastValidDay(exp)) + " (Key policies), and so will the keys that replace it."
}
