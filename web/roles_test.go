package web_test

// The roles table, driven through every route of the router: each role
// of a workspace (Owner, Admin, Member, Viewer) and an Owner of another
// workspace ask for every page, htmx fragment, form post and export, and
// get what web/README.md ("People and roles") says, with nothing written
// when they are refused.

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"sort"
	"strings"
	"testing"

	"github.com/blnk-cloud/apikeys/internal/apikey"
	"github.com/blnk-cloud/apikeys/internal/audit"
	"github.com/blnk-cloud/apikeys/internal/blnk"
	"github.com/blnk-cloud/apikeys/internal/keys"
	"github.com/blnk-cloud/apikeys/internal/members"
	"github.com/blnk-cloud/apikeys/internal/password"
	"github.com/blnk-cloud/apikeys/web"
)

// The people of the role tests: one per role in "Acme Corp", and the
// Owner of another workspace.
const (
	roleOwner  = "owner"
	roleAdmin  = "admin"
	roleMember = "member"
	roleViewer = "viewer"
	roleOther  = "other"
)

var matrixRoles = []string{roleOwner, roleAdmin, roleMember, roleViewer, roleOther}

// teamServer is a server with a workspace of four people, one per role,
// and a second workspace with its Owner.
type teamServer struct {
	*testServer
	clients map[string]*client
	ids     map[string]int64 // user ids
	emails  map[string]string
}

func newTeamServer(t *testing.T) *teamServer {
	t.Helper()
	ts, owner := newSignedIn(t, serverOpts{})
	tm := &teamServer{testServer: ts, clients: map[string]*client{roleOwner: owner}, ids: map[string]int64{}, emails: map[string]string{roleOwner: adminEmail}}
	ctx := context.Background()
	ws, err := ts.db.FindWorkspace(ctx, adminWorkspace)
	if err != nil {
		t.Fatal(err)
	}
	hash, err := password.FastHasher.Hash(adminPassword)
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range []blnk.Role{blnk.RoleAdmin, blnk.RoleMember, blnk.RoleViewer} {
		email := "a-" + string(r) + "@example.com"
		if _, _, err := ts.db.AddMember(ctx, ws.ID, email, hash, r, audit.Actor{Kind: audit.CommandLine}, ts.clock.Now()); err != nil {
			t.Fatal(err)
		}
		c := ts.client()
		c.signIn(email, adminPassword)
		tm.clients[string(r)], tm.emails[string(r)] = c, email
	}
	tm.clients[roleOther] = ts.addWorkspace("Other Inc", "other@example.com", adminPassword)
	tm.emails[roleOther] = "other@example.com"
	for role, email := range tm.emails {
		u, err := ts.db.FindUser(ctx, email)
		if err != nil {
			t.Fatal(err)
		}
		tm.ids[role] = u.ID
	}
	return tm
}

// key creates a key in Acme Corp made by the person of role (for the
// Viewer, one made while they could; for the other workspace's Admin,
// the Member's).
func (tm *teamServer) key(t *testing.T, role string) string {
	t.Helper()
	if role == roleOther {
		role = roleMember
	}
	ws, err := tm.db.FindWorkspace(context.Background(), adminWorkspace)
	if err != nil {
		t.Fatal(err)
	}
	created, err := tm.keys.Create(context.Background(), audit.Actor{UserID: tm.ids[role], Email: tm.emails[role], Kind: audit.User},
		keys.Spec{WorkspaceID: ws.ID, Workspace: ws.Name, Name: "made by " + role, Scopes: apikey.Set(1), FormToken: formToken()})
	if err != nil {
		t.Fatal(err)
	}
	return created.Key.ID
}

