package web_test

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/blnk-cloud/apikeys/internal/apikey"
	"github.com/blnk-cloud/apikeys/internal/keyauth"
	"github.com/blnk-cloud/apikeys/internal/throttle"
)

// apiError is the JSON error of the API.
type apiError struct {
	Error struct {
		Code    string `json:"code"`
		Message string `json:"message"`
	} `json:"error"`
}

// checkAPIError fails unless r is the JSON error code with status, and
// returns it.
func checkAPIError(t *testing.T, r *response, status int, code string) apiError {
	t.Helper()
	if r.Code != status {
		t.Errorf("%s %s: status got %d, want %d\n%s", r.Method, r.Target, r.Code, status, r.Body)
	}
	if got := r.Header.Get("Content-Type"); !strings.HasPrefix(got, "application/json") {
		t.Errorf("%s %s: Content-Type got %q, want JSON", r.Method, r.Target, got)
	}
	var e apiError
	if err := json.Unmarshal([]byte(r.Body), &e); err != nil {
		t.Errorf("%s %s: body is not the JSON error: %v\n%s", r.Method, r.Target, err, r.Body)
	}
	if e.Error.Code != code {
		t.Errorf("%s %s: code got %q, want %q", r.Method, r.Target, e.Error.Code, code)
	}
	if e.Error.Message == "" {
		t.Errorf("%s %s: error without a message", r.Method, r.Target)
	}
	return e
}

type whoami struct {
	ID        string   `json:"id"`
	Name      string   `json:"name"`
	Prefix    string   `json:"prefix"`
	Scopes    []string `json:"scopes"`
	Role      string   `json:"role"`
	Workspace *struct {
		ID   int64  `json:"id"`
		Name string `json:"name"`
	} `json:"workspace"`
	CreatedAt *time.Time `json:"created_at"`
	ExpiresAt *time.Time `json:"expires_at"`
}

