package keys

import (
	"context"
	"errors"
	"time"

	"github.com/blnk-cloud/apikeys/internal/apikey"
	"github.com/blnk-cloud/apikeys/internal/audit"
	"github.com/blnk-cloud/apikeys/internal/blnk"
)

// Key policies (web/README.md, "Key policies"): the Owners of a
// workspace set them (SetPolicy), and Create, Edit and Roll refuse a key
// that breaks them with a *blnk.PolicyError, whoever calls: the pages,
// the command line, the management API. Who is bound by the scopes
// Members may grant is read here, from the actor: a person by their role
// in the workspace now (Owners and Admins are not bound); the command
// line acts for the operator, with the database in hand, and is not bound
// by them (it is by every other rule).

// Policy returns a workspace's key policies.
func (s *Service) Policy(ctx context.Context, workspaceID int64) (blnk.Policy, error) {
	return s.store.KeyPolicy(ctx, workspaceID)
}

// PolicyFor returns a workspace's key policies and whether by is bound by
// its member scopes.
func (s *Service) PolicyFor(ctx context.Context, by audit.Actor, workspaceID int64) (blnk.Policy, bool, error) {
	p, err := s.store.KeyPolicy(ctx, workspaceID)
	if err != nil || p.MemberScopes == 0 {
		return p, false, err
	}
	bound, err := s.bound(ctx, by, workspaceID)
	return p, bound, err
}

// bound reports whether by may grant only the member scopes of the
// workspace: a person below Admin (or no longer a member), or anyone but
// the command line and the system.
func (s *Service) bound(ctx context.Context, by audit.Actor, workspaceID int64) (bool, error) {
	if by.Kind == audit.CommandLine || by.Kind == audit.System {
		return false, nil
	}
	if by.UserID == 0 {
		return true, nil
	}
	m, err := s.store.FindMember(ctx, workspaceID, by.UserID)
	switch {
	case errors.Is(err, blnk.ErrNotFound):
		return true, nil
	case err != nil:
		return false, err
	}
	return m.Role.BoundByMemberScopes(), nil
}

// ErrPolicyOwner is a change of key policies by someone who is not an
// Owner of the workspace.
var ErrPolicyOwner = blnk.Forbidden(blnk.PermPolicies.Needs(), "Changing the key policies")

// PolicyChanged is the result of SetPolicy.
type PolicyChanged struct {
	Before, After blnk.Policy
	Changed       bool // false: the policies had those rules already
}

// SetPolicy replaces a workspace's key policies by p's rules (read with
// blnk.ParseMaxLifetime, ParseMemberScopes, ParseCheckbox) and records
// policy.changed with what changed, before and after. Only Owners (and
// the command line) may; keys made before keep working, and those that
// break the new rules are non-compliant.
func (s *Service) SetPolicy(ctx context.Context, by audit.Actor, workspaceID int64, p blnk.Policy) (PolicyChanged, error) {
	if p.MaxLifetimeDays < 0 || p.MaxLifetimeDays > blnk.MaxLifetimeLimit {
		return PolicyChanged{}, errors.New("keys: max lifetime out of range") // a programming error: parse first
	}
	if by.Kind != audit.CommandLine {
		m, err := s.store.FindMember(ctx, workspaceID, by.UserID)
		if errors.Is(err, blnk.ErrNotFound) || err == nil && !m.Role.Can(blnk.PermPolicies) {
			return PolicyChanged{}, ErrPolicyOwner
		}
		if err != nil {
			return PolicyChanged{}, err
		}
	}
	p = p.Rules()
	before, changed, err := s.store.SetKeyPolicy(ctx, workspaceID, p, by, s.cfg.Now())
	if err != nil {
		return PolicyChanged{}, err
	}
	if changed {
		s.log.Info("key policies changed", "workspace_id", workspaceID, "actor", by.Name(), "ip", by.IP, "request_id", by.Request)
	}
	return PolicyChanged{Before: before.Rules(), After: p, Changed: changed}, nil
}

// checkNew refuses a new key that breaks its workspace's key policies.
func (s *Service) checkNew(ctx context.Context, by audit.Actor, spec Spec, now time.Time) error {
	p, bound, err := s.PolicyFor(ctx, by, spec.WorkspaceID)
	if err != nil {
		return err
	}
	f := blnk.KeyFacts{Scopes: spec.Scopes, ExpiresAt: spec.ExpiresAt, Allowlisted: len(spec.Allowlist) > 0, Bound: bound}
	return blnk.NewPolicyError(p, p.Breaches(f, now), now)
}

// checkEdit refuses an edit that would leave a working key without the
// IP allowlist its policies require (name, description and allowlist are
// what an edit changes; of these, the policies look at the allowlist).
// Revoked and expired keys can be renamed whatever the policies.
func (s *Service) checkEdit(ctx context.Context, workspaceID int64, id string, e Edit, now time.Time) error {
	p, err := s.store.KeyPolicy(ctx, workspaceID)
	if err != nil || !p.RequireAllowlist || len(e.Allowlist) > 0 {
		return err
	}
	k, err := s.store.Key(ctx, workspaceID, id)
	if err != nil {
		return err
	}
	if !k.Works(now) {
		return nil
	}
	return blnk.NewPolicyError(p, []blnk.Breach{blnk.BreachAllowlist}, now)
}

// successor returns the key that replaces old in a roll at now, under
// the workspace's policies p (bound: the roller is bound by the member
// scopes): the policy's Successor, refused if it still breaks a rule.
func successor(p blnk.Policy, bound bool, old apikey.Key, now time.Time) (time.Time, int, error) {
	expires, days, _, breaches := p.Successor(old, bound, now)
	return expires, days, blnk.NewPolicyError(p, breaches, now)
}
