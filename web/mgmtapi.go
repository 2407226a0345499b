package web

// The management API (SPEC "Management API"; web/README.md "Management
// API"): keys, the audit log and the members over JSON, for scripts and
// CI, with a management token (Authorization: Bearer blnkm_...). A token
// acts as its person, bounded by the person's role read on every request
// (roles.go's rules, the same as the pages'), and every write goes
// through the same services as the pages', audited "via token NAME".

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"mime"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/blnk-cloud/apikeys/internal/apikey"
	"github.com/blnk-cloud/apikeys/internal/audit"
	"github.com/blnk-cloud/apikeys/internal/blnk"
	"github.com/blnk-cloud/apikeys/internal/derrors"
	"github.com/blnk-cloud/apikeys/internal/keys"
	"github.com/blnk-cloud/apikeys/internal/tokens"
	"github.com/blnk-cloud/apikeys/views"
	"github.com/blnk-cloud/apikeys/web/apiv1"
)

// maxAPIBody is the largest JSON body the management API reads.
const maxAPIBody = 64 << 10

// grantKey is where requireToken leaves the token's grant.
const grantKey = "blnk.token.grant"

// tokenFrom returns the management token a request was let in with
// (requireToken): for the Idempotency-Key middleware, which keys its
// records by the token's id.
func tokenFrom(c echo.Context) (blnk.Token, bool) {
	g, ok := c.Get(grantKey).(blnk.TokenGrant)
	return g.Token, ok
}

// grantOf returns the grant requireToken let in.
func grantOf(c echo.Context) blnk.TokenGrant {
	g, ok := c.Get(grantKey).(blnk.TokenGrant)
	if !ok {
		panic("web: a management route without requireToken") // a programming error
	}
	return g
}

// mgmt returns the middleware of a management route that needs scope:
// errors in the API's shape, then the token, its rate limit and scope.
func (s *Server) mgmt(scope blnk.TokenScope) []echo.MiddlewareFunc {
	return []echo.MiddlewareFunc{s.mgmtErrors, s.requireToken(scope)}
}

// mgmtPost is mgmt for a POST: after the token, the body limit and the
// Idempotency-Key (keyed by the token), then mgmtErrors again, so that
// an error answer is in the API's shape when Idempotency keeps it.
func (s *Server) mgmtPost(scope blnk.TokenScope) []echo.MiddlewareFunc {
	idem := Idempotency(s.idempotency, func(c echo.Context) (int64, bool) {
		t, ok := tokenFrom(c)
		return idempotencyScope(t.ID), ok
	})
	return []echo.MiddlewareFunc{s.mgmtErrors, s.requireToken(scope), limitAPIBody, idem, s.mgmtErrors}
}

// idempotencyScope is the number the Idempotency-Key records of token id
// are kept under (idempotency_keys.token_id is an integer, token ids are
// "tok_" and 100 random bits): the first 63 bits of the id's SHA-256. Two
// tokens share a number with a chance of about n²/2⁶⁴ for n tokens.
func idempotencyScope(id string) int64 {
	h := sha256.Sum256([]byte(id))
	return int64(binary.BigEndian.Uint64(h[:8]) >> 1)
}

// limitAPIBody bounds the body to maxAPIBody before anything reads it (a
// longer one is 413 body_too_large).
func limitAPIBody(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		r := c.Request()
		r.Body = http.MaxBytesReader(c.Response(), r.Body, maxAPIBody)
		return next(c)
	}
}

// tokenChallenge is the WWW-Authenticate of a refused token (RFC 6750).
const tokenChallenge = `Bearer realm="blnk management", error="invalid_token"`