func TestWhoami(t *testing.T) {
	t.Parallel()
	ts, c := newSignedIn(t, serverOpts{})
	never := c.create("Never expires", "mcp:read", "data:write")
	dated := c.createKey(url.Values{"name": {"Dated 🔑"}, "scopes": {"*"}, "expires": {"date"}, "expires_on": {"2026-12-31"}, "form_token": {formToken()}})
	var wsID int64
	if err := ts.raw.QueryRow(`SELECT id FROM workspaces`).Scan(&wsID); err != nil {
		t.Fatal(err)
	}

	tests := []struct {
		name       string
		key        newKey
		opts       []opt
		wantName   string
		wantScopes []string
		wantExpiry *time.Time
	}{
		{"Authorization: Bearer", never, []opt{header("Authorization", "Bearer "+never.Token)}, "Never expires", []string{"mcp:read", "data:write"}, nil},
		{"lower-case bearer", never, []opt{header("Authorization", "bearer "+never.Token)}, "Never expires", []string{"mcp:read", "data:write"}, nil},
		{"X-Blnk-Key", never, []opt{header("X-Blnk-Key", never.Token)}, "Never expires", []string{"mcp:read", "data:write"}, nil},
		{"dated key", dated, []opt{header("X-Blnk-Key", dated.Token)}, "Dated 🔑", []string{"*"}, new(time.Date(2027, 1, 1, 0, 0, 0, 0, time.UTC))},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := c.get("/api/v1/whoami", append(tt.opts, noCookies())...)
			if r.Code != http.StatusOK {
				t.Fatalf("status: got %d, want 200\n%s", r.Code, r.Body)
			}
			if got := r.Header.Get("Content-Type"); !strings.HasPrefix(got, "application/json") {
				t.Errorf("Content-Type: got %q, want JSON", got)
			}
			if got := r.Header.Get("Cache-Control"); got != "no-store" {
				t.Errorf("Cache-Control: got %q, want no-store", got)
			}
			var raw map[string]any
			if err := json.Unmarshal([]byte(r.Body), &raw); err != nil {
				t.Fatalf("body: %v", err)
			}
			if v, ok := raw["expires_at"]; !ok || (tt.wantExpiry == nil) != (v == nil) {
				t.Errorf("expires_at: got %v (present %v), want null only for Never", v, ok)
			}
			var w whoami
			if err := json.Unmarshal([]byte(r.Body), &w); err != nil {
				t.Fatal(err)
			}
			if w.ID != tt.key.ID {
				t.Errorf("id: got %q, want %q", w.ID, tt.key.ID)
			}
			if w.Name != tt.wantName {
				t.Errorf("name: got %q, want %q", w.Name, tt.wantName)
			}
			if w.Prefix != tt.key.Prefix {
				t.Errorf("prefix: got %q, want %q", w.Prefix, tt.key.Prefix)
			}
			if strings.Join(w.Scopes, " ") != strings.Join(tt.wantScopes, " ") {
				t.Errorf("scopes: got %q, want %q", w.Scopes, tt.wantScopes)
			}
			if w.Role != "member" {
				t.Errorf("role: got %q, want member", w.Role)
			}
			if w.Workspace == nil || w.Workspace.ID != wsID || w.Workspace.Name != adminWorkspace {
				t.Errorf("workspace: got %+v, want {%d %s}", w.Workspace, wsID, adminWorkspace)
			}
			if w.CreatedAt == nil || !w.CreatedAt.Equal(start) {
				t.Errorf("created_at: got %v, want %v", w.CreatedAt, start)
			}
			if tt.wantExpiry != nil && (w.ExpiresAt == nil || !w.ExpiresAt.Equal(*tt.wantExpiry)) {
				t.Errorf("expires_at: got %v, want %v", w.ExpiresAt, tt.wantExpiry)
			}
			if strings.Contains(r.Body, tt.key.Token) {
				t.Errorf("whoami echoes the token")
			}
		})
	}
	t.Run("Bearer wins over X-Blnk-Key", func(t *testing.T) {
		r := c.get("/api/v1/whoami", header("Authorization", "Bearer "+dated.Token), header("X-Blnk-Key", never.Token), noCookies())
		var w whoami
		json.Unmarshal([]byte(r.Body), &w)
		if w.ID != dated.ID {
			t.Errorf("id: got %q, want the Bearer key %q", w.ID, dated.ID)
		}
	})
	t.Run("a bad Bearer is not saved by X-Blnk-Key", func(t *testing.T) {
		r := c.get("/api/v1/whoami", header("Authorization", "Bearer blnk_00000000"), header("X-Blnk-Key", never.Token), noCookies())
		checkAPIError(t, r, http.StatusUnauthorized, "invalid_key")
	})
	t.Run("a session cookie is no key", func(t *testing.T) {
		checkAPIError(t, c.get("/api/v1/whoami"), http.StatusUnauthorized, "missing_key")
	})
}

