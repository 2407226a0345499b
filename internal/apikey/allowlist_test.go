package apikey

import (
	"fmt"
	"strings"
	"testing"
)

func TestParseAllowlist(t *testing.T) {
	fifty := make([]string, 50)
	for i := range fifty {
		fifty[i] = fmt.Sprintf("10.0.%d.0/24", i)
	}
	tests := []struct {
		name    string
		in      string
		want    string // FormatAllowlist of the result
		problem string // part of the message; "" for none
	}{
		{"empty", "", "", ""},
		{"blank lines and commas", " \n , \r\n,", "", ""},
		{"one IPv4 CIDR", "203.0.113.0/24", "203.0.113.0/24", ""},
		{"one per line", "203.0.113.0/24\n198.51.100.7/32\r\n2001:db8::/32", "203.0.113.0/24,198.51.100.7/32,2001:db8::/32", ""},
		{"comma separated with spaces", "203.0.113.0/24, 198.51.100.0/25 ,2001:db8::/48", "203.0.113.0/24,198.51.100.0/25,2001:db8::/48", ""},
		{"bare IPv4 address", "192.0.2.1", "192.0.2.1/32", ""},
		{"bare IPv6 address", "2001:db8::1", "2001:db8::1/128", ""},
		{"host bits are masked", "10.1.2.3/8", "10.0.0.0/8", ""},
		{"IPv6 is canonical", "2001:0DB8:0000::/32", "2001:db8::/32", ""},
		{"IPv6 host bits masked", "2001:db8::1/64", "2001:db8::/64", ""},
		{"IPv4-mapped IPv6 becomes IPv4", "::ffff:192.0.2.0/120", "192.0.2.0/24", ""},
		{"every address", "0.0.0.0/0, ::/0", "0.0.0.0/0,::/0", ""},
		{"fifty", strings.Join(fifty, "\n"), strings.Join(fifty, ","), ""},
		{"fifty-one", strings.Join(fifty, "\n") + "\n10.1.0.0/16", "", "at most 50"},
		{"not an address", "example.com", "", "example.com is not an IP address or CIDR"},
		{"bad prefix length", "10.0.0.0/33", "", "10.0.0.0/33 is not"},
		{"IPv6 prefix too long", "2001:db8::/129", "", "is not"},
		{"missing length", "10.0.0.0/", "", "is not"},
		{"octet too large", "10.0.0.256/32", "", "is not"},
		{"zone", "fe80::1%eth0", "", "is not"},
		{"zone in CIDR", "fe80::1%eth0/64", "", "is not"},
		{"semicolon separated", "10.0.0.0/8;192.0.2.0/24", "", "is not"},
		{"same twice", "10.0.0.0/8\n10.0.0.0/8", "", "10.0.0.0/8 is listed twice"},
		{"same network written twice", "10.0.0.0/8, 10.9.9.9/8", "", "are the same network (10.0.0.0/8)"},
		{"same IPv6 written twice", "2001:db8::/32, 2001:DB8::/32", "", "same network"},
		{"mapped mixed below 96 bits", "::ffff:0:0/90", "", "mixes IPv4 and IPv6"},
		{"long garbage is shortened", strings.Repeat("x", 500), "", "..."},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseAllowlist(tt.in)
			if tt.problem != "" {
				if err == nil {
					t.Fatalf("ParseAllowlist(%q) = %v, want a problem containing %q", tt.in, got, tt.problem)
				}
				if !strings.Contains(err.Error(), tt.problem) {
					t.Errorf("problem = %q, want it to contain %q", err, tt.problem)
				}
				if len(err.Error()) > 200 {
					t.Errorf("problem is %d bytes long: %q", len(err.Error()), err)
				}
				return
			}
			if err != nil {
				t.Fatalf("ParseAllowlist(%q): %v", tt.in, err)
			}
			if s := FormatAllowlist(got); s != tt.want {
				t.Errorf("ParseAllowlist(%q) = %q, want %q", tt.in, s, tt.want)
			}
			// What is stored reads back the same.
			back, err := ParseStoredAllowlist(FormatAllowlist(got))
			if err != nil {
				t.Fatalf("ParseStoredAllowlist: %v", err)
			}
			if FormatAllowlist(back) != tt.want {
				t.Errorf("stored and read back: %q, want %q", FormatAllowlist(back), tt.want)
			}
		})
	}
}

func TestParseStoredAllowlistRefusesGarbage(t *testing.T) {
	if _, err := ParseStoredAllowlist("10.0.0.0/8,nonsense"); err == nil {
		t.Error("ParseStoredAllowlist accepted a stored list with garbage")
	}
}