// fingerprint sums up everything a refused request must leave alone.
func (tm *teamServer) fingerprint(t *testing.T) string {
	t.Helper()
	var b strings.Builder
	for _, q := range []string{
		`SELECT count(*) FROM workspaces`, `SELECT count(*) FROM users`, `SELECT count(*) FROM api_keys`,
		`SELECT count(*) FROM api_key_changes`, `SELECT count(*) FROM audit_events`, `SELECT count(*) FROM webhooks`,
		`SELECT count(*) FROM webhook_deliveries`, `SELECT count(*) FROM invitations`,
		`SELECT count(*) FROM api_keys WHERE revoked_at IS NOT NULL`, `SELECT count(*) FROM webhooks WHERE disabled_at IS NOT NULL`,
		`SELECT count(*) FROM invitations WHERE revoked_at IS NOT NULL OR accepted_at IS NOT NULL`,
		`SELECT coalesce(sum(length(name)), 0) FROM api_keys`,
		`SELECT count(*) FROM memberships`, `SELECT count(*) FROM memberships WHERE role = 'owner'`,
		`SELECT count(*) FROM memberships WHERE role = 'admin'`, `SELECT count(*) FROM memberships WHERE role = 'viewer'`,
		`SELECT count(*) FROM key_policies`, `SELECT coalesce(sum(max_lifetime_days), 0) FROM key_policies`,
		`SELECT count(*) FROM password_resets`, `SELECT count(*) FROM sessions`,
	} {
		var n int64
		if err := tm.raw.QueryRow(q).Scan(&n); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
		fmt.Fprintf(&b, "%d ", n)
	}
	return b.String()
}

// routeCase is what one route expects.
type routeCase struct {
	// need is the least role allowed; "" for the routes that need no
	// session (checked elsewhere: setup, sign-in, probes, the API).
	need blnk.Role
	// path is the route's path with its parameters filled from the
	// fixture: {key} a key the Owner made, {ownkey} a key the asker made,
	// {hook} a webhook endpoint, {delivery} one of its deliveries.
	path string
	form url.Values
	// ok is the status when allowed (default 200 for GET, 303 for POST);
	// okHTMX the status to htmx when it differs.
	ok, okHTMX int
	// scoped: the path names something of the workspace, which another
	// workspace's people get a 404 for.
	scoped bool
	// ownKey: the line of a key route a Member may use on their own key.
	ownKey bool
}

