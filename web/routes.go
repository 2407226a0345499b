package web

import (
	"net/http"
	"slices"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/blnk-cloud/apikeys/internal/apikey"
	"github.com/blnk-cloud/apikeys/internal/blnk"
	"github.com/blnk-cloud/apikeys/views"
)

// routes lists every route of the server.
func (s *Server) routes(e *echo.Echo) {
	// Probes and assets: no session, no setup.
	get(e, "/healthz", s.healthz)
	get(e, "/readyz", s.readyz)
	assets := newAssets()
	get(e, "/favicon.ico", assets.favicon)
	get(e, "/static/*", assets.serve)

	// The JSON API, for clients holding a key.
	api := e.Group("/api/v1")
	get(api, "/whoami", s.whoami, keysOnly, s.auth.RequireKey())
	get(api, "/verify", s.verify)
	get(api, "/examples/mcp", s.exampleMCP, keysOnly, s.auth.RequireScope(apikey.MCPRead))
	api.POST("/keys/leaked", s.leakReport) // unauthenticated: anyone who finds a key reports it
	get(api, "/openapi.json", s.openAPI)   // the description of all of /api/v1, no credentials

	// The management API, for people's management tokens (mgmtapi.go).
	// "leaked" above is a static path, which wins over :id. Every POST
	// takes an Idempotency-Key (mgmtPost).
	get(api, "/keys", s.apiKeys, s.mgmt(blnk.TokenKeysRead)...)
	api.POST("/keys", s.apiKeyCreate, s.mgmtPost(blnk.TokenKeysWrite)...)
	get(api, "/keys/:id", s.apiKeyGet, s.mgmt(blnk.TokenKeysRead)...)
	api.PATCH("/keys/:id", s.apiKeyEdit, s.mgmt(blnk.TokenKeysWrite)...)
	api.POST("/keys/:id/roll", s.apiKeyRoll, s.mgmtPost(blnk.TokenKeysWrite)...)
	api.POST("/keys/:id/revoke", s.apiKeyRevoke, s.mgmtPost(blnk.TokenKeysWrite)...)
	get(api, "/audit-events", s.apiAuditEvents, s.mgmt(blnk.TokenAuditRead)...)
	get(api, "/members", s.apiMembers, s.mgmt(blnk.TokenMembersRead)...)

	// Pages. Forms are small: 64 KiB is plenty and bounds what a request
	// can make the server parse. Every form is read and checked for text
	// that cannot be stored before its handler runs.
	forms := s.readForms("64K")
	get(e, "/setup", s.setupForm)
	e.POST("/setup", s.setup, forms)

	// Middleware is given per route, not to groups: an Echo group with
	// middleware registers a catch-all under its prefix, and a catch-all
	// at "/" would answer every unknown path and wrong method (405) with
	// the sign-in redirect, API paths included.
	pages := []echo.MiddlewareFunc{s.requireSetup, forms}
	// own: signed in, whatever the workspace requires; app: and with a
	// second factor if the workspace requires one (requireFactor sends
	// those without to /settings/security first).
	own := []echo.MiddlewareFunc{s.requireSetup, forms, s.requireSession}
	app := []echo.MiddlewareFunc{s.requireSetup, forms, s.requireSession, s.requireFactor}
	// ceremony: the passkey ceremonies' JSON routes, answered with
	// passkeysOff by a server without a public URL.
	ceremony := []echo.MiddlewareFunc{s.passkeysOn}
	get(e, "/login", s.loginForm, pages...)
	e.POST("/login", s.login, pages...)
	e.POST("/logout", s.logout, pages...)
	// The second step of signing in: the session cookie holds the
	// pending sign-in, not a session.
	get(e, "/login/two-factor", s.twoFactorForm, pages...)
	e.POST("/login/two-factor", s.twoFactor, pages...)

	// What each role may do (roles.go): reading needs a session only;
	// the rest needs the permission of its line of the roles table,
	// checked before the handler runs.
	create := slices.Concat(app, []echo.MiddlewareFunc{s.need(blnk.PermCreateKeys, "Creating keys")})
	keyChange := slices.Concat(app, []echo.MiddlewareFunc{s.keyOwner})
	hooks := slices.Concat(app, []echo.MiddlewareFunc{s.need(blnk.PermWebhooks, "Managing webhooks")})

	get(e, "/", func(c echo.Context) error { return c.Redirect(http.StatusSeeOther, "/settings/api-keys") }, app...)
	get(e, "/settings/api-keys", s.keyList, app...)
	get(e, "/settings/api-keys/new", s.keyNew, create...)
	get(e, "/settings/api-keys/name-check", s.keyNameCheck, create...)
	e.POST("/settings/api-keys", s.keyCreate, create...)
	// Static paths win over :id in Echo's router: "revoke" is no key id.
	// The handlers check each key as keyOwner checks one (mayChangeAll):
	// Members may revoke their own keys only.
	get(e, "/settings/api-keys/revoke", s.keyBulkRevokeConfirm, app...)
	e.POST("/settings/api-keys/revoke", s.keyBulkRevoke, slices.Concat(app, []echo.MiddlewareFunc{s.sudoWhen(bulkNeedsSudo)})...)
	get(e, "/settings/api-keys/:id", s.keyShow, app...)
	get(e, "/settings/api-keys/:id/reveal", s.keyReveal, create...)
	get(e, "/settings/api-keys/:id/revoke", s.keyRevokeConfirm, keyChange...)
	e.POST("/settings/api-keys/:id/revoke", s.keyRevoke, keyChange...)
	get(e, "/settings/api-keys/:id/edit", s.keyEditForm, keyChange...)
	e.POST("/settings/api-keys/:id/edit", s.keyEdit, keyChange...)
	get(e, "/settings/api-keys/:id/roll", s.keyRollConfirm, keyChange...)
	e.POST("/settings/api-keys/:id/roll", s.keyRoll, keyChange...)

	// The audit log: read and export only. No route changes an event.
	get(e, "/settings/audit-log", s.auditLog, app...)
	get(e, "/settings/audit-log.csv", s.auditExport("csv"), app...)
	get(e, "/settings/audit-log.json", s.auditExport("json"), app...)
	// The theme is the person's own choice, kept in their browser.
	e.POST("/settings/theme", s.themeSet, own...)

	get(e, "/settings/webhooks", s.webhookList, hooks...)
	get(e, "/settings/webhooks/new", s.webhookNew, hooks...)
	e.POST("/settings/webhooks", s.webhookCreate, hooks...)
	get(e, "/settings/webhooks/:id", s.webhookShow, hooks...)
	get(e, "/settings/webhooks/:id/secret", s.webhookSecret, hooks...)
	get(e, "/settings/webhooks/:id/deliveries", s.webhookDeliveries, hooks...)
	e.POST("/settings/webhooks/:id/test", s.webhookTest, hooks...)
	e.POST("/settings/webhooks/:id/disable", s.webhookDisable, hooks...)
	e.POST("/settings/webhooks/:id/enable", s.webhookEnable, hooks...)
	get(e, "/settings/webhooks/:id/delete", s.webhookDeleteConfirm, hooks...)
	e.POST("/settings/webhooks/:id/delete", s.webhookDelete, slices.Concat(hooks, []echo.MiddlewareFunc{s.sudo})...)
	e.POST("/settings/webhooks/:id/deliveries/:delivery/resend", s.webhookResend, hooks...)

	// People: everyone sees who belongs; Admins and Owners change it (the
	// members service checks who may touch an Owner). An invitation link
	// needs no session: it is how people without one get in.
	manage := slices.Concat(app, []echo.MiddlewareFunc{s.need(blnk.PermMembers, "Managing members")})
	get(e, "/settings/members", s.memberList, app...)
	e.POST("/settings/members/invitations", s.memberInvite, manage...)
	e.POST("/settings/members/invitations/:id/revoke", s.invitationRevoke, manage...)
	e.POST("/settings/members/:id/role", s.memberRole, slices.Concat(manage, []echo.MiddlewareFunc{s.sudo})...)
	get(e, "/settings/members/:id/remove", s.memberRemoveConfirm, manage...)
	e.POST("/settings/members/:id/remove", s.memberRemove, slices.Concat(manage, []echo.MiddlewareFunc{s.sudo})...)
	e.POST("/workspaces/:id/switch", s.workspaceSwitch, own...)

	// Signing in safely: the person's own factors (reachable before one
	// is set up, whatever the workspace requires), the Owner's switch,
	// and sudo mode. Removing a factor, new recovery codes and the
	// switch need sudo.
	sudo := slices.Concat(own, []echo.MiddlewareFunc{s.sudo})
	get(e, "/settings/security", s.security, own...)
	get(e, "/settings/security/totp", s.totpSetup, own...)
	e.POST("/settings/security/totp", s.totpEnable, own...)
	e.POST("/settings/security/totp/remove", s.totpRemove, sudo...)
	e.POST("/settings/security/recovery-codes", s.recoveryRegenerate, sudo...)
	e.POST("/settings/security/require-2fa", s.requireTwoFactor,
		slices.Concat(own, []echo.MiddlewareFunc{s.need(blnk.PermOwners, "Requiring two-factor sign-in"), s.sudo})...)
	get(e, "/sudo", s.sudoPage, own...)
	e.POST("/sudo", s.sudoSubmit, own...)
	// The sudo form's "Use a passkey" (passkeys.js, JSON answers).
	e.POST("/sudo/passkey/begin", s.sudoPasskeyBegin, slices.Concat(own, ceremony)...)
	e.POST("/sudo/passkey/finish", s.sudoPasskeyFinish, slices.Concat(own, ceremony)...)
	get(e, "/invite/:token", showLink(s.invitation, views.AcceptInvitationPage), pages...)
	e.POST("/invite/:token", s.inviteAccept, pages...)

	// Key policies: Owners only, to see and to change. Changing them
	// (two-factor sign-in included) is a sensitive action: sudo.
	policies := slices.Concat(app, []echo.MiddlewareFunc{s.need(blnk.PermPolicies, "Setting the key policies")})
	get(e, "/settings/policies", s.policiesShow, policies...)
	e.POST("/settings/policies", s.policiesSave, slices.Concat(policies, []echo.MiddlewareFunc{s.sudo})...)
	// Passwords: a reset link made by an Owner or Admin (the members
	// service checks who may touch an Owner), "forgot password" by email
	// (when the server sends email), and the link's page, which needs no
	// session.
	e.POST("/settings/members/:id/reset-link", s.memberResetLink, slices.Concat(manage, []echo.MiddlewareFunc{s.sudo})...)
	get(e, "/password/forgot", s.forgotForm, pages...)
	e.POST("/password/forgot", s.forgot, pages...)
	get(e, "/password/reset/:token", showLink(s.passwordReset, views.ResetPasswordPage), pages...)
	e.POST("/password/reset/:token", s.resetSubmit, pages...)

	// The person's own sessions: everyone sees and ends their own.
	get(e, "/settings/security/sessions", s.sessionList, own...)
	e.POST("/settings/security/sessions/revoke-others", s.sessionsRevokeOthers, own...)
	e.POST("/settings/security/sessions/:id/revoke", s.sessionRevoke, own...)
	// Management tokens: each person's own, whatever their role (a token
	// never does more than the role allows at each request).
	get(e, "/settings/tokens", s.tokenList, app...)
	e.POST("/settings/tokens", s.tokenCreate, slices.Concat(app, []echo.MiddlewareFunc{s.sudo})...)
	get(e, "/settings/tokens/:id/revoke", s.tokenRevokeConfirm, app...)
	e.POST("/settings/tokens/:id/revoke", s.tokenRevoke, app...)
	// Passkeys: each person's own, whatever their role (passkeys.go).
	// Their JSON answers are for passkeys.js. Removing one asks for sudo.
	get(e, "/settings/security/passkeys", s.passkeyList, own...)
	e.POST("/settings/security/passkeys/begin", s.passkeyAddBegin, slices.Concat(own, ceremony)...)
	e.POST("/settings/security/passkeys/finish", s.passkeyAddFinish, slices.Concat(own, ceremony)...)
	e.POST("/settings/security/passkeys/:id/remove", s.passkeyRemove, slices.Concat(own, []echo.MiddlewareFunc{s.sudo})...)
	e.POST("/login/passkey/begin", s.passkeyLoginBegin, slices.Concat(pages, ceremony)...)
	e.POST("/login/passkey/finish", s.passkeyLoginFinish, slices.Concat(pages, ceremony)...)
}

