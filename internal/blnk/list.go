package blnk

import (
	"encoding/base64"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/blnk-cloud/apikeys/internal/apikey"
)

// ListStatus filters keys by where they are in their life at a moment.
type ListStatus string

// The status filters. Expiring is a subset of Active: active keys that
// stop working within ExpiringWithin.
const (
	AnyStatus    ListStatus = ""
	ListActive   ListStatus = "active"
	ListExpiring ListStatus = "expiring"
	ListRolled   ListStatus = "rolled"
	ListExpired  ListStatus = "expired"
	ListRevoked  ListStatus = "revoked"
)

// ExpiringWithin is how close to its expiry an active key is expiring.
const ExpiringWithin = apikey.ExpiringWithin

// ListSort is a column the list sorts by.
type ListSort string

// KnownSort reports whether s is a sort column.
func KnownSort(s ListSort) bool {
	switch s {
	case SortCreated, SortName, SortExpires, SortLastUsed:
		return true
	}
	return false
}

// ListQuery is what a page of the keys list shows.
type ListQuery struct {
	// Search matches keys whose name contains it (case-insensitive), whose
	// prefix contains it, or whose id it is. "" matches every key.
	Search string
	Status ListStatus
	// Scope keeps keys that may do what it permits (apikey.Set.Allows:
	// "*" allows everything, X:write allows X:read). "": every key.
	Scope apikey.Scope
	// CreatedBy, when not 0, keeps the keys of this person: the ones they
	// created or were handed over (the list's owner=me). 0: everyone's.
	CreatedBy int64
	Sort      ListSort
	Desc      bool
	// After is where the page starts: the cursor of a previous page's
	// Next or Prev; zero: the first page.
	After Cursor
	Limit int
	Now   time.Time
	// NonCompliant keeps only the keys that work and break Policy
	// (Policy.NonCompliant). Policy is the workspace's key policies: the
	// counts say how many keys break it.
	NonCompliant bool
	Policy       Policy
	// Among, when not nil, restricts the list to these keys: the ones a
	// caller already knows the search finds (few of many), so that the
	// query reads them by id instead of walking every key. Empty: none.
	Among []string
}

// Cursor is a position in the list: the sort value and id of the row a
// page continues from, and the direction it goes. Its text form is opaque
// to clients.
type Cursor struct {
	Sort     ListSort
	Desc     bool
	Backward bool // the page before the row, not after it
	Value    string
	ID       string
}

// IsZero reports whether c is no cursor: the first page.
func (c Cursor) IsZero() bool { return c.ID == "" }

// String encodes c for a URL.
func (c Cursor) String() string {
	if c.IsZero() {
		return ""
	}
	dir := "a"
	if c.Desc {
		dir = "d"
	}
	if c.Backward {
		dir += "b"
	}
	raw := strings.Join([]string{"1", string(c.Sort), dir, c.ID, c.Value}, "|")
	return base64.RawURLEncoding.EncodeToString([]byte(raw))
}

// ParseCursor decodes a cursor made by Cursor.String.
func ParseCursor(s string) (Cursor, error) {
	if len(s) > 2048 {
		return Cursor{}, ErrBadCursor
	}
	raw, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil {
		return Cursor{}, ErrBadCursor
	}
	parts := strings.SplitN(string(raw), "|", 5)
	if len(parts) != 5 || parts[0] != "1" || !KnownSort(ListSort(parts[1])) || !apikey.ValidID(parts[3]) || !utf8.ValidString(parts[4]) || strings.ContainsRune(parts[4], 0) {
		return Cursor{}, ErrBadCursor
	}
	c := Cursor{Sort: ListSort(parts[1]), ID: parts[3], Value: parts[4]}
	switch parts[2] {
	case "a":
	case "d":
		c.Desc = true
	case "ab":
		c.Backward = true
	case "db":
		c.Desc, c.Backward = true, true
	default:
		return Cursor{}, ErrBadCursor
	}
	if c.Sort != SortName {
		if _, err := strconv.ParseInt(c.Value, 10, 64); err != nil {
			return Cursor{}, ErrBadCursor
		}
	}
	return c, nil
}

// KeyPage is one page of the list.
type KeyPage struct {
	Keys []apikey.Key
	// Next and Prev lead to the pages after and before this one; zero
	// when there is none.
	Next, Prev Cursor
	// Offset is how many keys of the list come before the page's first.
	Offset int
}

// StatusCounts are how many keys a search finds in each status.
type StatusCounts struct {
	All, Active, Expiring, Rolled, Expired, Revoked int
	// NonCompliant is how many of them work and break the key policies
	// of the query (ListQuery.Policy).
	NonCompliant int
}

// Of returns the count of a status filter.
func (c StatusCounts) Of(s ListStatus) int {
	switch s {
	case ListActive:
		return c.Active
	case ListExpiring:
		return c.Expiring
	case ListRolled:
		return c.Rolled
	case ListExpired:
		return c.Expired
	case ListRevoked:
		return c.Revoked
	}
	return c.All
}

// ListEntry is what the list's counts need of a key: the columns its
// search, scope and status filters read.
type ListEntry struct {
	ID, Name, Prefix string
	Scopes           apikey.Set
	ExpiresAt        int64 // Unix ms; 0: never
	Revoked, Rolled  bool
	// Allowlisted and CreatedBy (0: the command line) are what the key
	// policies look at besides (Policy.EntryNonCompliant).
	Allowlisted bool
	CreatedBy   int64
}

// Matches reports whether e is found by q's search, scope and owner, as the
// list's query finds it: lowerName and lowerSearch are e's name and q's
// search folded by Lower.
func (e ListEntry) Matches(q ListQuery, lowerName, lowerSearch string) bool {
	if q.Scope != "" && !e.Scopes.Allows(q.Scope) {
		return false
	}
	if q.CreatedBy != 0 && e.CreatedBy != q.CreatedBy {
		return false
	}
	if q.Search == "" {
		return true
	}
	return strings.Contains(lowerName, lowerSearch) || e.ID == q.Search ||
		PrefixSearch(lowerSearch) && strings.Contains(e.Prefix, lowerSearch)
}

// Bucket is e's status at now, as CountKeys buckets it: 0 revoked, 1
// expired, 2 rolled, 3 active and expiring, 4 active.
func (e ListEntry) Bucket(now time.Time) int {
	n := now.UnixMilli()
	switch {
	case e.Revoked:
		return 0
	case e.ExpiresAt != 0 && e.ExpiresAt <= n:
		return 1
	case e.Rolled:
		return 2
	case e.ExpiresAt != 0 && e.ExpiresAt <= n+ExpiringWithin.Milliseconds():
		return 3
	}
	return 4
}

// The sort columns. Keys that never expire sort after every expiry; keys
// never used sort before every use.
const (
	SortCreated  ListSort = "created"
	SortName     ListSort = "name"
	SortExpires  ListSort = "expires"
	SortLastUsed ListSort = "last_used"
)

// PrefixSearch reports whether a search can be part of a key's prefix
// ("blnk_" and hex): at least 4 characters, all of the prefix's alphabet.
// Shorter ones ("a") would find nearly every key by its hex digits.
func PrefixSearch(s string) bool {
	if len(s) < 4 || len(s) > len("blnk_")+8 {
		return false
	}
	for i := 0; i < len(s); i++ {
		if !strings.ContainsRune("blnk_0123456789abcdef", rune(s[i])) {
			return false
		}
	}
	return true
}