// roleRoutes is the roles table of every route, keyed "METHOD path" as
// the router names them. GET stands for HEAD too.
func roleRoutes() map[string]routeCase {
	viewer, member, admin, owner := blnk.RoleViewer, blnk.RoleMember, blnk.RoleAdmin, blnk.RoleOwner
	return map[string]routeCase{
		"GET /healthz": {}, "GET /readyz": {}, "GET /favicon.ico": {}, "GET /static/*": {},
		"GET /api/v1/whoami": {}, "GET /api/v1/verify": {}, "GET /api/v1/examples/mcp": {}, "POST /api/v1/keys/leaked": {}, "GET /api/v1/openapi.json": {},
		// The management API takes tokens, not sessions: TestMgmtAPI*.
		"GET /api/v1/keys": {}, "POST /api/v1/keys": {}, "GET /api/v1/keys/:id": {}, "PATCH /api/v1/keys/:id": {},
		"POST /api/v1/keys/:id/roll": {}, "POST /api/v1/keys/:id/revoke": {}, "GET /api/v1/audit-events": {}, "GET /api/v1/members": {},
		"GET /setup": {}, "POST /setup": {}, "GET /login": {}, "POST /login": {}, "POST /logout": {},

		"GET /":                                                   {need: viewer, path: "/", ok: 303, okHTMX: 303},
		"GET /settings/api-keys":                                  {need: viewer, path: "/settings/api-keys"},
		"GET /settings/api-keys/new":                              {need: member, path: "/settings/api-keys/new"},
		"GET /settings/api-keys/name-check":                       {need: member, path: "/settings/api-keys/name-check?name=x"},
		"POST /settings/api-keys":                                 {need: member, path: "/settings/api-keys", form: keyForm("matrix", "30d")},
		"GET /settings/api-keys/:id":                              {need: viewer, path: "/settings/api-keys/{key}", scoped: true},
		"GET /settings/api-keys/:id/reveal":                       {need: member, path: "/settings/api-keys/{ownkey}/reveal", scoped: true},
		"GET /settings/api-keys/:id/revoke":                       {need: admin, path: "/settings/api-keys/{key}/revoke", scoped: true},
		"POST /settings/api-keys/:id/revoke":                      {need: admin, path: "/settings/api-keys/{key}/revoke", scoped: true},
		"GET /settings/api-keys/:id/edit":                         {need: admin, path: "/settings/api-keys/{key}/edit", scoped: true},
		"POST /settings/api-keys/:id/edit":                        {need: admin, path: "/settings/api-keys/{key}/edit", form: url.Values{"name": {"renamed by the matrix"}}, scoped: true},
		"GET /settings/api-keys/:id/roll":                         {need: admin, path: "/settings/api-keys/{key}/roll", scoped: true},
		"POST /settings/api-keys/:id/roll":                        {need: admin, path: "/settings/api-keys/{key}/roll", form: url.Values{"overlap": {"now"}, "form_token": {"x"}}, scoped: true},
		"GET /settings/api-keys/revoke":                           {need: admin, path: "/settings/api-keys/revoke?id={key}", scoped: true},
		"POST /settings/api-keys/revoke":                          {need: admin, path: "/settings/api-keys/revoke?id={key}", okHTMX: 200, scoped: true},
		"GET /settings/audit-log":                                 {need: viewer, path: "/settings/audit-log"},
		"GET /settings/audit-log.csv":                             {need: viewer, path: "/settings/audit-log.csv"},
		"GET /settings/audit-log.json":                            {need: viewer, path: "/settings/audit-log.json"},
		"POST /settings/theme":                                    {need: viewer, path: "/settings/theme", form: url.Values{"theme": {"dark"}}},
		"GET /settings/webhooks":                                  {need: admin, path: "/settings/webhooks"},
		"GET /settings/webhooks/new":                              {need: admin, path: "/settings/webhooks/new"},
		"POST /settings/webhooks":                                 {need: admin, path: "/settings/webhooks", form: webhookForm("https://hooks.example/matrix", "key.created")},
		"GET /settings/webhooks/:id":                              {need: admin, path: "/settings/webhooks/{hook}", scoped: true},
		"GET /settings/webhooks/:id/secret":                       {need: admin, path: "/settings/webhooks/{hook}/secret", scoped: true},
		"GET /settings/webhooks/:id/deliveries":                   {need: admin, path: "/settings/webhooks/{hook}/deliveries", ok: 303, okHTMX: 200, scoped: true},
		"POST /settings/webhooks/:id/test":                        {need: admin, path: "/settings/webhooks/{hook}/test", scoped: true},
		"POST /settings/webhooks/:id/disable":                     {need: admin, path: "/settings/webhooks/{hook}/disable", scoped: true},
		"POST /settings/webhooks/:id/enable":                      {need: admin, path: "/settings/webhooks/{hook}/enable", scoped: true},
		"GET /settings/webhooks/:id/delete":                       {need: admin, path: "/settings/webhooks/{hook}/delete", scoped: true},
		"POST /settings/webhooks/:id/delete":                      {need: admin, path: "/settings/webhooks/{hook}/delete", scoped: true},
		"POST /settings/webhooks/:id/deliveries/:delivery/resend": {need: admin, path: "/settings/webhooks/{hook}/deliveries/{delivery}/resend", scoped: true},

		"GET /settings/members":                         {need: viewer, path: "/settings/members"},
		"POST /settings/members/invitations":            {need: admin, path: "/settings/members/invitations", form: url.Values{"email": {"{email}"}, "role": {"member"}}, ok: 200},
		"POST /settings/members/invitations/:id/revoke": {need: admin, path: "/settings/members/invitations/{invitation}/revoke", scoped: true},
		"POST /settings/members/:id/role":               {need: admin, path: "/settings/members/{person}/role", form: url.Values{"role": {"viewer"}}, scoped: true},
		"GET /settings/members/:id/remove":              {need: admin, path: "/settings/members/{person}/remove", scoped: true},
		"POST /settings/members/:id/remove":             {need: admin, path: "/settings/members/{person}/remove", form: url.Values{"keys": {"revoke"}}, scoped: true},
		"POST /workspaces/:id/switch":                   {need: viewer, path: "/workspaces/{workspace}/switch", scoped: true},
		"GET /settings/policies":                        {need: owner, path: "/settings/policies"},
		"POST /settings/policies":                       {need: owner, path: "/settings/policies", form: url.Values{"max_lifetime_days": {"400"}, "member_scopes": {"*"}}},
		"GET /invite/:token":                            {}, // no session: TestInvitation*

		// Signing in safely (twofactor_test.go): the second step needs a
		// pending sign-in, not a session.
		"GET /login/two-factor": {}, "POST /login/two-factor": {},
		"GET /settings/security":                 {need: viewer, path: "/settings/security"},
		"GET /settings/security/totp":            {need: viewer, path: "/settings/security/totp"},
		"POST /settings/security/totp":           {need: viewer, path: "/settings/security/totp", form: url.Values{"code": {"000000"}}, ok: 422},
		"POST /settings/security/totp/remove":    {need: viewer, path: "/settings/security/totp/remove"},
		"POST /settings/security/recovery-codes": {need: viewer, path: "/settings/security/recovery-codes", ok: 409},
		"POST /settings/security/require-2fa":    {need: blnk.RoleOwner, path: "/settings/security/require-2fa", form: url.Values{}},
		"GET /sudo":                              {need: viewer, path: "/sudo?next=/settings/api-keys", ok: 303, okHTMX: 303},
		"POST /sudo":                             {need: viewer, path: "/sudo", form: url.Values{"next": {"/settings/members"}}, ok: 303}, // in sudo mode (just signed in): to next
		"POST /invite/:token":                    {},

		"POST /settings/members/:id/reset-link": {need: admin, path: "/settings/members/{person}/reset-link", ok: 200, scoped: true},
		"GET /password/forgot":                  {}, // no session: TestForgot*, TestPasswordReset*
		"POST /password/forgot":                 {},
		"GET /password/reset/:token":            {},
		"POST /password/reset/:token":           {},
		// Everyone's own sessions; {session} is another session of the
		// asker (someone else's is 404: TestSessionsOfOthersAreNotFound).
		"GET /settings/security/sessions":                {need: viewer, path: "/settings/security/sessions"},
		"POST /settings/security/sessions/:id/revoke":    {need: viewer, path: "/settings/security/sessions/{session}/revoke"},
		"POST /settings/security/sessions/revoke-others": {need: viewer, path: "/settings/security/sessions/revoke-others"},

		// Each person's own management tokens, whatever the role.
		"GET /settings/tokens":             {need: viewer, path: "/settings/tokens"},
		"POST /settings/tokens":            {need: viewer, path: "/settings/tokens", form: url.Values{"name": {"matrix"}, "scopes": {"keys:read"}, "expires": {"30d"}}, ok: 201},
		"GET /settings/tokens/:id/revoke":  {need: viewer, path: "/settings/tokens/{token}/revoke", scoped: true},
		"POST /settings/tokens/:id/revoke": {need: viewer, path: "/settings/tokens/{token}/revoke", scoped: true},

		// A person's own passkeys, whatever their role; the rest is
		// TestPasskey*.
		"GET /settings/security/passkeys":             {need: viewer, path: "/settings/security/passkeys"},
		"POST /settings/security/passkeys/begin":      {},
		"POST /settings/security/passkeys/finish":     {},
		"POST /settings/security/passkeys/:id/remove": {},
		"POST /login/passkey/begin":                   {},
		"POST /login/passkey/finish":                  {},
		"POST /sudo/passkey/begin":                    {}, // TestSudoWithPasskey
		"POST /sudo/passkey/finish":                   {},
	}
}

