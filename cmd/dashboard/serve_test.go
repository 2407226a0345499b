package main

import (
	"io"
	"path/filepath"
	"strings"
	"testing"
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

// TestServeLeaseFlags: a revoke must be able to wait for a lease to run
// out, and a lease must outlast a late poll; serve refuses other settings
// before it opens anything.
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
