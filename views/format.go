// Package views holds the dashboard's templ components. Pages and the
// fragments htmx swaps in are built from the same components, so a flow
// looks the same with and without JavaScript.
package views

import (
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/blnk-cloud/apikeys/internal/apikey"
	"github.com/blnk-cloud/apikeys/internal/blnk"
)

// Page is what the page shell needs around every signed-in page.
type Page struct {
	Title     string
	Email     string // the signed-in user
	Workspace string
	// WorkspaceID is the current workspace; Workspaces every workspace
	// of the person, for the sidebar's switch (shown when more than one).
	WorkspaceID int64
	Workspaces  []blnk.Membership
	Flash       string // a one-time notice at the top of the page
	Now         time.Time
	Nav         string // the sidebar entry of the page: "" (API keys) or NavAudit
	// NotInNav marks a page that is none of the navigation's entries (an
	// error page): no entry is shown as the current page.
	NotInNav bool
}

// NavAudit is Page.Nav for the audit log.
const NavAudit = "audit"

// NavWebhooks is Page.Nav for the webhook pages.
const NavWebhooks = "webhooks"

// Date formats a day the way the tables show it: "Nov 26, 2026" (UTC).
func Date(t time.Time) string {
	return t.UTC().Format("Jan 2, 2006")
}

// Exact formats an instant in full, for tooltips and details.
func Exact(t time.Time) string {
	return t.UTC().Format("Jan 2, 2006 15:04:05 UTC")
}

// ISO formats an instant for <time datetime>.
func ISO(t time.Time) string {
	return t.UTC().Format(time.RFC3339)
}

// Ago describes how long before now t was, in the largest whole unit.
func Ago(t, now time.Time) string {
	d := now.Sub(t)
	switch {
	case d < 0:
		return "just now" // clocks of two processes may disagree by a little
	case d < time.Minute:
		return "just now"
	case d < time.Hour:
		return plural(int(d/time.Minute), "minute") + " ago"
	case d < 24*time.Hour:
		return plural(int(d/time.Hour), "hour") + " ago"
	case d < 30*24*time.Hour:
		return plural(int(d/(24*time.Hour)), "day") + " ago"
	}
	return "on " + Date(t)
}

func plural(n int, unit string) string {
	if n == 1 {
		return "1 " + unit
	}
	return fmt.Sprintf("%d %ss", n, unit)
}

// ExpiresText is what the Expires column says: the last day the key works,
// or Never.
func ExpiresText(k apikey.Key) string {
	if k.ExpiresAt.IsZero() {
		return "Never"
	}
	return Date(apikey.LastValidDay(k.ExpiresAt))
}

// StatusLabel is a status as people read it: the label of its tab on
// the keys list (one word for a status everywhere), or its own name for
// a status without a tab.
func StatusLabel(s apikey.Status) string {
	for _, t := range ListStatuses {
		if t.Status != "" && t.Status == string(s) {
			return t.Label
		}
	}
	return string(s)
}

// RoleLabel is a key's role as people read it.
func RoleLabel(r apikey.Role) string {
	if r == apikey.Member {
		return "Member"
	}
	return string(r)
}

// ScopeLabel is the short label of a scope ("All permissions" for *).
func ScopeLabel(s apikey.Scope) string {
	if info, ok := apikey.Info(s); ok {
		return info.Label
	}
	return string(s)
}

// ScopeDescription is the one-line explanation of a scope.
func ScopeDescription(s apikey.Scope) string {
	info, _ := apikey.Info(s)
	return info.Description
}

// KeyURL is the address of a key's page, or of one of its sub-pages.
func KeyURL(id string, sub ...string) string {
	u := "/settings/api-keys/" + id
	for _, s := range sub {
		u += "/" + s
	}
	return u
}

// RowID is the HTML id of a key's table row, the target of in-place updates.
func RowID(id string) string { return "key-row-" + id }

// DetailsID is the HTML id of a key's details, swapped after a revoke.
func DetailsID(id string) string { return "key-details-" + id }

// TitleID is the HTML id of a key's name in the title of its panel or
// page, updated in place after an edit.
func TitleID(id string) string { return "key-title-" + id }

// initial is the first letter of s, upper-cased, for avatars.
func initial(s string) string {
	for _, r := range s {
		return strings.ToUpper(string(r))
	}
	return "?"
}

// statusText is "404 · Not Found" for an error page's eyebrow.
func statusText(status int) string {
	return fmt.Sprintf("%d · %s", status, http.StatusText(status))
}

// ConfirmationText says how the servers confirmed a revocation: "Revoked ·
// confirmed by 3 of 3 servers in 14 ms", or, when some had not applied it
// but their lease had run out, "Revoked · confirmed by 2 of 3 servers; 1
// stopped trusting its memory within 3.1 s".
func ConfirmationText(c apikey.Confirmation) string {
	servers := "servers"
	if c.Servers == 1 {
		servers = "server"
	}
	if c.Lapsed == 0 && c.Complete() {
		return fmt.Sprintf("Revoked · confirmed by %d of %d %s in %s", c.Confirmed, c.Servers, servers, blnk.FormatDuration(c.Took))
	}
	text := fmt.Sprintf("Revoked · confirmed by %d of %d %s", c.Confirmed, c.Servers, servers)
	if c.Lapsed > 0 {
		their := "their"
		if c.Lapsed == 1 {
			their = "its"
		}
		text += fmt.Sprintf("; %d stopped trusting %s memory", c.Lapsed, their)
		if c.Complete() {
			return text + " within " + blnk.FormatDuration(c.Took)
		}
	}
	return text + fmt.Sprintf("; %d not confirmed within %s", c.Servers-c.Confirmed-c.Lapsed, blnk.FormatDuration(c.Took))
}

// dash is s, or a dash when s is empty.
func dash(s string) string {
	if s == "" {
		return "—"
	}
	return s
}