// withOwnKey marks the key routes a Member may use on their own keys:
// the same routes again, on {ownkey}, needing only the Member role.
func ownKeyCases(cases map[string]routeCase) map[string]routeCase {
	out := map[string]routeCase{}
	for name, rc := range cases {
		if rc.need == blnk.RoleAdmin && strings.Contains(rc.path, "{key}") && strings.HasPrefix(rc.path, "/settings/api-keys/") {
			rc.need, rc.ownKey = blnk.RoleMember, true
			rc.path = strings.Replace(rc.path, "{key}", "{ownkey}", 1)
			out[name+" (own key)"] = rc
		}
	}
	return out
}

// TestRoleMatrix drives every route of web.Routes as each role and as
// another workspace's Owner.
func TestRoleMatrix(t *testing.T) {
	tm := newTeamServer(t)
	cases := roleRoutes()
	var missing []string
	for _, r := range web.Routes(tm.srv) {
		method := r.Method
		if method == http.MethodHead {
			method = http.MethodGet
		}
		if _, ok := cases[method+" "+r.Path]; !ok && !strings.HasPrefix(r.Method, "echo_") && r.Method != "RouteNotFound" {
			missing = append(missing, r.Method+" "+r.Path)
		}
	}
	if len(missing) > 0 {
		sort.Strings(missing)
		t.Fatalf("routes without a line in roleRoutes (say what each role gets):\n%s", strings.Join(missing, "\n"))
	}
	own := ownKeyCases(cases)
	all := map[string]routeCase{}
	for n, rc := range cases {
		all[n] = rc
	}
	for n, rc := range own {
		all[n] = rc
	}
	names := make([]string, 0, len(all))
	for n := range all {
		names = append(names, n)
	}
	sort.Strings(names)

	cells, sessionless := 0, 0
	for _, rc := range cases {
		if rc.need == "" {
			sessionless++
		}
	}
	for _, name := range names {
		rc := all[name]
		if rc.need == "" {
			continue
		}
		method, _, _ := strings.Cut(name, " ")
		methods := []string{method}
		if method == http.MethodGet {
			methods = append(methods, http.MethodHead)
		}
		for _, role := range matrixRoles {
			for _, m := range methods {
				variants := []bool{false}
				if m == http.MethodGet {
					variants = append(variants, true)
				}
				for _, hx := range variants {
					cells++
					tm.checkCell(t, name, rc, role, m, hx)
				}
			}
		}
	}
	t.Logf("role matrix: %d routes with a session (and %d own-key variants) x %d people, GET also as HEAD and htmx = %d requests", len(cases)-sessionless, len(own), len(matrixRoles), cells)
}

