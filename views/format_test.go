package views

import (
	"testing"
	"time"

	"github.com/blnk-cloud/apikeys/internal/apikey"
)

func TestConfirmationText(t *testing.T) {
	for _, tt := range []struct {
		name string
		c    apikey.Confirmation
		want string
	}{
		{"every server applied it", apikey.Confirmation{Confirmed: 3, Servers: 3, Took: 14 * time.Millisecond},
			"Revoked · confirmed by 3 of 3 servers in 14 ms"},
		{"one server", apikey.Confirmation{Confirmed: 1, Servers: 1, Took: 2 * time.Millisecond},
			"Revoked · confirmed by 1 of 1 server in 2 ms"},
		{"one lease ran out", apikey.Confirmation{Confirmed: 2, Lapsed: 1, Servers: 3, Took: 3100 * time.Millisecond},
			"Revoked · confirmed by 2 of 3 servers; 1 stopped trusting its memory within 3.1 s"},
		{"two leases ran out", apikey.Confirmation{Confirmed: 1, Lapsed: 2, Servers: 3, Took: 2900 * time.Millisecond},
			"Revoked · confirmed by 1 of 3 servers; 2 stopped trusting their memory within 2.9 s"},
		{"the wait ran out", apikey.Confirmation{Confirmed: 1, Lapsed: 1, Servers: 3, Took: 4 * time.Second},
			"Revoked · confirmed by 1 of 3 servers; 1 stopped trusting its memory; 1 not confirmed within 4.0 s"},
		{"the wait ran out, no lease", apikey.Confirmation{Confirmed: 2, Servers: 3, Took: 4 * time.Second},
			"Revoked · confirmed by 2 of 3 servers; 1 not confirmed within 4.0 s"},
	} {
		if got := ConfirmationText(tt.c); got != tt.want {
			t.Errorf("%s: ConfirmationText(%+v) = %q, want %q", tt.name, tt.c, got, tt.want)
		}
	}
}