// requireToken lets a request through only with a management token that
// is valid now, whose person is still a member, within its rate limit,
// holding scope.
func (s *Server) requireToken(scope blnk.TokenScope) echo.MiddlewareFunc {
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error {
			r := c.Request()
			h := c.Response().Header()
			h.Set("Cache-Control", "no-store")
			auth := r.Header.Get("Authorization")
			secret := ""
			if len(auth) > 7 && strings.EqualFold(auth[:7], "bearer ") {
				secret = strings.TrimSpace(auth[7:])
			}
			if secret == "" {
				secret = strings.TrimSpace(r.Header.Get("X-Blnk-Key"))
			}
			switch {
			case secret == "":
				h.Set("WWW-Authenticate", `Bearer realm="blnk management"`)
				return apiError(http.StatusUnauthorized, "invalid_token", "Send a management token as Authorization: Bearer blnkm_... (create one at /settings/tokens).")
			case strings.HasPrefix(secret, "blnk_"):
				h.Set("WWW-Authenticate", tokenChallenge)
				return apiError(http.StatusUnauthorized, "invalid_token", "This is an API key (blnk_...): API keys cannot manage keys. Send a management token (blnkm_...), made at /settings/tokens.")
			}
			g, err := s.tokens.Authenticate(r.Context(), secret, c.RealIP())
			if derrors.Code(err) == derrors.EUNAUTHORIZED {
				h.Set("WWW-Authenticate", tokenChallenge)
				return apiError(http.StatusUnauthorized, "invalid_token", derrors.Message(err))
			}
			if err != nil {
				return err
			}
			if wait := s.tokenLimit.TakeAt(g.Token.ID, s.cfg.Now()); wait > 0 {
				h.Set("Retry-After", strconv.Itoa(int(math.Ceil(wait.Seconds()))))
				return apiError(http.StatusTooManyRequests, "rate_limited", "Too many requests with this token: wait "+strconv.Itoa(int(math.Ceil(wait.Seconds())))+" s (Retry-After).")
			}
			if !g.Token.Allows(scope) {
				h.Set("WWW-Authenticate", `Bearer realm="blnk management", error="insufficient_scope", scope="`+string(scope)+`"`)
				return apiError(http.StatusForbidden, "insufficient_scope", "This token lacks the "+string(scope)+" scope. Create a token with it at /settings/tokens.")
			}
			c.Set(grantKey, g)
			return next(c)
		}
	}
}

// mgmtErrors turns the errors of the services into the management API's
// codes: 403 forbidden_by_role for what the person's role does not allow,
// 422 validation_failed (with fields) for input that breaks a rule, 404
// not_found, 409 conflict. handleError writes them.
func (s *Server) mgmtErrors(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		err := next(c)
		if err == nil {
			return nil
		}
		var p *problem
		var he *echo.HTTPError
		var tp tokens.Problems
		var pe *blnk.PolicyError
		switch {
		case errors.As(err, &p):
			return err
		case errors.As(err, &tp):
			return validationFailed(tp)
		case errors.As(err, &pe):
			return validationFailed(policyFields(pe))
		case errors.As(err, &he):
			switch he.Code {
			case http.StatusNotFound:
				return apiError(http.StatusNotFound, "not_found", "There is no such thing in this workspace.")
			case http.StatusRequestEntityTooLarge:
				return apiError(http.StatusRequestEntityTooLarge, "body_too_large", fmt.Sprintf("The body is larger than %d KiB.", maxAPIBody>>10))
			}
			return err
		case errors.Is(err, blnk.ErrNotFound):
			return apiError(http.StatusNotFound, "not_found", "There is no such thing in this workspace.")
		}
		switch derrors.Code(err) {
		case derrors.EFORBIDDEN:
			return apiError(http.StatusForbidden, "forbidden_by_role", derrors.Message(err))
		case derrors.EINVALID:
			return apiError(http.StatusUnprocessableEntity, "validation_failed", derrors.Message(err))
		case derrors.ENOTFOUND:
			return apiError(http.StatusNotFound, "not_found", derrors.Message(err))
		case derrors.ECONFLICT:
			return apiError(http.StatusConflict, "conflict", derrors.Message(err))
		}
		return err
	}
}

// policyFields are the key policies' refusal of a key by the API's field
// names (the form's "expires" is expires_at).
func policyFields(pe *blnk.PolicyError) map[string]string {
	p := map[string]string{}
	for _, pr := range pe.Problems {
		f := pr.Field
		if f == "expires" {
			f = "expires_at"
		}
		if p[f] == "" {
			p[f] = pr.Message
		} else {
			p[f] += " " + pr.Message
		}
	}
	return p
}

// validationFailed is the 422 of input with problems, by field.
func validationFailed(fields map[string]string) error {
	names := make([]string, 0, len(fields))
	for n := range fields {
		names = append(names, n)
	}
	slices.Sort(names)
	return &problem{status: http.StatusUnprocessableEntity, code: "validation_failed",
		message: "Some fields are not valid: " + strings.Join(names, ", ") + ".", fields: fields}
}

// jsonBody is a request's JSON object, field by field, so that an omitted
// field can be told from a null one.
type jsonBody map[string]json.RawMessage

