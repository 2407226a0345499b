package blnk

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/blnk-cloud/apikeys/internal/apikey"
	"github.com/blnk-cloud/apikeys/internal/derrors"
)

// Policy is a workspace's key policies (web/README.md, "Key policies"),
// which its Owners set: the rules every key created, edited or rolled
// must follow. Keys made before a rule keep working and are marked
// non-compliant (Breaches). The zero Policy has no rule.
type Policy struct {
	// MaxLifetimeDays: a key may expire at most this many days ahead,
	// counted as the create form counts its "30 days" (through the end of
	// the day, UTC); 0: no limit. A limit requires an expiry too.
	MaxLifetimeDays int
	// RequireExpiry: "Never" is refused.
	RequireExpiry bool
	// MemberScopes are the scopes people below Admin may grant (X:write
	// lets them grant X:read too, "*" every scope); 0: every scope.
	MemberScopes apikey.Set
	// RequireAllowlist: every key needs an IP allowlist.
	RequireAllowlist bool
	// UpdatedAt and UpdatedBy (an email, "" for none or the command line)
	// say who set the policy last; zero if never.
	UpdatedAt time.Time
	UpdatedBy string
}

// MaxLifetimeLimit is the longest maximum lifetime a policy may set, in
// days (ten years, as far ahead as an expiry date may be).
const MaxLifetimeLimit = 3650

// Rules is p without who set it: what decides what keys may be.
func (p Policy) Rules() Policy {
	return Policy{MaxLifetimeDays: p.MaxLifetimeDays, RequireExpiry: p.RequireExpiry, MemberScopes: p.MemberScopes, RequireAllowlist: p.RequireAllowlist}
}

// IsZero reports whether p has no rule at all.
func (p Policy) IsZero() bool { return p.Rules() == Policy{} }

// ExpiryRequired reports whether a key must expire: RequireExpiry, or a
// maximum lifetime.
func (p Policy) ExpiryRequired() bool { return p.RequireExpiry || p.MaxLifetimeDays > 0 }

// Latest is the latest expiry a key may get at now (the end of the last
// day the maximum lifetime allows, UTC); zero: no limit.
func (p Policy) Latest(now time.Time) time.Time {
	if p.MaxLifetimeDays <= 0 {
		return time.Time{}
	}
	return apikey.ExpiryAfterDays(p.MaxLifetimeDays, now)
}

// MayGrant reports whether someone bound by the member scopes may give a
// key scope sc.
func (p Policy) MayGrant(sc apikey.Scope) bool {
	return p.MemberScopes == 0 || p.MemberScopes.Allows(sc)
}

// MemberMayGrant reports whether someone bound by the member scopes may
// give a key every scope of s.
func (p Policy) MemberMayGrant(s apikey.Set) bool {
	for _, sc := range s.Scopes() {
		if !p.MayGrant(sc) {
			return false
		}
	}
	return true
}

// BoundByMemberScopes reports whether a person of role r may grant only
// the policy's member scopes: everyone below Admin (and someone who is
// no longer a member, role ""). Owners and Admins are not bound.
func (r Role) BoundByMemberScopes() bool { return !r.AtLeast(RoleAdmin) }

// Breach is a rule of the key policies that a key breaks.
type Breach string

// The breaches, in the order of the form's fields.
const (
	BreachScopes    Breach = "scopes"    // scopes its creator may not grant
	BreachExpiry    Breach = "expiry"    // it never expires, and an expiry is required
	BreachLifetime  Breach = "lifetime"  // it expires later than the maximum lifetime allows (or never)
	BreachAllowlist Breach = "allowlist" // it has no IP allowlist, and one is required
)

// KeyFacts are what the key policies look at of a key.
type KeyFacts struct {
	Scopes      apikey.Set
	ExpiresAt   time.Time // zero: never
	Allowlisted bool
	// Bound: its creator may grant only the member scopes
	// (Role.BoundByMemberScopes; a key of the command line is not).
	Bound bool
}

// Breaches returns the rules of p that a key with facts f breaks at now:
// at create, edit and roll, what is refused; of a key that works, why it
// is non-compliant. It is the one rule in Go; db's nonCompliant is the
// same in SQL (the list's filter), and a test holds them together on both
// databases.
func (p Policy) Breaches(f KeyFacts, now time.Time) []Breach {
	var out []Breach
	if f.Bound && !p.MemberMayGrant(f.Scopes) {
		out = append(out, BreachScopes)
	}
	switch {
	case f.ExpiresAt.IsZero() && p.MaxLifetimeDays > 0:
		out = append(out, BreachLifetime)
	case f.ExpiresAt.IsZero() && p.RequireExpiry:
		out = append(out, BreachExpiry)
	case !f.ExpiresAt.IsZero() && p.MaxLifetimeDays > 0 && f.ExpiresAt.After(p.Latest(now)):
		out = append(out, BreachLifetime)
	}
	if p.RequireAllowlist && !f.Allowlisted {
		out = append(out, BreachAllowlist)
	}
	return out
}

