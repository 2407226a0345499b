package web_test

import (
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/blnk-cloud/apikeys/internal/audit"
	"github.com/blnk-cloud/apikeys/internal/testkit/htmlcheck"
)

// policyForm is the key policies form.
func policyForm(maxDays string, scopes []string, extra ...string) url.Values {
	f := url.Values{"max_lifetime_days": {maxDays}, "member_scopes": scopes}
	for _, name := range extra {
		f.Set(name, "on")
	}
	return f
}

// setPolicy saves the key policies as the Owner.
func (tm *teamServer) setPolicy(t *testing.T, f url.Values) {
	t.Helper()
	if r := tm.clients[roleOwner].post("/settings/policies", f); r.Code != http.StatusSeeOther {
		t.Fatalf("POST /settings/policies: %d\n%s", r.Code, r.Body)
	}
}

func TestKeyPoliciesPage(t *testing.T) {
	tm := newTeamServer(t)
	owner := tm.clients[roleOwner]
	page := htmlcheck.Parse(t, owner.get("/settings/policies").Body)
	if !page.Has(`nav a[href="/settings/policies"][aria-current="page"]`) {
		t.Error("the sidebar has no current Key policies link for the Owner")
	}
	for _, role := range []string{roleAdmin, roleMember, roleViewer} {
		if htmlcheck.Parse(t, tm.clients[role].get("/settings/api-keys").Body).Has(`a[href="/settings/policies"]`) {
			t.Errorf("the %s sees a link to the key policies", role)
		}
	}

	bad := []struct {
		name  string
		form  url.Values
		field string
	}{
		{"zero days", policyForm("0", []string{"*"}), "max_lifetime_days"},
		{"too many days", policyForm("3651", []string{"*"}), "max_lifetime_days"},
		{"negative", policyForm("-5", []string{"*"}), "max_lifetime_days"},
		{"decimal", policyForm("30.5", []string{"*"}), "max_lifetime_days"},
		{"other digits", policyForm("３０", []string{"*"}), "max_lifetime_days"},
		{"huge", policyForm(strings.Repeat("9", 5000), []string{"*"}), "max_lifetime_days"},
		{"html", policyForm("<b>30</b>", []string{"*"}), "max_lifetime_days"},
		{"no scope", policyForm("30", nil), "member_scopes"},
		{"unknown scope", policyForm("30", []string{"mcp:read", "admin:all"}), "member_scopes"},
		{"checkbox value", url.Values{"max_lifetime_days": {"30"}, "member_scopes": {"*"}, "require_expiry": {"yes"}}, "require_expiry"},
		{"allowlist value", url.Values{"member_scopes": {"*"}, "require_allowlist": {"1"}}, "require_allowlist"},
	}
	for _, tc := range bad {
		before := tm.fingerprint(t)
		r := owner.post("/settings/policies", tc.form)
		if r.Code != http.StatusUnprocessableEntity {
			t.Errorf("%s: got %d, want 422", tc.name, r.Code)
			continue
		}
		if p := problems(r.Body)[tc.field]; p == "" {
			t.Errorf("%s: no problem next to %s: %v", tc.name, tc.field, problems(r.Body))
		}
		if after := tm.fingerprint(t); after != before {
			t.Errorf("%s: refused, but the database changed", tc.name)
		}
	}

	// Saved, read back, and audited with before and after.
	tm.setPolicy(t, policyForm(" 30 ", []string{"mcp:read", "data:write"}, "require_allowlist"))
	page = htmlcheck.Parse(t, owner.get("/settings/policies").Body)
	if v, _ := page.Attr("#f-max_lifetime_days", "value"); v != "30" {
		t.Errorf("max lifetime shown %q, want 30", v)
	}
	for sel, want := range map[string]bool{
		`input[name=member_scopes][value="mcp:read"][checked]`: true, `input[name=member_scopes][value="data:write"][checked]`: true,
		`input[name=member_scopes][value="*"][checked]`: false, `#f-require_allowlist[checked]`: true, `#f-require_expiry[checked]`: false,
	} {
		if page.Has(sel) != want {
			t.Errorf("%s: shown %v, want %v", sel, !want, want)
		}
	}
	if n := tm.auditCount(t, audit.PolicyChanged); n != 1 {
		t.Fatalf("%d policy.changed events, want 1", n)
	}
	var details string
	if err := tm.raw.QueryRow(`SELECT details FROM audit_events WHERE action = 'policy.changed'`).Scan(&details); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{`"before":{`, `"after":{`, `"max_lifetime_days":30`, `"member_scopes":"mcp:read data:write"`, `"require_allowlist":true`} {
		if !strings.Contains(details, want) {
			t.Errorf("policy.changed details %s lack %s", details, want)
		}
	}
	log := htmlcheck.Parse(t, owner.get("/settings/audit-log?action=policy.changed").Body)
	if got := log.Text("ol.audit-events"); !strings.Contains(got, "Key policies changed") || !strings.Contains(got, "max_lifetime_days") {
		t.Errorf("the audit log does not show the change readably: %q", got)
	}
	// The same again changes nothing and records nothing.
	tm.setPolicy(t, policyForm("30", []string{"mcp:read", "data:write"}, "require_allowlist"))
	if n := tm.auditCount(t, audit.PolicyChanged); n != 1 {
		t.Errorf("saving the same policies recorded an event: %d", n)
	}
}

