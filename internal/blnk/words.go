package blnk

import (
	"fmt"
	"time"
)

// Words for people that the pages and the command line share.

// Until describes how long after now t comes, in the largest whole unit
// rounded up: "in 23 hours", "in 1 minute", "now".
func Until(t, now time.Time) string {
	d := t.Sub(now)
	ceil := func(unit time.Duration) int { return int((d + unit - 1) / unit) }
	switch {
	case d <= 0:
		return "now"
	case d <= time.Minute:
		return "in less than a minute"
	case d <= time.Hour:
		if m := ceil(time.Minute); m < 60 {
			return "in " + plural(m, "minute")
		}
		return "in 1 hour"
	case d <= 48*time.Hour:
		return "in " + plural(ceil(time.Hour), "hour")
	}
	return "in " + plural(ceil(24*time.Hour), "day")
}

// FormatDuration writes a short duration for people: "14 ms", "2.0 s".
func FormatDuration(d time.Duration) string {
	if d < time.Second {
		return fmt.Sprintf("%d ms", d.Milliseconds())
	}
	return fmt.Sprintf("%.1f s", d.Seconds())
}

// plural writes n and the unit, with an s unless n is 1: "1 day", "3 days".
func plural(n int, unit string) string {
	if n == 1 {
		return "1 " + unit
	}
	return fmt.Sprintf("%d %ss", n, unit)
}
