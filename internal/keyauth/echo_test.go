package keyauth_test

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/blnk-cloud/apikeys/internal/apikey"
	"github.com/blnk-cloud/apikeys/internal/keyauth"
	"github.com/blnk-cloud/apikeys/internal/throttle"
)

// newRouter returns a tiny API behind the middleware: /whoami takes any
// valid key, /write needs mcp:write. Both answer the identity the
// middleware left.
func newRouter(t *testing.T, a *keyauth.Authenticator) *echo.Echo {
	t.Helper()
	e := echo.New()
	e.IPExtractor = echo.ExtractIPDirect()
	whoami := func(c echo.Context) error {
		id, ok := keyauth.IdentityFrom(c)
		if !ok {
			return c.String(http.StatusInternalServerError, "no identity")
		}
		return c.JSON(http.StatusOK, map[string]any{"id": id.KeyID, "name": id.Name, "workspace": id.Workspace, "scopes": id.Scopes.String()})
	}
	e.GET("/whoami", whoami, a.RequireKey())
	e.GET("/write", whoami, a.RequireScope(apikey.MCPWrite))
	return e
}

type apiError struct {
	Error struct {
		Code    string `json:"code"`
		Message string `json:"message"`
	} `json:"error"`
}

func TestMiddleware(t *testing.T) {
	f := newFixture(t)
	clk := newClock(start)
	expiresAt := start.Add(time.Hour)
	readKey, readToken := f.addKey(t, keySpec{name: "reader", scopes: []string{"mcp:read"}})
	writeKey, writeToken := f.addKey(t, keySpec{name: "writer", scopes: []string{"mcp:write"}})
	_, expiredToken := f.addKey(t, keySpec{name: "expired", expires: expiresAt})
	revoked, revokedToken := f.addKey(t, keySpec{name: "revoked"})
	f.revoke(t, f.store, revoked.ID)
	a := newAuth(t, f.store, keyauth.Config{Now: clk.Now, Failures: throttle.Config{Burst: 3, Every: time.Minute}})
	e := newRouter(t, a)
	clk.Set(expiresAt) // the expiry instant: "expired" no longer works

	const invalidMessage = "The API key is not valid."
	tests := []struct {
		name     string
		path     string
		header   http.Header
		query    string
		wantCode int
		wantErr  string // error code; "" for success
		wantKey  string // key id on success
	}{
		{"bearer", "/whoami", http.Header{"Authorization": {"Bearer " + readToken}}, "", 200, "", readKey.ID},
		{"lower case bearer", "/whoami", http.Header{"Authorization": {"bearer " + readToken}}, "", 200, "", readKey.ID},
		{"upper case bearer", "/whoami", http.Header{"Authorization": {"BEARER " + readToken}}, "", 200, "", readKey.ID},
		{"X-Blnk-Key", "/whoami", http.Header{"X-Blnk-Key": {readToken}}, "", 200, "", readKey.ID},
		{"bearer wins over X-Blnk-Key", "/whoami", http.Header{"Authorization": {"Bearer " + writeToken}, "X-Blnk-Key": {readToken}}, "", 200, "", writeKey.ID},
		{"no key", "/whoami", nil, "", 401, "missing_key", ""},
		{"key in the query string", "/whoami", nil, "key=" + readToken, 401, "missing_key", ""},
		{"api_key in the query string", "/whoami", nil, "api_key=" + readToken, 401, "missing_key", ""},
		{"access_token in the query string", "/whoami", nil, "access_token=" + readToken, 401, "missing_key", ""},
		{"basic auth", "/whoami", http.Header{"Authorization": {"Basic " + readToken}}, "", 401, "missing_key", ""},
		{"bearer without token", "/whoami", http.Header{"Authorization": {"Bearer "}}, "", 401, "missing_key", ""},
		{"malformed", "/whoami", http.Header{"Authorization": {"Bearer nope"}}, "", 401, "invalid_key", ""},
		{"bad checksum", "/whoami", http.Header{"Authorization": {"Bearer " + badChecksum(readToken)}}, "", 401, "invalid_key", ""},
		{"unknown", "/whoami", http.Header{"Authorization": {"Bearer " + unknownToken(t)}}, "", 401, "invalid_key", ""},
		{"expired", "/whoami", http.Header{"Authorization": {"Bearer " + expiredToken}}, "", 401, "expired_key", ""},
		{"revoked", "/whoami", http.Header{"X-Blnk-Key": {revokedToken}}, "", 401, "revoked_key", ""},
		{"scope held", "/write", http.Header{"Authorization": {"Bearer " + writeToken}}, "", 200, "", writeKey.ID},
		{"scope not held", "/write", http.Header{"Authorization": {"Bearer " + readToken}}, "", 403, "insufficient_scope", ""},
		{"scope route, no key", "/write", nil, "", 401, "missing_key", ""},
	}
	var bodies = map[string][]byte{}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			target := tt.path
			if tt.query != "" {
				target += "?" + tt.query
			}
			req := httptest.NewRequest(http.MethodGet, target, nil)
			req.RemoteAddr = "192.0.2." + strconv.Itoa(i+1) + ":40000" // one address each: no rate limit
			for k, v := range tt.header {
				req.Header[k] = v
			}
			rec := httptest.NewRecorder()
			e.ServeHTTP(rec, req)

			if got, want := rec.Code, tt.wantCode; got != want {
				t.Fatalf("status = %d, want %d; body %s", got, want, rec.Body)
			}
			if got, want := rec.Header().Get("Content-Type"), "application/json"; !strings.HasPrefix(got, want) {
				t.Errorf("Content-Type = %q, want %q", got, want)
			}
			if tt.wantErr == "" {
				var body map[string]string
				if err := json.Unmarshal(rec.Body.Bytes(), &body); err != nil {
					t.Fatalf("body %s: %v", rec.Body, err)
				}
				if got, want := body["id"], tt.wantKey; got != want {
					t.Errorf("IdentityFrom in the handler: key %q, want %q", got, want)
				}
				if got, want := body["workspace"], "Acme"; got != want {
					t.Errorf("IdentityFrom in the handler: workspace %q, want %q", got, want)
				}
				if got := rec.Header().Get("WWW-Authenticate"); got != "" {
					t.Errorf("WWW-Authenticate on success = %q, want none", got)
				}
				return
			}

			body := decodeError(t, rec.Body.Bytes())
			if got, want := body.Error.Code, tt.wantErr; got != want {
				t.Errorf("error code = %q, want %q", got, want)
			}
			if body.Error.Message == "" {
				t.Errorf("error message is empty")
			}
			if tt.wantErr == "invalid_key" {
				if got, want := body.Error.Message, invalidMessage; got != want {
					t.Errorf("message = %q, want %q", got, want)
				}
				bodies[tt.name] = rec.Body.Bytes()
			}
			if got, want := rec.Header().Get("Cache-Control"), "no-store"; got != want {
				t.Errorf("Cache-Control = %q, want %q", got, want)
			}
			www := rec.Header().Get("WWW-Authenticate")
			switch tt.wantCode {
			case 401:
				// RFC 6750, 3.1: no error code when the request had no key.
				want := `Bearer realm="blnk", error="invalid_token"`
				if tt.wantErr == "missing_key" {
					want = `Bearer realm="blnk"`
				}
				if got := www; got != want {
					t.Errorf("WWW-Authenticate = %q, want %q", got, want)
				}
			case 403:
				if got, want := www, `Bearer realm="blnk", error="insufficient_scope", scope="mcp:write"`; got != want {
					t.Errorf("WWW-Authenticate = %q, want %q", got, want)
				}
			}
		})
	}

	// A 401 never tells an unknown key from a malformed one.
	if !bytes.Equal(bodies["unknown"], bodies["malformed"]) || !bytes.Equal(bodies["unknown"], bodies["bad checksum"]) {
		t.Errorf("bodies differ: unknown %s, malformed %s, bad checksum %s", bodies["unknown"], bodies["malformed"], bodies["bad checksum"])
	}
}