// readJSON reads the request's body: a JSON object of at most
// maxAPIBody, with Content-Type application/json, and no field but
// allowed (every unknown field is named in a 422).
func readJSON(c echo.Context, allowed ...string) (jsonBody, error) {
	r := c.Request()
	raw, err := io.ReadAll(http.MaxBytesReader(c.Response(), r.Body, maxAPIBody))
	if err != nil {
		if _, ok := errors.AsType[*http.MaxBytesError](err); ok {
			return nil, apiError(http.StatusRequestEntityTooLarge, "body_too_large", fmt.Sprintf("The body is larger than %d KiB.", maxAPIBody>>10))
		}
		return nil, apiError(http.StatusBadRequest, "bad_request", "The body could not be read.")
	}
	ctype := r.Header.Get(echo.HeaderContentType)
	if len(raw) == 0 && ctype == "" {
		return jsonBody{}, nil // a POST with no body at all: no field given
	}
	if mt, _, err := mime.ParseMediaType(ctype); err != nil || mt != echo.MIMEApplicationJSON {
		return nil, apiError(http.StatusUnsupportedMediaType, "unsupported_media_type", "Send the body as JSON, with Content-Type: application/json.")
	}
	var body jsonBody
	if len(bytes.TrimSpace(raw)) == 0 {
		body = jsonBody{}
	} else if err := json.Unmarshal(raw, &body); err != nil || body == nil {
		return nil, apiError(http.StatusBadRequest, "invalid_json", "The body is not a JSON object.")
	}
	unknown := map[string]string{}
	for k := range body {
		if !slices.Contains(allowed, k) {
			unknown[shown(clip(k))] = "Unknown field: this request takes " + strings.Join(allowed, ", ") + "."
		}
	}
	if len(unknown) > 0 {
		return nil, validationFailed(unknown)
	}
	return body, nil
}

// has reports whether the field was sent, and whether as null.
func (b jsonBody) has(name string) (present, null bool) {
	v, ok := b[name]
	return ok, ok && string(bytes.TrimSpace(v)) == "null"
}

// decode reads field name into v (when present and not null); a value of
// the wrong type is a problem of the field in p.
func (b jsonBody) decode(name string, v any, want string, p map[string]string) {
	if present, null := b.has(name); !present || null {
		return
	}
	if err := json.Unmarshal(b[name], v); err != nil {
		p[name] = "Must be " + want + "."
	}
}

// actorOfToken is who makes a change through a request with a
// management token: its person, via the token.
func actorOfToken(c echo.Context) audit.Actor {
	g := grantOf(c)
	return audit.Actor{UserID: g.User.ID, Email: g.User.Email, Kind: audit.User, IP: c.RealIP(), Request: requestIDOf(c), Via: g.Token.Name}
}

func timePtr(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	u := t.UTC()
	return &u
}

// apiKeyOf is k as the management API shows it at now.
func (s *Server) apiKeyOf(k apikey.Key, now time.Time) apiv1.Key {
	s.freshLastUsed(&k)
	out := apiv1.Key{ID: k.ID, WorkspaceID: k.WorkspaceID, Name: k.Name, Prefix: k.Prefix, Status: string(k.Status(now)), Scopes: []string{}, Role: string(k.Role()),
		Description: k.Description, Allowlist: []string{}, CreatedAt: k.CreatedAt.UTC(), ExpiresAt: timePtr(k.ExpiresAt),
		LastUsedAt: timePtr(k.LastUsedAt), RevokedAt: timePtr(k.RevokedAt)}
	for _, sc := range k.Scopes.Scopes() {
		out.Scopes = append(out.Scopes, string(sc))
	}
	for _, p := range k.Allowlist {
		out.Allowlist = append(out.Allowlist, p.String())
	}
	if k.CreatedBy != "" {
		by := k.CreatedBy
		out.CreatedBy = &by
	}
	if k.RolledFrom != "" {
		out.RolledFrom = &apiv1.KeyRef{ID: k.RolledFrom, Prefix: k.RolledFromPrefix}
	}
	if k.RolledInto != "" {
		out.RolledInto = &apiv1.KeyRef{ID: k.RolledInto, Prefix: k.RolledIntoPrefix}
	}
	return out
}

