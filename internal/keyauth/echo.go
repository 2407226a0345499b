package keyauth

import (
	"errors"
	"fmt"
	"math"
	"net/http"
	"strconv"
	"strings"

	"github.com/labstack/echo/v4"

	"github.com/blnk-cloud/apikeys/internal/apikey"
)

// Token returns the API key of a request: the token of an
// "Authorization: Bearer" header, else the X-Blnk-Key header. Keys are
// read from nowhere else; a key in the URL is ignored.
func Token(r *http.Request) string {
	if h := r.Header.Get("Authorization"); len(h) > 7 && strings.EqualFold(h[:7], "bearer ") {
		return strings.TrimSpace(h[7:])
	}
	return strings.TrimSpace(r.Header.Get("X-Blnk-Key"))
}

// identityKey is where the middleware leaves the identity in the context.
const identityKey = "keyauth.identity"

// RequireScope returns middleware that lets a request through only with a
// valid key that allows scope, and answers the JSON error otherwise.
// Handlers behind it find the key with IdentityFrom.
func (a *Authenticator) RequireScope(scope apikey.Scope) echo.MiddlewareFunc {
	if !apikey.KnownScope(string(scope)) {
		panic("keyauth: RequireScope of unknown scope " + string(scope)) // a programming error
	}
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error {
			r := c.Request()
			id, err := a.Authorize(r.Context(), Token(r), c.RealIP(), scope)
			if err != nil {
				return WriteError(c, err, scope)
			}
			c.Set(identityKey, id)
			return next(c)
		}
	}
}

// RequireKey is RequireScope without a scope: any valid key gets in.
func (a *Authenticator) RequireKey() echo.MiddlewareFunc {
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error {
			r := c.Request()
			id, err := a.Authenticate(r.Context(), Token(r), c.RealIP())
			if err != nil {
				return WriteError(c, err, "")
			}
			c.Set(identityKey, id)
			return next(c)
		}
	}
}

// IdentityFrom returns the key that RequireScope or RequireKey let in.
func IdentityFrom(c echo.Context) (Identity, bool) {
	id, ok := c.Get(identityKey).(Identity)
	return id, ok
}

// Problem is an error as the API reports it.
type Problem struct {
	Status  int
	Code    string
	Message string
}

// problems are the answers to the errors of Authenticate and Authorize,
// in the order ProblemOf tests them. A %s in a message is filled in by
// ProblemOf.
var problems = []struct {
	err error
	Problem
}{
	{ErrMissing, Problem{http.StatusUnauthorized, "missing_key", "Send an API key in an Authorization: Bearer header or an X-Blnk-Key header."}},
	{ErrInvalid, Problem{http.StatusUnauthorized, "invalid_key", "The API key is not valid."}},
	{ErrExpired, Problem{http.StatusUnauthorized, "expired_key", "The API key has expired."}},
	{ErrRevoked, Problem{http.StatusUnauthorized, "revoked_key", "The API key has been revoked."}},
	{ErrIPNotAllowed, Problem{http.StatusForbidden, "ip_not_allowed", "This API key may not be used from this address."}},
	{ErrInsufficientScope, Problem{http.StatusForbidden, "insufficient_scope", "The API key does not have the %s scope."}},
	{ErrUnavailable, Problem{http.StatusServiceUnavailable, "unavailable", "This server cannot confirm its view of the keys with the database. Try again shortly."}},
	{ErrUnknownScope, Problem{http.StatusBadRequest, "unknown_scope", "Unknown scope. Use one of: %s."}},
}

// ProblemOf maps an error of Authenticate or Authorize to its status, code
// and message. want is the scope that was asked for, if any.
func ProblemOf(err error, want apikey.Scope) Problem {
	if _, limited := errors.AsType[*RateLimitedError](err); limited {
		return Problem{http.StatusTooManyRequests, "rate_limited", "Too many failed attempts from this address. Try again later."}
	}
	for _, p := range problems {
		if !errors.Is(err, p.err) {
			continue
		}
		switch p.err {
		case ErrInsufficientScope:
			p.Message = fmt.Sprintf(p.Message, want)
		case ErrUnknownScope:
			p.Message = fmt.Sprintf(p.Message, knownScopes())
		}
		return p.Problem
	}
	return Problem{http.StatusInternalServerError, "internal_error", "Something went wrong. Try again."}
}

func knownScopes() string {
	var names []string
	for _, s := range apikey.Scopes() {
		names = append(names, string(s.Scope))
	}
	return strings.Join(names, ", ")
}

// WriteError answers err as JSON: {"error": {"code": ..., "message": ...}},
// with WWW-Authenticate on 401 and 403 (RFC 6750) and Retry-After on 429
// and 503.
func WriteError(c echo.Context, err error, want apikey.Scope) error {
	return writeError(c, err, want, false)
}

// WriteGatewayError is WriteError for forward authentication: gateways
// turn any status of their auth request but 200, 401 and 403 into an
// error of their own (nginx auth_request answers 500), so a rate-limited
// caller gets 401 with Retry-After and the code rate_limited.
func WriteGatewayError(c echo.Context, err error, want apikey.Scope) error {
	return writeError(c, err, want, true)
}

// Challenges of WWW-Authenticate (RFC 6750, section 3): without an error
// code when the request carried no key at all.
const (
	challengeNoKey   = `Bearer realm="blnk"`
	challengeInvalid = `Bearer realm="blnk", error="invalid_token"`
)

func writeError(c echo.Context, err error, want apikey.Scope, gateway bool) error {
	p := ProblemOf(err, want)
	h := c.Response().Header()
	h.Set("Cache-Control", "no-store")
	rl, limited := errors.AsType[*RateLimitedError](err)
	if limited {
		h.Set("Retry-After", strconv.Itoa(int(math.Ceil(rl.RetryAfter.Seconds()))))
		if gateway {
			p.Status = http.StatusUnauthorized
		}
	}
	switch p.Status {
	case http.StatusUnauthorized:
		if errors.Is(err, ErrMissing) || limited && Token(c.Request()) == "" {
			h.Set("WWW-Authenticate", challengeNoKey)
		} else {
			h.Set("WWW-Authenticate", challengeInvalid)
		}
	case http.StatusForbidden:
		if errors.Is(err, ErrIPNotAllowed) {
			break // not a matter of the token (RFC 6750 has no code for it)
		}
		h.Set("WWW-Authenticate", `Bearer realm="blnk", error="insufficient_scope", scope="`+string(want)+`"`)
	case http.StatusServiceUnavailable:
		h.Set("Retry-After", "1")
	}
	// Written by hand rather than with encoding/json: refusals are a hot
	// path too (a client with a bad key retries), and the shape is fixed.
	body := make([]byte, 0, 160)
	body = append(body, `{"error":{"code":`...)
	body = appendJSONString(body, p.Code)
	body = append(body, `,"message":`...)
	body = appendJSONString(body, p.Message)
	body = append(body, "}}\n"...)
	return c.JSONBlob(p.Status, body)
}

// appendJSONString appends s as a JSON string.
func appendJSONString(b []byte, s string) []byte {
	const hex = "0123456789abcdef"
	b = append(b, '"')
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c == '"' || c == '\\':
			b = append(b, '\\', c)
		case c < 0x20 || c == '<' || c == '>' || c == '&':
			b = append(b, '\\', 'u', '0', '0', hex[c>>4], hex[c&0xf])
		default:
			b = append(b, c)
		}
	}
	return append(b, '"')
}
