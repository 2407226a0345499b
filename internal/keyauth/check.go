// The check itself, on the hot path: parse, look up, compare, count,
// without a database read, a lock or an allocation.

package keyauth

import (
	"context"
	"net/netip"
	"time"

	"github.com/blnk-cloud/apikeys/internal/apikey"
)

// Authenticate checks token, sent by the client at address ip, and returns
// the key's identity. Malformed and unknown tokens are both ErrInvalid.
//
// Failures are counted per address: an address may fail Failures.Burst
// times in a row and be told why; after that its failures are answered
// with a *RateLimitedError (429) that says nothing about the token, until
// its allowance refills, and cost no more than a check. A valid key is
// never refused by the limiter: behind a gateway every client shares the
// gateway's address, and two bad requests a second would otherwise lock
// out every new key; a correct guess, against 190 random bits, is not a
// risk to trade that for. Successes are never counted, and when no
// address is blocked the limiter costs nothing on the way in.
func (a *Authenticator) Authenticate(ctx context.Context, token, ip string) (Identity, error) {
	return a.authorize(ctx, token, ip, "")
}

// Authorize is Authenticate followed by a check that the key allows scope.
func (a *Authenticator) Authorize(ctx context.Context, token, ip string, scope apikey.Scope) (Identity, error) {
	if !apikey.KnownScope(string(scope)) {
		return Identity{}, ErrUnknownScope
	}
	return a.authorize(ctx, token, ip, scope)
}

// authorize checks token, then the client's address against the key's
// allowlist, then scope unless it is empty; it counts the outcome for
// the key's usage.
func (a *Authenticator) authorize(ctx context.Context, token, ip string, scope apikey.Scope) (Identity, error) {
	now := a.cfg.Now()
	var id Identity
	e, allow, err := a.check(token, now, &id)
	if err == nil {
		// Only an accepted call is a use. A refused one is recorded apart
		// (refuse): a key whose every call its allowlist refuses must not
		// look in use, and its owner still sees where the calls come from.
		if allow != nil && !allows(allow, ip) {
			a.refuse(e, now, ip, refusedAddress)
			return Identity{}, ErrIPNotAllowed
		}
		if scope != "" && !e.scopes.Allows(scope) {
			a.refuse(e, now, ip, refusedScope)
			return id, ErrInsufficientScope
		}
		a.touch(e, now, ip)
		a.count(e, now, accepted)
		return id, nil
	}
	switch err {
	case ErrUnavailable:
		return Identity{}, err // our failure, not the client's
	case ErrRevoked:
		a.refuse(e, now, ip, refusedRevoked)
	case ErrExpired:
		a.refuse(e, now, ip, refusedExpired)
	}
	if wait := a.fails.WaitAt(ip, now); wait > 0 {
		return Identity{}, &RateLimitedError{RetryAfter: wait}
	}
	if wait := a.fails.FailAt(ip, now); wait > 0 {
		a.log.Warn("API authentication failures: address blocked", "ip", ip, "retry_after", wait)
	}
	return Identity{}, err
}

// check finds the key of token and checks its status at now. It returns
// the key's entry when there is one, refused or not, and its allowlist
// (nil: none); when the key is valid it fills *id, under the same read
// lock (one lock a call: on a busy server, each one moves the lock's
// cache line between cores).
func (a *Authenticator) check(token string, now time.Time, id *Identity) (*entry, []netip.Prefix, error) {
	if token == "" {
		return nil, nil, ErrMissing
	}
	if _, err := apikey.Parse(token); err != nil {
		return nil, nil, ErrInvalid
	}
	// The lease, before anything of the view is read: a process paused
	// here and resumed after its lease ran out has read nothing yet.
	if a.mono() >= time.Duration(a.lease.Load()) {
		return nil, nil, ErrUnavailable
	}
	h := apikey.HashOf(token)
	a.mu.RLock()
	slot, ok := a.idx.lookupHash(&h)
	var e *entry
	var allow []netip.Prefix
	var err error
	if ok {
		e = a.idx.at(slot)
		switch {
		case e.revokedAt.Load() != 0:
			err = ErrRevoked
		case e.expiresAt != 0 && now.UnixMilli() >= e.expiresAt:
			err = ErrExpired // the expiry instant itself is expired, as apikey.IsExpired says
		default:
			allow = a.idx.allowlist(e)
			a.identity(e, id)
		}
	}
	a.mu.RUnlock()
	if e == nil {
		return nil, nil, ErrInvalid
	}
	return e, allow, err
}

// identity sets *id to what handlers see of e; the caller holds the read
// lock.
func (a *Authenticator) identity(e *entry, id *Identity) {
	keyID, prefix, name, workspace := a.idx.strings(e)
	succ, succPrefix := a.idx.successor(e)
	*id = Identity{
		KeyID:            keyID,
		Name:             name,
		Prefix:           prefix,
		WorkspaceID:      a.idx.workspaces[e.ws].id,
		Workspace:        workspace,
		Scopes:           e.scopes,
		CreatedAt:        time.UnixMilli(e.createdAt).UTC(),
		ExpiresAt:        e.expiresTime(),
		RolledInto:       succ,
		RolledIntoPrefix: succPrefix,
	}
}
