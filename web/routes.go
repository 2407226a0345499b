package web

import (
	"net/http"
	"time"

	"github.com/labstack/echo/v4"
	"github.com/labstack/echo/v4/middleware"

	"github.com/blnk-cloud/apikeys/internal/apikey"
)

// routes lists every route of the server.
func (s *Server) routes(e *echo.Echo) {
	// Probes and assets: no session, no setup.
	e.GET("/healthz", s.healthz)
	e.GET("/readyz", s.readyz)
	assets := newAssets()
	e.GET("/favicon.ico", assets.favicon)
	e.GET("/static/*", assets.serve)

	// The JSON API, for clients holding a key.
	api := e.Group("/api/v1")
	api.GET("/whoami", s.whoami, s.auth.RequireKey())
	api.GET("/verify", s.verify)
	api.GET("/examples/mcp", s.exampleMCP, s.auth.RequireScope(apikey.MCPRead))

	// Pages. Forms are small: 64 KiB is plenty and bounds what a request
	// can make the server parse.
	forms := middleware.BodyLimit("64K")
	e.GET("/setup", s.setupForm)
	e.POST("/setup", s.setup, forms)

	// Middleware is given per route, not to groups: an Echo group with
	// middleware registers a catch-all under its prefix, and a catch-all
	// at "/" would answer every unknown path and wrong method (405) with
	// the sign-in redirect, API paths included.
	pages := []echo.MiddlewareFunc{s.requireSetup, forms}
	app := []echo.MiddlewareFunc{s.requireSetup, forms, s.requireSession}
	e.GET("/login", s.loginForm, pages...)
	e.POST("/login", s.login, pages...)
	e.POST("/logout", s.logout, pages...)

	e.GET("/", func(c echo.Context) error { return c.Redirect(http.StatusSeeOther, "/settings/api-keys") }, app...)
	e.GET("/settings/api-keys", s.keyList, app...)
	e.GET("/settings/api-keys/new", s.keyNew, app...)
	e.POST("/settings/api-keys", s.keyCreate, app...)
	e.GET("/settings/api-keys/:id", s.keyShow, app...)
	e.GET("/settings/api-keys/:id/reveal", s.keyReveal, app...)
	e.GET("/settings/api-keys/:id/revoke", s.keyRevokeConfirm, app...)
	e.POST("/settings/api-keys/:id/revoke", s.keyRevoke, app...)
	e.GET("/settings/api-keys/:id/edit", s.keyEditForm, app...)
	e.POST("/settings/api-keys/:id/edit", s.keyEdit, app...)
	e.GET("/settings/api-keys/:id/roll", s.keyRollConfirm, app...)
	e.POST("/settings/api-keys/:id/roll", s.keyRoll, app...)

	// The audit log: read and export only. No route changes an event.
	e.GET("/settings/audit-log", s.auditLog, app...)
	e.GET("/settings/audit-log.csv", s.auditExport("csv"), app...)
	e.GET("/settings/audit-log.json", s.auditExport("json"), app...)
}

// healthz answers 200 while the process serves requests. It does no work:
// it is the liveness probe, and the baseline of `make bench`.
func (s *Server) healthz(c echo.Context) error {
	return c.String(http.StatusOK, "ok\n")
}

// readyz answers 200 when the database answers and this server trusts
// its view of the keys, for load balancers.
func (s *Server) readyz(c echo.Context) error {
	if s.auth.Unavailable() {
		c.Response().Header().Set("Retry-After", "1")
		return c.String(http.StatusServiceUnavailable, "failing closed: key view not confirmed with the database for "+s.auth.Staleness().Round(time.Millisecond).String()+"\n")
	}
	if err := s.db.Ping(c.Request().Context()); err != nil {
		s.log.Error("readiness: database", "err", err)
		return c.String(http.StatusServiceUnavailable, "database unavailable\n")
	}
	return c.String(http.StatusOK, "ready\n")
}
