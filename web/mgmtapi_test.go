package web_test

// The management API (web/README.md "Management API") over real HTTP:
// an httptest server on the real router, each role's management token,
// escalation attempts, every error code, PATCH's omitted and null, and
// paging while keys are created.

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/blnk-cloud/apikeys/internal/apikey"
	"github.com/blnk-cloud/apikeys/internal/audit"
	"github.com/blnk-cloud/apikeys/internal/blnk"
	"github.com/blnk-cloud/apikeys/internal/keys"
	"github.com/blnk-cloud/apikeys/internal/testkit/htmlcheck"
	"github.com/blnk-cloud/apikeys/web"
)

// allTokenScopes are every scope a management token can hold.
var allTokenScopes = []string{"keys:read", "keys:write", "members:read", "audit:read"}

// createToken makes a management token through /settings/tokens and
// returns its secret, read from the page that shows it once.
func (c *client) createToken(name string, scopes ...string) string {
	c.t.Helper()
	r := c.post("/settings/tokens", url.Values{"name": {name}, "scopes": scopes, "expires": {"90d"}})
	if r.Code != http.StatusCreated {
		c.t.Fatalf("create token: %d\n%s", r.Code, r.Body)
	}
	if cc := r.Header.Get("Cache-Control"); cc != "no-store" {
		c.t.Errorf("the page with a token's secret has Cache-Control %q, want no-store", cc)
	}
	secret := strings.TrimSpace(htmlcheck.Parse(c.t, r.Body).Text("#token-secret"))
	if _, err := apikey.ParseManagement(secret); err != nil {
		c.t.Fatalf("the page shows %q, not a management token", secret)
	}
	return secret
}

// apiCall is one answer of the management API.
type apiCall struct {
	Code   int
	Header http.Header
	Raw    string
	JSON   map[string]any
}

// errCode is the answer's error code ("" if none).
func (a apiCall) errCode() string {
	e, _ := a.JSON["error"].(map[string]any)
	s, _ := e["code"].(string)
	return s
}

func (a apiCall) errFields() map[string]any {
	e, _ := a.JSON["error"].(map[string]any)
	f, _ := e["fields"].(map[string]any)
	return f
}

func (a apiCall) str(k string) string { s, _ := a.JSON[k].(string); return s }

// mgmtClient calls the API over HTTP with a management token.
type mgmtClient struct {
	t      *testing.T
	base   string
	secret string
}

// httpServer serves ts's router on a real listener.
func (ts *testServer) httpServer() string {
	ts.t.Helper()
	hs := httptest.NewServer(ts.srv)
	ts.t.Cleanup(hs.Close)
	return hs.URL
}

func (m mgmtClient) call(method, path string, body any, hdr ...string) apiCall {
	m.t.Helper()
	var rd io.Reader
	var sent []byte
	switch b := body.(type) {
	case nil:
	case string:
		sent = []byte(b)
		rd = strings.NewReader(b)
	default:
		j, err := json.Marshal(b)
		if err != nil {
			m.t.Fatal(err)
		}
		sent = j
		rd = bytes.NewReader(j)
	}
	req, err := http.NewRequest(method, m.base+path, rd)
	if err != nil {
		m.t.Fatal(err)
	}
	if m.secret != "" {
		req.Header.Set("Authorization", "Bearer "+m.secret)
	}
	if rd != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		if hdr[i+1] == "" {
			req.Header.Del(hdr[i])
		} else {
			req.Header.Set(hdr[i], hdr[i+1])
		}
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		m.t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	out := apiCall{Code: resp.StatusCode, Header: resp.Header, Raw: string(raw)}
	checkOpenAPI(m.t, req, sent, &response{Code: resp.StatusCode, Header: resp.Header, Body: string(raw)})
	if len(raw) > 0 {
		if err := json.Unmarshal(raw, &out.JSON); err != nil {
			m.t.Fatalf("%s %s: not a JSON object: %v\n%s", method, path, err, raw)
		}
	}
	if out.Code >= 400 {
		if out.errCode() == "" {
			m.t.Errorf("%s %s: %d without an error code: %s", method, path, out.Code, raw)
		}
		if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
			m.t.Errorf("%s %s: error with Content-Type %q", method, path, ct)
		}
	}
	return out
}

func (m mgmtClient) want(code int, errCode string, a apiCall) {
	m.t.Helper()
	if a.Code != code || a.errCode() != errCode {
		m.t.Fatalf("got %d %q, want %d %q\n%s", a.Code, a.errCode(), code, errCode, a.Raw)
	}
}

// tokenTeam is a team server with a management token of every scope for
// each person, and the API's address.
type tokenTeam struct {
	*teamServer
	base   string
	tokens map[string]string
}

func newTokenTeam(t *testing.T) *tokenTeam {
	t.Helper()
	tm := newTeamServer(t)
	tt := &tokenTeam{teamServer: tm, base: tm.httpServer(), tokens: map[string]string{}}
	for _, role := range matrixRoles {
		tt.tokens[role] = tm.clients[role].createToken("ci "+role, allTokenScopes...)
	}
	return tt
}