// router is what routes are added to: the server or a group of it.
type router interface {
	GET(path string, h echo.HandlerFunc, m ...echo.MiddlewareFunc) *echo.Route
	HEAD(path string, h echo.HandlerFunc, m ...echo.MiddlewareFunc) *echo.Route
}

// get adds a GET route, and the same for HEAD: load balancers and
// monitors probe with HEAD, and HTTP says a server that answers GET
// answers HEAD alike (the body is left out by net/http).
func get(r router, path string, h echo.HandlerFunc, m ...echo.MiddlewareFunc) {
	r.GET(path, h, m...)
	r.HEAD(path, h, m...)
}

// healthz answers 200 while the process serves requests. It does no work:
// it is the liveness probe, and the baseline of `make bench`.
func (s *Server) healthz(c echo.Context) error {
	return c.String(http.StatusOK, "ok\n")
}

// readyz answers 200 when this server trusts its view of the keys and
// the database takes a write, for load balancers: a database that
// answers queries but cannot be written (disk full, locked for seconds)
// cannot sign anyone in or revoke a key. The write is made at most once
// a second (readiness); failing closed is answered at once.
func (s *Server) readyz(c echo.Context) error {
	if s.auth.Unavailable() {
		c.Response().Header().Set("Retry-After", "1")
		return c.String(http.StatusServiceUnavailable, "failing closed: key view not confirmed with the database for "+s.auth.Staleness().Round(time.Millisecond).String()+"\n")
	}
	if err := s.ready.check(c.Request().Context()); err != nil {
		return c.String(http.StatusServiceUnavailable, "database unavailable\n")
	}
	return c.String(http.StatusOK, "ready\n")
}
