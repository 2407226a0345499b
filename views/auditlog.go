package views

import (
	"cmp"
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

// actionWords is how the log shows each action: its label (the filter's
// options and the badge), the verb of the log's sentence ("revoked key":
// the key follows) and its badge's CSS class suffix. An action missing
// here, or a field left empty, shows the action's own name ("neutral"
// for the class).
var actionWords = map[audit.Action]struct{ label, verb, class string }{
	audit.KeyCreated:               {"Key created", "created key", "accent"},
	audit.KeyRevealed:              {"Key revealed", "revealed key", ""},
	audit.KeyEdited:                {"Key edited", "edited key", ""},
	audit.KeyRolled:                {"Key rolled", "rolled key", "accent"},
	audit.KeyRevoked:               {"Key revoked", "revoked key", "danger"},
	audit.KeyLeaked:                {"Key reported leaked", "reported leaked key", "danger"},
	audit.KeyExpired:               {"Key expired", "recorded the expiry of key", "warning"},
	audit.WebhookCreated:           {"Webhook created", "added webhook endpoint", "accent"},
	audit.WebhookDeleted:           {"Webhook deleted", "deleted webhook endpoint", "danger"},
	audit.WebhookEnabled:           {"Webhook enabled", "", ""},
	audit.WebhookDisabled:          {"Webhook disabled", "", "warning"},
	audit.WebhookTested:            {"Webhook test event sent", "", ""},
	audit.UserSignedIn:             {"Signed in", "signed in", ""},
	audit.UserSignInFailed:         {"Sign-in failed", "failed to sign in", "danger"},
	audit.UserSignedOut:            {"Signed out", "signed out", ""},
	audit.KeyTransferred:           {"Key transferred", "", ""},
	audit.MemberInvited:            {"Member invited", "", ""},
	audit.MemberInvitationRevoked:  {"Invitation revoked", "", ""},
	audit.MemberJoined:             {"Member joined", "", ""},
	audit.MemberRoleChanged:        {"Role changed", "", ""},
	audit.MemberRemoved:            {"Member removed", "", "danger"},
	audit.PolicyChanged:            {"Key policies changed", "", ""},
	audit.PasswordResetLinkCreated: {"Password reset link created", "", "warning"},
	audit.PasswordChanged:          {"Password changed", "", "warning"},
	audit.SessionRevoked:           {"Session signed out", "", "warning"},
	audit.TokenCreated:             {"Token created", "created management token", ""},
	audit.TokenRevoked:             {"Token revoked", "revoked management token", ""},
	audit.PasskeyAdded:             {"Passkey added", "added passkey", ""},
	audit.PasskeyRemoved:           {"Passkey removed", "removed passkey", "danger"},
}

// ActionLabel is an audit action as people read it.
func ActionLabel(a audit.Action) string {
	return cmp.Or(actionWords[a].label, string(a))
}

// actionClass is the CSS class suffix of an action's badge.
func actionClass(a audit.Action) string {
	return cmp.Or(actionWords[a].class, "neutral")
}

// EventSummary says in a line what an event's details hold: what a new
// key was given, what an edit changed (before → after), where a roll
// led.
func EventSummary(ev audit.Event) string {
	d := eventDetails(ev)
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
	case audit.KeyEdited, audit.PolicyChanged:
		before, _ := d["before"].(map[string]any)
		after, _ := d["after"].(map[string]any)
		// Short values read inline; long ones are in the details.
		for _, field := range sortedKeys(after) {
			b, a := quoted(before[field]), quoted(after[field])
			if utf8.RuneCountInString(b) > 42 || utf8.RuneCountInString(a) > 42 {
				parts = append(parts, field+" changed")
				continue
			}
			parts = append(parts, fmt.Sprintf("%s: %s → %s", field, b, a))
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
	case audit.KeyLeaked:
		if u, ok := d["url"].(string); ok && u != "" {
			parts = append(parts, "found at "+clip(u, 60))
		}
		if src, ok := d["source"].(string); ok && src != "" {
			parts = append(parts, "reported by "+clip(src, 40))
		}
		if r, _ := d["revoked"].(bool); r {
			parts = append(parts, "revoked")
		}
	case audit.UserSignInFailed:
		if r, ok := d["reason"].(string); ok {
			parts = append(parts, r)
		}
	case audit.WebhookCreated, audit.WebhookDeleted:
		// The sentence names the URL.
		if evs, ok := d["events"].([]any); ok {
			parts = append(parts, "events "+fullValue(evs))
		}
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

// detailTime reads a time of the details: s is its text ("" for none:
// nil, or not text), t the time when the text parses as RFC 3339 (ok).
func detailTime(v any) (s string, t time.Time, ok bool) {
	s, _ = v.(string)
	if s == "" {
		return "", time.Time{}, false
	}
	t, err := time.Parse(time.RFC3339Nano, s)
	return s, t, err == nil
}

// whenText is a time of the details (RFC 3339, or nil for never) as the
// log shows it.
func whenText(v any) string {
	s, t, ok := detailTime(v)
	switch {
	case s == "":
		return "never"
	case !ok:
		return s
	}
	return Exact(t)
}

// expiryText is a key's expiry of the details as the list says it: the
// last day it works, for the end of a day; else the instant (whenText).
func expiryText(v any) string {
	s, t, ok := detailTime(v)
	switch {
	case s == "":
		return "never expires"
	case ok && t.Equal(t.Truncate(24*time.Hour)):
		return "works through " + Date(apikey.LastValidDay(t))
	}
	return "expires " + whenText(v)
}

// absent reports whether a value of the details holds nothing (nil or
// empty text): "(none)" in the log.
func absent(v any) bool {
	s, text := v.(string)
	return v == nil || text && s == ""
}

// quoted is a value of the details, shown short: text in quotes, cut
// after 60 characters.
func quoted(v any) string {
	if absent(v) {
		return "(none)"
	}
	switch x := v.(type) {
	case string:
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

// EventVerb is what the actor of an event did, as the log's sentence says
// it after the actor's name: "revoked key" (the key follows), "signed in".
func EventVerb(a audit.Action) string {
	return cmp.Or(actionWords[a].verb, string(a))
}

// EventObject is what an event's sentence names after its verb when the
// event is not about a key: a webhook endpoint's URL.
func EventObject(ev audit.Event) string {
	if ev.KeyID != "" {
		return ""
	}
	switch ev.Action {
	case audit.WebhookCreated, audit.WebhookDeleted:
		if u, ok := eventDetails(ev)["url"].(string); ok {
			return u
		}
	case audit.TokenCreated, audit.TokenRevoked:
		if n, ok := eventDetails(ev)["name"].(string); ok {
			return "“" + n + "”"
		}
	case audit.PasskeyAdded, audit.PasskeyRemoved:
		if n, ok := eventDetails(ev)["name"].(string); ok {
			return n
		}
	}
	return ""
}

// PayloadRow is one field of an event's details, shown in full when the
// row is expanded: a value, or for a change its value before and after.
type PayloadRow struct {
	Field         string
	Value         string
	Before, After string
	Change        bool
}

// EventPayload is an event's details, field by field and in full (the
// summary line clips them): what an edit changed before and after, what
// a roll did to the old key's expiry, every other field as it is. It is
// empty when the summary says it all already (one field).
func EventPayload(ev audit.Event) []PayloadRow {
	rows := eventPayload(ev)
	if len(rows) == 1 && !rows[0].Change {
		return nil
	}
	return rows
}

func eventPayload(ev audit.Event) []PayloadRow {
	d := eventDetails(ev)
	var rows []PayloadRow
	before, _ := d["before"].(map[string]any)
	after, hasAfter := d["after"].(map[string]any)
	if hasAfter {
		for _, f := range sortedKeys(after) {
			rows = append(rows, PayloadRow{Field: fieldLabel(f), Before: fieldValue(f, before[f]), After: fieldValue(f, after[f]), Change: true})
		}
	}
	for _, k := range sortedKeys(d) {
		if hasAfter && (k == "before" || k == "after") {
			continue
		}
		rows = append(rows, PayloadRow{Field: fieldLabel(k), Value: fieldValue(k, d[k])})
	}
	return rows
}

func eventDetails(ev audit.Event) map[string]any {
	d := ev.Details
	if d == nil && len(ev.RawDetails) > 0 {
		json.Unmarshal(ev.RawDetails, &d)
	}
	return d
}

// fieldLabel is a field of the details as people read it.
func fieldLabel(f string) string {
	switch f {
	case "expires_at":
		return "Expires"
	case "expired_at":
		return "Expired"
	case "rolled_into":
		return "Rolled into"
	case "rolled_from":
		return "Replaces"
	case "url":
		return "URL"
	case "webhook_id":
		return "Endpoint id"
	}
	f = strings.ReplaceAll(f, "_", " ")
	if f == "" {
		return f
	}
	return strings.ToUpper(f[:1]) + f[1:]
}

// fieldValue is the value of field f in full; no expiry is "never".
func fieldValue(f string, v any) string {
	if v == nil && f == "expires_at" {
		return "never"
	}
	return fullValue(v)
}

// fullValue is a value of the details in full: text as it is, a time as
// the log shows times, a key reference by its prefix and id.
func fullValue(v any) string {
	if absent(v) {
		return "(none)"
	}
	switch x := v.(type) {
	case string:
		if _, t, ok := detailTime(x); ok {
			return Exact(t)
		}
		return x
	case bool:
		if x {
			return "yes"
		}
		return "no"
	case map[string]any:
		if p, ok := x["prefix"].(string); ok {
			if id, ok := x["id"].(string); ok {
				return p + "... (" + id + ")"
			}
			return p + "..."
		}
		b, _ := json.Marshal(x)
		return string(b)
	case []any:
		parts := make([]string, len(x))
		for i, e := range x {
			parts[i] = fmt.Sprint(e)
		}
		return strings.Join(parts, ", ")
	}
	return fmt.Sprint(v)
}