func (tt *tokenTeam) as(t *testing.T, role string) mgmtClient {
	return mgmtClient{t: t, base: tt.base, secret: tt.tokens[role]}
}

// TestMgmtAPIEveryRouteAsEachRole: each role's token on every route, by
// the roles table; another workspace's token finds none of Acme's ids.
func TestMgmtAPIEveryRouteAsEachRole(t *testing.T) {
	tt := newTokenTeam(t)
	for _, role := range matrixRoles {
		t.Run(role, func(t *testing.T) {
			m := tt.as(t, role)
			r := roleOf(role)
			colleague := tt.key(t, roleOwner)
			if role == roleOwner {
				colleague = tt.key(t, roleAdmin)
			}
			own := tt.key(t, role)
			other := role == roleOther

			list := m.call("GET", "/api/v1/keys", nil)
			m.want(200, "", list)
			if _, ok := list.JSON["has_more"].(bool); !ok {
				t.Fatalf("list without has_more: %s", list.Raw)
			}
			for _, id := range []string{colleague, own} {
				got := m.call("GET", "/api/v1/keys/"+id, nil)
				if other {
					m.want(404, "not_found", got)
				} else {
					m.want(200, "", got)
					if got.str("id") != id {
						t.Fatalf("GET key %s answered %s", id, got.Raw)
					}
				}
			}

			before := tt.fingerprint(t)
			create := m.call("POST", "/api/v1/keys", map[string]any{"name": "from " + role, "scopes": []string{"mcp:read"}})
			if !r.AtLeast(blnk.RoleMember) && !other {
				m.want(403, "forbidden_by_role", create)
				if tt.fingerprint(t) != before {
					t.Fatalf("a refused create wrote something")
				}
			} else {
				m.want(201, "", create)
				if _, err := apikey.Parse(create.str("secret")); err != nil {
					t.Fatalf("create answered no key secret: %s", create.Raw)
				}
			}

			// Edit, roll and revoke: a colleague's key needs Admin, one's
			// own Member; another workspace gets 404.
			for _, c := range []struct {
				id   string
				need blnk.Role
			}{{colleague, blnk.RoleAdmin}, {own, blnk.RoleMember}} {
				before := tt.fingerprint(t)
				patch := m.call("PATCH", "/api/v1/keys/"+c.id, map[string]any{"description": "by " + role})
				roll := m.call("POST", "/api/v1/keys/"+c.id+"/roll", map[string]any{"overlap": "1h"})
				var revoke apiCall
				switch {
				case other:
					m.want(404, "not_found", patch)
					m.want(404, "not_found", roll)
					revoke = m.call("POST", "/api/v1/keys/"+c.id+"/revoke", nil)
					m.want(404, "not_found", revoke)
				case !r.AtLeast(c.need):
					m.want(403, "forbidden_by_role", patch)
					m.want(403, "forbidden_by_role", roll)
					revoke = m.call("POST", "/api/v1/keys/"+c.id+"/revoke", nil)
					m.want(403, "forbidden_by_role", revoke)
					if tt.fingerprint(t) != before {
						t.Fatalf("refused changes wrote something")
					}
				default:
					m.want(200, "", patch)
					m.want(201, "", roll)
					if _, err := apikey.Parse(roll.str("secret")); err != nil {
						t.Fatalf("roll answered no key secret: %s", roll.Raw)
					}
					replaced, _ := roll.JSON["replaced"].(map[string]any)
					if replaced["id"] != c.id || replaced["status"] != "rolled" {
						t.Fatalf("roll's replaced key: %v", replaced)
					}
					newID := roll.str("id")
					revoke = m.call("POST", "/api/v1/keys/"+newID+"/revoke", nil)
					m.want(200, "", revoke)
					// (The harness runs no heartbeat: no server to confirm.)
					if _, ok := revoke.JSON["ms"].(float64); revoke.JSON["revoked"] != true || !ok || revoke.JSON["complete"] != true ||
						revoke.JSON["confirmed"] != revoke.JSON["servers"] {
						t.Fatalf("revoke confirmation: %s", revoke.Raw)
					}
				}
			}

			m.want(200, "", m.call("GET", "/api/v1/audit-events", nil))
			members := m.call("GET", "/api/v1/members", nil)
			m.want(200, "", members)
			want := 4
			if other {
				want = 1
			}
			if n := len(members.JSON["data"].([]any)); n != want {
				t.Fatalf("members: %d people, want %d", n, want)
			}
		})
	}
}