func TestVerify(t *testing.T) {
	t.Parallel()
	ts, c := newSignedIn(t, serverOpts{})
	all := c.create("All", "*")
	mcpWrite := c.create("MCP write", "mcp:write")
	dataRead := c.create("Data read", "data:read")
	revoked := c.create("Revoked", "*")
	c.post("/settings/api-keys/"+revoked.ID+"/revoke", nil)
	expired := c.createKey(url.Values{"name": {"Expired"}, "scopes": {"*"}, "expires": {"date"}, "expires_on": {"2026-03-11"}, "form_token": {formToken()}})
	ts.clock.Advance(36 * time.Hour) // past Mar 11 (UTC)

	unknown, err := apikey.Generate() // a valid checksum, never stored
	if err != nil {
		t.Fatal(err)
	}
	// The same token with another last character: well-formed, but its
	// checksum does not match.
	badChecksum := all.Token[:len(all.Token)-1] + "A"
	if badChecksum == all.Token {
		badChecksum = all.Token[:len(all.Token)-1] + "B"
	}
	tests := []struct {
		name     string
		query    string
		opts     []opt
		wantCode int
		wantErr  string
		wantKey  newKey
	}{
		{"valid key, no scope", "", []opt{bearer(dataRead.Token)}, 200, "", dataRead},
		{"* allows any scope", "?scope=data:write", []opt{bearer(all.Token)}, 200, "", all},
		{"scope held", "?scope=data:read", []opt{bearer(dataRead.Token)}, 200, "", dataRead},
		{"write includes read", "?scope=mcp:read", []opt{bearer(mcpWrite.Token)}, 200, "", mcpWrite},
		{"X-Blnk-Key", "?scope=mcp:write", []opt{header("X-Blnk-Key", mcpWrite.Token)}, 200, "", mcpWrite},
		{"Authorization wins over X-Blnk-Key", "", []opt{bearer(dataRead.Token), header("X-Blnk-Key", all.Token)}, 200, "", dataRead},
		{"a bad Authorization is not saved by X-Blnk-Key", "?scope=data:read", []opt{bearer(unknown), header("X-Blnk-Key", all.Token)}, 401, "invalid_key", newKey{}},
		{"a scope Authorization lacks is not saved by X-Blnk-Key", "?scope=mcp:read", []opt{bearer(dataRead.Token), header("X-Blnk-Key", all.Token)}, 403, "insufficient_scope", newKey{}},
		{"missing", "?scope=mcp:read", nil, 401, "missing_key", newKey{}},
		{"empty bearer", "", []opt{header("Authorization", "Bearer ")}, 401, "missing_key", newKey{}},
		{"another auth scheme", "", []opt{header("Authorization", "Basic "+all.Token)}, 401, "missing_key", newKey{}},
		{"malformed", "?scope=mcp:read", []opt{bearer("blnk_nothex!")}, 401, "invalid_key", newKey{}},
		{"bad checksum", "", []opt{bearer(badChecksum)}, 401, "invalid_key", newKey{}},
		{"10,000 characters", "", []opt{bearer(long)}, 401, "invalid_key", newKey{}},
		{"unknown", "?scope=mcp:read", []opt{bearer(unknown)}, 401, "invalid_key", newKey{}},
		{"expired", "?scope=mcp:read", []opt{bearer(expired.Token)}, 401, "expired_key", newKey{}},
		{"revoked", "?scope=mcp:read", []opt{bearer(revoked.Token)}, 401, "revoked_key", newKey{}},
		{"scope not held", "?scope=mcp:read", []opt{bearer(dataRead.Token)}, 403, "insufficient_scope", newKey{}},
		{"read does not include write", "?scope=data:write", []opt{bearer(dataRead.Token)}, 403, "insufficient_scope", newKey{}},
		{"unknown scope", "?scope=admin", []opt{bearer(all.Token)}, 400, "unknown_scope", newKey{}},
		{"scope * needs *", "?scope=*", []opt{bearer(mcpWrite.Token)}, 403, "insufficient_scope", newKey{}},
		{"scope * with *", "?scope=*", []opt{bearer(all.Token)}, 200, "", all},
		{"unknown scope without a key", "?scope=nope", nil, 400, "unknown_scope", newKey{}},
		{"key in ?key=", "?scope=mcp:read&key=" + all.Token, nil, 401, "missing_key", newKey{}},
		{"key in ?api_key=", "?api_key=" + all.Token, nil, 401, "missing_key", newKey{}},
		{"key in ?access_token=", "?access_token=" + all.Token, nil, 401, "missing_key", newKey{}},
	}
	messages := map[string]string{}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			// One address per case: failures do not add up to a rate limit.
			opts := append(tt.opts, fromAddr("10.1.0."+strconv.Itoa(i+1)+":1"))
			r := c.api("/api/v1/verify"+tt.query, "", opts...)
			if got := r.Header.Get("Cache-Control"); got != "no-store" {
				t.Errorf("Cache-Control: got %q, want no-store", got)
			}
			if tt.wantCode != http.StatusOK {
				e := checkAPIError(t, r, tt.wantCode, tt.wantErr)
				messages[tt.name] = e.Error.Message
				if got, want := r.Header.Get("WWW-Authenticate"), challenge(tt.wantErr, strings.TrimPrefix(tt.query, "?scope=")); got != want {
					t.Errorf("WWW-Authenticate: got %q, want %q", got, want)
				}
				for _, h := range []string{"X-Blnk-Key-Id", "X-Blnk-Workspace-Id", "X-Blnk-Scopes"} {
					if r.Header.Get(h) != "" {
						t.Errorf("%s set on a refusal", h)
					}
				}
				return
			}
			if r.Code != http.StatusOK {
				t.Fatalf("status: got %d, want 200\n%s", r.Code, r.Body)
			}
			if got := r.Header.Get("X-Blnk-Key-Id"); got != tt.wantKey.ID {
				t.Errorf("X-Blnk-Key-Id: got %q, want %q", got, tt.wantKey.ID)
			}
			if got := r.Header.Get("X-Blnk-Workspace-Id"); got != "1" {
				t.Errorf("X-Blnk-Workspace-Id: got %q, want 1", got)
			}
			if got := r.Header.Get("X-Blnk-Scopes"); got == "" {
				t.Errorf("X-Blnk-Scopes: empty")
			}
			var body struct {
				Valid bool   `json:"valid"`
				KeyID string `json:"key_id"`
			}
			if err := json.Unmarshal([]byte(r.Body), &body); err != nil || !body.Valid || body.KeyID != tt.wantKey.ID {
				t.Errorf("body: got %s (%v), want valid and the key id", r.Body, err)
			}
		})
	}
	t.Run("scopes header", func(t *testing.T) {
		r := c.api("/api/v1/verify?scope=mcp:read", mcpWrite.Token)
		if got := r.Header.Get("X-Blnk-Scopes"); got != "mcp:write" {
			t.Errorf("X-Blnk-Scopes: got %q, want mcp:write", got)
		}
	})
	t.Run("malformed and unknown look alike", func(t *testing.T) {
		for _, name := range []string{"bad checksum", "10,000 characters", "unknown"} {
			if messages[name] != messages["malformed"] {
				t.Errorf("message of %s: got %q, want the same as malformed, %q", name, messages[name], messages["malformed"])
			}
		}
	})
	t.Run("expiry takes effect at the expiry instant", func(t *testing.T) {
		ts2, c2 := newSignedIn(t, serverOpts{})
		k := c2.createKey(url.Values{"name": {"Edge"}, "scopes": {"*"}, "expires": {"date"}, "expires_on": {"2026-03-11"}, "form_token": {formToken()}})
		edge := time.Date(2026, 3, 12, 0, 0, 0, 0, time.UTC)
		ts2.clock.Advance(edge.Sub(ts2.clock.Now()) - time.Millisecond)
		if r := c2.api("/api/v1/verify", k.Token); r.Code != http.StatusOK {
			t.Errorf("1 ms before expiry: got %d, want 200", r.Code)
		}
		ts2.clock.Advance(time.Millisecond)
		checkAPIError(t, c2.api("/api/v1/verify", k.Token), http.StatusUnauthorized, "expired_key")
	})
	t.Run("keys in the URL never reach the logs", func(t *testing.T) {
		if strings.Contains(ts.logs.String(), all.Token[apikey.PrefixLen:apikey.PrefixLen+32]) {
			t.Errorf("the log contains a key")
		}
	})
}