// checkCell makes one request of the matrix and checks its answer.
func (tm *teamServer) checkCell(t *testing.T, name string, rc routeCase, role, method string, hx bool) {
	t.Helper()
	path := rc.path
	if strings.Contains(path, "{key}") {
		owner := roleOwner
		if role == roleOwner {
			owner = roleAdmin // someone else's key, for the Owner too
		}
		path = strings.ReplaceAll(path, "{key}", tm.key(t, owner))
	}
	if strings.Contains(path, "{ownkey}") {
		path = strings.ReplaceAll(path, "{ownkey}", tm.key(t, role))
	}
	if strings.Contains(path, "{hook}") {
		hook := addWebhook(t, tm.clients[roleOwner], "https://hooks.example/"+formToken(), "key.created")
		path = strings.ReplaceAll(path, "{hook}", hook)
		if strings.Contains(path, "{delivery}") {
			if r := tm.clients[roleOwner].post("/settings/webhooks/"+hook+"/test", nil); r.Code != http.StatusSeeOther {
				t.Fatalf("send a test event: %d", r.Code)
			}
			var id int64
			if err := tm.raw.QueryRow(`SELECT max(d.id) FROM webhook_deliveries d`).Scan(&id); err != nil {
				t.Fatal(err)
			}
			path = strings.ReplaceAll(path, "{delivery}", fmt.Sprint(id))
		}
	}
	if strings.Contains(path, "{person}") {
		path = strings.ReplaceAll(path, "{person}", fmt.Sprint(tm.person(t)))
	}
	if strings.Contains(path, "{workspace}") {
		// Acme Corp, where everyone is but the other workspace's Admin.
		path = strings.ReplaceAll(path, "{workspace}", fmt.Sprint(tm.workspaceID(t, adminWorkspace)))
	}
	if strings.Contains(path, "{session}") {
		path = strings.ReplaceAll(path, "{session}", tm.otherSession(t, role))
	}
	if strings.Contains(path, "{token}") {
		// The asker's own token; for the other workspace's Owner, the
		// Owner's of Acme Corp.
		who := role
		if role == roleOther {
			who = roleOwner
		}
		tm.clients[who].createToken("matrix "+who, "keys:read")
		path = strings.ReplaceAll(path, "{token}", tm.tokenID(t, tm.emails[who]))
	}
	if strings.Contains(path, "{invitation}") {
		path = strings.ReplaceAll(path, "{invitation}", tm.invitation(t))
	}
	var want int
	refused := false
	switch {
	case role == roleOther && rc.scoped:
		want = http.StatusNotFound
	case !roleOf(role).AtLeast(rc.need):
		want, refused = http.StatusForbidden, true
	default:
		want = rc.ok
		if want == 0 {
			want = http.StatusOK
			if method == http.MethodPost {
				want = http.StatusSeeOther
			}
		}
		if hx && rc.okHTMX != 0 {
			want = rc.okHTMX
		}
	}
	var form url.Values
	if rc.form != nil {
		form = url.Values{}
		for k, v := range rc.form {
			form[k] = v
		}
		if form.Has("form_token") {
			form.Set("form_token", formToken())
		}
		if form.Get("email") == "{email}" {
			form.Set("email", "invited-"+formToken()+"@example.com")
		}
	}
	var opts []opt
	if hx {
		opts = append(opts, htmx())
	}
	before := tm.fingerprint(t)
	r := tm.clients[role].do(method, path, form, opts...)
	label := fmt.Sprintf("%s as %s (%s %s, htmx %v)", name, role, method, path, hx)
	if r.Code != want {
		t.Errorf("%s: got %d, want %d\n%.300s", label, r.Code, want, r.Body)
		return
	}
	if want == http.StatusForbidden || want == http.StatusNotFound {
		if after := tm.fingerprint(t); after != before {
			t.Errorf("%s: refused with %d but the database changed: %s -> %s", label, want, before, after)
		}
	}
	if refused && method != http.MethodHead {
		need := rc.need.Label() + " role"
		if !strings.Contains(textOf(t, r.Body), need) {
			t.Errorf("%s: the 403 does not say it needs the %s:\n%.400s", label, need, textOf(t, r.Body))
		}
		// app.js shows the fragment's sentence, not its own generic one.
		if hx && !parse(t, r.Body).Has("p.error-fragment:not([data-generic])") {
			t.Errorf("%s: the 403 to htmx is not a fragment of its own sentence:\n%.400s", label, r.Body)
		}
	}
}