// TestMgmtAPIWritesAreAuditedViaToken: the token's person is the actor,
// "via token NAME", in the log and in the API's audit events; a webhook
// goes out as for the browser (the same service).
func TestMgmtAPIWritesAreAuditedViaToken(t *testing.T) {
	tt := newTokenTeam(t)
	m := tt.as(t, roleAdmin)
	create := m.call("POST", "/api/v1/keys", map[string]any{"name": "audited", "scopes": []string{"*"}})
	m.want(201, "", create)
	var actor, via string
	if err := tt.raw.QueryRow(`SELECT actor, actor_via FROM audit_events WHERE action = 'key.created' AND key_id = $1`, create.str("id")).Scan(&actor, &via); err != nil {
		t.Fatal(err)
	}
	if actor != tt.emails[roleAdmin] || via != "ci admin" {
		t.Fatalf("key.created by %q via %q", actor, via)
	}
	evs := m.call("GET", "/api/v1/audit-events?action=key.created&key="+create.str("id"), nil)
	m.want(200, "", evs)
	data := evs.JSON["data"].([]any)
	if len(data) != 1 || data[0].(map[string]any)["via_token"] != "ci admin" || data[0].(map[string]any)["actor"] != tt.emails[roleAdmin] {
		t.Fatalf("audit events: %s", evs.Raw)
	}
	page := tt.clients[roleOwner].get("/settings/audit-log?action=key.created")
	if !strings.Contains(htmlcheck.Parse(t, page.Body).Text(".event-via"), "via token ci admin") {
		t.Fatalf("the audit log does not say via token: %s", htmlcheck.Parse(t, page.Body).Text(".audit-event"))
	}
	if tt.auditCount(t, audit.TokenCreated) != len(matrixRoles) {
		t.Fatalf("token.created events: %d", tt.auditCount(t, audit.TokenCreated))
	}
}

// TestMgmtAPIScopes: a token does only what its scopes say (keys:write
// includes keys:read).
func TestMgmtAPIScopes(t *testing.T) {
	tm := newTeamServer(t)
	base := tm.httpServer()
	owner := tm.clients[roleOwner]
	read := mgmtClient{t, base, owner.createToken("read", "keys:read")}
	write := mgmtClient{t, base, owner.createToken("write", "keys:write")}
	audited := mgmtClient{t, base, owner.createToken("audit", "audit:read")}
	people := mgmtClient{t, base, owner.createToken("people", "members:read")}
	id := tm.key(t, roleOwner)

	read.want(200, "", read.call("GET", "/api/v1/keys", nil))
	read.want(403, "insufficient_scope", read.call("POST", "/api/v1/keys", map[string]any{"name": "x", "scopes": []string{"*"}}))
	read.want(403, "insufficient_scope", read.call("POST", "/api/v1/keys/"+id+"/revoke", nil))
	read.want(403, "insufficient_scope", read.call("GET", "/api/v1/audit-events", nil))
	read.want(403, "insufficient_scope", read.call("GET", "/api/v1/members", nil))
	write.want(200, "", write.call("GET", "/api/v1/keys/"+id, nil))
	write.want(403, "insufficient_scope", write.call("GET", "/api/v1/members", nil))
	audited.want(200, "", audited.call("GET", "/api/v1/audit-events", nil))
	audited.want(403, "insufficient_scope", audited.call("GET", "/api/v1/keys", nil))
	people.want(200, "", people.call("GET", "/api/v1/members", nil))
	people.want(403, "insufficient_scope", people.call("PATCH", "/api/v1/keys/"+id, map[string]any{"name": "x"}))
	if h := read.call("POST", "/api/v1/keys", map[string]any{}).Header.Get("WWW-Authenticate"); !strings.Contains(h, "insufficient_scope") {
		t.Errorf("403 insufficient_scope with WWW-Authenticate %q", h)
	}
}

