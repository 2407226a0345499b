package main

import (
	"context"
	"io"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/blnk-cloud/apikeys/internal/apikey"
)

func TestBoundedGCPercent(t *testing.T) {
	const mb = 1 << 20
	tests := []struct {
		name string
		live uint64
		want int
	}{
		{"unknown", 0, 100},
		{"small heap keeps the default", 40 * mb, 100},
		{"headroom and default agree", 64 * mb, 100},
		{"a million keys", 350 * mb, 18},
		{"never below 10%", 4096 * mb, 10},
	}
	for _, tt := range tests {
		if got := boundedGCPercent(tt.live); got != tt.want {
			t.Errorf("%s: boundedGCPercent(%d MiB) = %d, want %d", tt.name, tt.live/mb, got, tt.want)
		}
	}
}

func TestParseTrustedProxies(t *testing.T) {
	tests := []struct {
		text    string
		want    string // the prefixes, joined by commas
		wantErr string // in the error
	}{
		{"", "", ""},
		{"127.0.0.1", "127.0.0.1/32", ""},
		{" 10.0.0.5, 10.1.0.0/16 ,::1,fd00::/8", "10.0.0.5/32,10.1.0.0/16,::1/128,fd00::/8", ""},
		{"10.0.0.300", "", "10.0.0.300 is not an IP address or CIDR"},
		{"127.0.0.1,proxy.internal", "", "proxy.internal is not an IP address or CIDR"},
		{"10.0.0.0/33", "", "10.0.0.0/33 is not an IP address or CIDR"},
		{"0.0.0.0/0", "", "0.0.0.0/0 is every address"},
		{"::/0", "", "::/0 is every address"},
	}
	for _, tt := range tests {
		got, err := parseTrustedProxies(tt.text)
		if tt.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) || !strings.HasPrefix(err.Error(), "--trusted-proxies: ") {
				t.Errorf("parseTrustedProxies(%q): error %v, want one naming the flag and saying %q", tt.text, err, tt.wantErr)
			}
			continue
		}
		if err != nil {
			t.Errorf("parseTrustedProxies(%q): %v", tt.text, err)
			continue
		}
		if s := apikey.FormatAllowlist(got); s != tt.want {
			t.Errorf("parseTrustedProxies(%q) = %s, want %s", tt.text, s, tt.want)
		}
	}
}

// TestServeRefusesTheRemovedTrustProxy: --trust-proxy (and its variable)
// stops the start with an error naming --trusted-proxies, before anything
// is opened; so does a bad --trusted-proxies entry.
func TestServeRefusesTheRemovedTrustProxy(t *testing.T) {
	dbPath := filepath.Join(t.TempDir(), "never.db")
	tests := []struct {
		name    string
		env     string
		args    []string
		wantErr string
	}{
		{"flag", "", []string{"--trust-proxy"}, "--trust-proxy (BLNK_TRUST_PROXY) was removed"},
		{"flag set to true", "", []string{"--trust-proxy=true"}, "--trusted-proxies 127.0.0.1"},
		{"environment", "true", nil, "--trust-proxy (BLNK_TRUST_PROXY) was removed"},
		{"bad entry", "", []string{"--trusted-proxies", "127.0.0.1,10.0.0.300"}, "--trusted-proxies: 10.0.0.300 is not an IP address"},
		{"public URL an IP address", "", []string{"--public-url", "https://10.0.0.2"}, "--public-url (BLNK_PUBLIC_URL): the public URL \"https://10.0.0.2\" names an IP address; passkeys need a domain name"},
		{"public URL over http", "", []string{"--public-url", "http://dash.example.com"}, "is not https; browsers offer passkeys only over https (or on http://localhost)"},
		{"public URL with a path", "", []string{"--public-url", "https://example.com/dash"}, "use the dashboard's origin, like https://keys.example.com (no path)"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Setenv("BLNK_TRUST_PROXY", tt.env)
			var out strings.Builder
			err := serve(context.Background(), append([]string{"--db", dbPath, "--listen", "127.0.0.1:0"}, tt.args...), &out)
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("serve %v: error %v, want one saying %q", tt.args, err, tt.wantErr)
			}
			if _, err := os.Stat(dbPath); !os.IsNotExist(err) {
				t.Errorf("the database was opened before the configuration was checked: %v", err)
			}
		})
	}
}

// TestServeLeaseFlags: a revoke must be able to wait for a lease to run
// out, and a lease must outlast a late poll; serve refuses other settings
// before it opens anything.
func TestLocalPasskeys(t *testing.T) {
	tests := []struct {
		addr string
		want string
	}{
		{"127.0.0.1:8080", "http://localhost:8080"},
		{"[::1]:9000", "http://localhost:9000"},
		{"0.0.0.0:8080", ""},
		{"10.0.0.2:8080", ""},
	}
	for _, tt := range tests {
		got := localPasskeys(net.TCPAddrFromAddrPort(netip.MustParseAddrPort(tt.addr)))
		if tt.want == "" && got.RPID != "" || tt.want != "" && (got.RPID != "localhost" || len(got.Origins) != 1 || got.Origins[0] != tt.want) {
			t.Errorf("localPasskeys(%s) = %+v, want %q", tt.addr, got, tt.want)
		}
	}
}

func TestServeLeaseFlags(t *testing.T) {
	for _, tt := range []struct {
		args []string
		want string
	}{
		{[]string{"--max-staleness", "3s", "--revoke-wait", "3s"}, "--revoke-wait (3s) must be longer than --max-staleness (3s)"},
		{[]string{"--max-staleness", "10s"}, "--revoke-wait (4s) must be longer than --max-staleness (10s)"},
		{[]string{"--max-staleness", "1s", "--key-poll", "1s", "--revoke-wait", "2s"}, "--max-staleness (1s) must be at least twice --key-poll (1s)"},
	} {
		err := serve(t.Context(), append(tt.args, "--db", filepath.Join(t.TempDir(), "never.db")), io.Discard)
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("serve %v = %v, want an error saying %q", tt.args, err, tt.want)
		}
	}
}