// challenge is the WWW-Authenticate header RFC 6750 asks for with the
// error code of the API (none for codes that are not 401 or 403).
func challenge(code, scope string) string {
	switch code {
	case "missing_key":
		return `Bearer realm="blnk"`
	case "invalid_key", "expired_key", "revoked_key":
		return `Bearer realm="blnk", error="invalid_token"`
	case "insufficient_scope":
		return `Bearer realm="blnk", error="insufficient_scope", scope="` + scope + `"`
	}
	return ""
}

func TestVerifyRefusesAScopeItCannotRead(t *testing.T) {
	t.Parallel()
	_, c := newSignedIn(t, serverOpts{})
	all := c.create("All", "*")
	tests := []struct {
		name, query string
	}{
		{"bad escape", "scope=mcp:write%"},
		{"bad escape in the middle", "scope=mcp%zzwrite"},
		{"bad escape in another parameter's name", "sc%ope=mcp:read"},
		{"bad escape in another parameter", "scope=mcp:read&x=%"},
		{"semicolon after the scope", "scope=data:read;"},
		{"semicolon as a separator", "scope=data:read;scope=mcp:write"},
		{"semicolon before", "x=1;scope=data:read"},
		{"semicolon escaped", "scope=data:read%3B"},
		{"empty", "scope="},
		{"no value", "scope"},
		{"empty, escaped", "scope=%20"},
		{"repeated", "scope=mcp:read&scope=mcp:read"},
		{"repeated, one empty", "scope=mcp:read&scope="},
		{"repeated, escaped", "scope=mcp:read&sc%6Fpe=data:read"},
		{"unknown", "scope=admin"},
		{"unknown, plus", "scope=mcp:read+mcp:write"},
		{"two scopes in one", "scope=mcp:read,mcp:write"},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for _, token := range []string{all.Token, ""} {
				r := c.api("/api/v1/verify?"+tt.query, token, fromAddr("10.2.0."+strconv.Itoa(i+1)+":1"))
				checkAPIError(t, r, http.StatusBadRequest, "unknown_scope")
				if got := r.Header.Get("X-Blnk-Key-Id"); got != "" {
					t.Errorf("X-Blnk-Key-Id set on a refusal: %q", got)
				}
			}
		})
	}
	// What reads for certain still works.
	for _, q := range []string{"", "scope=mcp%3Aread", "x=1&scope=mcp:read", "scope=mcp:read&x=%20", "x=&scope=data:write&y"} {
		if r := c.api("/api/v1/verify?"+q, all.Token); r.Code != http.StatusOK {
			t.Errorf("verify?%s: got %d, want 200\n%s", q, r.Code, r.Body)
		}
	}
}