// TestMgmtAPIRefusesWhatIsNotAValidToken: no token, an API key, garbage,
// an expired token, a revoked one, a removed person's; and a token sent
// where a key belongs.
func TestMgmtAPIRefusesWhatIsNotAValidToken(t *testing.T) {
	tt := newTokenTeam(t)
	m := tt.as(t, roleOwner)
	none := mgmtClient{t: t, base: tt.base}
	got := none.call("GET", "/api/v1/keys", nil)
	none.want(401, "invalid_token", got)
	if got.Header.Get("WWW-Authenticate") == "" {
		t.Errorf("401 without WWW-Authenticate")
	}

	key := tt.clients[roleOwner].create("a key", "*").Token
	asKey := mgmtClient{t, tt.base, key}
	got = asKey.call("GET", "/api/v1/keys", nil)
	asKey.want(401, "invalid_token", got)
	if msg := got.JSON["error"].(map[string]any)["message"].(string); !strings.Contains(msg, "API key") {
		t.Errorf("a key used as a token is told %q", msg)
	}
	asKey.want(401, "invalid_token", asKey.call("GET", "/api/v1/keys", nil, "Authorization", "", "X-Blnk-Key", key))
	for _, bad := range []string{"blnkm_", "blnkm_00000000" + strings.Repeat("A", 38), m.secret[:len(m.secret)-1] + "x", "Bearer", strings.Repeat("x", 5000)} {
		c := mgmtClient{t, tt.base, bad}
		c.want(401, "invalid_token", c.call("GET", "/api/v1/keys", nil))
	}

	// A token on whoami and verify, with or without a scope.
	for _, path := range []string{"/api/v1/whoami", "/api/v1/verify", "/api/v1/verify?scope=mcp:read", "/api/v1/examples/mcp"} {
		got := m.call("GET", path, nil)
		m.want(401, "management_token", got)
	}
	// The key still works there.
	asKey.want(200, "", asKey.call("GET", "/api/v1/whoami", nil))

	// Revoked through the page: refused at once.
	member := tt.as(t, roleMember)
	member.want(200, "", member.call("GET", "/api/v1/keys", nil))
	tokID := tt.tokenID(t, tt.emails[roleMember])
	if r := tt.clients[roleMember].post("/settings/tokens/"+tokID+"/revoke", nil); r.Code != http.StatusSeeOther {
		t.Fatalf("revoke token: %d %s", r.Code, r.Body)
	}
	got = member.call("GET", "/api/v1/keys", nil)
	member.want(401, "invalid_token", got)
	if !strings.Contains(got.Raw, "revoked") {
		t.Errorf("revoked token told: %s", got.Raw)
	}
	if tt.auditCount(t, audit.TokenRevoked) != 1 {
		t.Fatalf("token.revoked events: %d", tt.auditCount(t, audit.TokenRevoked))
	}
	// Another person's token is not theirs to revoke.
	if r := tt.clients[roleAdmin].post("/settings/tokens/"+tt.tokenID(t, tt.emails[roleViewer])+"/revoke", nil); r.Code != http.StatusNotFound {
		t.Fatalf("revoking a colleague's token: %d", r.Code)
	}

	// A removed person's token stops at once.
	admin := tt.as(t, roleAdmin)
	admin.want(200, "", admin.call("GET", "/api/v1/keys", nil))
	if r := tt.clients[roleOwner].post(fmt.Sprintf("/settings/members/%d/remove", tt.ids[roleAdmin]), url.Values{"keys": {"revoke"}}); r.Code != http.StatusSeeOther {
		t.Fatalf("remove: %d %s", r.Code, r.Body)
	}
	admin.want(401, "invalid_token", admin.call("GET", "/api/v1/keys", nil))

	// Expired: refused from the expiry instant.
	tt.clock.Advance(90*24*time.Hour + time.Second)
	got = m.call("GET", "/api/v1/keys", nil)
	m.want(401, "invalid_token", got)
	if !strings.Contains(got.Raw, "expired") {
		t.Errorf("expired token told: %s", got.Raw)
	}
}

// tokenID returns the id of the newest token of the person.
func (tm *teamServer) tokenID(t *testing.T, email string) string {
	t.Helper()
	var id string
	if err := tm.raw.QueryRow(`SELECT t.id FROM management_tokens t JOIN users u ON u.id = t.user_id
		WHERE u.email = $1 ORDER BY t.created_at DESC LIMIT 1`, email).Scan(&id); err != nil {
		t.Fatal(err)
	}
	return id
}

// TestMgmtAPIRoleChangeTakesEffectAtOnce: a demoted Admin's token can no
// longer change a colleague's key on the next request; promoted back, it
// can again.
func TestMgmtAPIRoleChangeTakesEffectAtOnce(t *testing.T) {
	tt := newTokenTeam(t)
	admin := tt.as(t, roleAdmin)
	id := tt.key(t, roleOwner)
	admin.want(200, "", admin.call("PATCH", "/api/v1/keys/"+id, map[string]any{"name": "before"}))
	setRole := func(role string) {
		if r := tt.clients[roleOwner].post(fmt.Sprintf("/settings/members/%d/role", tt.ids[roleAdmin]), url.Values{"role": {role}}); r.Code != http.StatusSeeOther {
			t.Fatalf("role %s: %d %s", role, r.Code, r.Body)
		}
	}
	setRole("viewer")
	admin.want(403, "forbidden_by_role", admin.call("PATCH", "/api/v1/keys/"+id, map[string]any{"name": "after"}))
	admin.want(403, "forbidden_by_role", admin.call("POST", "/api/v1/keys", map[string]any{"name": "x", "scopes": []string{"*"}}))
	admin.want(200, "", admin.call("GET", "/api/v1/keys/"+id, nil))
	setRole("member")
	admin.want(403, "forbidden_by_role", admin.call("POST", "/api/v1/keys/"+id+"/revoke", nil))
	admin.want(201, "", admin.call("POST", "/api/v1/keys", map[string]any{"name": "x", "scopes": []string{"*"}}))
	setRole("admin")
	admin.want(200, "", admin.call("POST", "/api/v1/keys/"+id+"/revoke", nil))
}