// FactsOf returns the facts of key k whose creator has role creator in
// its workspace.
func FactsOf(k apikey.Key, creator Role) KeyFacts {
	return KeyFacts{Scopes: k.Scopes, ExpiresAt: k.ExpiresAt, Allowlisted: len(k.Allowlist) > 0,
		Bound: k.CreatedByID != 0 && creator.BoundByMemberScopes()}
}

// NonCompliant returns why key k, whose creator has role creator, breaks
// p at now: nil if it follows p, or no longer works (revoked, expired:
// nothing to fix).
func (p Policy) NonCompliant(k apikey.Key, creator Role, now time.Time) []Breach {
	if p.IsZero() || !k.Works(now) {
		return nil
	}
	return p.Breaches(FactsOf(k, creator), now)
}

// EntryNonCompliant is NonCompliant for an entry of the list's counts.
func (p Policy) EntryNonCompliant(e ListEntry, creator Role, now time.Time) bool {
	if p.IsZero() || e.Bucket(now) < 2 { // revoked or expired
		return false
	}
	f := KeyFacts{Scopes: e.Scopes, Allowlisted: e.Allowlisted, Bound: e.CreatedBy != 0 && creator.BoundByMemberScopes()}
	if e.ExpiresAt != 0 {
		f.ExpiresAt = time.UnixMilli(e.ExpiresAt)
	}
	return len(p.Breaches(f, now)) > 0
}

// Field is the form field a breach is shown next to: "scopes",
// "expires" or "allowlist".
func (b Breach) Field() string {
	switch b {
	case BreachScopes:
		return "scopes"
	case BreachAllowlist:
		return "allowlist"
	}
	return "expires"
}

// Problem is the sentence shown next to the field of breach b at now; it
// names the policy.
func (p Policy) Problem(b Breach, now time.Time) string {
	switch b {
	case BreachScopes:
		return "Your workspace's policy lets Members grant only " + p.MemberScopesText() + " (Key policies). Ask an Owner or Admin for a key with more."
	case BreachExpiry:
		return "Your workspace's policy requires an expiry date (Key policies)."
	case BreachLifetime:
		return fmt.Sprintf("Your workspace's policy allows keys to live at most %s: choose an expiry up to %s (Key policies).",
			Days(p.MaxLifetimeDays), apikey.LastValidDay(p.Latest(now)).Format("Jan 2, 2006"))
	case BreachAllowlist:
		return "Your workspace's policy requires an IP allowlist (Key policies)."
	}
	return "Your workspace's key policies do not allow this key."
}

// Short says in a few words what breach b is, for the details panel.
func (b Breach) Short() string {
	switch b {
	case BreachScopes:
		return "scopes Members may not grant"
	case BreachExpiry:
		return "never expires, an expiry is required"
	case BreachLifetime:
		return "lives longer than the maximum lifetime"
	case BreachAllowlist:
		return "no IP allowlist, one is required"
	}
	return string(b)
}

// MemberScopesText names the member scopes: "every scope", or their
// names joined ("mcp:read, data:read").
func (p Policy) MemberScopesText() string {
	if p.MemberScopes == 0 || p.MemberScopes.Has(apikey.All) {
		return "every scope"
	}
	var names []string
	for _, sc := range p.MemberScopes.Scopes() {
		names = append(names, string(sc))
	}
	return strings.Join(names, ", ")
}

// Days writes n days: "1 day", "30 days".
func Days(n int) string {
	if n == 1 {
		return "1 day"
	}
	return strconv.Itoa(n) + " days"
}

// PolicyError is a key that its workspace's key policies refuse: each
// breach, with its field and sentence. Nothing was written.
type PolicyError struct {
	Problems []PolicyProblem
}

// PolicyProblem is one breach of a refused key.
type PolicyProblem struct {
	Breach  Breach
	Field   string // "scopes", "expires" or "allowlist"
	Message string
}

