package apikey

import (
	"crypto/rand"
	"errors"
	"net/netip"
	"strings"
	"time"

	"github.com/blnk-cloud/apikeys/internal/derrors"
	"github.com/blnk-cloud/apikeys/internal/naming"
)

// Role is the role a key acts with. Every key is a Member; the type exists
// so that the API and the pages name it in one way.
type Role string

// Member is the one role a key can have.
const Member Role = "member"

// Status is where a key is in its life.
type Status string

// The statuses of a key. Revoked wins over Expired, Expired over Rolled.
const (
	Active  Status = "active"
	Expired Status = "expired"
	Revoked Status = "revoked"
	// Rolled: replaced by a successor, and still working until the end of
	// the overlap its roll chose (its ExpiresAt).
	Rolled Status = "rolled"
)

// Key is everything stored about an API key but its hash. The token itself
// is never stored.
type Key struct {
	ID          string
	WorkspaceID int64
	Name        string
	Prefix      string // "blnk_" and 8 hex characters
	Scopes      Set
	ExpiresAt   time.Time // zero: never expires; else the first instant it no longer works
	CreatedAt   time.Time
	CreatedBy   string // email of the user who created it (or took it over), "" for the command line
	// CreatedByID is that user's id; 0: the command line. A Member may
	// change the keys they created.
	CreatedByID int64
	// CreatedByName is that user's display name, "" when they gave none.
	CreatedByName string
	RevokedAt     time.Time
	RevokedBy     string
	LastUsedAt    time.Time
	LastUsedIP    string
	// Description is the admins' notes about the key ("" if none).
	Description string
	// ExpiryDays is the expiry policy of a key made to expire N days
	// after its creation (30, 60, 90): a roll gives its successor N days
	// from the roll. 0: a fixed date, which a successor keeps, or never.
	ExpiryDays int
	// A roll links the old key and its successor both ways: the old one's
	// RolledInto, the new one's RolledFrom, with their prefixes for
	// display. RolledAt is when the old key was rolled.
	RolledFrom, RolledFromPrefix string
	RolledInto, RolledIntoPrefix string
	RolledAt                     time.Time
	// RevokeConfirmation says how the running servers confirmed the
	// revocation; zero if the key is not revoked or it was not measured.
	RevokeConfirmation Confirmation
	// Allowlist limits the client addresses the key works from; empty:
	// any address.
	Allowlist []netip.Prefix
	// Exposure says where the key was reported leaked; zero if never.
	Exposure Exposure
}

// Exposure is a report that a key leaked (see POST /api/v1/keys/leaked):
// when it came, and where and by what the key was found, as the reporter
// says (untrusted text).
type Exposure struct {
	At     time.Time
	URL    string
	Source string
}

// Exposed reports whether the key was reported leaked.
func (k Key) Exposed() bool { return !k.Exposure.At.IsZero() }

// Confirmation is how the servers running when a change was made
// confirmed that they had applied it: Confirmed of Servers had, and
// Lapsed others had not but had stopped trusting their memory (their
// lease ran out), Took after the change committed (as long as the
// slowest of them took, or the time waited for them).
type Confirmation struct {
	Confirmed int
	Lapsed    int
	Servers   int
	Took      time.Duration
}

// Complete reports whether every running server either confirmed or
// stopped trusting its memory: none of them can act on the view before
// the change any more.
func (c Confirmation) Complete() bool { return c.Confirmed+c.Lapsed >= c.Servers }

// Role returns the key's role, always Member.
func (k Key) Role() Role { return Member }

// Status returns the key's status at now.
func (k Key) Status(now time.Time) Status {
	switch {
	case !k.RevokedAt.IsZero():
		return Revoked
	case IsExpired(k.ExpiresAt, now):
		return Expired
	case k.RolledInto != "":
		return Rolled
	}
	return Active
}

// ExpiringWithin is how close to its expiry an active key counts as
// expiring soon: the list's "Expires in N days" badges and banner.
const ExpiringWithin = 7 * 24 * time.Hour

// ExpiringSoon reports whether k is active at now and stops working within
// ExpiringWithin.
func (k Key) ExpiringSoon(now time.Time) bool {
	return k.Status(now) == Active && !k.ExpiresAt.IsZero() && k.ExpiresAt.Sub(now) <= ExpiringWithin
}

// IsExpired reports whether a key expiring at expiresAt (zero: never) no
// longer works at now. The expiry instant itself is already expired.
func IsExpired(expiresAt, now time.Time) bool {
	return !expiresAt.IsZero() && !now.Before(expiresAt)
}

// NewID returns a random key id such as "key_3kq9x0c1m7f2a8d4w6e5": 100
// random bits in lowercase base32, safe in URLs and HTML ids.
func NewID() string { return RandomID("key_") }

// RandomID returns prefix and 20 random characters of Crockford's
// base32 (100 bits, lowercase): the shape of key ids, which the other ids
// of the dashboard (tokens, passkeys, webhook endpoints) share.
func RandomID(prefix string) string {
	const alphabet = "0123456789abcdefghjkmnpqrstvwxyz"
	var b [20]byte
	rand.Read(b[:])
	for i := range b {
		b[i] = alphabet[b[i]&31]
	}
	return prefix + string(b[:])
}

// ValidID reports whether s has the shape of an id made by NewID, so that
// handlers can answer 404 to anything else without a query.
func ValidID(s string) bool { return IDShaped(s, "key_") }

// IDShaped reports whether s is prefix and 20 characters of [0-9a-z],
// the shape RandomID makes, so that handlers can answer 404 to anything
// else without a query.
func IDShaped(s, prefix string) bool {
	rest, ok := strings.CutPrefix(s, prefix)
	if !ok || len(rest) != 20 {
		return false
	}
	for _, c := range []byte(rest) {
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'z') {
			return false
		}
	}
	return true
}

