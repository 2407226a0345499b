package webhook

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/blnk-cloud/apikeys/internal/apikey"
)

// The test vector of the Standard Webhooks reference libraries
// (standard-webhooks/standard-webhooks, libraries/go/webhook_test.go,
// TestWebhookSign).
const (
	vectorSecret    = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
	vectorMsgID     = "msg_p5jXN8AQM9LWM0D4loKWxJek"
	vectorTimestamp = 1614265330
	vectorPayload   = `{"test": 2432232314}`
	vectorSignature = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="
)

func TestSignMatchesStandardWebhooksVector(t *testing.T) {
	got, err := Sign(vectorSecret, vectorMsgID, time.Unix(vectorTimestamp, 0), []byte(vectorPayload))
	if err != nil {
		t.Fatal(err)
	}
	if got != vectorSignature {
		t.Errorf("Sign = %q, want %q", got, vectorSignature)
	}
}

// verify is an independent implementation of a receiver's check, written
// from the Standard Webhooks specification.
func verify(secret, id, timestamp, signature string, body []byte) bool {
	key, err := base64.StdEncoding.DecodeString(strings.TrimPrefix(secret, "whsec_"))
	if err != nil {
		return false
	}
	mac := hmac.New(sha256.New, key)
	mac.Write([]byte(id + "." + timestamp + "." + string(body)))
	want := mac.Sum(nil)
	for _, sig := range strings.Fields(signature) {
		v, b64, ok := strings.Cut(sig, ",")
		if !ok || v != "v1" {
			continue
		}
		got, err := base64.StdEncoding.DecodeString(b64)
		if err == nil && hmac.Equal(got, want) {
			return true
		}
	}
	return false
}

func TestSignVerifiesIndependently(t *testing.T) {
	if !verify(vectorSecret, vectorMsgID, "1614265330", vectorSignature, []byte(vectorPayload)) {
		t.Fatal("the independent check refuses the published vector: it is wrong itself")
	}
	secret := NewSecret()
	if !strings.HasPrefix(secret, "whsec_") {
		t.Fatalf("NewSecret() = %q, want whsec_...", secret)
	}
	if key, err := base64.StdEncoding.DecodeString(secret[6:]); err != nil || len(key) != 24 {
		t.Fatalf("NewSecret() = %q: %d bytes of key, err %v; want 24", secret, len(key), err)
	}
	if NewSecret() == secret {
		t.Fatal("NewSecret returned the same secret twice")
	}
	at := time.Unix(1700000000, 0)
	body := KeyEvent(KeyCreated, at, apikey.Key{ID: "key_x", Name: "n", Prefix: "blnk_00000000", Scopes: 1, CreatedAt: at}, "a@b.c", nil)
	sig, err := Sign(secret, "msg_1", at, body)
	if err != nil {
		t.Fatal(err)
	}
	if !verify(secret, "msg_1", "1700000000", sig, body) {
		t.Error("a signature of ours does not verify")
	}
	for name, tamper := range map[string]func() bool{
		"other body":      func() bool { return verify(secret, "msg_1", "1700000000", sig, append(body, ' ')) },
		"other id":        func() bool { return verify(secret, "msg_2", "1700000000", sig, body) },
		"other timestamp": func() bool { return verify(secret, "msg_1", "1700000001", sig, body) },
		"other secret":    func() bool { return verify(NewSecret(), "msg_1", "1700000000", sig, body) },
	} {
		if tamper() {
			t.Errorf("%s: the signature still verifies", name)
		}
	}
	if _, err := Sign("whsec_not base64!", "msg_1", at, body); err == nil {
		t.Error("Sign accepted a malformed secret")
	}
}

func TestKeyEventPayload(t *testing.T) {
	at := time.Date(2026, 3, 10, 12, 0, 0, 0, time.UTC)
	scopes, _ := apikey.ParseScopes([]string{"mcp:read", "data:write"})
	k := apikey.Key{ID: "key_abc", WorkspaceID: 7, Name: "Prod", Prefix: "blnk_0123abcd", Scopes: scopes,
		CreatedAt: at, ExpiresAt: at.Add(48 * time.Hour), RevokedAt: at.Add(time.Hour)}
	body := KeyEvent(KeyLeaked, at, k, "leak report", map[string]any{"exposure": map[string]any{"url": "https://x", "source": "s"}})
	var got struct {
		Type      string `json:"type"`
		Timestamp string `json:"timestamp"`
		Data      struct {
			Actor string         `json:"actor"`
			Key   map[string]any `json:"key"`
			Exp   map[string]any `json:"exposure"`
		} `json:"data"`
	}
	if err := json.Unmarshal(body, &got); err != nil {
		t.Fatalf("payload is not JSON: %v\n%s", err, body)
	}
	if got.Type != "key.leaked" || got.Timestamp != "2026-03-10T12:00:00Z" || got.Data.Actor != "leak report" {
		t.Errorf("payload head = %+v", got)
	}
	for field, want := range map[string]any{"id": "key_abc", "prefix": "blnk_0123abcd", "name": "Prod", "workspace_id": float64(7),
		"expires_at": "2026-03-12T12:00:00Z", "revoked_at": "2026-03-10T13:00:00Z"} {
		if got.Data.Key[field] != want {
			t.Errorf("data.key.%s = %v, want %v", field, got.Data.Key[field], want)
		}
	}
	if got.Data.Exp["url"] != "https://x" {
		t.Errorf("data.exposure = %v", got.Data.Exp)
	}
	for _, secretish := range []string{"hash", "token", "secret"} {
		if strings.Contains(string(body), secretish) {
			t.Errorf("payload mentions %q: %s", secretish, body)
		}
	}
}