// bearer sends token in an Authorization: Bearer header.
func bearer(token string) opt { return header("Authorization", "Bearer "+token) }

func TestExampleRouteRequiresMCPRead(t *testing.T) {
	t.Parallel()
	_, c := newSignedIn(t, serverOpts{})
	tests := []struct {
		scopes   []string
		wantCode int
		wantErr  string
	}{
		{[]string{"mcp:read"}, 200, ""},
		{[]string{"mcp:write"}, 200, ""},
		{[]string{"*"}, 200, ""},
		{[]string{"data:read"}, 403, "insufficient_scope"},
		{[]string{"proxy:write", "data:write"}, 403, "insufficient_scope"},
		{nil, 401, "missing_key"},
	}
	for _, tt := range tests {
		name := strings.Join(tt.scopes, "+")
		if name == "" {
			name = "no key"
		}
		t.Run(name, func(t *testing.T) {
			token := ""
			var k newKey
			if tt.scopes != nil {
				k = c.create("Example "+name, tt.scopes...)
				token = k.Token
			}
			r := c.api("/api/v1/examples/mcp", token)
			if tt.wantCode != 200 {
				checkAPIError(t, r, tt.wantCode, tt.wantErr)
				if got, want := r.Header.Get("WWW-Authenticate"), challenge(tt.wantErr, "mcp:read"); got != want {
					t.Errorf("WWW-Authenticate: got %q, want %q", got, want)
				}
				return
			}
			if r.Code != http.StatusOK {
				t.Fatalf("status: got %d, want 200", r.Code)
			}
			var body struct {
				OK    bool   `json:"ok"`
				KeyID string `json:"key_id"`
			}
			if err := json.Unmarshal([]byte(r.Body), &body); err != nil || !body.OK || body.KeyID != k.ID {
				t.Errorf("body: got %s, want ok and the key id", r.Body)
			}
		})
	}
}

