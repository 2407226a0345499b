package blnk

import (
	"testing"
	"time"
)

func TestUntil(t *testing.T) {
	now := time.Date(2026, 3, 10, 12, 0, 0, 0, time.UTC)
	for d, want := range map[time.Duration]string{
		-time.Second:                    "now",
		0:                               "now",
		30 * time.Second:                "in less than a minute",
		90 * time.Second:                "in 2 minutes",
		59*time.Minute + time.Second:    "in 1 hour",
		time.Hour:                       "in 1 hour",
		time.Hour + time.Millisecond:    "in 2 hours",
		23*time.Hour + 30*time.Minute:   "in 24 hours",
		22*time.Hour + 59*time.Minute:   "in 23 hours",
		7 * 24 * time.Hour:              "in 7 days",
		6*24*time.Hour + 23*time.Hour:   "in 7 days",
		48*time.Hour + time.Millisecond: "in 3 days",
	} {
		if got := Until(now.Add(d), now); got != want {
			t.Errorf("Until(+%v) = %q, want %q", d, got, want)
		}
	}
}