// decodeError decodes an error body, which must be exactly
// {"error": {"code": ..., "message": ...}}.
func decodeError(t *testing.T, b []byte) apiError {
	t.Helper()
	var shape map[string]map[string]string
	if err := json.Unmarshal(b, &shape); err != nil {
		t.Fatalf("error body %s: %v", b, err)
	}
	if len(shape) != 1 || len(shape["error"]) != 2 || shape["error"]["code"] == "" {
		t.Errorf("error body = %s, want exactly {\"error\": {\"code\", \"message\"}}", b)
	}
	var body apiError
	if err := json.Unmarshal(b, &body); err != nil {
		t.Fatal(err)
	}
	return body
}

func TestMiddlewareRateLimit(t *testing.T) {
	f := newFixture(t)
	clk := newClock(start)
	_, token := f.addKey(t, keySpec{})
	a := newAuth(t, f.store, keyauth.Config{Now: clk.Now, Failures: throttle.Config{Burst: 3, Every: time.Minute}})
	e := newRouter(t, a)

	do := func(addr, key string) *httptest.ResponseRecorder {
		t.Helper()
		req := httptest.NewRequest(http.MethodGet, "/write", nil)
		req.RemoteAddr = addr
		if key != "" {
			req.Header.Set("Authorization", "Bearer "+key)
		}
		rec := httptest.NewRecorder()
		e.ServeHTTP(rec, req)
		return rec
	}
	const addr = "203.0.113.5:1234"
	bad := unknownToken(t)
	if got, want := do(addr, token).Code, http.StatusOK; got != want {
		t.Fatalf("valid key: status %d, want %d", got, want)
	}
	for i := range 3 {
		if got, want := do(addr, bad).Code, http.StatusUnauthorized; got != want {
			t.Fatalf("failure %d: status %d, want %d", i+1, got, want)
		}
	}
	rec := do(addr, bad)
	if got, want := rec.Code, http.StatusTooManyRequests; got != want {
		t.Fatalf("4th failure: status %d, want %d", got, want)
	}
	if got, want := decodeError(t, rec.Body.Bytes()).Error.Code, "rate_limited"; got != want {
		t.Errorf("error code = %q, want %q", got, want)
	}
	secs, err := strconv.Atoi(rec.Header().Get("Retry-After"))
	if err != nil || secs <= 0 || secs > 120 {
		t.Errorf("Retry-After = %q, want whole seconds in [1, 120]", rec.Header().Get("Retry-After"))
	}
	if got, want := do(addr, token).Code, http.StatusOK; got != want {
		t.Errorf("valid key already used from the limited address: status %d, want %d", got, want)
	}
	if got, want := do("203.0.113.6:1234", bad).Code, http.StatusUnauthorized; got != want {
		t.Errorf("other address: status %d, want %d", got, want)
	}
}