// NewPolicyError returns the error of breaches of p at now, nil if there
// are none.
func NewPolicyError(p Policy, breaches []Breach, now time.Time) error {
	if len(breaches) == 0 {
		return nil
	}
	e := &PolicyError{}
	for _, b := range breaches {
		e.Problems = append(e.Problems, PolicyProblem{Breach: b, Field: b.Field(), Message: p.Problem(b, now)})
	}
	return e
}

// Error joins the sentences.
func (e *PolicyError) Error() string {
	msgs := make([]string, len(e.Problems))
	for i, pr := range e.Problems {
		msgs[i] = pr.Message
	}
	return strings.Join(msgs, " ")
}

// Unwrap gives the error its code (invalid) and sentence for callers
// that know only derrors.
func (e *PolicyError) Unwrap() error {
	return &derrors.Error{Code: derrors.EINVALID, Message: e.Error()}
}

// Successor is what a key rolled at now becomes under p: the new key's
// expiry and expiry policy (apikey.SuccessorExpiry, brought within the
// maximum lifetime if it would pass it: the roll shortens it, and the
// dialog says so), and the rules it would still break (bound: the roller
// is bound by the member scopes), which refuse the roll.
func (p Policy) Successor(old apikey.Key, bound bool, now time.Time) (expires time.Time, days int, clamped bool, breaches []Breach) {
	expires, days = apikey.SuccessorExpiry(old, now), old.ExpiryDays
	if latest := p.Latest(now); !latest.IsZero() && (expires.IsZero() || expires.After(latest)) {
		expires, days, clamped = latest, p.MaxLifetimeDays, true
	}
	breaches = p.Breaches(KeyFacts{Scopes: old.Scopes, ExpiresAt: expires, Allowlisted: len(old.Allowlist) > 0, Bound: bound}, now)
	return expires, days, clamped, breaches
}

// ParseMaxLifetime reads the policy form's max_lifetime_days: empty for
// no limit, else a whole number of days from 1 to MaxLifetimeLimit.
func ParseMaxLifetime(s string) (int, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return 0, nil
	}
	bad := derrors.Errorf(derrors.EINVALID, "Enter a whole number of days from 1 to 3,650, or leave it empty for no limit.")
	if len(s) > 5 {
		return 0, bad
	}
	for _, c := range []byte(s) {
		if c < '0' || c > '9' {
			return 0, bad
		}
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < 1 || n > MaxLifetimeLimit {
		return 0, bad
	}
	return n, nil
}

// ParseMemberScopes reads the policy form's member_scopes (repeated): at
// least one known scope; "*" among them, or every scope, means no limit
// (0).
func ParseMemberScopes(names []string) (apikey.Set, error) {
	var set apikey.Set
	for _, n := range names {
		one, err := apikey.ParseScopes([]string{n})
		if err != nil {
			if len(n) > 40 {
				n = n[:40] + "…"
			}
			return 0, derrors.Errorf(derrors.EINVALID, "Unknown scope %q. Choose from the list.", n)
		}
		set |= one
	}
	switch {
	case set == 0:
		return 0, derrors.Errorf(derrors.EINVALID, "Choose at least one scope that Members may grant (Viewers cannot create keys, if that is the aim).")
	case set.Has(apikey.All):
		return 0, nil
	}
	return set, nil
}

// ParseCheckbox reads a checkbox of the policy form: absent or "" is
// off, "on" is on; anything else is refused.
func ParseCheckbox(label string, values []string) (bool, error) {
	on := false
	for _, v := range values {
		switch v {
		case "on":
			on = true
		case "":
		default:
			return false, derrors.Errorf(derrors.EINVALID, "%s is a checkbox: send “on”, or leave it out.", label)
		}
	}
	return on, nil
}

// MemberScopesString is how the member scopes are stored and audited:
// scope names separated by spaces, "*" for every scope.
func (p Policy) MemberScopesString() string {
	if p.MemberScopes == 0 {
		return string(apikey.All)
	}
	return p.MemberScopes.String()
}

// ParseStoredMemberScopes reads MemberScopesString.
func ParseStoredMemberScopes(s string) (apikey.Set, error) {
	if s == "" {
		return 0, nil
	}
	return ParseMemberScopes(strings.Fields(s))
}

// AuditFields is what policy.changed records of p: each rule by its form
// field's name.
func (p Policy) AuditFields() map[string]any {
	var max any
	if p.MaxLifetimeDays > 0 {
		max = p.MaxLifetimeDays
	}
	return map[string]any{"max_lifetime_days": max, "require_expiry": p.RequireExpiry,
		"member_scopes": p.MemberScopesString(), "require_allowlist": p.RequireAllowlist}
}