// TestMgmtAPIErrors: every error code the API answers, each with the
// error shape and nothing written.
func TestMgmtAPIErrors(t *testing.T) {
	tm := newTeamServer(t)
	base := tm.httpServer()
	m := mgmtClient{t, base, tm.clients[roleOwner].createToken("errors", allTokenScopes...)}
	id := tm.key(t, roleOwner)
	before := tm.fingerprint(t)

	m.want(415, "unsupported_media_type", m.call("POST", "/api/v1/keys", `{"name":"x","scopes":["*"]}`, "Content-Type", "text/plain"))
	m.want(415, "unsupported_media_type", m.call("PATCH", "/api/v1/keys/"+id, `name=x`, "Content-Type", "application/x-www-form-urlencoded"))
	m.want(413, "body_too_large", m.call("POST", "/api/v1/keys", `{"name":"`+strings.Repeat("x", 70<<10)+`"}`))
	// The body limit holds before the Idempotency-Key reads the body, and
	// the refusal is not kept against the key.
	m.want(413, "body_too_large", m.call("POST", "/api/v1/keys", `{"name":"`+strings.Repeat("x", 70<<10)+`"}`, "Idempotency-Key", "big"))
	m.want(413, "body_too_large", m.call("POST", "/api/v1/keys/"+id+"/revoke", `{"`+strings.Repeat("x", 70<<10)+`":1}`, "Idempotency-Key", "big-revoke"))
	m.want(415, "unsupported_media_type", m.call("POST", "/api/v1/keys/"+id+"/roll", `overlap=1h`, "Content-Type", "text/plain", "Idempotency-Key", "form"))
	m.want(400, "invalid_json", m.call("POST", "/api/v1/keys", `{"name":`))
	m.want(400, "invalid_json", m.call("POST", "/api/v1/keys", `[1,2]`))

	got := m.call("POST", "/api/v1/keys", map[string]any{"name": "x", "scopes": []string{"*"}, "role": "admin", "owner": 1})
	m.want(422, "validation_failed", got)
	if f := got.errFields(); f["role"] == nil || f["owner"] == nil || len(f) != 2 {
		t.Fatalf("unknown fields: %v", f)
	}
	got = m.call("POST", "/api/v1/keys", map[string]any{"name": " ", "scopes": []string{"nope"}, "expires_at": "2020-01-01T00:00:00Z", "allowlist": []string{"not an address"}})
	m.want(422, "validation_failed", got)
	for _, f := range []string{"name", "scopes", "expires_at", "allowlist"} {
		if s, _ := got.errFields()[f].(string); s == "" {
			t.Errorf("no problem for %s: %v", f, got.errFields())
		}
	}
	got = m.call("POST", "/api/v1/keys", map[string]any{"name": 5, "scopes": "*"})
	m.want(422, "validation_failed", got)
	if len(got.errFields()) != 2 {
		t.Errorf("wrong types: %v", got.errFields())
	}
	m.want(422, "validation_failed", m.call("POST", "/api/v1/keys", map[string]any{"name": "no scopes"}))
	m.want(422, "validation_failed", m.call("POST", "/api/v1/keys", map[string]any{"name": "x", "scopes": []string{"*"}, "expires_at": time.Now().AddDate(11, 0, 0)}))
	m.want(422, "validation_failed", m.call("POST", "/api/v1/keys/"+id+"/roll", map[string]any{"overlap": "2y"}))
	m.want(422, "validation_failed", m.call("POST", "/api/v1/keys/"+id+"/revoke", map[string]any{"force": true}))
	m.want(404, "not_found", m.call("GET", "/api/v1/keys/key_00000000000000000000", nil))
	m.want(404, "not_found", m.call("GET", "/api/v1/keys/nonsense", nil))
	m.want(404, "not_found", m.call("PATCH", "/api/v1/keys/key_00000000000000000000", map[string]any{"name": "x"}))
	m.want(400, "bad_request", m.call("GET", "/api/v1/keys?status=lost", nil))
	m.want(400, "bad_request", m.call("GET", "/api/v1/keys?cursor=garbage", nil))
	m.want(400, "bad_request", m.call("GET", "/api/v1/keys?limit=1000", nil))
	m.want(400, "bad_request", m.call("GET", "/api/v1/audit-events?action=key.exploded", nil))
	m.want(400, "bad_request", m.call("GET", "/api/v1/audit-events?cursor=-1", nil))
	if tm.fingerprint(t) != before {
		t.Fatalf("refused requests wrote something")
	}
	// A rolled key cannot be rolled again: 409.
	m.want(201, "", m.call("POST", "/api/v1/keys/"+id+"/roll", map[string]any{"overlap": "now"}))
	m.want(409, "conflict", m.call("POST", "/api/v1/keys/"+id+"/roll", nil))
}

// TestMgmtAPIRateLimit: past its allowance a token gets 429 with
// Retry-After, other tokens do not, and it recovers with time.
func TestMgmtAPIRateLimit(t *testing.T) {
	ts, owner := newSignedIn(t, serverOpts{config: func(c *web.Config) { c.TokenLimit.Burst, c.TokenLimit.Every = 3, time.Second }})
	base := ts.httpServer()
	a := mgmtClient{t, base, owner.createToken("a", "keys:read")}
	b := mgmtClient{t, base, owner.createToken("b", "keys:read")}
	for range 3 {
		a.want(200, "", a.call("GET", "/api/v1/keys", nil))
	}
	got := a.call("GET", "/api/v1/keys", nil)
	a.want(429, "rate_limited", got)
	if got.Header.Get("Retry-After") != "1" {
		t.Fatalf("Retry-After %q", got.Header.Get("Retry-After"))
	}
	b.want(200, "", b.call("GET", "/api/v1/keys", nil))
	ts.clock.Advance(time.Second)
	a.want(200, "", a.call("GET", "/api/v1/keys", nil))
}