func TestRequireScopeUnknownPanics(t *testing.T) {
	f := newFixture(t)
	a := newAuth(t, f.store, keyauth.Config{})
	defer func() {
		if recover() == nil {
			t.Error("RequireScope(unknown) did not panic")
		}
	}()
	a.RequireScope("mcp:admin")
}

func TestIdentityFromWithoutMiddleware(t *testing.T) {
	c := echo.New().NewContext(httptest.NewRequest(http.MethodGet, "/", nil), httptest.NewRecorder())
	if _, ok := keyauth.IdentityFrom(c); ok {
		t.Error("IdentityFrom without the middleware: ok = true, want false")
	}
}

func TestProblemOf(t *testing.T) {
	tests := []struct {
		name       string
		err        error
		wantStatus int
		wantCode   string
	}{
		{"missing", keyauth.ErrMissing, 401, "missing_key"},
		{"invalid", keyauth.ErrInvalid, 401, "invalid_key"},
		{"expired", keyauth.ErrExpired, 401, "expired_key"},
		{"revoked", keyauth.ErrRevoked, 401, "revoked_key"},
		{"scope", keyauth.ErrInsufficientScope, 403, "insufficient_scope"},
		{"unknown scope", keyauth.ErrUnknownScope, 400, "unknown_scope"},
		{"rate limited", &keyauth.RateLimitedError{RetryAfter: time.Second}, 429, "rate_limited"},
		{"other", bytes.ErrTooLarge, 500, "internal_error"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := keyauth.ProblemOf(tt.err, apikey.MCPWrite)
			if p.Status != tt.wantStatus || p.Code != tt.wantCode {
				t.Errorf("ProblemOf(%v) = %d %q, want %d %q", tt.err, p.Status, p.Code, tt.wantStatus, tt.wantCode)
			}
			if strings.Contains(p.Message, tt.err.Error()) {
				t.Errorf("message %q shows the internal error", p.Message)
			}
		})
	}
}

