package main

import "testing"

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
