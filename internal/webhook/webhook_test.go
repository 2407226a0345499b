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
	g, err := NewGuard("127.0.0.1:8080", true)
	if err != nil {
		t.Fatal(err)
	}
	any, err := NewGuard("[::]:8080", true)
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
	g80, _ := NewGuard("127.0.0.1:80", true)
	if err := g80.CheckURL(ctx, "http://127.0.0.1/hook"); !errors.Is(err, ErrOwnAddress) {
		t.Errorf("http://127.0.0.1/ to a server on port 80: %v, want refused", err)
	}
}

func TestPublicAddr(t *testing.T) {
	tests := []struct {
		addr   string
		public bool
	}{
		{"93.184.215.14", true},
		{"8.8.8.8", true},
		{"2606:4700::1111", true},
		{"127.0.0.1", false},
		{"127.255.255.254", false},
		{"10.1.2.3", false},
		{"172.16.0.1", false},
		{"172.31.255.255", false},
		{"172.32.0.1", true},
		{"192.168.1.50", false},
		{"169.254.169.254", false}, // cloud metadata
		{"100.64.0.1", false},      // CGNAT
		{"100.127.255.255", false},
		{"100.128.0.1", true},
		{"0.0.0.0", false},
		{"0.1.2.3", false},
		{"224.0.0.1", false},
		{"239.255.255.250", false},
		{"255.255.255.255", false},
		{"240.0.0.1", false},
		{"192.0.2.1", false}, // documentation
		{"198.51.100.7", false},
		{"203.0.113.7", false},
		{"198.18.0.1", false}, // benchmarking
		{"192.0.0.170", false},
		{"::", false},
		{"::1", false},
		{"::ffff:127.0.0.1", false},
		{"::ffff:10.0.0.1", false},
		{"::ffff:169.254.169.254", false},
		{"::ffff:8.8.8.8", true},
		{"::127.0.0.1", false},       // IPv4-compatible (deprecated)
		{"::ffff:0:7f00:1", false},   // IPv4-translated
		{"64:ff9b::7f00:1", false},   // NAT64 of 127.0.0.1
		{"64:ff9b::808:808", true},   // NAT64 of 8.8.8.8
		{"2002:7f00:1::1", false},    // 6to4 of 127.0.0.1
		{"2002:a9fe:a9fe::1", false}, // 6to4 of 169.254.169.254
		{"fc00::1", false},
		{"fd12:3456::1", false},
		{"fe80::1", false},
		{"fe80::1%eth0", false},
		{"fec0::1", false},
		{"ff02::1", false},
		{"2001:db8::1", false},
		{"2001::1", false}, // Teredo
		{"100::1", false},  // discard-only
	}
	for _, tt := range tests {
		a := netip.MustParseAddr(tt.addr)
		if got := PublicAddr(a); got != tt.public {
			t.Errorf("PublicAddr(%s) = %v, want %v", tt.addr, got, tt.public)
		}
	}
}

func TestLiteralAddr(t *testing.T) {
	for host, want := range map[string]string{
		"127.0.0.1":        "127.0.0.1",
		"127.1":            "127.0.0.1",
		"127.0.1":          "127.0.0.1",
		"2130706433":       "127.0.0.1",
		"0x7f000001":       "127.0.0.1",
		"0x7f.1":           "127.0.0.1",
		"0177.0.0.1":       "127.0.0.1",
		"017700000001":     "127.0.0.1",
		"0":                "0.0.0.0",
		"10.0x10.0.1":      "10.16.0.1",
		"169.254.43518":    "169.254.169.254",
		"::1":              "::1",
		"fe80::1%eth0":     "fe80::1%eth0",
		"example.com":      "",
		"1.2.3.4.5":        "",
		"256.1.1.1":        "",
		"1.2.3.256":        "",
		"1.16777216":       "",
		"08.1.1.1":         "",
		"1..1":             "",
		"0x1g":             "",
		"a1":               "",
		"127.0.0.1.nip.io": "",
	} {
		a, ok := literalAddr(host)
		got := ""
		if ok {
			got = a.String()
		}
		if got != want {
			t.Errorf("literalAddr(%q) = %q, want %q", host, got, want)
		}
	}
}