// apiKeys lists the workspace's keys with the list's filters (q,
// status, scope, sort, cursor, limit: parseListFilter, the same rules as
// the page).
func (s *Server) apiKeys(c echo.Context) error {
	tok, _ := tokenFrom(c)
	_, lq, problem := parseListFilter(c.QueryParams(), tok.UserID) // owner=me: the token's person

	if problem != "" {
		return apiError(http.StatusBadRequest, "bad_request", problem)
	}
	now := s.cfg.Now()
	lq.Now = now
	page, err := s.db.ListKeys(c.Request().Context(), grantOf(c).Workspace.ID, lq)
	if err != nil {
		return err
	}
	out := apiv1.Page[apiv1.Key]{Data: make([]apiv1.Key, 0, len(page.Keys)), NextCursor: strPtr(page.Next.String()), HasMore: !page.Next.IsZero()}
	for _, k := range page.Keys {
		out.Data = append(out.Data, s.apiKeyOf(k, now))
	}
	return c.JSON(http.StatusOK, out)
}

// apiWorkspaceKey loads the key of the :id parameter from the token's
// workspace; another workspace's key, or no key, is 404.
func (s *Server) apiWorkspaceKey(c echo.Context) (apikey.Key, error) {
	return loadInWorkspace(c, grantOf(c).Workspace.ID, apikey.ValidID, s.db.Key)
}

func (s *Server) apiKeyGet(c echo.Context) error {
	k, err := s.apiWorkspaceKey(c)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, s.apiKeyOf(k, s.cfg.Now()))
}

// apiChangeKey loads the key of :id and checks that the token's person
// may change it now (mayChangeKey, as the pages' keyOwner).
func (s *Server) apiChangeKey(c echo.Context) (apikey.Key, error) {
	k, err := s.apiWorkspaceKey(c)
	if err != nil {
		return k, err
	}
	g := grantOf(c)
	return k, mayChangeKey(g.Role, g.User.ID, k)
}

// apiKeyCreate creates a key: name, scopes, expires_at (RFC 3339, or
// null for never), description, allowlist (addresses or CIDRs). The
// fields are checked by the create form's rules (validateKeyForm).
func (s *Server) apiKeyCreate(c echo.Context) error {
	g := grantOf(c)
	if !g.Role.Can(blnk.PermCreateKeys) {
		return blnk.Forbidden(blnk.PermCreateKeys.Needs(), "Creating keys")
	}
	body, err := readJSON(c, "name", "scopes", "expires_at", "description", "allowlist")
	if err != nil {
		return err
	}
	now := s.cfg.Now()
	p := map[string]string{}
	var name, description string
	var scopes, allowlist []string
	var expiresAt *time.Time
	body.decode("name", &name, "a string", p)
	body.decode("description", &description, "a string", p)
	body.decode("scopes", &scopes, "an array of scopes", p)
	body.decode("allowlist", &allowlist, "an array of addresses or CIDR ranges", p)
	body.decode("expires_at", &expiresAt, "a time (RFC 3339) or null", p)
	if present, _ := body.has("scopes"); !present {
		p["scopes"] = "Give at least one scope."
	}
	f := views.KeyForm{Name: name, Description: description, Scopes: scopes, Expires: apikey.ExpiresNever,
		Allowlist: strings.Join(allowlist, "\n"), Now: now}
	in, _ := validateKeyForm(&f)
	for k, v := range f.Problems {
		if _, ok := p[k]; !ok {
			p[k] = v
		}
	}
	if expiresAt != nil {
		if in.expiresAt, err = apikey.ExpiryAt(*expiresAt, now); err != nil {
			p["expires_at"] = derrors.Message(err)
		}
	}
	if len(p) > 0 {
		return validationFailed(p)
	}
	created, err := s.keys.Create(c.Request().Context(), actorOfToken(c), keys.Spec{
		WorkspaceID: g.Workspace.ID, Workspace: g.Workspace.Name, Name: in.Name, Description: in.Description,
		Scopes: in.scopes, ExpiresAt: in.expiresAt, Allowlist: in.Allowlist, FormToken: newFormToken(),
	})
	if err != nil {
		return err
	}
	c.Response().Header().Set(echo.HeaderLocation, "/api/v1/keys/"+created.Key.ID)
	return c.JSON(http.StatusCreated, apiv1.CreatedKey{Key: s.apiKeyOf(created.Key, now), Secret: created.Token})
}

