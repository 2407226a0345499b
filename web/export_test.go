package web

import (
	"context"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/blnk-cloud/apikeys/internal/idempotency"
)

// What the tests of package web_test may reach inside a Server.

// SetVerifyPassword replaces the password check (password.Verify), so that
// tests can count the hashes a storm of sign-ins makes the server compute.
func SetVerifyPassword(s *Server, verify func(hash, password string) bool) {
	s.verifyPassword = verify
}

// OccupyPasswordChecks takes every slot of the password-hash bound, as
// that many slow hashes would, until release is called.
func OccupyPasswordChecks(s *Server) (release func()) {
	n := cap(s.hashSlots)
	for range n {
		s.hashSlots <- struct{}{}
	}
	return func() {
		for range n {
			<-s.hashSlots
		}
	}
}

// Clean runs one round of CleanSessions: expired sessions, refilled
// throttle buckets, old Idempotency-Key answers.
func Clean(ctx context.Context, s *Server) { s.clean(ctx) }

// Routes returns the server's routes.
func Routes(s *Server) []*echo.Route { return s.echo.Routes() }

// WrapReadinessProbe replaces the write /readyz makes by wrap(the write),
// so that tests can count the writes or make them fail.
func WrapReadinessProbe(s *Server, wrap func(write func(ctx context.Context, now time.Time) error) func(ctx context.Context, now time.Time) error) {
	s.ready.write = wrap(s.ready.write)
}

// AddRoute adds a route to the server, behind its middleware, for tests
// of middleware that the real routes use (Idempotency).
func AddRoute(s *Server, method, path string, h echo.HandlerFunc, m ...echo.MiddlewareFunc) {
	s.echo.Add(method, path, h, m...)
}

// IdempotencyService returns the server's idempotency service.
func IdempotencyService(s *Server) *idempotency.Service { return s.idempotency }