// roleOf is the role of a person of the matrix in Acme Corp; the other
// workspace's person is its Owner.
func roleOf(person string) blnk.Role {
	if person == roleOther {
		return blnk.RoleOwner
	}
	return blnk.Role(person)
}

// TestRoleChangeTakesEffectAtOnce: a person whose role changes, with a
// form open, is refused on their very next request; the cookie carries
// no role.
func TestRoleChangeTakesEffectAtOnce(t *testing.T) {
	tm := newTeamServer(t)
	member := tm.clients[roleMember]
	form := member.get("/settings/api-keys/new")
	if form.Code != http.StatusOK {
		t.Fatalf("the create form: %d", form.Code)
	}
	ws, err := tm.db.FindWorkspace(context.Background(), adminWorkspace)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tm.db.ChangeMemberRole(context.Background(), blnk.RoleChange{WorkspaceID: ws.ID, UserID: tm.ids[roleMember],
		From: blnk.RoleMember, To: blnk.RoleViewer, Now: tm.clock.Now()}); err != nil {
		t.Fatal(err)
	}
	before := tm.fingerprint(t)
	r := member.post("/settings/api-keys", keyForm("after the change", "30d"))
	if r.Code != http.StatusForbidden {
		t.Fatalf("create after being made a Viewer: %d, want 403", r.Code)
	}
	if after := tm.fingerprint(t); after != before {
		t.Errorf("the refused create wrote: %s -> %s", before, after)
	}
	list := parse(t, member.get("/settings/api-keys").Body)
	if list.Has(`a[href="/settings/api-keys/new"]`) {
		t.Error("a Viewer's list shows the Create API Key button")
	}
	if list.Has(`a[href="/settings/webhooks"]`) {
		t.Error("a Viewer's sidebar links to the webhooks")
	}
}

