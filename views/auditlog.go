package views

import (
	"encoding/json"
	"fmt"
	"net/url"
	"sort"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/blnk-cloud/apikeys/internal/apikey"
	"github.com/blnk-cloud/apikeys/internal/audit"
)

// AuditPath is the address of the audit log.
const AuditPath = "/settings/audit-log"

// AuditFilter is the audit log's filter as the URL says it: a key (id or
// prefix), an actor, an action, and the page's cursor.
type AuditFilter struct {
	Key    string
	Actor  string
	Action string
	Before string // a page of events older than this id
	After  string // a page of events newer than this id
}

// Empty reports whether the filter selects every event.
func (f AuditFilter) Empty() bool { return f.Key == "" && f.Actor == "" && f.Action == "" }

// With returns the filter with one value changed (by its URL name), on
// its first page unless the value is a cursor.
func (f AuditFilter) With(name, value string) AuditFilter {
	f.Before, f.After = "", ""
	switch name {
	case "key":
		f.Key = value
	case "actor":
		f.Actor = value
	case "action":
		f.Action = value
	case "before":
		f.Before = value
	case "after":
		f.After = value
	}
	return f
}

func (f AuditFilter) query() url.Values {
	q := url.Values{}
	for _, kv := range [][2]string{{"key", f.Key}, {"actor", f.Actor}, {"action", f.Action}, {"before", f.Before}, {"after", f.After}} {
		if kv[1] != "" {
			q.Set(kv[0], kv[1])
		}
	}
	return q
}

// URL is the address of the audit log showing this filter and page.
func (f AuditFilter) URL() string {
	if q := f.query(); len(q) > 0 {
		return AuditPath + "?" + q.Encode()
	}
	return AuditPath
}

// ExportURL is the address of the export of the filter's events (every
// page) in format "csv" or "json".
func (f AuditFilter) ExportURL(format string) string {
	f.Before, f.After = "", ""
	u := AuditPath + "." + format
	if q := f.query(); len(q) > 0 {
		u += "?" + q.Encode()
	}
	return u
}

// ActionLabel is an audit action as people read it.
func ActionLabel(a audit.Action) string {
	switch a {
	case audit.KeyCreated:
		return "Key created"
	case audit.KeyRevealed:
		return "Key revealed"
	case audit.KeyEdited:
		return "Key edited"
	case audit.KeyRolled:
		return "Key rolled"
	case audit.KeyRevoked:
		return "Key revoked"
	case audit.KeyLeaked:
		return "Key reported leaked"
	case audit.KeyExpired:
		return "Key expired"
	case audit.WebhookCreated:
		return "Webhook created"
	case audit.WebhookDeleted:
		return "Webhook deleted"
	case audit.WebhookEnabled:
		return "Webhook enabled"
	case audit.WebhookDisabled:
		return "Webhook disabled"
	case audit.WebhookTested:
		return "Webhook test event sent"
	case audit.UserSignedIn:
		return "Signed in"
	case audit.UserSignInFailed:
		return "Sign-in failed"
	case audit.UserSignedOut:
		return "Signed out"
	}
	return string(a)
}

// actionClass is the CSS class suffix of an action's badge.
func actionClass(a audit.Action) string {
	switch a {
	case audit.KeyRevoked, audit.KeyLeaked, audit.UserSignInFailed, audit.WebhookDeleted:
		return "danger"
	case audit.KeyExpired, audit.WebhookDisabled:
		return "warning"
	case audit.KeyCreated, audit.KeyRolled, audit.WebhookCreated:
		return "accent"
	}
	return "neutral"
}

func dash(s string) string {
	if s == "" {
		return "—"
	}
	return s
}

// EventSummary says in a line what an event's details hold: what a new
// key was given, what an edit changed (before → after), where a roll
// led.
func EventSummary(ev audit.Event) string {
	d := ev.Details
	if d == nil && len(ev.RawDetails) > 0 {
		json.Unmarshal(ev.RawDetails, &d)
	}
	var parts []string
	switch ev.Action {
	case audit.KeyCreated:
		if n, ok := d["name"].(string); ok {
			parts = append(parts, "“"+clip(n, 60)+"”")
		}
		if s, ok := d["scopes"].(string); ok {
			parts = append(parts, "scopes "+s)
		}
		parts = append(parts, expiryText(d["expires_at"]))
		if from, ok := d["rolled_from"].(map[string]any); ok {
			parts = append(parts, fmt.Sprintf("replaces %v...", from["prefix"]))
		}
	case audit.KeyEdited:
		before, _ := d["before"].(map[string]any)
		after, _ := d["after"].(map[string]any)
		for _, field := range sortedKeys(after) {
			parts = append(parts, fmt.Sprintf("%s: %s → %s", field, quoted(before[field]), quoted(after[field])))
		}
	case audit.KeyRolled:
		if into, ok := d["rolled_into"].(map[string]any); ok {
			parts = append(parts, fmt.Sprintf("rolled into %v...", into["prefix"]))
		}
		if o, ok := d["overlap"].(string); ok {
			parts = append(parts, "overlap "+o)
		}
		if after, ok := d["after"].(map[string]any); ok {
			parts = append(parts, "old key stops working "+whenText(after["expires_at"]))
		}
	case audit.KeyExpired:
		parts = append(parts, "expired "+whenText(d["expired_at"]))
	default:
		for _, k := range sortedKeys(d) {
			parts = append(parts, fmt.Sprintf("%s: %s", k, quoted(d[k])))
		}
	}
	return strings.Join(parts, " · ")
}

func sortedKeys(m map[string]any) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// whenText is a time of the details (RFC 3339, or nil for never) as the
// log shows it.
func whenText(v any) string {
	s, ok := v.(string)
	if !ok || s == "" {
		return "never"
	}
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return s
	}
	return Exact(t)
}

// expiryText is a key's expiry of the details as the list says it: the
// last day it works, for the end of a day; else the instant.
func expiryText(v any) string {
	s, ok := v.(string)
	if !ok || s == "" {
		return "never expires"
	}
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return "expires " + s
	}
	if t.Equal(t.Truncate(24 * time.Hour)) {
		return "works through " + Date(apikey.LastValidDay(t))
	}
	return "expires " + Exact(t)
}

// quoted is a value of the details, shown short: text in quotes, cut
// after 60 characters.
func quoted(v any) string {
	switch x := v.(type) {
	case nil:
		return "(none)"
	case string:
		if x == "" {
			return "(none)"
		}
		return "“" + clip(x, 60) + "”"
	case map[string]any, []any:
		b, _ := json.Marshal(x)
		return clip(string(b), 80)
	}
	return fmt.Sprint(v)
}

// clip cuts s to n characters, with an ellipsis if it was longer, and
// puts line breaks on one line.
func clip(s string, n int) string {
	s = strings.Join(strings.Fields(s), " ")
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	r := []rune(s)
	return string(r[:n]) + "…"
}