// TestWriteGatewayError: forward authentication answers only 200, 401 or
// 403 about a key (gateways turn anything else into an error of their
// own), so a rate-limited caller gets 401 with Retry-After; WriteError
// keeps 429 for programs.
func TestWriteGatewayError(t *testing.T) {
	limited := &keyauth.RateLimitedError{RetryAfter: 1500 * time.Millisecond}
	tests := []struct {
		name       string
		write      func(echo.Context, error, apikey.Scope) error
		err        error
		token      string
		wantStatus int
		wantCode   string
		wantWWW    string
		wantRetry  string
	}{
		{"gateway, rate limited with a key", keyauth.WriteGatewayError, limited, "blnk_x", 401, "rate_limited", `Bearer realm="blnk", error="invalid_token"`, "2"},
		{"gateway, rate limited without a key", keyauth.WriteGatewayError, limited, "", 401, "rate_limited", `Bearer realm="blnk"`, "2"},
		{"gateway, missing", keyauth.WriteGatewayError, keyauth.ErrMissing, "", 401, "missing_key", `Bearer realm="blnk"`, ""},
		{"gateway, invalid", keyauth.WriteGatewayError, keyauth.ErrInvalid, "blnk_x", 401, "invalid_key", `Bearer realm="blnk", error="invalid_token"`, ""},
		{"gateway, scope", keyauth.WriteGatewayError, keyauth.ErrInsufficientScope, "blnk_x", 403, "insufficient_scope", `Bearer realm="blnk", error="insufficient_scope", scope="mcp:write"`, ""},
		{"gateway, unknown scope", keyauth.WriteGatewayError, keyauth.ErrUnknownScope, "blnk_x", 400, "unknown_scope", "", ""},
		{"program, rate limited", keyauth.WriteError, limited, "blnk_x", 429, "rate_limited", "", "2"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req := httptest.NewRequest(http.MethodGet, "/", nil)
			if tt.token != "" {
				req.Header.Set("Authorization", "Bearer "+tt.token)
			}
			rec := httptest.NewRecorder()
			if err := tt.write(echo.New().NewContext(req, rec), tt.err, apikey.MCPWrite); err != nil {
				t.Fatal(err)
			}
			if rec.Code != tt.wantStatus {
				t.Errorf("status = %d, want %d", rec.Code, tt.wantStatus)
			}
			if got := decodeError(t, rec.Body.Bytes()).Error.Code; got != tt.wantCode {
				t.Errorf("code = %q, want %q", got, tt.wantCode)
			}
			if got := rec.Header().Get("WWW-Authenticate"); got != tt.wantWWW {
				t.Errorf("WWW-Authenticate = %q, want %q", got, tt.wantWWW)
			}
			if got := rec.Header().Get("Retry-After"); got != tt.wantRetry {
				t.Errorf("Retry-After = %q, want %q", got, tt.wantRetry)
			}
		})
	}
}