// apiKeyEdit changes a key's name, description and allowlist: a field
// omitted keeps its value, null clears it (a name cannot be cleared).
func (s *Server) apiKeyEdit(c echo.Context) error {
	k, err := s.apiChangeKey(c)
	if err != nil {
		return err
	}
	body, err := readJSON(c, "name", "description", "allowlist")
	if err != nil {
		return err
	}
	p := map[string]string{}
	f := views.KeyEditForm{Key: k, Name: k.Name, Description: k.Description, Allowlist: views.AllowlistText(k.Allowlist)}
	if present, null := body.has("name"); present {
		if null {
			p["name"] = "A key must have a name: it cannot be null."
		}
		body.decode("name", &f.Name, "a string", p)
	}
	if present, null := body.has("description"); present {
		f.Description = ""
		if !null {
			body.decode("description", &f.Description, "a string", p)
		}
	}
	if present, null := body.has("allowlist"); present {
		f.Allowlist = ""
		if !null {
			var list []string
			body.decode("allowlist", &list, "an array of addresses or CIDR ranges", p)
			f.Allowlist = strings.Join(list, "\n")
		}
	}
	e, _ := validateEdit(&f)
	for k, v := range f.Problems {
		if _, ok := p[k]; !ok {
			p[k] = v
		}
	}
	if len(p) > 0 {
		return validationFailed(p)
	}
	ed, err := s.keys.Edit(c.Request().Context(), actorOfToken(c), k.WorkspaceID, k.ID, e)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, s.apiKeyOf(ed.Key, s.cfg.Now()))
}

// apiKeyRoll replaces a key (overlap: now, 1h, 24h, 7d; default 24h).
func (s *Server) apiKeyRoll(c echo.Context) error {
	k, err := s.apiChangeKey(c)
	if err != nil {
		return err
	}
	body, err := readJSON(c, "overlap")
	if err != nil {
		return err
	}
	p := map[string]string{}
	overlap := string(apikey.DefaultRoll)
	body.decode("overlap", &overlap, "one of now, 1h, 24h, 7d", p)
	ov, err := apikey.ParseOverlap(overlap)
	if err != nil && p["overlap"] == "" {
		p["overlap"] = derrors.Message(err)
	}
	if len(p) > 0 {
		return validationFailed(p)
	}
	g := grantOf(c)
	r, err := s.keys.Roll(c.Request().Context(), actorOfToken(c), keys.RollSpec{
		WorkspaceID: g.Workspace.ID, Workspace: g.Workspace.Name, ID: k.ID, Overlap: ov, FormToken: newFormToken(), Revealed: true,
	})
	if errors.Is(err, keys.ErrRevoked) || errors.Is(err, keys.ErrExpired) || errors.Is(err, keys.ErrRolled) {
		return apiError(http.StatusConflict, "conflict", rollRefusal(r.Old, s.cfg.Now()))
	}
	if err != nil {
		return err
	}
	now := s.cfg.Now()
	c.Response().Header().Set(echo.HeaderLocation, "/api/v1/keys/"+r.New.ID)
	return c.JSON(http.StatusCreated, apiv1.RolledKey{CreatedKey: apiv1.CreatedKey{Key: s.apiKeyOf(r.New, now), Secret: r.Token},
		Replaced: s.apiKeyOf(r.Old, now), Confirmation: apiv1.ConfirmationOf(r.Confirmation)})
}

// apiKeyRevoke revokes a key, answered once every running server
// refuses it (or the wait ran out: confirmed < servers, complete false).
func (s *Server) apiKeyRevoke(c echo.Context) error {
	k, err := s.apiChangeKey(c)
	if err != nil {
		return err
	}
	if _, err := readJSON(c); err != nil {
		return err
	}
	r, err := s.keys.Revoke(c.Request().Context(), actorOfToken(c), k.WorkspaceID, k.ID)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, apiv1.RevokedKey{Confirmation: apiv1.ConfirmationOf(r.Confirmation), Revoked: r.Revoked, Key: s.apiKeyOf(r.Key, s.cfg.Now())})
}

// apiEvent is an audit event as the management API shows it.
type apiEvent struct {
	ID        int64           `json:"id"`
	At        time.Time       `json:"at"`
	Action    string          `json:"action"`
	Actor     string          `json:"actor"`
	ActorKind string          `json:"actor_kind"`
	Via       *string         `json:"via_token"` // the management token the actor used; null: none
	IP        string          `json:"ip"`
	KeyID     *string         `json:"key_id"`
	KeyPrefix *string         `json:"key_prefix"`
	Details   json.RawMessage `json:"details"`
}

