package openapicheck_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/blnk-cloud/apikeys/internal/testkit/openapicheck"
)

const whoami = `{"id":"key_aaaaaaaaaaaaaaaaaaaa","name":"CI","prefix":"blnk_0123abcd","scopes":["mcp:read"],` +
	`"role":"member","workspace":{"id":1,"name":"Acme"},"created_at":"2026-03-10T12:00:00Z","expires_at":null,"rolled_into":null}`

func apiHeader() http.Header {
	return http.Header{"Content-Type": {"application/json"}, "X-Request-Id": {"r1"}, "Cache-Control": {"no-store"}}
}

// TestCheck: what the document describes passes; a renamed, missing or
// mistyped field, an unlisted status, a missing required header, or a
// request the server should have refused fail.
func TestCheck(t *testing.T) {
	c, err := openapicheck.New()
	if err != nil {
		t.Fatal(err)
	}
	bearer := func(r *http.Request) *http.Request {
		r.Header.Set("Authorization", "Bearer blnk_0123abcd...")
		return r
	}
	get := func(target string) *http.Request {
		return bearer(httptest.NewRequest(http.MethodGet, "http://dash.test"+target, nil))
	}
	withHeader := func(k, v string) http.Header { h := apiHeader(); h.Set(k, v); return h }
	without := func(k string) http.Header { h := apiHeader(); h.Del(k); return h }
	tests := []struct {
		name    string
		req     *http.Request
		reqBody string
		status  int
		header  http.Header
		body    string
		ok      bool
	}{
		{"whoami as documented", get("/api/v1/whoami"), "", 200, apiHeader(), whoami, true},
		{"HEAD is checked as GET without body", bearer(httptest.NewRequest(http.MethodHead, "http://dash.test/api/v1/whoami", nil)), "", 200, apiHeader(), "", true},
		{"a field renamed", get("/api/v1/whoami"), "", 200, apiHeader(), strings.Replace(whoami, `"prefix"`, `"key_prefix"`, 1), false},
		{"null where a string is required", get("/api/v1/whoami"), "", 200, apiHeader(), strings.Replace(whoami, `"name":"CI"`, `"name":null`, 1), false},
		{"a role that is not member", get("/api/v1/whoami"), "", 200, apiHeader(), strings.Replace(whoami, `"member"`, `"admin"`, 1), false},
		{"a status not listed", get("/api/v1/whoami"), "", 418, apiHeader(), `{"error":{"code":"teapot","message":"x"}}`, false},
		{"no X-Request-Id", get("/api/v1/whoami"), "", 200, without("X-Request-Id"), whoami, false},
		{"200 without a key", httptest.NewRequest(http.MethodGet, "http://dash.test/api/v1/whoami", nil), "", 200, apiHeader(), whoami, false},
		{"401 with its challenge", get("/api/v1/whoami"), "", 401, withHeader("WWW-Authenticate", `Bearer realm="blnk", error="invalid_token"`), `{"error":{"code":"invalid_key","message":"m"}}`, true},
		{"401 without WWW-Authenticate", get("/api/v1/whoami"), "", 401, apiHeader(), `{"error":{"code":"invalid_key","message":"m"}}`, false},
		{"429 without Retry-After", get("/api/v1/whoami"), "", 429, apiHeader(), `{"error":{"code":"rate_limited","message":"m"}}`, false},
		{"an error with an extra field", get("/api/v1/whoami"), "", 401, withHeader("WWW-Authenticate", `Bearer realm="blnk"`), `{"error":{"code":"missing_key","message":"m","detail":1}}`, false},
		{"unknown path: the Error body", get("/api/v1/nope"), "", 404, apiHeader(), `{"error":{"code":"not_found","message":"m"}}`, true},
		{"unknown path: not the Error body", get("/api/v1/nope"), "", 404, apiHeader(), `{"message":"m"}`, false},
		{"unknown path answered 200", get("/api/v1/nope"), "", 200, apiHeader(), `{}`, false},
		{"create accepted with an unknown field", func() *http.Request {
			r := httptest.NewRequest(http.MethodPost, "http://dash.test/api/v1/keys", nil)
			r.Header.Set("Authorization", "Bearer blnkm_x")
			r.Header.Set("Content-Type", "application/json")
			return r
		}(), `{"name":"a","scopes":["*"],"colour":"red"}`, 422, apiHeader(), `{"error":{"code":"validation_failed","message":"m","fields":{"colour":"Unknown field."}}}`, true},
		{"create answered 201 to an unknown field", func() *http.Request {
			r := httptest.NewRequest(http.MethodPost, "http://dash.test/api/v1/keys", nil)
			r.Header.Set("Authorization", "Bearer blnkm_x")
			r.Header.Set("Content-Type", "application/json")
			return r
		}(), `{"name":"a","scopes":["*"],"colour":"red"}`, 201, apiHeader(), `{}`, false},
		{"not under /api: not checked", get("/settings/api-keys"), "", 200, http.Header{}, "<html>", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := c.Check(context.Background(), openapicheck.Exchange{Request: tt.req, RequestBody: []byte(tt.reqBody), Status: tt.status, Header: tt.header, Body: []byte(tt.body)})
			if (err == nil) != tt.ok {
				t.Errorf("Check: got %v, want ok=%v", err, tt.ok)
			}
		})
	}
	if got, want := c.Count(), len(tests)-1; got != want {
		t.Errorf("Count: got %d, want %d (every /api/ exchange, not the page)", got, want)
	}
}
