package apikey

import (
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/blnk-cloud/apikeys/internal/derrors"
	"github.com/blnk-cloud/apikeys/internal/naming"
)

// Works reports whether the key authenticates at now: it is Active, or
// Rolled and within its overlap.
func (k Key) Works(now time.Time) bool {
	s := k.Status(now)
	return s == Active || s == Rolled
}

// MaxDescriptionLen is the longest description a key may have, in
// characters.
const MaxDescriptionLen = 1000

// CleanDescription trims a key's description (its notes) and checks it
// (CleanNotes): at most 1,000 characters. "" is a valid description:
// none.
func CleanDescription(s string) (string, error) {
	return CleanNotes("Description", s, MaxDescriptionLen)
}

// CleanNotes trims free text of several lines, such as a description,
// and checks it: at most max characters, valid UTF-8, no control
// characters but line breaks and tabs (line breaks are kept as "\n"), no
// bidirectional controls or hidden characters (naming.Hidden), something
// visible if anything at all, and no key pasted into it
// (ErrLooksLikeKey). field names it in the messages. "" is valid: none.
func CleanNotes(field, s string, max int) (string, error) {
	if err := CheckNoToken(s); err != nil {
		return "", err // whatever else is wrong: this matters most
	}
	if !utf8.ValidString(s) {
		return "", derrors.Errorf(derrors.EINVALID, "%s must be valid text.", field)
	}
	s = strings.ReplaceAll(s, "\r\n", "\n")
	s = strings.TrimSpace(s)
	if s == "" {
		return "", nil
	}
	if n := utf8.RuneCountInString(s); n > max {
		return "", derrors.Errorf(derrors.EINVALID, "Use at most %d characters (this one has %d).", max, n)
	}
	for _, r := range s {
		if r == '\n' || r == '\t' {
			continue
		}
		if unicode.IsControl(r) || r == utf8.RuneError {
			return "", derrors.Errorf(derrors.EINVALID, "%s cannot contain control characters (line breaks are fine).", field)
		}
	}
	if !strings.ContainsFunc(s, naming.Visible) {
		return "", derrors.Errorf(derrors.EINVALID, "%s must contain a visible character, not only invisible ones such as zero-width spaces.", field)
	}
	if err := naming.Hidden(s); err != nil {
		return "", TextProblem(field, "", max, err)
	}
	return s, nil
}

// ExpiryDays returns the policy of an expiry choice: N for the "N days"
// choices, 0 for a date or never.
func ExpiryDays(choice string) int {
	switch choice {
	case Expires30d:
		return 30
	case Expires60d:
		return 60
	case Expires90d:
		return 90
	}
	return 0
}

// ExpiryAfterDays returns when a key made at now with an "N days" policy
// stops working: at the end of the Nth day after today, UTC, as Expiry
// computes it for the create form.
func ExpiryAfterDays(days int, now time.Time) time.Time {
	return now.UTC().Truncate(24*time.Hour).AddDate(0, 0, days+1)
}

// Overlap is how long a rolled key keeps working after the roll.
type Overlap string

// The overlaps a roll may choose (the roll form's "overlap" field).
const (
	OverlapNow   Overlap = "now"
	Overlap1h    Overlap = "1h"
	Overlap24h   Overlap = "24h"
	Overlap7d    Overlap = "7d"
	DefaultRoll          = Overlap24h
	overlapError         = "Choose how long the old key keeps working: now, 1 hour, 24 hours or 7 days."
)

// Overlaps returns the overlaps a roll may choose, shortest first.
func Overlaps() []Overlap { return []Overlap{OverlapNow, Overlap1h, Overlap24h, Overlap7d} }

// ParseOverlap reads an overlap as the roll form and the command line
// write it ("now", "1h", "24h", "7d"; the command line may also say "0").
func ParseOverlap(s string) (Overlap, error) {
	switch o := Overlap(strings.TrimSpace(s)); o {
	case OverlapNow, Overlap1h, Overlap24h, Overlap7d:
		return o, nil
	case "0", "0s":
		return OverlapNow, nil
	}
	return "", derrors.Errorf(derrors.EINVALID, "%s", overlapError)
}

// Duration is how long the old key keeps working.
func (o Overlap) Duration() time.Duration {
	switch o {
	case Overlap1h:
		return time.Hour
	case Overlap24h:
		return 24 * time.Hour
	case Overlap7d:
		return 7 * 24 * time.Hour
	}
	return 0
}

// Label is the overlap as people read it.
func (o Overlap) Label() string {
	switch o {
	case OverlapNow:
		return "Stop it now"
	case Overlap1h:
		return "1 hour"
	case Overlap24h:
		return "24 hours"
	case Overlap7d:
		return "7 days"
	}
	return string(o)
}

// RollEnd is when a key rolled at now with overlap o stops working: the
// end of the overlap, or its own expiry if that comes first.
func RollEnd(expiresAt, now time.Time, o Overlap) time.Time {
	end := now.Add(o.Duration())
	if !expiresAt.IsZero() && expiresAt.Before(end) {
		return expiresAt
	}
	return end
}

// SuccessorExpiry is when the key that replaces k (as it is before the
// roll) in a roll at now stops working, by k's expiry policy: a key made
// to expire N days after its creation gets N days from now; a fixed date
// stays the same date; never stays never.
func SuccessorExpiry(k Key, now time.Time) time.Time {
	if k.ExpiryDays > 0 {
		return ExpiryAfterDays(k.ExpiryDays, now)
	}
	return k.ExpiresAt
}