func TestAPIRateLimit(t *testing.T) {
	t.Parallel()
	ts, c := newSignedIn(t, serverOpts{keyauth: keyauth.Config{Failures: throttle.Config{Burst: 5, Every: time.Minute}}})
	good := c.create("Good key", "mcp:read")
	fresh := c.create("Fresh key", "mcp:read")
	unknown, _ := apikey.Generate()
	ip := fromAddr("203.0.113.9:5000")

	// A client at this address already works with the good key.
	if r := c.api("/api/v1/whoami", good.Token, ip); r.Code != http.StatusOK {
		t.Fatalf("valid key: got %d, want 200", r.Code)
	}
	for i := 1; i <= 4; i++ {
		checkAPIError(t, c.api("/api/v1/whoami", unknown, ip), http.StatusUnauthorized, "invalid_key")
	}
	// The fifth failure is still told why: a missing key counts too.
	checkAPIError(t, c.api("/api/v1/verify", "", ip), http.StatusUnauthorized, "missing_key")
	// Verify answers gateways, which turn a 429 into an error of their
	// own (nginx: 500): 401, with Retry-After and the code.
	r := c.api("/api/v1/verify?scope=mcp:read", unknown, ip)
	checkAPIError(t, r, http.StatusUnauthorized, "rate_limited")
	ra, err := strconv.Atoi(r.Header.Get("Retry-After"))
	if err != nil || ra <= 0 {
		t.Errorf("Retry-After: got %q, want a positive number of seconds", r.Header.Get("Retry-After"))
	}
	if got, want := r.Header.Get("WWW-Authenticate"), `Bearer realm="blnk", error="invalid_token"`; got != want {
		t.Errorf("verify, rate limited: WWW-Authenticate got %q, want %q", got, want)
	}
	r = c.api("/api/v1/verify", "", ip)
	checkAPIError(t, r, http.StatusUnauthorized, "rate_limited")
	if got, want := r.Header.Get("WWW-Authenticate"), `Bearer realm="blnk"`; got != want {
		t.Errorf("verify without a key, rate limited: WWW-Authenticate got %q, want %q", got, want)
	}
	if r.Header.Get("Retry-After") == "" {
		t.Errorf("verify without a key, rate limited: no Retry-After")
	}
	// Other routes answer programs, not gateways: 429.
	for _, path := range []string{"/api/v1/whoami", "/api/v1/examples/mcp"} {
		r := c.api(path, "blnk_garbage", ip)
		checkAPIError(t, r, http.StatusTooManyRequests, "rate_limited")
		if r.Header.Get("Retry-After") == "" {
			t.Errorf("%s: 429 without Retry-After", path)
		}
	}

	// The client already working from that address is not slowed down.
	if r := c.api("/api/v1/whoami", good.Token, ip); r.Code != http.StatusOK {
		t.Errorf("a valid key already used from the limited address: got %d, want 200", r.Code)
	}
	if r := c.api("/api/v1/verify?scope=mcp:read", good.Token, ip); r.Code != http.StatusOK {
		t.Errorf("verify with a valid key already used from the limited address: got %d, want 200", r.Code)
	}
	// A key new to the blocked address works too: behind a gateway,
	// every client has the gateway's address.
	if r := c.api("/api/v1/verify?scope=mcp:read", fresh.Token, ip); r.Code != http.StatusOK {
		t.Errorf("a valid key new to the limited address: got %d, want 200", r.Code)
	}
	// Other addresses are not affected.
	checkAPIError(t, c.api("/api/v1/whoami", unknown, fromAddr("203.0.113.10:5000")), http.StatusUnauthorized, "invalid_key")

	// Time heals.
	ts.clock.Advance(time.Duration(ra)*time.Second + time.Minute)
	checkAPIError(t, c.api("/api/v1/whoami", unknown, ip), http.StatusUnauthorized, "invalid_key")
}