// TestMgmtAPIPatchOmittedKeepsNullClears.
func TestMgmtAPIPatchOmittedKeepsNullClears(t *testing.T) {
	tm := newTeamServer(t)
	m := mgmtClient{t, tm.httpServer(), tm.clients[roleOwner].createToken("patch", "keys:write")}
	create := m.call("POST", "/api/v1/keys", map[string]any{"name": "patched", "scopes": []string{"data:read"},
		"description": "notes", "allowlist": []string{"10.0.0.0/8"}, "expires_at": nil})
	m.want(201, "", create)
	if create.JSON["expires_at"] != nil {
		t.Fatalf("expires_at null made %v", create.JSON["expires_at"])
	}
	id := create.str("id")
	got := m.call("PATCH", "/api/v1/keys/"+id, map[string]any{"name": "renamed"})
	m.want(200, "", got)
	if got.str("name") != "renamed" || got.str("description") != "notes" || len(got.JSON["allowlist"].([]any)) != 1 {
		t.Fatalf("omitted fields changed: %s", got.Raw)
	}
	got = m.call("PATCH", "/api/v1/keys/"+id, `{"description": null}`)
	m.want(200, "", got)
	if got.str("description") != "" || got.str("name") != "renamed" || len(got.JSON["allowlist"].([]any)) != 1 {
		t.Fatalf("null description: %s", got.Raw)
	}
	got = m.call("PATCH", "/api/v1/keys/"+id, `{"allowlist": null}`)
	m.want(200, "", got)
	if len(got.JSON["allowlist"].([]any)) != 0 {
		t.Fatalf("null allowlist: %s", got.Raw)
	}
	got = m.call("PATCH", "/api/v1/keys/"+id, `{"name": null}`)
	m.want(422, "validation_failed", got)
	if got.errFields()["name"] == nil {
		t.Fatalf("null name: %s", got.Raw)
	}
	got = m.call("PATCH", "/api/v1/keys/"+id, `{"scopes": ["*"]}`)
	m.want(422, "validation_failed", got)
	m.want(200, "", m.call("PATCH", "/api/v1/keys/"+id, `{}`))
	if k := m.call("GET", "/api/v1/keys/"+id, nil); k.str("name") != "renamed" || k.JSON["scopes"].([]any)[0] != "data:read" {
		t.Fatalf("after the patches: %s", k.Raw)
	}
}

// TestMgmtAPIPagination: paging through 1,000 keys, 37 at a time, while
// keys are created between pages, finds every one of the 1,000 once.
func TestMgmtAPIPagination(t *testing.T) {
	tm := newTeamServer(t)
	m := mgmtClient{t, tm.httpServer(), tm.clients[roleOwner].createToken("pages", "keys:write")}
	ws, err := tm.db.FindWorkspace(context.Background(), adminWorkspace)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]bool{}
	for i := range 1000 {
		if i%100 == 0 {
			tm.clock.Advance(time.Millisecond) // some share a millisecond, some not
		}
		c, err := tm.keys.Create(context.Background(), audit.Actor{Kind: audit.CommandLine}, keys.Spec{WorkspaceID: ws.ID, Workspace: ws.Name,
			Name: fmt.Sprintf("key %04d", i), Scopes: apikey.Set(1), FormToken: formToken()})
		if err != nil {
			t.Fatal(err)
		}
		want[c.Key.ID] = true
	}
	for _, sort := range []string{"", "name", "-expires", "last_used"} {
		seen := map[string]int{}
		cursor, pages := "", 0
		for {
			q := url.Values{"limit": {"37"}}
			if sort != "" {
				q.Set("sort", sort)
			}
			if cursor != "" {
				q.Set("cursor", cursor)
			}
			got := m.call("GET", "/api/v1/keys?"+q.Encode(), nil)
			m.want(200, "", got)
			for _, d := range got.JSON["data"].([]any) {
				seen[d.(map[string]any)["id"].(string)]++
			}
			pages++
			// A key created during paging, after each page (and time
			// for the token's rate limit).
			tm.clock.Advance(200 * time.Millisecond)
			m.want(201, "", m.call("POST", "/api/v1/keys", map[string]any{"name": fmt.Sprintf("during %s %d", sort, pages), "scopes": []string{"*"}}))
			if got.JSON["has_more"] != true {
				if got.str("next_cursor") != "" {
					t.Fatalf("last page with a next_cursor")
				}
				break
			}
			cursor = got.str("next_cursor")
		}
		for id := range want {
			if seen[id] != 1 {
				t.Fatalf("sort %q: key %s seen %d times in %d pages", sort, id, seen[id], pages)
			}
		}
		for id, n := range seen {
			if n != 1 {
				t.Fatalf("sort %q: key %s seen %d times", sort, id, n)
			}
		}
	}
}

