package views

import (
	"fmt"
	"net/netip"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/blnk-cloud/apikeys/internal/apikey"
	"github.com/blnk-cloud/apikeys/internal/blnk"
)

// Calls is how many calls a key got: accepted, and refused by reason
// (the counts keyauth keeps).
type Calls = blnk.Counts

// UsageDay is a day's calls (UTC).
type UsageDay struct {
	Day time.Time
	Calls
}

// Address is a client address a key was used from, and when last.
type Address struct {
	IP   string
	Last time.Time
}

// Usage is what the details panel shows of a key's use.
type Usage struct {
	Days      []UsageDay // UsageDays of them, oldest first, today last
	Total     Calls
	Addresses []Address // newest first
	Now       time.Time
}

// UsageDays is how many days the chart shows.
const UsageDays = 30

// NewUsage sums hourly counts into the chart's days, ending today (UTC).
func NewUsage(now time.Time, hours map[time.Time]Calls, addrs []Address) Usage {
	today := now.UTC().Truncate(24 * time.Hour)
	u := Usage{Days: make([]UsageDay, UsageDays), Addresses: addrs, Now: now}
	first := today.AddDate(0, 0, -(UsageDays - 1))
	for i := range u.Days {
		u.Days[i].Day = first.AddDate(0, 0, i)
	}
	for h, c := range hours {
		i := int(h.UTC().Sub(first) / (24 * time.Hour))
		if h.Before(first) || i >= UsageDays {
			continue
		}
		u.Days[i].Add(c)
		u.Total.Add(c)
	}
	return u
}

// UsageSince is the first hour the chart of a key shown at now covers.
func UsageSince(now time.Time) time.Time {
	return now.UTC().Truncate(24*time.Hour).AddDate(0, 0, -(UsageDays - 1))
}

// peak is the largest day's total, at least 1.
func (u Usage) peak() int64 {
	p := int64(1)
	for _, d := range u.Days {
		p = max(p, d.Total())
	}
	return p
}

// The chart's drawing, in the SVG's own units: one slot per day.
const (
	chartSlot   = 10
	chartBar    = 7
	chartHeight = 100
)

// bar is one day's bar: the heights of its accepted and refused parts.
type bar struct {
	X, AcceptedY, AcceptedH, RefusedY, RefusedH string
	Title                                       string
}

func (u Usage) bars() []bar {
	peak := float64(u.peak())
	out := make([]bar, len(u.Days))
	for i, d := range u.Days {
		ah := float64(d.Accepted) / peak * chartHeight
		rh := float64(d.Refused()) / peak * chartHeight
		out[i] = bar{
			X:         num(float64(i*chartSlot) + (chartSlot-chartBar)/2.0),
			AcceptedY: num(chartHeight - ah),
			AcceptedH: num(ah),
			RefusedY:  num(chartHeight - ah - rh),
			RefusedH:  num(rh),
			Title:     fmt.Sprintf("%s: %s accepted, %s refused", Date(d.Day), Count(d.Accepted), Count(d.Refused())),
		}
	}
	return out
}

func num(f float64) string { return strconv.FormatFloat(f, 'f', 2, 64) }

// chartWidth is the SVG's width in its own units.
func (u Usage) chartWidth() string { return strconv.Itoa(len(u.Days) * chartSlot) }

// Count writes a number with thousands separators: 12,345.
func Count(n int64) string {
	s := strconv.FormatInt(n, 10)
	neg := strings.HasPrefix(s, "-")
	s = strings.TrimPrefix(s, "-")
	var b strings.Builder
	for i, c := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(c)
	}
	if neg {
		return "-" + b.String()
	}
	return b.String()
}

// reasons describes refused calls by reason: "3 lacked the scope, 1 from
// an address not allowed".
func reasons(c Calls) string {
	var parts []string
	add := func(n int64, what string) {
		if n > 0 {
			parts = append(parts, Count(n)+" "+what)
		}
	}
	add(c.Revoked, "revoked")
	add(c.Expired, "expired")
	add(c.Scope, "lacked the scope")
	add(c.Address, "from an address not allowed")
	return strings.Join(parts, ", ")
}

// RefusalText says why a call was refused, for the details' "Last
// refused".
func RefusalText(r blnk.RefusalReason) string {
	switch r {
	case blnk.RefusedRevoked:
		return "Key revoked"
	case blnk.RefusedExpired:
		return "Key expired"
	case blnk.RefusedScope:
		return "Scope not granted"
	case blnk.RefusedAddress:
		return "Address not on the allowlist"
	}
	return "Refused"
}

// chartSummary is the chart's text alternative in one sentence.
func (u Usage) chartSummary() string {
	return fmt.Sprintf("Calls per day over the last %d days: %s accepted, %s refused. The table below lists each day.",
		UsageDays, Count(u.Total.Accepted), Count(u.Total.Refused()))
}

// shortDay is a chart label: "Mar 3".
func shortDay(t time.Time) string { return t.UTC().Format("Jan 2") }

// AllowlistText writes an allowlist for a form: one CIDR a line.
func AllowlistText(list []netip.Prefix) string {
	parts := make([]string, len(list))
	for i, p := range list {
		parts[i] = p.String()
	}
	return strings.Join(parts, "\n")
}

// linkable reports whether a reporter's URL can be a link: http(s) only.
func linkable(u string) bool {
	p, err := url.Parse(u)
	return err == nil && (p.Scheme == "http" || p.Scheme == "https") && p.Host != ""
}

// revokedBy says who revoked a key, for the details.
func revokedBy(k apikey.Key) string {
	switch {
	case k.RevokedBy != "":
		return "by " + k.RevokedBy
	case k.Exposed() && k.RevokedAt.Equal(k.Exposure.At):
		return "by a leak report"
	}
	return "from the command line"
}
