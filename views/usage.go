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

// busiest returns the day with the most accepted calls (the latest of
// equals), and the day with the most refused ones.
func (u Usage) busiest() (accepted, refused UsageDay) {
	for _, d := range u.Days {
		if d.Accepted >= accepted.Accepted {
			accepted = d
		}
		if d.Refused() >= refused.Refused() {
			refused = d
		}
	}
	return accepted, refused
}

// axisMax is the top of a scale that holds peak: 2, 4, 6, 8 or 10 times
// a power of ten, so that its half is a round number too (8,662 -> 10,000,
// 34 -> 40, 0 -> 2).
func axisMax(peak int64) int64 {
	for unit := int64(1); ; unit *= 10 {
		for _, m := range []int64{2, 4, 6, 8, 10} {
			if m*unit >= peak {
				return m * unit
			}
		}
	}
}

// Short writes a count of an axis in few characters: 800, 5k, 2.5M.
func Short(n int64) string {
	trim := func(f float64, unit string) string {
		return strings.TrimSuffix(strconv.FormatFloat(f, 'f', 1, 64), ".0") + unit
	}
	switch {
	case n >= 1_000_000:
		return trim(float64(n)/1e6, "M")
	case n >= 1_000:
		return trim(float64(n)/1e3, "k")
	}
	return strconv.FormatInt(n, 10)
}

// The chart's drawing, in the SVG's own units: one slot per day; the
// refused calls have a short row of their own, on their own scale, under
// the accepted ones: 541 refused beside 110,000 accepted would be a bar
// no one sees on one scale.
const (
	chartSlot    = 10
	chartBar     = 7
	chartHeight  = 100
	refusedRow   = 24
	minBarHeight = 1.5 // a day with any accepted calls shows a bar
	minRefused   = 4   // and one with any refused call a bar one notices
)

// bar is one day's bars: accepted on the chart's scale, refused on the
// refused row's, and what a reader is told of the day.
type bar struct {
	X, HitX, AcceptedY, AcceptedH, RefusedY, RefusedH string
	Label                                             string
}

// scales are the tops of the two scales.
func (u Usage) scales() (accepted, refused int64) {
	a, r := u.busiest()
	return axisMax(a.Accepted), axisMax(r.Refused())
}

func (u Usage) bars() []bar {
	top, rtop := u.scales()
	height := func(n, top int64, full float64) float64 {
		if n == 0 {
			return 0
		}
		return max(float64(n)/float64(top)*full, minBarHeight)
	}
	out := make([]bar, len(u.Days))
	for i, d := range u.Days {
		ah := height(d.Accepted, top, chartHeight)
		rh := max(height(d.Refused(), rtop, refusedRow), min(float64(d.Refused()), 1)*minRefused)
		out[i] = bar{
			X:         num(float64(i*chartSlot) + (chartSlot-chartBar)/2.0),
			HitX:      strconv.Itoa(i * chartSlot),
			AcceptedY: num(chartHeight - ah),
			AcceptedH: num(ah),
			RefusedY:  num(refusedRow - rh),
			RefusedH:  num(rh),
			Label:     dayLabel(d),
		}
	}
	return out
}

// dayLabel tells a day's calls: "Mar 3, 2026: 8,662 accepted, 12 refused".
func dayLabel(d UsageDay) string {
	return fmt.Sprintf("%s: %s accepted, %s refused", Date(d.Day), Count(d.Accepted), Count(d.Refused()))
}

// rangeText is the days the chart shows: "Feb 9 – Mar 10".
func (u Usage) rangeText() string {
	return shortDay(u.Days[0].Day) + " – " + shortDay(u.Days[len(u.Days)-1].Day)
}

// busiestText says the busiest days in words, never as "peak N a day":
// "Busiest day: 8,662 accepted calls, on Mar 3."
func (u Usage) busiestText() string {
	a, r := u.busiest()
	if a.Accepted == 0 && r.Refused() == 0 {
		return "No calls in these " + strconv.Itoa(UsageDays) + " days."
	}
	text := ""
	if a.Accepted > 0 {
		text = fmt.Sprintf("Busiest day: %s accepted %s, on %s.", Count(a.Accepted), callsWord(a.Accepted), shortDay(a.Day))
	}
	if r.Refused() > 0 {
		text += fmt.Sprintf(" Most refused: %s %s, on %s.", Count(r.Refused()), callsWord(r.Refused()), shortDay(r.Day))
	}
	return strings.TrimSpace(text)
}

func callsWord(n int64) string {
	if n == 1 {
		return "call"
	}
	return "calls"
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
	return fmt.Sprintf("Calls per day over the last %d days, %s: %s accepted, %s refused. Arrow keys move between days; the table below lists each day.",
		UsageDays, u.rangeText(), Count(u.Total.Accepted), Count(u.Total.Refused()))
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
