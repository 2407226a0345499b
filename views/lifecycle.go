package views

import (
	"fmt"
	"time"

	"github.com/blnk-cloud/apikeys/internal/apikey"
	"github.com/blnk-cloud/apikeys/internal/blnk"
)

// ExpiryPolicyText says which expiry the key that replaces k in a roll at
// now gets, and why.
func ExpiryPolicyText(k apikey.Key, now time.Time) string {
	next := apikey.SuccessorExpiry(k, now)
	switch {
	case k.ExpiryDays > 0:
		return fmt.Sprintf("this key was made to expire %d days after its creation, so the new key expires %d days from today: it works through %s (UTC).",
			k.ExpiryDays, k.ExpiryDays, Date(apikey.LastValidDay(next)))
	case !next.IsZero():
		return fmt.Sprintf("this key expires on a fixed date, and the new key keeps it: it works through %s (UTC).", Date(apikey.LastValidDay(next)))
	}
	return "this key never expires, and neither will the new key."
}

// OverlapPreview says when the old key stops working if rolled at now
// with overlap o.
func OverlapPreview(k apikey.Key, now time.Time, o apikey.Overlap) string {
	if o == apikey.OverlapNow {
		return "calls with it fail at once"
	}
	end := apikey.RollEnd(k.ExpiresAt, now, o)
	if end.Before(now.Add(o.Duration())) {
		return "until it expires, " + ExactShort(end)
	}
	return "until " + ExactShort(end)
}

// ExactShort is an instant to the minute: "Mar 11, 12:00 UTC".
func ExactShort(t time.Time) string {
	return t.UTC().Format("Jan 2, 15:04 UTC")
}

// StatusText is a key's status with what matters about it now: "Rolled ·
// stops working in 23 hours".
func StatusText(k apikey.Key, now time.Time) string {
	s := k.Status(now)
	if s == apikey.Rolled {
		return StatusLabel(s) + " · stops working " + blnk.Until(k.ExpiresAt, now)
	}
	return StatusLabel(s)
}