func TestKeyPoliciesEnforced(t *testing.T) {
	tm := newTeamServer(t)
	owner, admin, member := tm.clients[roleOwner], tm.clients[roleAdmin], tm.clients[roleMember]
	// Made before the policies: no allowlist, never expiring.
	old := member.createKey(keyForm("old member key", "never", "mcp:read"))
	listed := member.createKey(withField(keyForm("old listed key", "never", "mcp:read"), "allowlist", "10.0.0.0/8"))
	tm.setPolicy(t, policyForm("30", []string{"mcp:read"}, "require_allowlist"))

	create := func(c *client, form url.Values) *response {
		t.Helper()
		return c.post("/settings/api-keys", form)
	}
	cases := []struct {
		name  string
		c     *client
		form  url.Values
		field string // "" : created
	}{
		{"never", member, withField(keyForm("a", "never", "mcp:read"), "allowlist", "10.0.0.1"), "expires"},
		{"90 days", member, withField(keyForm("b", "90d", "mcp:read"), "allowlist", "10.0.0.1"), "expires"},
		{"date too late", member, withField(withField(keyForm("c", "date", "mcp:read"), "allowlist", "10.0.0.1"), "expires_on", tm.clock.Now().AddDate(0, 0, 32).Format("2006-01-02")), "expires"},
		{"member scope", member, withField(keyForm("d", "30d", "data:write"), "allowlist", "10.0.0.1"), "scopes"},
		{"member all", member, withField(keyForm("e", "30d", "*"), "allowlist", "10.0.0.1"), "scopes"},
		{"no allowlist", member, keyForm("f", "30d", "mcp:read"), "allowlist"},
		{"admin never", admin, withField(keyForm("g", "never", "*"), "allowlist", "10.0.0.1"), "expires"},
		{"member ok", member, withField(keyForm("h", "30d", "mcp:read"), "allowlist", "10.0.0.1"), ""},
		{"member date ok", member, withField(withField(keyForm("i", "date", "mcp:read"), "allowlist", "10.0.0.1"), "expires_on", tm.clock.Now().AddDate(0, 0, 30).Format("2006-01-02")), ""},
		{"admin any scope", admin, withField(keyForm("j", "30d", "*"), "allowlist", "10.0.0.1"), ""},
	}
	for _, tc := range cases {
		before := tm.fingerprint(t)
		r := create(tc.c, tc.form)
		if tc.field == "" {
			if r.Code != http.StatusSeeOther {
				t.Errorf("%s: got %d, want 303\n%.500s", tc.name, r.Code, problems(r.Body))
			}
			continue
		}
		if r.Code != http.StatusUnprocessableEntity {
			t.Errorf("%s: got %d, want 422", tc.name, r.Code)
			continue
		}
		if p := problems(r.Body)[tc.field]; !strings.Contains(p, "(Key policies)") {
			t.Errorf("%s: problem next to %s %q does not name the policy (all: %v)", tc.name, tc.field, p, problems(r.Body))
		}
		if after := tm.fingerprint(t); after != before {
			t.Errorf("%s: refused, but the database changed", tc.name)
		}
	}
	// The form shows the limits.
	form := htmlcheck.Parse(t, member.get("/settings/api-keys/new").Body)
	if !strings.Contains(form.Text("#policy-note"), "30 days") || !form.Has(`label.choice-refused input[value=never]`) || !form.Has(`label.choice-refused input[value="90d"]`) {
		t.Errorf("the create form does not show the policy's limits: %q", form.Text("#policy-note"))
	}

	// Edit: a working key cannot lose (or stay without) its allowlist.
	r := member.post("/settings/api-keys/"+listed.ID+"/edit", url.Values{"allowlist": {""}})
	if r.Code != http.StatusUnprocessableEntity || !strings.Contains(problems(r.Body)["allowlist"], "(Key policies)") {
		t.Errorf("edit without allowlist: %d %v", r.Code, problems(r.Body))
	}
	if r := member.post("/settings/api-keys/"+listed.ID+"/edit", url.Values{"name": {"renamed"}}); r.Code != http.StatusSeeOther {
		t.Errorf("rename of a key with an allowlist: %d", r.Code)
	}

	// Roll: the old key without allowlist is refused; the one with it
	// rolls into a key that expires within 30 days.
	dialog := htmlcheck.Parse(t, member.get("/settings/api-keys/"+old.ID+"/roll").Body)
	if !strings.Contains(dialog.Text("#roll-desc"), "requires an IP allowlist (Key policies)") || dialog.Has(`form[action$="/roll"]`) {
		t.Errorf("the roll dialog of a key without allowlist: %q", dialog.Text("#roll-desc"))
	}
	before := tm.fingerprint(t)
	if r := member.post("/settings/api-keys/"+old.ID+"/roll", url.Values{"overlap": {"now"}, "form_token": {formToken()}}); r.Code != http.StatusUnprocessableEntity {
		t.Errorf("roll of a key without allowlist: %d, want 422", r.Code)
	}
	if tm.fingerprint(t) != before {
		t.Error("a refused roll changed the database")
	}
	dialog = htmlcheck.Parse(t, member.get("/settings/api-keys/"+listed.ID+"/roll").Body)
	if !strings.Contains(dialog.Text("#roll-policy-note"), "at most 30 days") {
		t.Errorf("the roll dialog does not say the policy shortens the expiry: %q", dialog.Text(".roll-explain"))
	}
	r = member.post("/settings/api-keys/"+listed.ID+"/roll", url.Values{"overlap": {"now"}, "form_token": {formToken()}})
	if r.Code != http.StatusSeeOther {
		t.Fatalf("roll within the policy: %d\n%.400s", r.Code, r.Body)
	}
	var expires int64
	if err := tm.raw.QueryRow(`SELECT expires_at FROM api_keys WHERE rolled_from = $1`, listed.ID).Scan(&expires); err != nil {
		t.Fatal(err)
	}
	if latest := tm.clock.Now().UTC().Truncate(24*60*60*1e9).AddDate(0, 0, 31).UnixMilli(); expires != latest {
		t.Errorf("the new key expires at %d, want %d (the end of the 30th day)", expires, latest)
	}

	// The old key keeps working, and is marked and counted.
	if r := owner.api("/api/v1/whoami", old.Token); r.Code != http.StatusOK {
		t.Errorf("the non-compliant key stopped working: %d", r.Code)
	}
	list := htmlcheck.Parse(t, owner.get("/settings/api-keys").Body)
	if !list.Has("#"+"key-"+old.ID+" .badge-noncompliant") && !list.Has(`tr:has(a[href$="`+old.ID+`"]) .badge-noncompliant`) {
		t.Errorf("the old key's row has no Non-compliant badge")
	}
	if got := list.Text("#policy-banner strong"); !strings.HasPrefix(got, "1 working key breaks") {
		t.Errorf("banner %q, want 1 working key", got)
	}
	filtered := htmlcheck.Parse(t, owner.get("/settings/api-keys?compliance=noncompliant").Body)
	if n := filtered.Count(`.badge-noncompliant`); n != 1 || !filtered.Has(`a[href$="`+old.ID+`"]`) {
		t.Errorf("the non-compliant filter shows %d marked rows, want only the old key", n)
	}
	if got := filtered.Text("#compliance-filter .tab-count"); got != "1" {
		t.Errorf("the filter's count %q, want 1", got)
	}
	panel := htmlcheck.Parse(t, owner.get("/settings/api-keys/"+old.ID).Body)
	if !strings.Contains(panel.Text(".policy-details"), "no IP allowlist") {
		t.Errorf("the panel does not say why: %q", panel.Text(".policy-details"))
	}
	if r := owner.get("/settings/api-keys?compliance=yes"); r.Code != http.StatusBadRequest {
		t.Errorf("unknown compliance value: %d, want 400", r.Code)
	}
	policies := htmlcheck.Parse(t, owner.get("/settings/policies").Body)
	if got := policies.Text("#policy-banner strong"); !strings.HasPrefix(got, "1 working key breaks") {
		t.Errorf("the policies page counts %q", got)
	}
}

// withField returns f with name set to value.
func withField(f url.Values, name, value string) url.Values {
	f.Set(name, value)
	return f
}