func TestAPIRateLimitPerClientBehindAProxy(t *testing.T) {
	t.Parallel()
	_, c := newSignedIn(t, serverOpts{proxies: prefixes("10.0.0.2"), keyauth: keyauth.Config{Failures: throttle.Config{Burst: 3, Every: time.Minute}}})
	proxy := fromAddr("10.0.0.2:4000")
	for i := 0; i < 5; i++ {
		c.api("/api/v1/whoami", "blnk_bad", proxy, header("X-Forwarded-For", "203.0.113.50"))
	}
	checkAPIError(t, c.api("/api/v1/whoami", "blnk_bad", proxy, header("X-Forwarded-For", "203.0.113.50")), http.StatusTooManyRequests, "rate_limited")
	checkAPIError(t, c.api("/api/v1/whoami", "blnk_bad", proxy, header("X-Forwarded-For", "203.0.113.51")), http.StatusUnauthorized, "invalid_key")
}

func TestLastUsed(t *testing.T) {
	t.Parallel()
	ts, c := newSignedIn(t, serverOpts{})
	k := c.create("Used key", "mcp:read")
	other := c.create("Unused key", "mcp:read")
	lastUsed := func() (time.Time, string) {
		t.Helper()
		var at sql.NullInt64
		var ip sql.NullString
		err := ts.raw.QueryRow(`SELECT at, ip FROM api_key_usage WHERE key_id = $1`, k.ID).Scan(&at, &ip)
		if err != nil && !errors.Is(err, sql.ErrNoRows) {
			t.Fatal(err)
		}
		if !at.Valid {
			return time.Time{}, ip.String
		}
		return time.UnixMilli(at.Int64).UTC(), ip.String
	}
	listCell := func() string {
		t.Helper()
		return cellText(t, c.get("/settings/api-keys").Body, k.ID, "Last used")
	}
	if got := listCell(); got != "Never" {
		t.Errorf("before any call: got %q, want Never", got)
	}

	ts.clock.Advance(3 * time.Hour)
	c.signIn(adminEmail, adminPassword)
	used := ts.clock.Now()
	if r := c.api("/api/v1/examples/mcp", k.Token, fromAddr("198.51.100.30:1")); r.Code != http.StatusOK {
		t.Fatalf("API call: got %d, want 200", r.Code)
	}
	if got := listCell(); got != "just now" {
		t.Errorf("list right after the call: got %q, want just now", got)
	}
	if got := cellText(t, c.get("/settings/api-keys").Body, other.ID, "Last used"); got != "Never" {
		t.Errorf("another key: got %q, want Never", got)
	}
	if at, _ := lastUsed(); !at.IsZero() {
		t.Errorf("database before a flush: got %v, want nothing yet (no write per request)", at)
	}
	if err := ts.auth.Flush(context.Background()); err != nil {
		t.Fatalf("Flush: %v", err)
	}
	at, ip := lastUsed()
	if !at.Equal(used) {
		t.Errorf("database after a flush: got %v, want %v", at, used)
	}
	if ip != "198.51.100.30" {
		t.Errorf("database last IP: got %q, want 198.51.100.30", ip)
	}

	ts.clock.Advance(5 * time.Minute)
	if got := listCell(); got != "5 minutes ago" {
		t.Errorf("five minutes later: got %q, want 5 minutes ago", got)
	}
	// A failed call is no use.
	c.post("/settings/api-keys/"+k.ID+"/revoke", nil)
	c.api("/api/v1/whoami", k.Token)
	if got := listCell(); got != "5 minutes ago" {
		t.Errorf("after a refused call: got %q, want 5 minutes ago", got)
	}
}
