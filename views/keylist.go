package views

import (
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/blnk-cloud/apikeys/internal/apikey"
	"github.com/blnk-cloud/apikeys/internal/blnk"
)

// ListPath is the address of the keys list.
const ListPath = "/settings/api-keys"

// DefaultListLimit is how many keys a page of the list shows unless the
// address says otherwise.
const DefaultListLimit = 50

// ListFilter is what the keys list shows, as its address says (web/README.md,
// "The keys list"). Its zero value is the default list: every key,
// newest first, 50 a page.
type ListFilter struct {
	Search string
	Status string // "", active, expiring, rolled, expired, revoked
	Scope  string // "" or a scope
	// Compliance is "" or ComplianceNon: only the working keys that
	// break the key policies.
	Compliance string
	Owner      string // "" (everyone's keys) or "me"
	Sort       string // "" (created), name, expires, last_used
	Desc       bool   // meaningful when Sort is not ""
	Limit      int    // 0: DefaultListLimit
	Cursor     string
}

// DefaultSort is the sort of a status's list when its address names
// none: soonest expiry first for the keys expiring soon, else newest
// first.
func DefaultSort(status string) string {
	if status == "expiring" {
		return "expires"
	}
	return "-created"
}

// SortParam is the filter's sort as the address writes it: the status's
// DefaultSort unless it says otherwise, a "-" for descending.
func (f ListFilter) SortParam() string {
	if f.Sort == "" {
		return DefaultSort(f.Status)
	}
	if f.Desc {
		return "-" + f.Sort
	}
	return f.Sort
}

// URL is the list's address for f: only what differs from the default,
// always in one order, so that one list has one address.
func (f ListFilter) URL() string {
	v := url.Values{}
	if f.Search != "" {
		v.Set("q", f.Search)
	}
	if f.Status != "" {
		v.Set("status", f.Status)
	}
	if f.Scope != "" {
		v.Set("scope", f.Scope)
	}
	if f.Compliance != "" {
		v.Set("compliance", f.Compliance)
	}
	if f.Owner != "" {
		v.Set("owner", f.Owner)
	}
	if s := f.SortParam(); s != DefaultSort(f.Status) {
		v.Set("sort", s)
	}
	if f.Limit != 0 && f.Limit != DefaultListLimit {
		v.Set("limit", strconv.Itoa(f.Limit))
	}
	if f.Cursor != "" {
		v.Set("cursor", f.Cursor)
	}
	if len(v) == 0 {
		return ListPath
	}
	return ListPath + "?" + v.Encode()
}

// Page returns f at another page (cursor "" for the first).
func (f ListFilter) Page(cursor string) ListFilter {
	f.Cursor = cursor
	return f
}

// WithStatus returns f showing another status, from its first page, in
// the same order unless f has its status's default order: then in the
// new status's default.
func (f ListFilter) WithStatus(s string) ListFilter {
	if f.SortParam() == DefaultSort(s) {
		f.Sort, f.Desc = "", false
	}
	f.Status, f.Cursor = s, ""
	return f
}

// WithCompliance returns f showing only the keys that break the key
// policies (on) or every key, from its first page.
func (f ListFilter) WithCompliance(on bool) ListFilter {
	f.Compliance, f.Cursor = "", ""
	if on {
		f.Compliance = ComplianceNon
	}
	return f
}

// withSortParam returns f sorted by s ("-created", "name", ...), written
// as "" when it is the status's default.
func (f ListFilter) withSortParam(s string) ListFilter {
	if s == DefaultSort(f.Status) {
		f.Sort, f.Desc = "", false
		return f
	}
	col, desc := strings.CutPrefix(s, "-")
	f.Sort, f.Desc = col, desc
	return f
}

// SortedBy returns f sorted by column: the other way round if f already
// is, else in the column's natural direction (names A to Z, soonest
// expiry first, newest creation and use first).
func (f ListFilter) SortedBy(column string) ListFilter {
	cur, desc := strings.CutPrefix(f.SortParam(), "-")
	if cur == column {
		desc = !desc
	} else {
		desc = column == "created" || column == "last_used"
	}
	s := column
	if desc {
		s = "-" + column
	}
	f.Cursor = ""
	return f.withSortParam(s)
}

// SortState is how a column header says it sorts the table: "ascending",
// "descending" or "" (aria-sort).
func (f ListFilter) SortState(column string) string {
	cur, desc := strings.CutPrefix(f.SortParam(), "-")
	if cur != column {
		return ""
	}
	if desc {
		return "descending"
	}
	return "ascending"
}

// Filtered reports whether f hides some keys (search, status, scope or
// owner).
func (f ListFilter) Filtered() bool {
	return f.Search != "" || f.Status != "" || f.Scope != "" || f.Compliance != "" || f.Owner != ""
}

// Cleared is f without search, status, scope, compliance or owner: every
// key, same order.
func (f ListFilter) Cleared() ListFilter {
	return ListFilter{Limit: f.Limit}.withSortParam(f.SortParam())
}

// SortOption is a choice of the sort select (phones, where the table has
// no column headers).
type SortOption struct{ Value, Label string }

// SortOptions are the list's orders.
var SortOptions = []SortOption{
	{"-created", "Newest first"},
	{"created", "Oldest first"},
	{"name", "Name, A to Z"},
	{"-name", "Name, Z to A"},
	{"expires", "Expires soonest"},
	{"-expires", "Expires latest"},
	{"-last_used", "Used most recently"},
	{"last_used", "Used least recently"},
}

// StatusTab is one of the list's status filters with its count.
type StatusTab struct {
	Status, Label string
	Count         int
}