// TestKeyPanelShowsWhatTheRoleMayDo: the panel offers Edit, Roll and
// Revoke only to those who may use them.
func TestKeyPanelShowsWhatTheRoleMayDo(t *testing.T) {
	tm := newTeamServer(t)
	mine, theirs := tm.key(t, roleMember), tm.key(t, roleOwner)
	for _, tt := range []struct {
		role, key string
		controls  bool
	}{
		{roleMember, mine, true},
		{roleMember, theirs, false},
		{roleViewer, theirs, false},
		{roleAdmin, theirs, true},
		{roleOwner, mine, true},
	} {
		for _, hx := range []bool{false, true} {
			var opts []opt
			if hx {
				opts = append(opts, htmx())
			}
			r := tm.clients[tt.role].get("/settings/api-keys/"+tt.key, opts...)
			if r.Code != http.StatusOK {
				t.Fatalf("%s: %d", tt.role, r.Code)
			}
			d := parse(t, r.Body)
			for _, action := range []string{"edit", "roll", "revoke"} {
				sel := `a[href="/settings/api-keys/` + tt.key + `/` + action + `"]`
				if got := d.Has(sel); got != tt.controls {
					t.Errorf("%s on %s (htmx %v): %s shown %v, want %v", tt.role, tt.key, hx, action, got, tt.controls)
				}
			}
		}
	}
}

// person adds a Member to Acme Corp, for a route that changes one, and
// returns their id.
func (tm *teamServer) person(t *testing.T) int64 {
	t.Helper()
	ws, err := tm.db.FindWorkspace(context.Background(), adminWorkspace)
	if err != nil {
		t.Fatal(err)
	}
	u, _, err := tm.db.AddMember(context.Background(), ws.ID, "person-"+formToken()+"@example.com", "hash", blnk.RoleMember,
		audit.Actor{Kind: audit.CommandLine}, tm.clock.Now())
	if err != nil {
		t.Fatal(err)
	}
	return u.ID
}

// invitation makes a pending invitation of Acme Corp and returns its id.
func (tm *teamServer) invitation(t *testing.T) string {
	t.Helper()
	ws, err := tm.db.FindWorkspace(context.Background(), adminWorkspace)
	if err != nil {
		t.Fatal(err)
	}
	tok := formToken()
	now := tm.clock.Now()
	inv, err := tm.db.CreateInvitation(context.Background(), blnk.NewInvitation{
		Invitation: blnk.Invitation{ID: "inv_" + tok[len(tok)-16:], WorkspaceID: ws.ID, Email: "invited-" + tok + "@example.com", Role: blnk.RoleMember,
			CreatedAt: now, ExpiresAt: now.Add(blnk.InvitationTTL)},
		TokenHash: members.TokenHash(tok), Actor: audit.Actor{UserID: tm.ids[roleOwner], Email: adminEmail, Kind: audit.User},
	})
	if err != nil {
		t.Fatal(err)
	}
	return inv.ID
}

// otherSession starts another session of the person of role (as if in
// another browser) and returns its public id.
func (tm *teamServer) otherSession(t *testing.T, role string) string {
	t.Helper()
	ws := adminWorkspace
	if role == roleOther {
		ws = "Other Inc"
	}
	hash := members.TokenHash(formToken())
	if err := tm.db.CreateSessionFrom(context.Background(), hash, tm.ids[role], tm.workspaceID(t, ws), tm.clock.Now(),
		blnk.SessionClient{UserAgent: "Mozilla/5.0 (X11; Linux x86_64; rv:140.0) Gecko/20100101 Firefox/140.0", IP: "192.0.2.9"}); err != nil {
		t.Fatal(err)
	}
	var id string
	if err := tm.raw.QueryRow(`SELECT id FROM sessions WHERE token_hash = $1`, hash).Scan(&id); err != nil {
		t.Fatal(err)
	}
	return id
}