func TestGuardAtSaveTime(t *testing.T) {
	ctx := context.Background()
	strict, err := NewGuard("127.0.0.1:8080", false)
	if err != nil {
		t.Fatal(err)
	}
	open, err := NewGuard("127.0.0.1:8080", true)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		url                  string
		strictErr, allowsErr error
	}{
		{"https://hooks.example/h", nil, nil},
		{"https://93.184.215.14/h", nil, nil},
		{"http://127.0.0.1:9000/h", ErrPrivateAddress, nil},
		{"http://127.0.0.1:8080/h", ErrOwnAddress, ErrOwnAddress},
		{"http://localhost:9000/h", ErrPrivateAddress, nil},
		{"http://LOCALHOST./h", ErrPrivateAddress, nil},
		{"http://api.localhost/h", ErrPrivateAddress, nil},
		{"http://localhost:8080/h", ErrOwnAddress, ErrOwnAddress},
		{"http://[::1]/h", ErrPrivateAddress, nil},
		{"http://[::ffff:127.0.0.1]/", ErrPrivateAddress, nil},
		{"http://[::ffff:7f00:1]:8080/", ErrOwnAddress, ErrOwnAddress},
		{"http://169.254.169.254/latest", ErrPrivateAddress, nil},
		{"http://0x7f000001/", ErrPrivateAddress, nil},
		{"http://2130706433/", ErrPrivateAddress, nil},
		{"http://127.1/", ErrPrivateAddress, nil},
		{"http://127.1:8080/", ErrOwnAddress, ErrOwnAddress},
		{"http://10.0.0.5/", ErrPrivateAddress, nil},
		{"http://192.168.1.1/", ErrPrivateAddress, nil},
		{"http://[fd00::1]/", ErrPrivateAddress, nil},
		{"http://[fe80::1%25eth0]/", ErrPrivateAddress, nil},
		{"http://0.0.0.0/", ErrPrivateAddress, nil},
		{"http://100.64.1.1/", ErrPrivateAddress, nil},
		{"http://224.0.0.1/", ErrPrivateAddress, nil},
	}
	for _, tt := range tests {
		if err := strict.CheckURL(ctx, tt.url); !errors.Is(err, tt.strictErr) || (err == nil) != (tt.strictErr == nil) {
			t.Errorf("strict CheckURL(%s) = %v, want %v", tt.url, err, tt.strictErr)
		}
		if err := open.CheckURL(ctx, tt.url); !errors.Is(err, tt.allowsErr) || (err == nil) != (tt.allowsErr == nil) {
			t.Errorf("allow-private CheckURL(%s) = %v, want %v", tt.url, err, tt.allowsErr)
		}
		// A nil guard is the default policy, knowing no own address.
		want := tt.strictErr
		if want == ErrOwnAddress {
			want = ErrPrivateAddress
		}
		if err := (*Guard)(nil).CheckURL(ctx, tt.url); !errors.Is(err, want) || (err == nil) != (want == nil) {
			t.Errorf("nil CheckURL(%s) = %v, want %v", tt.url, err, want)
		}
	}
}

func TestGuardAtDialTime(t *testing.T) {
	var none *Guard
	strict, _ := NewGuard("127.0.0.1:8080", false)
	open, _ := NewGuard("127.0.0.1:8080", true)
	for _, tt := range []struct {
		g    *Guard
		addr string
		want error
	}{
		{none, "127.0.0.1:9000", ErrPrivateAddress},
		{none, "[::1]:443", ErrPrivateAddress},
		{none, "[::ffff:169.254.169.254]:80", ErrPrivateAddress},
		{none, "93.184.215.14:443", nil},
		{strict, "10.0.0.1:5432", ErrPrivateAddress},
		{strict, "127.0.0.1:8080", ErrOwnAddress},
		{open, "10.0.0.1:5432", nil},
		{open, "127.0.0.1:9000", nil},
		{open, "127.0.0.1:8080", ErrOwnAddress},
		{&Guard{IsPublic: func(ap netip.AddrPort) bool { return ap.Port() == 9000 }}, "127.0.0.1:9000", nil},
		{&Guard{IsPublic: func(ap netip.AddrPort) bool { return ap.Port() == 9000 }}, "127.0.0.1:9001", ErrPrivateAddress},
	} {
		err := tt.g.Control("tcp", tt.addr, nil)
		if !errors.Is(err, tt.want) || (err == nil) != (tt.want == nil) {
			t.Errorf("Control(%s) = %v, want %v", tt.addr, err, tt.want)
		}
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