func strPtr(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

// maxAuditLimit is the most events a page of the API's audit log holds.
const maxAuditLimit = 200

// apiAuditEvents lists the workspace's audit events, newest first, with
// the audit log's filters (key, actor, action) and pages (cursor, limit).
func (s *Server) apiAuditEvents(c echo.Context) error {
	q := c.QueryParams()
	filter, err := parseAuditFilter(q, grantOf(c).Workspace.ID)
	if err != nil {
		var he *echo.HTTPError
		if errors.As(err, &he) {
			return apiError(http.StatusBadRequest, "bad_request", fmt.Sprint(he.Message))
		}
		return err
	}
	var before int64
	if v := q.Get("cursor"); v != "" {
		if before, err = strconv.ParseInt(v, 10, 64); err != nil || before <= 0 {
			return apiError(http.StatusBadRequest, "bad_request", "The cursor is damaged: start from the first page.")
		}
	}
	limit := auditPageSize
	if v := q.Get("limit"); v != "" {
		if limit, err = strconv.Atoi(v); err != nil || limit < 1 || limit > maxAuditLimit {
			return apiError(http.StatusBadRequest, "bad_request", fmt.Sprintf("The page size must be a number from 1 to %d.", maxAuditLimit))
		}
	}
	page, err := s.db.AuditEvents(c.Request().Context(), filter, before, 0, limit)
	if err != nil {
		return err
	}
	out := apiv1.Page[apiEvent]{Data: make([]apiEvent, 0, len(page.Events))}
	for _, ev := range page.Events {
		d := json.RawMessage(ev.DetailsJSON())
		if !json.Valid(d) {
			d = json.RawMessage("{}")
		}
		out.Data = append(out.Data, apiEvent{ID: ev.ID, At: ev.At.UTC(), Action: string(ev.Action), Actor: ev.Actor.Name(),
			ActorKind: string(ev.Actor.Kind), Via: strPtr(ev.Actor.Via), IP: ev.Actor.IP, KeyID: strPtr(ev.KeyID),
			KeyPrefix: strPtr(ev.KeyPrefix), Details: d})
	}
	if page.Older != 0 {
		out.NextCursor, out.HasMore = strPtr(strconv.FormatInt(page.Older, 10)), true
	}
	return c.JSON(http.StatusOK, out)
}

// apiMember is a person of the workspace as the management API shows it.
type apiMember struct {
	ID           int64      `json:"id"`
	Email        string     `json:"email"`
	Name         string     `json:"name"`
	Role         string     `json:"role"`
	JoinedAt     time.Time  `json:"joined_at"`
	LastSignInAt *time.Time `json:"last_sign_in_at"`
}

// apiMembers lists the workspace's members, Owners first.
func (s *Server) apiMembers(c echo.Context) error {
	ms, err := s.db.ListMembers(c.Request().Context(), grantOf(c).Workspace.ID)
	if err != nil {
		return err
	}
	out := apiv1.Page[apiMember]{Data: make([]apiMember, 0, len(ms))} // one page: every member
	for _, m := range ms {
		out.Data = append(out.Data, apiMember{ID: m.User.ID, Email: m.User.Email, Name: m.User.Name, Role: string(m.Role),
			JoinedAt: m.JoinedAt.UTC(), LastSignInAt: timePtr(m.LastSignInAt)})
	}
	return c.JSON(http.StatusOK, out)
}

// refuseTokens answers a management token sent where an API key belongs
// (whoami, verify, the sample routes) with 401 management_token: the
// two are never interchangeable.
func refuseTokens(c echo.Context) (bool, error) {
	if t := tokenOrKey(c.Request()); strings.HasPrefix(t, "blnkm_") {
		h := c.Response().Header()
		h.Set("Cache-Control", "no-store")
		h.Set("WWW-Authenticate", `Bearer realm="blnk", error="invalid_token"`)
		return true, apiError(http.StatusUnauthorized, "management_token",
			"This is a management token (blnkm_...): it manages keys through /api/v1/keys and cannot authenticate API calls. Send an API key (blnk_...).")
	}
	return false, nil
}

func tokenOrKey(r *http.Request) string {
	if h := r.Header.Get("Authorization"); len(h) > 7 && strings.EqualFold(h[:7], "bearer ") {
		return strings.TrimSpace(h[7:])
	}
	return strings.TrimSpace(r.Header.Get("X-Blnk-Key"))
}

// keysOnly is middleware that refuses management tokens (refuseTokens).
func keysOnly(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		if refused, err := refuseTokens(c); refused {
			return err
		}
		return next(c)
	}
}