// MaxNameLen is the longest name a key may have, in characters.
const MaxNameLen = 100

// CleanName trims name and checks that it can name a key (naming.Clean):
// 1 to 100 characters, valid UTF-8, no control characters, no
// bidirectional controls or hidden characters (which can make a name
// display as another one), something visible, and no key pasted into it
// (ErrLooksLikeKey).
func CleanName(name string) (string, error) {
	if err := CheckNoToken(name); err != nil {
		return "", err // whatever else is wrong: this matters most
	}
	clean, err := naming.Clean(name, MaxNameLen)
	if err != nil {
		return "", TextProblem("Name", "Enter a name for the key.", MaxNameLen, err)
	}
	return clean, nil
}

// TextProblem turns an error of naming.Clean or naming.Hidden about a
// field (its label, such as "Name") into the sentence shown next to it;
// empty is the sentence for an empty field, max the longest it may be.
// Other errors are returned as they are.
func TextProblem(field, empty string, max int, err error) error {
	var ne *naming.Error
	if !errors.As(err, &ne) {
		return err
	}
	switch ne.Reason {
	case naming.Invalid:
		return derrors.Errorf(derrors.EINVALID, "%s must be valid text.", field)
	case naming.Empty:
		return derrors.Errorf(derrors.EINVALID, "%s", empty)
	case naming.TooLong:
		return derrors.Errorf(derrors.EINVALID, "Use at most %d characters (this one has %d).", max, ne.Chars)
	case naming.Control:
		return derrors.Errorf(derrors.EINVALID, "%s cannot contain control characters such as tabs or line breaks.", field)
	case naming.Bidi:
		return derrors.Errorf(derrors.EINVALID, "%s cannot contain bidirectional control characters (%U here).", field, ne.Rune)
	case naming.Separator:
		return derrors.Errorf(derrors.EINVALID, "%s cannot contain line or paragraph separators (%U here).", field, ne.Rune)
	case naming.Tag:
		return derrors.Errorf(derrors.EINVALID, "%s cannot contain Unicode tag characters, which are invisible (%U here).", field, ne.Rune)
	case naming.ZeroWidth:
		return derrors.Errorf(derrors.EINVALID, "%s cannot contain zero-width characters (%U here); a joiner inside an emoji is fine.", field, ne.Rune)
	}
	return derrors.Errorf(derrors.EINVALID, "%s must contain a visible character, not only invisible ones such as zero-width spaces.", field)
}

// The expiry choices of the create form.
const (
	Expires30d   = "30d"
	Expires60d   = "60d"
	Expires90d   = "90d"
	ExpiresDate  = "date"
	ExpiresNever = "never"
)

// DateLayout is how expiry dates are written in forms.
const DateLayout = "2006-01-02"

// MaxExpiry is how far ahead an expiry date may be.
const MaxExpiry = 10 // years

// Expiry turns an expiry choice into the instant the key stops working,
// or the zero time for Never. A key is valid through the end of its expiry
// date in UTC; the date must be after today (UTC) and at most ten years
// ahead. date is read only for the "date" choice.
func Expiry(choice, date string, now time.Time) (time.Time, error) {
	today := now.UTC().Truncate(24 * time.Hour)
	var day time.Time
	switch choice {
	case ExpiresNever:
		return time.Time{}, nil
	case Expires30d:
		day = today.AddDate(0, 0, 30)
	case Expires60d:
		day = today.AddDate(0, 0, 60)
	case Expires90d:
		day = today.AddDate(0, 0, 90)
	case ExpiresDate:
		date = strings.TrimSpace(date)
		if date == "" {
			return time.Time{}, derrors.Errorf(derrors.EINVALID, "Choose an expiry date, or Never.")
		}
		d, err := time.Parse(DateLayout, date)
		if err != nil {
			return time.Time{}, derrors.Errorf(derrors.EINVALID, "Enter the date as YYYY-MM-DD, for example 2027-01-31.")
		}
		if !d.After(today) {
			return time.Time{}, derrors.Errorf(derrors.EINVALID, "Choose a date after today.")
		}
		if d.After(today.AddDate(MaxExpiry, 0, 0)) {
			return time.Time{}, derrors.Errorf(derrors.EINVALID, "Choose a date at most %d years ahead, or Never.", MaxExpiry)
		}
		day = d
	default:
		return time.Time{}, derrors.Errorf(derrors.EINVALID, "Choose when the key expires.")
	}
	return day.AddDate(0, 0, 1), nil
}

// ExpiryAt checks an exact expiry instant, as the management API takes
// it, by Expiry's bounds: after now, and at most MaxExpiry years ahead
// (through the end of that day, UTC). It is returned in UTC, to the
// millisecond, as stored.
func ExpiryAt(t, now time.Time) (time.Time, error) {
	t = t.UTC().Truncate(time.Millisecond)
	if !t.After(now) {
		return time.Time{}, derrors.Errorf(derrors.EINVALID, "Choose an expiry after now, or null for never.")
	}
	if t.After(now.UTC().Truncate(24*time.Hour).AddDate(MaxExpiry, 0, 1)) {
		return time.Time{}, derrors.Errorf(derrors.EINVALID, "Choose an expiry at most %d years ahead, or null for never.", MaxExpiry)
	}
	return t, nil
}

// LastValidDay returns the last date on which a key expiring at expiresAt
// works (the date people chose), in UTC.
func LastValidDay(expiresAt time.Time) time.Time {
	return expiresAt.UTC().Add(-time.Nanosecond).Truncate(24 * time.Hour)
}
