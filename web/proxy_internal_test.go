package web

import (
	"net/http"
	"net/netip"
	"testing"
)

func TestIPExtractor(t *testing.T) {
	t.Parallel()
	trusted := []netip.Prefix{
		netip.MustParsePrefix("10.0.0.2/32"),
		netip.MustParsePrefix("192.0.2.0/28"),
		netip.MustParsePrefix("2001:db8:f::/48"),
	}
	tests := []struct {
		name    string
		trusted []netip.Prefix
		remote  string
		xff     []string // one X-Forwarded-For field each
		want    string
	}{
		{"no proxies: the connection", nil, "198.51.100.7:1234", nil, "198.51.100.7"},
		{"no proxies: the header is ignored", nil, "198.51.100.7:1234", []string{"203.0.113.7"}, "198.51.100.7"},
		{"no proxies: a private peer's header is ignored", nil, "10.0.0.2:1234", []string{"203.0.113.7"}, "10.0.0.2"},
		{"from a proxy: the client it names", trusted, "10.0.0.2:4000", []string{"203.0.113.7"}, "203.0.113.7"},
		{"from a proxy, no header: the proxy", trusted, "10.0.0.2:4000", nil, "10.0.0.2"},
		{"from a proxy, empty header: the proxy", trusted, "10.0.0.2:4000", []string{""}, "10.0.0.2"},
		{"from a proxy: the right-most entry", trusted, "10.0.0.2:4000", []string{"198.51.100.1, 203.0.113.7"}, "203.0.113.7"},
		{"two proxies of ours: past both", trusted, "10.0.0.2:4000", []string{"203.0.113.7, 192.0.2.5"}, "203.0.113.7"},
		{"issue: a private client writes an allowed private address", trusted, "10.0.0.2:4000", []string{"10.9.9.9, 192.168.1.50"}, "192.168.1.50"},
		{"issue: a private client writes an allowed public address", trusted, "10.0.0.2:4000", []string{"203.0.113.7, 10.1.1.1"}, "10.1.1.1"},
		{"a client writes the proxy's own address", trusted, "10.0.0.2:4000", []string{"203.0.113.7, 10.0.0.2, 10.1.1.1"}, "10.1.1.1"},
		{"loopback is no proxy unless listed", trusted, "127.0.0.1:4000", []string{"203.0.113.7"}, "127.0.0.1"},
		{"a private peer that is no proxy: header ignored", trusted, "192.168.1.50:4000", []string{"10.9.9.9"}, "192.168.1.50"},
		{"a public peer that is no proxy: header ignored", trusted, "198.51.100.9:4000", []string{"203.0.113.7"}, "198.51.100.9"},
		{"every entry trusted: the left-most", trusted, "10.0.0.2:4000", []string{"192.0.2.3, 192.0.2.4"}, "192.0.2.3"},
		{"several fields read as one list, in order", trusted, "10.0.0.2:4000", []string{"203.0.113.7", "10.1.1.1"}, "10.1.1.1"},
		{"several fields: the proxy's is the last", trusted, "10.0.0.2:4000", []string{"10.1.1.1", "203.0.113.7"}, "203.0.113.7"},
		{"garbage right of the client: the proxy", trusted, "10.0.0.2:4000", []string{"203.0.113.7, unknown"}, "10.0.0.2"},
		{"garbage left of the client: ignored", trusted, "10.0.0.2:4000", []string{"not-an-ip, 203.0.113.7"}, "203.0.113.7"},
		{"an address with a port is no address: the proxy", trusted, "10.0.0.2:4000", []string{"203.0.113.7:5555"}, "10.0.0.2"},
		{"a CIDR is no address: the proxy", trusted, "10.0.0.2:4000", []string{"203.0.113.0/24"}, "10.0.0.2"},
		{"IPv6 client behind an IPv6 proxy", trusted, "[2001:db8:f::1]:4000", []string{"2001:db8:1::7"}, "2001:db8:1::7"},
		{"IPv6: a forged chain", trusted, "[2001:db8:f::1]:4000", []string{"2001:db8:1::7, 2001:db8:2::9"}, "2001:db8:2::9"},
		{"IPv6: bracketed", trusted, "[2001:db8:f::1]:4000", []string{"[2001:db8:1::7]"}, "2001:db8:1::7"},
		{"IPv6 peer in no trusted range: header ignored", trusted, "[2001:db8:e::1]:4000", []string{"203.0.113.7"}, "2001:db8:e::1"},
		{"IPv4-mapped proxy address", trusted, "[::ffff:10.0.0.2]:4000", []string{"203.0.113.7"}, "203.0.113.7"},
		{"IPv4-mapped client address: written as IPv4", trusted, "10.0.0.2:4000", []string{"::ffff:203.0.113.7"}, "203.0.113.7"},
		{"IPv4-mapped trusted entry is trusted", trusted, "10.0.0.2:4000", []string{"203.0.113.7, ::ffff:192.0.2.4"}, "203.0.113.7"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r, err := http.NewRequest(http.MethodGet, "http://dash.example/", nil)
			if err != nil {
				t.Fatal(err)
			}
			r.RemoteAddr = tt.remote
			if tt.xff != nil {
				r.Header["X-Forwarded-For"] = tt.xff
			}
			if got := ipExtractor(tt.trusted)(r); got != tt.want {
				t.Errorf("client address: got %q, want %q", got, tt.want)
			}
		})
	}
}