// ListStatuses are the status filters in the order the tabs show them.
var ListStatuses = []StatusTab{
	{"", "All", 0},
	{"active", "Active", 0},
	{"expiring", "Expiring soon", 0},
	{"rolled", "Rolled", 0},
	{"expired", "Expired", 0},
	{"revoked", "Revoked", 0},
}

// KeyList is the API keys list: a page of keys and what it is a page of.
type KeyList struct {
	Keys   []apikey.Key
	Now    time.Time
	Filter ListFilter
	// Tabs are the status filters with the number of keys each finds
	// with the filter's search and scope.
	Tabs []StatusTab
	// Total is how many keys the workspace has; ExpiringSoon how many of
	// them are active and expire within apikey.ExpiringWithin.
	Total, ExpiringSoon int
	// NonCompliant is how many of the workspace's keys work and break
	// its key policies.
	NonCompliant int
	// NonCompliantFound is how many of those the search and scope find.
	NonCompliantFound int
	// Next and Prev are the cursors of the pages around this one ("":
	// none).
	Next, Prev string
	// Offset is how many keys of the list come before this page.
	Offset int
	// Problem says why the address was refused (a 400): the page then
	// shows no keys, only the problem and a way back.
	Problem string
}

// Found is how many keys the filter finds in all its pages.
func (l KeyList) Found() int {
	for _, t := range l.Tabs {
		if t.Status == l.Filter.Status {
			return t.Count
		}
	}
	return 0
}

// PageIDs are the ids of the keys on the page, separated by spaces: the
// value of "select all on this page".
func (l KeyList) PageIDs() string {
	ids := make([]string, len(l.Keys))
	for i, k := range l.Keys {
		ids[i] = k.ID
	}
	return strings.Join(ids, " ")
}

// Range says where the page is in the list: "1–50 of 1,234".
func (l KeyList) Range() string {
	first := l.Offset + 1
	return Count(int64(first)) + "–" + Count(int64(l.Offset+len(l.Keys))) + " of " + Count(int64(l.Found()))
}

// FilterDescription says in words what hides keys, for the empty result:
// `matching "prod", expired, that can use data:read, created by you`.
func (l KeyList) FilterDescription() string {
	f := l.Filter
	s := ""
	add := func(part string) {
		if s != "" {
			s += ", "
		}
		s += part
	}
	if f.Status != "" {
		for _, t := range ListStatuses {
			if t.Status == f.Status {
				add(strings.ToLower(t.Label))
			}
		}
	}
	if f.Search != "" {
		add("matching “" + f.Search + "”")
	}
	if f.Scope != "" {
		add("that can use " + ScopeLabel(apikey.Scope(f.Scope)))
	}
	if f.Compliance != "" {
		add("breaking the key policies")
	}
	if f.Owner == "me" {
		add("created by you")
	}
	return s
}

// ExpiresSoonText is the badge of a key expiring soon: "Expires in 3
// days" (days rounded up), or in hours and minutes on its last day.
func ExpiresSoonText(k apikey.Key, now time.Time) string {
	d := k.ExpiresAt.Sub(now)
	if d <= 24*time.Hour {
		return "Expires " + blnk.Until(k.ExpiresAt, now)
	}
	return "Expires in " + plural(int((d+24*time.Hour-1)/(24*time.Hour)), "day")
}

// tabID is the id suffix of a status tab.
func tabID(status string) string {
	if status == "" {
		return "all"
	}
	return status
}

// keysWord is "key" or "keys" for n.
func keysWord(n int) string {
	if n == 1 {
		return "key"
	}
	return "keys"
}

// sortArrow is the arrow of a column header: the direction the column
// sorts by, or a neutral mark.
func sortArrow(state string) string {
	switch state {
	case "ascending":
		return "↑"
	case "descending":
		return "↓"
	}
	return ""
}

// sortCaption says the table's order in words.
func sortCaption(f ListFilter) string {
	switch f.SortParam() {
	case "name":
		return "by name, A to Z"
	case "-name":
		return "by name, Z to A"
	case "expires":
		return "soonest expiry first"
	case "-expires":
		return "latest expiry first"
	case "last_used":
		return "least recently used first"
	case "-last_used":
		return "most recently used first"
	case "created":
		return "oldest first"
	}
	return "newest first"
}

// Creator says whose key k is: the person who created it or was handed it
// (their name, else their email), or the command line.
func Creator(k apikey.Key) string {
	switch {
	case k.CreatedByID == 0:
		return "Command line"
	case k.CreatedByName != "":
		return k.CreatedByName
	case k.CreatedBy != "":
		return k.CreatedBy
	}
	return "A former member"
}

// CreatorDetail is the hover text of Creator: the person's email when the
// list shows their name.
func CreatorDetail(k apikey.Key) string {
	if k.CreatedByID == 0 {
		return "Made with the dashboard's command line"
	}
	return k.CreatedBy
}

// maxRowScopes is how many scopes a row of the list shows; the rest are
// counted ("+2"), named on hover and in the details panel.
const maxRowScopes = 2

// rowScopes splits a key's scopes into those a row shows and the rest.
func rowScopes(s apikey.Set) (shown, rest []apikey.Scope) {
	all := s.Scopes()
	if len(all) <= maxRowScopes {
		return all, nil
	}
	return all[:maxRowScopes], all[maxRowScopes:]
}

// scopeNames joins scopes for a hover text.
func scopeNames(s []apikey.Scope) string {
	names := make([]string, len(s))
	for i, sc := range s {
		names[i] = string(sc)
	}
	return strings.Join(names, ", ")
}