// TestTokenPageRefusesBadInput: the form's problems, with nothing written.
func TestTokenPageRefusesBadInput(t *testing.T) {
	ts, c := newSignedIn(t, serverOpts{})
	before := ts.count("management_tokens")
	for _, tc := range []struct {
		form  url.Values
		field string
	}{
		{url.Values{"name": {""}, "scopes": {"keys:read"}, "expires": {"30d"}}, "name"},
		{url.Values{"name": {"a\x01b"}, "scopes": {"keys:read"}, "expires": {"30d"}}, "name"},
		{url.Values{"name": {strings.Repeat("é", 101)}, "scopes": {"keys:read"}, "expires": {"30d"}}, "name"},
		{url.Values{"name": {"x"}, "expires": {"30d"}}, "scopes"},
		{url.Values{"name": {"x"}, "scopes": {"keys:admin"}, "expires": {"30d"}}, "scopes"},
		{url.Values{"name": {"x"}, "scopes": {"keys:read"}}, "expires"},
		{url.Values{"name": {"x"}, "scopes": {"keys:read"}, "expires": {"never"}}, "expires"},
		{url.Values{"name": {"x"}, "scopes": {"keys:read"}, "expires": {"date"}, "expires_on": {"2027-12-31"}}, "expires"},
		{url.Values{"name": {"x"}, "scopes": {"keys:read"}, "expires": {"date"}, "expires_on": {"2020-01-01"}}, "expires"},
	} {
		r := c.post("/settings/tokens", tc.form)
		if r.Code != http.StatusUnprocessableEntity {
			t.Fatalf("%v: %d", tc.form, r.Code)
		}
		doc := htmlcheck.Parse(t, r.Body)
		if doc.Text("#f-"+tc.field+"-problem") == "" {
			t.Errorf("%v: no problem next to %s", tc.form, tc.field)
		}
		if doc.Has("#token-secret") {
			t.Errorf("a refused form shows a secret")
		}
		// The error summary takes the focus and leads to the field.
		if !doc.Has(`[data-error-summary][autofocus] a[data-focus^="f-` + tc.field + `"]`) {
			t.Errorf("%v: no error summary with the focus, leading to %s", tc.form, tc.field)
		}
	}
	if ts.count("management_tokens") != before {
		t.Fatalf("refused forms stored tokens")
	}
	// A date within the year is fine, and the list shows the token.
	r := c.post("/settings/tokens", url.Values{"name": {"dated"}, "scopes": {"audit:read"}, "expires": {"date"}, "expires_on": {"2027-01-31"}})
	if r.Code != http.StatusCreated {
		t.Fatalf("dated token: %d %s", r.Code, r.Body)
	}
	// The focus starts on the secret, shown this once.
	if !htmlcheck.Parse(t, r.Body).Has("textarea#token-secret[autofocus]") {
		t.Error("the new token's secret does not take the focus")
	}
	list := htmlcheck.Parse(t, c.get("/settings/tokens").Body)
	if list.Has("#token-secret") || !strings.Contains(list.Text("table.tokens"), "dated") || !strings.Contains(list.Text("table.tokens"), "Never") {
		t.Fatalf("the list: %s", list.Text("main"))
	}
}

