package web

import (
	"net/http"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/blnk-cloud/apikeys/internal/apikey"
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
	get(api, "/whoami", s.whoami, s.auth.RequireKey())
	get(api, "/verify", s.verify)
	get(api, "/examples/mcp", s.exampleMCP, s.auth.RequireScope(apikey.MCPRead))
	api.POST("/keys/leaked", s.leakReport) // unauthenticated: anyone who finds a key reports it

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
	app := []echo.MiddlewareFunc{s.requireSetup, forms, s.requireSession}
	get(e, "/login", s.loginForm, pages...)
	e.POST("/login", s.login, pages...)
	e.POST("/logout", s.logout, pages...)

	get(e, "/", func(c echo.Context) error { return c.Redirect(http.StatusSeeOther, "/settings/api-keys") }, app...)
	get(e, "/settings/api-keys", s.keyList, app...)
	get(e, "/settings/api-keys/new", s.keyNew, app...)
	get(e, "/settings/api-keys/name-check", s.keyNameCheck, app...)
	e.POST("/settings/api-keys", s.keyCreate, app...)
	// Static paths win over :id in Echo's router: "revoke" is no key id.
	get(e, "/settings/api-keys/revoke", s.keyBulkRevokeConfirm, app...)
	e.POST("/settings/api-keys/revoke", s.keyBulkRevoke, app...)
	get(e, "/settings/api-keys/:id", s.keyShow, app...)
	get(e, "/settings/api-keys/:id/reveal", s.keyReveal, app...)
	get(e, "/settings/api-keys/:id/revoke", s.keyRevokeConfirm, app...)
	e.POST("/settings/api-keys/:id/revoke", s.keyRevoke, app...)
	get(e, "/settings/api-keys/:id/edit", s.keyEditForm, app...)
	e.POST("/settings/api-keys/:id/edit", s.keyEdit, app...)
	get(e, "/settings/api-keys/:id/roll", s.keyRollConfirm, app...)
	e.POST("/settings/api-keys/:id/roll", s.keyRoll, app...)

	// The audit log: read and export only. No route changes an event.
	get(e, "/settings/audit-log", s.auditLog, app...)
	get(e, "/settings/audit-log.csv", s.auditExport("csv"), app...)
	get(e, "/settings/audit-log.json", s.auditExport("json"), app...)
	e.POST("/settings/theme", s.themeSet, app...)

	get(e, "/settings/webhooks", s.webhookList, app...)
	get(e, "/settings/webhooks/new", s.webhookNew, app...)
	e.POST("/settings/webhooks", s.webhookCreate, app...)
	get(e, "/settings/webhooks/:id", s.webhookShow, app...)
	get(e, "/settings/webhooks/:id/secret", s.webhookSecret, app...)
	get(e, "/settings/webhooks/:id/deliveries", s.webhookDeliveries, app...)
	e.POST("/settings/webhooks/:id/test", s.webhookTest, app...)
	e.POST("/settings/webhooks/:id/disable", s.webhookDisable, app...)
	e.POST("/settings/webhooks/:id/enable", s.webhookEnable, app...)
	get(e, "/settings/webhooks/:id/delete", s.webhookDeleteConfirm, app...)
	e.POST("/settings/webhooks/:id/delete", s.webhookDelete, app...)
	e.POST("/settings/webhooks/:id/deliveries/:delivery/resend", s.webhookResend, app...)
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