func TestBackoff(t *testing.T) {
	const base = 10 * time.Second
	for n, want := range map[int]time.Duration{1: 10 * time.Second, 2: 20 * time.Second, 3: 40 * time.Second, 6: 320 * time.Second, 20: 6 * time.Hour, 100: 6 * time.Hour} {
		for range 50 {
			got := Backoff(n, base)
			if got < want*8/10 || got > want*12/10 {
				t.Fatalf("Backoff(%d) = %v, want %v ± 20%%", n, got, want)
			}
		}
	}
	// The jitter spreads retries.
	seen := map[time.Duration]bool{}
	for range 20 {
		seen[Backoff(3, base)] = true
	}
	if len(seen) < 10 {
		t.Errorf("20 backoffs gave %d distinct values: no jitter", len(seen))
	}
	// Attempts in 24 hours with the default base.
	var total time.Duration
	n := 0
	for total < Lifetime {
		n++
		total += min(base<<(n-1), 6*time.Hour)
	}
	if n < 10 || n > 16 {
		t.Errorf("about %d attempts in 24 hours; want 10 to 16", n)
	}
}

func TestCheckURL(t *testing.T) {
	tests := []struct {
		in, want, problem string
	}{
		{"https://example.com/hooks/blnk", "https://example.com/hooks/blnk", ""},
		{"  http://127.0.0.1:9000/x?y=1  ", "http://127.0.0.1:9000/x?y=1", ""},
		{"https://[2001:db8::1]:8443/h", "https://[2001:db8::1]:8443/h", ""},
		{"", "", "Enter the URL"},
		{"example.com/hooks", "", "http:// or https://"},
		{"ftp://example.com/x", "", "http:// or https://"},
		{"javascript:alert(1)", "", "http:// or https://"},
		{"file:///etc/passwd", "", "http:// or https://"},
		{"https://", "", "with a host"},
		{"http:example.com", "", "with a host"},
		{"https://user:pass@example.com/x", "", "credentials"},
		{"https://example.com/x#frag", "", "fragment"},
		{"https://example.com/a b", "", "without spaces"},
		{"https://example.com:99999/", "", "between 1 and 65535"},
		{"https://example.com:0/", "", "between 1 and 65535"},
		{"https://" + strings.Repeat("a", 2001), "", "at most 2000"},
		{"https://exa\xffmple.com/", "", "without spaces"},
	}
	for _, tt := range tests {
		got, err := CheckURL(tt.in)
		if tt.problem != "" {
			if err == nil || !strings.Contains(err.Error(), tt.problem) {
				t.Errorf("CheckURL(%q) = %q, %v; want a problem with %q", tt.in, got, err, tt.problem)
			}
			continue
		}
		if err != nil || got != tt.want {
			t.Errorf("CheckURL(%q) = %q, %v; want %q", tt.in, got, err, tt.want)
		}
	}
}

func TestGuard(t *testing.T) {
	ctx := context.Background()
	g, err := NewGuard("127.0.0.1:8080")
	if err != nil {
		t.Fatal(err)
	}
	any, err := NewGuard("[::]:8080")
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		g    *Guard
		addr string
		own  bool
	}{
		{g, "127.0.0.1:8080", true},
		{g, "127.0.0.2:8080", true}, // loopback to our port
		{g, "[::1]:8080", true},
		{g, "[::ffff:127.0.0.1]:8080", true},
		{g, "0.0.0.0:8080", true},
		{g, "127.0.0.1:8081", false},
		{g, "192.0.2.1:8080", false},
		{any, "[::1]:8080", true},
		{any, "127.0.0.1:9090", false},
		{nil, "127.0.0.1:8080", false},
	}
	for _, tt := range tests {
		err := tt.g.Allowed(netip.MustParseAddrPort(tt.addr))
		if got := errors.Is(err, ErrOwnAddress); got != tt.own {
			t.Errorf("guard %v: Allowed(%s) = %v, want own %v", tt.g, tt.addr, err, tt.own)
		}
		if err := tt.g.Control("tcp", tt.addr, nil); errors.Is(err, ErrOwnAddress) != tt.own {
			t.Errorf("Control(%s) = %v, want own %v", tt.addr, err, tt.own)
		}
	}
	// Names are resolved when an endpoint is added.
	for url, own := range map[string]bool{
		"http://127.0.0.1:8080/hook":  true,
		"http://localhost:8080/hook":  true,
		"http://127.0.0.1:8081/hook":  false,
		"http://localhost/hook":       false, // port 80
		"https://localhost:8080/hook": true,
	} {
		if err := g.CheckURL(ctx, url); errors.Is(err, ErrOwnAddress) != own {
			t.Errorf("CheckURL(%s) = %v, want own %v", url, err, own)
		}
	}
	// Listening on port 80 or 443: the URL's default port counts.
	g80, _ := NewGuard("127.0.0.1:80")
	if err := g80.CheckURL(ctx, "http://127.0.0.1/hook"); !errors.Is(err, ErrOwnAddress) {
		t.Errorf("http://127.0.0.1/ to a server on port 80: %v, want refused", err)
	}
}

func TestIDs(t *testing.T) {
	id := NewID()
	if !ValidID(id) {
		t.Errorf("ValidID(%q) = false", id)
	}
	for _, bad := range []string{"", "wh_", "wh_0123456789abcdefghjk0", "wh_0123456789ABCDEFGHJK", "key_0123456789abcdefghjk", "wh_0123456789abcdefgh/k"} {
		if ValidID(bad) {
			t.Errorf("ValidID(%q) = true", bad)
		}
	}
	if m := NewMessageID(); !strings.HasPrefix(m, "msg_") || len(m) != 24 {
		t.Errorf("NewMessageID() = %q", m)
	}
}