// TestMgmtAPIEscalation: a token never does more than its person may now.
// A Member's token creating keys with scopes beyond the workspace's
// member_scopes policy (or "*"), or without the expiry or allowlist the
// policies require, is 422 validation_failed naming the field, and
// nothing is written; an Admin's token may grant them. Another
// workspace's person, with every scope, finds none of this workspace's
// keys by id (GET, PATCH, roll, revoke, with and without an
// Idempotency-Key, and the list's q): 404 and nothing changes.
func TestMgmtAPIEscalation(t *testing.T) {
	tt := newTokenTeam(t)
	theirs := []string{tt.key(t, roleOwner), tt.key(t, roleMember)}
	ctx := context.Background()
	ws, err := tt.db.FindWorkspace(ctx, adminWorkspace)
	if err != nil {
		t.Fatal(err)
	}
	mcp, err := apikey.ParseScopes([]string{"mcp:read"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tt.keys.SetPolicy(ctx, audit.Actor{Kind: audit.CommandLine}, ws.ID, blnk.Policy{MemberScopes: mcp}); err != nil {
		t.Fatal(err)
	}
	member, admin := tt.as(t, roleMember), tt.as(t, roleAdmin)
	for _, scopes := range [][]string{{"*"}, {"data:write"}, {"mcp:read", "proxy:read"}, {"mcp:write"}} {
		before := tt.fingerprint(t)
		r := member.call("POST", "/api/v1/keys", map[string]any{"name": "wider", "scopes": scopes}, "Idempotency-Key", "wider-"+strings.Join(scopes, "-"))
		member.want(422, "validation_failed", r)
		if f := r.errFields(); f["scopes"] == nil || len(f) != 1 {
			t.Errorf("member creating %v: fields %v, want scopes only", scopes, f)
		}
		if tt.fingerprint(t) != before {
			t.Errorf("member creating %v: a refused create wrote something", scopes)
		}
	}
	member.want(201, "", member.call("POST", "/api/v1/keys", map[string]any{"name": "within", "scopes": []string{"mcp:read"}}))
	admin.want(201, "", admin.call("POST", "/api/v1/keys", map[string]any{"name": "admin's", "scopes": []string{"*"}}))

	// Expiry and allowlist policies: the API's field names.
	if _, err := tt.keys.SetPolicy(ctx, audit.Actor{Kind: audit.CommandLine}, ws.ID, blnk.Policy{MemberScopes: mcp, RequireExpiry: true, RequireAllowlist: true}); err != nil {
		t.Fatal(err)
	}
	r := member.call("POST", "/api/v1/keys", map[string]any{"name": "loose", "scopes": []string{"mcp:read"}})
	member.want(422, "validation_failed", r)
	if f := r.errFields(); f["expires_at"] == nil || f["allowlist"] == nil {
		t.Errorf("no expiry and no allowlist under policies that require them: fields %v, want expires_at and allowlist", f)
	}

	other := tt.as(t, roleOther)
	for _, id := range theirs {
		before := tt.fingerprint(t)
		other.want(404, "not_found", other.call("GET", "/api/v1/keys/"+id, nil))
		other.want(404, "not_found", other.call("PATCH", "/api/v1/keys/"+id, map[string]any{"name": "mine now"}))
		for _, action := range []string{"roll", "revoke"} {
			other.want(404, "not_found", other.call("POST", "/api/v1/keys/"+id+"/"+action, nil))
			other.want(404, "not_found", other.call("POST", "/api/v1/keys/"+id+"/"+action, nil, "Idempotency-Key", "steal-"+action+"-"+id))
		}
		list := other.call("GET", "/api/v1/keys?q="+id, nil)
		other.want(200, "", list)
		if data, _ := list.JSON["data"].([]any); len(data) != 0 {
			t.Errorf("another workspace's list with q=%s: %s", id, list.Raw)
		}
		if tt.fingerprint(t) != before {
			t.Errorf("another workspace's token changed key %s", id)
		}
	}
}

// TestMgmtAPIIdempotentRollAndRevoke: a roll retried with its
// Idempotency-Key gets the first answer (201, the same new key, secret
// null and the note) and rolls nothing more; a revoke retried gets its
// first confirmation again.
func TestMgmtAPIIdempotentRollAndRevoke(t *testing.T) {
	tt := newTokenTeam(t)
	m := tt.as(t, roleAdmin)
	id := tt.key(t, roleAdmin)
	first := m.call("POST", "/api/v1/keys/"+id+"/roll", map[string]any{"overlap": "1h"}, "Idempotency-Key", "roll-1")
	m.want(201, "", first)
	if _, err := apikey.Parse(first.str("secret")); err != nil {
		t.Fatalf("first roll: no secret: %s", first.Raw)
	}
	keysAfter := tt.count("api_keys")
	again := m.call("POST", "/api/v1/keys/"+id+"/roll", map[string]any{"overlap": "1h"}, "Idempotency-Key", "roll-1")
	m.want(201, "", again)
	if again.Header.Get("Idempotent-Replayed") != "true" || again.str("id") != first.str("id") || again.JSON["secret"] != nil || again.str("note") == "" {
		t.Fatalf("roll replay: %s", again.Raw)
	}
	if again.Header.Get("Location") != "/api/v1/keys/"+first.str("id") {
		t.Errorf("roll replay's Location: %q", again.Header.Get("Location"))
	}
	if n := tt.count("api_keys"); n != keysAfter {
		t.Errorf("the replay made keys: %d, want %d", n, keysAfter)
	}
	m.want(422, "idempotency_mismatch", m.call("POST", "/api/v1/keys/"+id+"/roll", map[string]any{"overlap": "7d"}, "Idempotency-Key", "roll-1"))

	newID := first.str("id")
	rev := m.call("POST", "/api/v1/keys/"+newID+"/revoke", nil, "Idempotency-Key", "revoke-1")
	m.want(200, "", rev)
	rev2 := m.call("POST", "/api/v1/keys/"+newID+"/revoke", nil, "Idempotency-Key", "revoke-1")
	if rev2.Code != 200 || rev2.Raw != rev.Raw || rev2.Header.Get("Idempotent-Replayed") != "true" {
		t.Fatalf("revoke replay: %d %s, want the first answer %s", rev2.Code, rev2.Raw, rev.Raw)
	}
	// Without the key, a second revoke runs, and says it changed nothing.
	rev3 := m.call("POST", "/api/v1/keys/"+newID+"/revoke", nil)
	if rev3.Code != 200 || rev3.JSON["revoked"] != false {
		t.Fatalf("second revoke: %s", rev3.Raw)
	}
}
