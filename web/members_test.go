package web_test

import (
	"context"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/PuerkitoBio/goquery"

	"github.com/blnk-cloud/apikeys/db"
	"github.com/blnk-cloud/apikeys/internal/apikey"
	"github.com/blnk-cloud/apikeys/internal/audit"
	"github.com/blnk-cloud/apikeys/internal/blnk"
	"github.com/blnk-cloud/apikeys/internal/testkit"
)

// auditCount counts a workspace's events of action.
func (tm *teamServer) auditCount(t *testing.T, action audit.Action) int {
	t.Helper()
	var n int
	if err := tm.raw.QueryRow(`SELECT count(*) FROM audit_events WHERE action = $1`, string(action)).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

// invite makes an invitation as the person of role and returns its link's
// path.
func (tm *teamServer) invite(t *testing.T, role, email string, as blnk.Role) string {
	t.Helper()
	r := tm.clients[role].post("/settings/members/invitations", url.Values{"email": {email}, "role": {string(as)}})
	if r.Code != http.StatusOK {
		t.Fatalf("invite %s: %d\n%.500s", email, r.Code, textOf(t, r.Body))
	}
	if cc := r.Header.Get("Cache-Control"); cc != "no-store" {
		t.Errorf("the invitation link's page: Cache-Control %q, want no-store", cc)
	}
	link := parse(t, r.Body).Text("#invitation-link")
	u, err := url.Parse(link)
	if err != nil || !strings.HasPrefix(u.Path, "/invite/") || u.Scheme+"://"+u.Host != origin {
		t.Fatalf("invitation link %q", link)
	}
	if tok := strings.TrimPrefix(u.Path, "/invite/"); len(tok) < 43 { // 256 bits, base64
		t.Errorf("invitation token of %d characters", len(tok))
	}
	if strings.Contains(tm.logs.String(), u.Path) {
		t.Error("the invitation token is in the log")
	}
	return u.Path
}

func (tm *teamServer) workspaceID(t *testing.T, name string) int64 {
	t.Helper()
	ws, err := tm.db.FindWorkspace(context.Background(), name)
	if err != nil {
		t.Fatal(err)
	}
	return ws.ID
}

func TestInvitationNewPerson(t *testing.T) {
	tm := newTeamServer(t)
	joined := tm.auditCount(t, audit.MemberJoined) // the team's own
	link := tm.invite(t, roleAdmin, "New.Person@example.com", blnk.RoleMember)
	if got := tm.auditCount(t, audit.MemberInvited); got != 1 {
		t.Errorf("%d member.invited events, want 1", got)
	}
	// The link is not shown again: the members page lists the pending
	// invitation, without it.
	page := tm.clients[roleAdmin].get("/settings/members")
	d := parse(t, page.Body)
	if d.Has("#invitation-link") || strings.Contains(page.Body, link) {
		t.Error("the members page shows the invitation link again")
	}
	if got := d.Text("table.invitations tbody tr td[data-label=Email]"); got != "new.person@example.com" {
		t.Errorf("pending invitations: %q", got)
	}

	guest := tm.client()
	form := guest.get(link)
	if form.Code != http.StatusOK || form.Header.Get("Referrer-Policy") != "no-referrer" {
		t.Fatalf("the invitation page: %d, Referrer-Policy %q", form.Code, form.Header.Get("Referrer-Policy"))
	}
	if fd := parse(t, form.Body); !fd.Has("input[name=name]") || !fd.Has("input[name=password]") {
		t.Fatalf("the new person's form has no name and password:\n%s", textOf(t, form.Body))
	}
	if r := guest.post(link, url.Values{"name": {"New Person"}, "password": {"short"}}); r.Code != http.StatusUnprocessableEntity {
		t.Errorf("a short password: %d, want 422", r.Code)
	}
	r := guest.post(link, url.Values{"name": {"New Person"}, "password": {adminPassword}})
	if r.Code != http.StatusSeeOther || r.Header.Get("Location") != "/settings/api-keys" {
		t.Fatalf("accept: %d %q\n%s", r.Code, r.Header.Get("Location"), textOf(t, r.Body))
	}
	keys := guest.follow(r)
	if keys.Code != http.StatusOK || !strings.Contains(parse(t, keys.Body).Text(".workspace-chip"), adminWorkspace) {
		t.Errorf("after joining: %d, workspace %q", keys.Code, parse(t, keys.Body).Text(".workspace-chip"))
	}
	members := parse(t, tm.clients[roleViewer].get("/settings/members").Body)
	var found bool
	members.Find("table.members tbody tr").Each(func(_ int, s *goquery.Selection) {
		if strings.Contains(s.Text(), "New Person") && strings.Contains(s.Find("td[data-label=Role]").Text(), "Member") {
			found = true
		}
	})
	if !found {
		t.Errorf("the new member is not listed as a Member:\n%s", members.Text("table.members"))
	}
	if got := tm.auditCount(t, audit.MemberJoined) - joined; got != 1 {
		t.Errorf("%d member.joined events, want 1", got)
	}
	// Single use.
	again := tm.client()
	if r := again.get(link); r.Code != http.StatusGone {
		t.Errorf("a used link: %d, want 410", r.Code)
	}
	if r := again.post(link, url.Values{"name": {"Again"}, "password": {adminPassword}}); r.Code != http.StatusGone {
		t.Errorf("a used link, posted: %d, want 410", r.Code)
	}
}

func TestInvitationExistingPerson(t *testing.T) {
	tm := newTeamServer(t)
	link := tm.invite(t, roleOwner, "other@example.com", blnk.RoleViewer)
	guest := tm.client()
	form := parse(t, guest.get(link).Body)
	if form.Has("input[name=name]") || !form.Has("input[name=email]") {
		t.Fatal("an existing person is asked for a new name instead of signing in")
	}
	before := tm.fingerprint(t)
	if r := guest.post(link, url.Values{"email": {"member@example.com"}, "password": {adminPassword}}); r.Code != http.StatusForbidden {
		t.Errorf("another email: %d, want 403", r.Code)
	}
	if r := guest.post(link, url.Values{"email": {"a-member@example.com"}, "password": {adminPassword}}); r.Code != http.StatusForbidden ||
		!strings.Contains(textOf(t, r.Body), "another email") {
		t.Errorf("another person's account: %d\n%s", r.Code, textOf(t, r.Body))
	}
	if r := guest.post(link, url.Values{"email": {"other@example.com"}, "password": {"wrong password!"}}); r.Code != http.StatusUnauthorized {
		t.Errorf("a wrong password: %d, want 401", r.Code)
	}
	if after := tm.fingerprint(t); after != before {
		t.Errorf("refused acceptances wrote: %s -> %s", before, after)
	}
	r := guest.post(link, url.Values{"email": {"Other@Example.com"}, "password": {adminPassword}})
	if r.Code != http.StatusSeeOther {
		t.Fatalf("accept: %d\n%s", r.Code, textOf(t, r.Body))
	}
	// Lands in the invited workspace, as a Viewer.
	page := parse(t, guest.follow(r).Body)
	if got := page.Text(".workspace-chip"); !strings.Contains(got, adminWorkspace) {
		t.Errorf("after joining, the workspace is %q", got)
	}
	if page.Has(`a[href="/settings/api-keys/new"]`) {
		t.Error("a Viewer is offered Create API Key")
	}
	ms, err := tm.db.ListMemberships(context.Background(), tm.ids[roleOther])
	if err != nil || len(ms) != 2 {
		t.Errorf("memberships: %+v, %v", ms, err)
	}
}

func TestInvitationRefused(t *testing.T) {
	tm := newTeamServer(t)
	admin := tm.clients[roleAdmin]
	before := tm.fingerprint(t)
	r := admin.post("/settings/members/invitations", url.Values{"email": {"boss@example.com"}, "role": {"owner"}})
	if r.Code != http.StatusForbidden || !strings.Contains(textOf(t, r.Body), "Owner role") {
		t.Errorf("an Admin invites an Owner: %d\n%.300s", r.Code, textOf(t, r.Body))
	}
	for _, form := range []url.Values{
		{"email": {"not an email"}, "role": {"member"}},
		{"email": {"x@example.com"}, "role": {"boss"}},
		{"email": {"a-viewer@example.com"}, "role": {"member"}}, // a member already
	} {
		if r := admin.post("/settings/members/invitations", form); r.Code != http.StatusUnprocessableEntity {
			t.Errorf("invite %v: %d, want 422", form, r.Code)
		}
	}
	if after := tm.fingerprint(t); after != before {
		t.Errorf("refused invitations wrote: %s -> %s", before, after)
	}

	// Revoked.
	link := tm.invite(t, roleAdmin, "revoked@example.com", blnk.RoleMember)
	var id string
	if err := tm.raw.QueryRow(`SELECT id FROM invitations WHERE email = 'revoked@example.com'`).Scan(&id); err != nil {
		t.Fatal(err)
	}
	if r := admin.post("/settings/members/invitations/"+id+"/revoke", nil); r.Code != http.StatusSeeOther {
		t.Fatalf("revoke: %d", r.Code)
	}
	if r := tm.client().get(link); r.Code != http.StatusGone || !strings.Contains(textOf(t, r.Body), "revoked") {
		t.Errorf("a revoked link: %d\n%s", r.Code, textOf(t, r.Body))
	}
	if got := tm.auditCount(t, audit.MemberInvitationRevoked); got != 1 {
		t.Errorf("%d member.invitation_revoked events, want 1", got)
	}
	// Expired, after 7 days.
	link = tm.invite(t, roleAdmin, "late@example.com", blnk.RoleMember)
	tm.clock.Advance(blnk.InvitationTTL)
	late := tm.client()
	if r := late.get(link); r.Code != http.StatusGone || !strings.Contains(textOf(t, r.Body), "expired") {
		t.Errorf("an expired link: %d\n%s", r.Code, textOf(t, r.Body))
	}
	if r := late.post(link, url.Values{"name": {"Late"}, "password": {adminPassword}}); r.Code != http.StatusGone {
		t.Errorf("an expired link, posted: %d", r.Code)
	}
	if r := late.get("/invite/" + strings.Repeat("x", 43)); r.Code != http.StatusNotFound {
		t.Errorf("an unknown link: %d, want 404", r.Code)
	}
}

func TestChangeRole(t *testing.T) {
	tm := newTeamServer(t)
	owner, admin := tm.clients[roleOwner], tm.clients[roleAdmin]
	path := func(role string) string { return "/settings/members/" + strconv.FormatInt(tm.ids[role], 10) + "/role" }

	if r := owner.post(path(roleMember), url.Values{"role": {"admin"}}); r.Code != http.StatusSeeOther {
		t.Fatalf("make the Member an Admin: %d", r.Code)
	}
	// The next request of the promoted person has the new role.
	if r := tm.clients[roleMember].get("/settings/webhooks"); r.Code != http.StatusOK {
		t.Errorf("the new Admin's next request: %d, want 200", r.Code)
	}
	before := tm.fingerprint(t)
	for _, tt := range []struct {
		name   string
		c      *client
		target string
		role   string
		want   int
		says   string
	}{
		{"an Admin makes an Owner", admin, roleViewer, "owner", http.StatusForbidden, "Owner role"},
		{"an Admin demotes the Owner", admin, roleOwner, "viewer", http.StatusForbidden, "Owner role"},
		{"the last Owner demotes themselves", owner, roleOwner, "admin", http.StatusConflict, "at least one Owner"},
		{"a Viewer", tm.clients[roleViewer], roleAdmin, "viewer", http.StatusForbidden, "Admin role"},
		{"an unknown role", owner, roleViewer, "boss", http.StatusUnprocessableEntity, "Choose a role"},
	} {
		r := tt.c.post(path(tt.target), url.Values{"role": {tt.role}})
		if r.Code != tt.want || !strings.Contains(textOf(t, r.Body), tt.says) {
			t.Errorf("%s: %d, want %d saying %q\n%.300s", tt.name, r.Code, tt.want, tt.says, textOf(t, r.Body))
		}
	}
	if after := tm.fingerprint(t); after != before {
		t.Errorf("refused role changes wrote: %s -> %s", before, after)
	}
	if r := owner.post("/settings/members/999999/role", url.Values{"role": {"viewer"}}); r.Code != http.StatusNotFound {
		t.Errorf("an unknown member: %d", r.Code)
	}
	if r := tm.clients[roleOther].post(path(roleViewer), url.Values{"role": {"admin"}}); r.Code != http.StatusNotFound {
		t.Errorf("another workspace's Admin: %d, want 404", r.Code)
	}
	if got := tm.auditCount(t, audit.MemberRoleChanged); got != 1 {
		t.Errorf("%d member.role_changed events, want 1", got)
	}
	// With a second Owner, the first may step down.
	if r := owner.post(path(roleAdmin), url.Values{"role": {"owner"}}); r.Code != http.StatusSeeOther {
		t.Fatalf("make the Admin an Owner: %d", r.Code)
	}
	if r := owner.post(path(roleOwner), url.Values{"role": {"member"}}); r.Code != http.StatusSeeOther {
		t.Errorf("one of two Owners steps down: %d", r.Code)
	}
}

func TestRemoveMember(t *testing.T) {
	for _, handOff := range []string{"transfer", "revoke"} {
		t.Run(handOff, func(t *testing.T) {
			tm := newTeamServer(t)
			owner, member := tm.clients[roleOwner], tm.clients[roleMember]
			k1, k2 := tm.key(t, roleMember), tm.key(t, roleMember)
			theirs := tm.key(t, roleOwner)
			path := "/settings/members/" + strconv.FormatInt(tm.ids[roleMember], 10) + "/remove"

			confirm := owner.get(path)
			if confirm.Code != http.StatusOK {
				t.Fatalf("confirmation: %d", confirm.Code)
			}
			d := parse(t, confirm.Body)
			if got := d.Count("table.member-keys tbody tr"); got != 2 {
				t.Errorf("the confirmation lists %d keys, want 2", got)
			}
			if d.Has("input[name=keys][checked]") {
				t.Error("the confirmation chooses for the remover")
			}
			before := tm.fingerprint(t)
			if r := owner.post(path, url.Values{}); r.Code != http.StatusUnprocessableEntity {
				t.Errorf("no keys field: %d, want 422", r.Code)
			}
			if r := owner.post(path, url.Values{"keys": {"keep"}}); r.Code != http.StatusUnprocessableEntity {
				t.Errorf("keys=keep: %d, want 422", r.Code)
			}
			if after := tm.fingerprint(t); after != before {
				t.Errorf("refused removals wrote: %s -> %s", before, after)
			}
			start := time.Now()
			r := owner.post(path, url.Values{"keys": {handOff}})
			if r.Code != http.StatusSeeOther {
				t.Fatalf("remove: %d\n%s", r.Code, textOf(t, r.Body))
			}
			t.Logf("removal with 2 keys (%s) answered in %v", handOff, time.Since(start))
			if flash := parse(t, owner.follow(r).Body).Text(".flash"); !strings.Contains(flash, "2 keys") {
				t.Errorf("the notice after removal: %q", flash)
			}
			// The removed person's very next request lands on sign-in.
			if r := member.get("/settings/api-keys"); r.Code != http.StatusSeeOther || !strings.HasPrefix(r.Header.Get("Location"), "/login") {
				t.Errorf("the removed person's next request: %d %q", r.Code, r.Header.Get("Location"))
			}
			for _, id := range []string{k1, k2} {
				k, err := tm.db.Key(context.Background(), tm.workspaceID(t, adminWorkspace), id)
				if err != nil {
					t.Fatal(err)
				}
				if handOff == "transfer" && (k.CreatedByID != tm.ids[roleOwner] || !k.RevokedAt.IsZero()) {
					t.Errorf("transferred key: owner %d, revoked %v", k.CreatedByID, k.RevokedAt)
				}
				if handOff == "revoke" && k.RevokedAt.IsZero() {
					t.Errorf("key %s not revoked", id)
				}
			}
			if k, _ := tm.db.Key(context.Background(), tm.workspaceID(t, adminWorkspace), theirs); !k.RevokedAt.IsZero() {
				t.Error("another person's key was revoked")
			}
			action := audit.KeyTransferred
			if handOff == "revoke" {
				action = audit.KeyRevoked
			}
			if got := tm.auditCount(t, action); got != 2 {
				t.Errorf("%d %s events, want 2", got, action)
			}
			if got := tm.auditCount(t, audit.MemberRemoved); got != 1 {
				t.Errorf("%d member.removed events, want 1", got)
			}
			// Removed from their only workspace, the person's right
			// password signs in to nothing, and says so.
			if r := member.post("/login", url.Values{"email": {tm.emails[roleMember]}, "password": {adminPassword}}); r.Code != http.StatusForbidden ||
				!strings.Contains(textOf(t, r.Body), "not a member of any workspace") {
				t.Errorf("signing in after removal: %d\n%.300s", r.Code, textOf(t, r.Body))
			}
			if handOff == "transfer" {
				panel := parse(t, owner.get("/settings/api-keys/"+k1).Body)
				if !strings.Contains(panel.Text(".details-list"), "by "+adminEmail) {
					t.Errorf("the transferred key's panel: %q", panel.Text(".details-list"))
				}
			}
		})
	}
}

func TestLastOwnerCannotLeave(t *testing.T) {
	tm := newTeamServer(t)
	owner := tm.clients[roleOwner]
	path := "/settings/members/" + strconv.FormatInt(tm.ids[roleOwner], 10) + "/remove"
	before := tm.fingerprint(t)
	r := owner.post(path, url.Values{"keys": {"revoke"}})
	if r.Code != http.StatusConflict || !strings.Contains(textOf(t, r.Body), "at least one Owner") {
		t.Errorf("the last Owner leaves: %d\n%.300s", r.Code, textOf(t, r.Body))
	}
	if after := tm.fingerprint(t); after != before {
		t.Errorf("a refused leave wrote: %s -> %s", before, after)
	}
	if r := tm.clients[roleAdmin].post(path, url.Values{"keys": {"revoke"}}); r.Code != http.StatusForbidden {
		t.Errorf("an Admin removes the Owner: %d, want 403", r.Code)
	}
	// An Admin may leave, with their keys revoked (not transferred to
	// themselves).
	admin := tm.clients[roleAdmin]
	self := "/settings/members/" + strconv.FormatInt(tm.ids[roleAdmin], 10) + "/remove"
	if r := admin.post(self, url.Values{"keys": {"transfer"}}); r.Code != http.StatusUnprocessableEntity {
		t.Errorf("transfer one's keys to oneself: %d, want 422", r.Code)
	}
	if r := admin.post(self, url.Values{"keys": {"revoke"}}); r.Code != http.StatusSeeOther || r.Header.Get("Location") != "/login" {
		t.Errorf("an Admin leaves: %d %q", r.Code, r.Header.Get("Location"))
	}
	if r := admin.get("/settings/api-keys"); r.Code != http.StatusSeeOther {
		t.Errorf("after leaving: %d", r.Code)
	}
}

func TestWorkspaceSwitch(t *testing.T) {
	tm := newTeamServer(t)
	other := tm.clients[roleOther]
	acme, otherWS := tm.workspaceID(t, adminWorkspace), tm.workspaceID(t, "Other Inc")
	// One workspace: no switch.
	if parse(t, other.get("/settings/api-keys").Body).Has("details.workspace-switch") {
		t.Error("a person of one workspace is offered a switch")
	}
	if _, _, err := tm.db.AddMember(context.Background(), acme, "other@example.com", "", blnk.RoleViewer, audit.Actor{Kind: audit.CommandLine}, tm.clock.Now()); err != nil {
		t.Fatal(err)
	}
	d := parse(t, other.get("/settings/api-keys").Body)
	if got := d.Count("details.workspace-switch form button"); got != 2 {
		t.Fatalf("the switch lists %d workspaces, want 2", got)
	}
	if got := d.Text("details.workspace-switch button[aria-current]"); !strings.Contains(got, "Other Inc") || !strings.Contains(got, "Owner") {
		t.Errorf("the current workspace: %q", got)
	}
	r := other.post("/workspaces/"+strconv.FormatInt(acme, 10)+"/switch", nil)
	if r.Code != http.StatusSeeOther || r.Header.Get("Location") != "/settings/api-keys" {
		t.Fatalf("switch: %d %q", r.Code, r.Header.Get("Location"))
	}
	// The session remembers it, request after request, with the role
	// there.
	for range 2 {
		d = parse(t, other.get("/settings/api-keys").Body)
		if got := d.Text("details.workspace-switch summary"); !strings.Contains(got, adminWorkspace) {
			t.Errorf("after the switch, the workspace is %q", got)
		}
	}
	if d.Has(`a[href="/settings/webhooks"]`) {
		t.Error("a Viewer of Acme Corp sees the webhooks link")
	}
	if r := other.get("/settings/webhooks"); r.Code != http.StatusForbidden {
		t.Errorf("webhooks as a Viewer after the switch: %d", r.Code)
	}
	// A workspace one is not a member of is 404, and changes nothing.
	third, _, err := tm.db.CreateWorkspaceAdmin(context.Background(), "Third", "third@example.com", "hash", tm.clock.Now())
	if err != nil {
		t.Fatal(err)
	}
	if r := other.post("/workspaces/"+strconv.FormatInt(third.ID, 10)+"/switch", nil); r.Code != http.StatusNotFound {
		t.Errorf("switch to another's workspace: %d, want 404", r.Code)
	}
	if r := other.post("/workspaces/"+strconv.FormatInt(otherWS, 10)+"/switch", nil, htmx()); r.Code != http.StatusOK || r.Header.Get("HX-Redirect") != "/settings/api-keys" {
		t.Errorf("switch back with htmx: %d %q", r.Code, r.Header.Get("HX-Redirect"))
	}
	if r := other.get("/settings/webhooks"); r.Code != http.StatusOK {
		t.Errorf("webhooks as the Owner of Other Inc again: %d", r.Code)
	}
}

// TestRemoveMemberWithManyKeys removes a member who made 1,000 active
// keys, with each hand-off (a fresh team, so another member, each time),
// as the Owner through the router: every key is handed off with its own
// audit event, the member's sessions are gone, and the answer's time is
// logged (the goal is under a second; only a loose bound is
// asserted, so that a loaded machine does not fail it).
func TestRemoveMemberWithManyKeys(t *testing.T) {
	const n = 1000
	for _, handOff := range []string{"transfer", "revoke"} {
		t.Run(handOff, func(t *testing.T) {
			tm := newTeamServer(t)
			ws := tm.workspaceID(t, adminWorkspace)
			member, owner := tm.ids[roleMember], tm.ids[roleOwner]
			i := 0
			_, err := tm.db.ImportKeys(context.Background(), func() (db.KeyImport, bool, error) {
				if i == n {
					return db.KeyImport{}, false, nil
				}
				i++
				tok, err := apikey.Generate()
				if err != nil {
					return db.KeyImport{}, false, err
				}
				return db.KeyImport{
					Key: apikey.Key{ID: apikey.NewID(), WorkspaceID: ws, Name: "bulk " + strconv.Itoa(i), Prefix: tok[:apikey.PrefixLen],
						Scopes: apikey.Set(1), CreatedAt: tm.clock.Now()},
					Hash: apikey.HashOf(tok), CreatedBy: member, CreateToken: apikey.NewID(),
				}, true, nil
			})
			if err != nil {
				t.Fatal(err)
			}
			count := func(q string, args ...any) int {
				t.Helper()
				var c int
				if err := tm.raw.QueryRow(q, args...).Scan(&c); err != nil {
					t.Fatal(err)
				}
				return c
			}
			if got := count(`SELECT count(*) FROM api_keys WHERE created_by = $1 AND revoked_at IS NULL`, member); got != n {
				t.Fatalf("the member has %d active keys before, want %d", got, n)
			}
			if got := count(`SELECT count(*) FROM sessions WHERE user_id = $1`, member); got == 0 {
				t.Fatal("the member has no session before the removal")
			}
			path := "/settings/members/" + strconv.FormatInt(member, 10) + "/remove"
			if d := parse(t, tm.clients[roleOwner].get(path).Body); d.Count("table.member-keys tbody tr") != n {
				t.Errorf("the confirmation lists %d keys, want %d", d.Count("table.member-keys tbody tr"), n)
			}
			start := time.Now()
			r := tm.clients[roleOwner].post(path, url.Values{"keys": {handOff}})
			took := time.Since(start)
			if r.Code != http.StatusSeeOther {
				t.Fatalf("remove: %d\n%.300s", r.Code, textOf(t, r.Body))
			}
			t.Logf("%s: removal with %d keys (%s) answered in %v", testkit.Kind(), n, handOff, took)
			if took > 30*time.Second {
				t.Errorf("removal with %d keys took %v, want well under 30s (goal: 1s)", n, took)
			}
			if flash := parse(t, tm.clients[roleOwner].follow(r).Body).Text(".flash"); !strings.Contains(flash, "1,000 keys") && !strings.Contains(flash, "1000 keys") {
				t.Errorf("the notice after removal: %q", flash)
			}

			// Every key is handed off: no active key is left with the
			// member (a revoked key keeps its creator, for its history).
			if got := count(`SELECT count(*) FROM api_keys WHERE created_by = $1 AND revoked_at IS NULL`, member); got != 0 {
				t.Errorf("%d active keys still belong to the removed member", got)
			}
			action := audit.KeyTransferred
			switch handOff {
			case "transfer":
				if got := count(`SELECT count(*) FROM api_keys WHERE workspace_id = $1 AND name LIKE 'bulk %' AND created_by = $2 AND revoked_at IS NULL`, ws, owner); got != n {
					t.Errorf("%d active keys transferred to the remover, want %d", got, n)
				}
			case "revoke":
				action = audit.KeyRevoked
				if got := count(`SELECT count(*) FROM api_keys WHERE workspace_id = $1 AND name LIKE 'bulk %' AND revoked_at IS NOT NULL AND revoked_by = $2`, ws, owner); got != n {
					t.Errorf("%d keys revoked by the remover, want %d", got, n)
				}
			}
			// One audit event per key.
			if got := tm.auditCount(t, action); got != n {
				t.Errorf("%d %s events, want %d", got, action, n)
			}
			if got := count(`SELECT count(DISTINCT key_id) FROM audit_events WHERE action = $1 AND key_id IN (SELECT id FROM api_keys WHERE name LIKE 'bulk %')`, string(action)); got != n {
				t.Errorf("%s events name %d distinct keys, want %d", action, got, n)
			}
			if got := tm.auditCount(t, audit.MemberRemoved); got != 1 {
				t.Errorf("%d member.removed events, want 1", got)
			}
			// The member's sessions are gone, and their next request
			// lands on sign-in.
			if got := count(`SELECT count(*) FROM sessions WHERE user_id = $1`, member); got != 0 {
				t.Errorf("%d sessions of the removed member remain", got)
			}
			if r := tm.clients[roleMember].get("/settings/api-keys"); r.Code != http.StatusSeeOther || !strings.HasPrefix(r.Header.Get("Location"), "/login") {
				t.Errorf("the removed person's next request: %d %q", r.Code, r.Header.Get("Location"))
			}
		})
	}
}
