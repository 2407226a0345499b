package web

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"runtime/debug"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/labstack/echo/v4"
	"github.com/labstack/echo/v4/middleware"

	"github.com/blnk-cloud/apikeys/internal/apikey"
)

const requestIDKey = "request_id"

// requestID gives every request an id, in the X-Request-Id response header
// and in every log line about it. An id sent by a proxy is kept if it is
// short and plain, and not an API key: a client that sends its key in the
// wrong header must not find it logged and echoed.
func (s *Server) requestID(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		id := c.Request().Header.Get(echo.HeaderXRequestID)
		if !plainID(id) {
			var b [8]byte
			rand.Read(b[:])
			id = hex.EncodeToString(b[:])
		}
		c.Set(requestIDKey, id)
		c.Response().Header().Set(echo.HeaderXRequestID, id)
		return next(c)
	}
}

func plainID(s string) bool {
	if len(s) == 0 || len(s) > 64 {
		return false
	}
	for _, c := range []byte(s) {
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c == '-' || c == '_' || c == '.') {
			return false
		}
	}
	return apikey.Redact(s) == s // nothing shaped like a key, whole or in part
}

func requestIDOf(c echo.Context) string {
	id, _ := c.Get(requestIDKey).(string)
	return id
}

// logRequests writes one line per request. It logs the path without the
// query string, with anything shaped like a key redacted, and never
// headers or bodies: keys, cookies and passwords stay out of the logs.
// API calls and health probes log at debug level, but for server errors.
func (s *Server) logRequests(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		start := time.Now()
		err := next(c)
		if err != nil {
			c.Error(err) // writes the error response, so the status below is final
		}
		r := c.Request()
		level := slog.LevelInfo
		if forMachines(r.URL.Path) && c.Response().Status < 500 {
			// The API and the probes answer thousands of requests a
			// second: a line each would cost more than the check itself.
			// Failed authentications are counted by the limiter, which
			// logs a warning when it blocks an address.
			level = slog.LevelDebug
		}
		if !s.log.Enabled(r.Context(), level) {
			return nil
		}
		s.log.LogAttrs(r.Context(), level, "request",
			slog.String("request_id", requestIDOf(c)),
			slog.String("method", r.Method),
			slog.String("path", logPath(r.URL.Path)),
			slog.Int("status", c.Response().Status),
			slog.Int64("bytes", c.Response().Size),
			slog.Duration("duration", time.Since(start)),
			slog.String("ip", c.RealIP()),
		)
		return nil
	}
}

// compressPages gzips pages, fragments and exports for browsers that take
// it. It wraps logRequests, which writes error pages, so that those are
// compressed too. Static files are compressed once, at start (assets);
// the API and the probes are not compressed: their answers are small and
// the hot path should not pay for a compressor.
func compressPages() echo.MiddlewareFunc {
	return middleware.GzipWithConfig(middleware.GzipConfig{
		Skipper: func(c echo.Context) bool {
			p := c.Request().URL.Path
			return forMachines(p) || strings.HasPrefix(p, "/static/") || p == "/favicon.ico"
		},
		MinLength: 1024, // below a packet, compressing saves nothing
	})
}

// recoverPanics turns a panic into a 500 and a log line with the stack.
func (s *Server) recoverPanics(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) (err error) {
		defer func() {
			if v := recover(); v != nil {
				if v == http.ErrAbortHandler {
					panic(v)
				}
				err = fmt.Errorf("panic: %v\n%s", v, debug.Stack())
			}
		}()
		return next(c)
	}
}

// csp allows scripts, styles and requests to this origin only: no inline
// script or style, no framing, forms post only here.
const csp = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; " +
	"connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"

// machineCSP is the policy of responses meant for programs (JSON, probes):
// nothing may load, nothing may frame them.
const machineCSP = "default-src 'none'; frame-ancestors 'none'"

// securityHeaders sets the headers every response carries. Pages are
// never stored by caches (they show workspace data); static files set
// their own caching. Responses for programs (the API and the probes) get
// the subset that matters outside a browser page, as OWASP's REST
// guidance lists it: fewer bytes on the hot path.
func (s *Server) securityHeaders(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		h := c.Response().Header()
		path := c.Request().URL.Path
		h.Set("X-Content-Type-Options", "nosniff")
		if s.isTLS(c.Request()) {
			h.Set("Strict-Transport-Security", "max-age=31536000")
		}
		if forMachines(path) {
			h.Set("Content-Security-Policy", machineCSP)
			h.Set("Cache-Control", "no-store")
			return next(c)
		}
		h.Set("Content-Security-Policy", csp)
		h.Set("X-Frame-Options", "DENY")
		h.Set("Referrer-Policy", "same-origin")
		h.Set("Cross-Origin-Opener-Policy", "same-origin")
		h.Set("Cross-Origin-Resource-Policy", "same-origin")
		h.Set("Permissions-Policy", "camera=(), microphone=(), geolocation=(), payment=(), usb=()")
		if !strings.HasPrefix(path, "/static/") {
			h.Set("Cache-Control", "no-store")
		}
		return next(c)
	}
}

// forMachines reports whether path serves programs rather than pages.
func forMachines(path string) bool {
	return strings.HasPrefix(path, "/api/") || path == "/healthz" || path == "/readyz"
}

// crossOrigin refuses state-changing requests sent by other sites, with
// Go's CrossOriginProtection: browsers say where a request comes from in
// Sec-Fetch-Site (or Origin), and a POST from another origin is refused.
// Safe methods (GET, HEAD, OPTIONS) are never state-changing here. Clients
// that are not browsers send neither header and are let through: they
// cannot carry a victim's cookies anyway.
func crossOrigin(cop *http.CrossOriginProtection) echo.MiddlewareFunc {
	return guard(func(c echo.Context) error {
		if err := cop.Check(c.Request()); err != nil {
			return echo.NewHTTPError(http.StatusForbidden, "This request came from another site and was refused.").SetInternal(err)
		}
		return nil
	})
}

// guard is middleware that answers a request with the error of check,
// or passes it on when check returns nil.
func guard(check func(echo.Context) error) echo.MiddlewareFunc {
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error {
			if err := check(c); err != nil {
				return err
			}
			return next(c)
		}
	}
}

// requireSetup sends every page to first-run setup until an admin exists.
func (s *Server) requireSetup(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		done, err := s.isSetUp(c)
		if err != nil {
			return err
		}
		if !done {
			return redirect(c, "/setup")
		}
		return next(c)
	}
}

// isSetUp reports whether an admin exists. Once true it stays true, so
// only a fresh install asks the database on every request.
func (s *Server) isSetUp(c echo.Context) (bool, error) {
	if s.setupDone.Load() {
		return true, nil
	}
	done, err := s.db.HasAdmin(c.Request().Context())
	if done {
		s.setupDone.Store(true)
	}
	return done, err
}

// requireSession lets only signed-in requests through; others go to the
// sign-in page (and come back after it, for a page they asked for).
func (s *Server) requireSession(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		cur, err := s.currentSession(c)
		if err != nil {
			return err
		}
		if cur == nil {
			target := "/login"
			if r := c.Request(); (r.Method == http.MethodGet || r.Method == http.MethodHead) && r.URL.Path != "/" && isFullPage(c) &&
				apikey.Redact(r.URL.Path) == r.URL.Path {
				target += "?next=" + r.URL.EscapedPath()
			}
			return redirect(c, target)
		}
		withViewer(c, cur)
		return next(c)
	}
}

// redirect answers 303 See Other, or, to htmx, a full-page redirect.
func redirect(c echo.Context, to string) error {
	if c.Request().Header.Get("HX-Request") == "true" {
		c.Response().Header().Set("HX-Redirect", to)
		return c.NoContent(http.StatusOK)
	}
	return c.Redirect(http.StatusSeeOther, to)
}

// badText reports whether s cannot be text anywhere it goes: a NUL
// character (PostgreSQL refuses it in text, C-based tools cut the text
// there) or bytes that are not UTF-8 (which one database refuses and the
// other stores as they are).
func badText(s string) bool {
	return strings.IndexByte(s, 0) >= 0 || !utf8.ValidString(s)
}

// errBadText is the answer to a request with badText in its address or
// form; where names the parameter or field when it has a name to show.
func errBadText(where string) *echo.HTTPError {
	msg := "The address or form holds a NUL character or text that is not valid UTF-8"
	if where != "" && !badText(where) && utf8.RuneCountInString(where) <= 40 {
		msg += " (in “" + where + "”)"
	}
	return echo.NewHTTPError(http.StatusBadRequest, msg+": remove it and try again.")
}

// validText refuses, with 400, a request whose path or query parameters
// (names or values) hold badText, before any handler or query sees them:
// one check for every route, so that no filter, search or id can carry a
// NUL into the database (PostgreSQL's 500) or odd bytes into a page. Form
// bodies are checked by readForms, after the body limit. The gateway
// check reads only its scope, which it refuses itself when unknown
// (400 unknown_scope, its contract), and it is the hot path.
func (s *Server) validText(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		r := c.Request()
		if badText(r.URL.Path) {
			return s.refuseText(c, "")
		}
		for _, v := range c.ParamValues() {
			if badText(v) {
				return s.refuseText(c, "")
			}
		}
		if r.URL.RawQuery != "" && r.URL.Path != "/api/v1/verify" {
			if where, bad := badField(r.URL.Query()); bad {
				return s.refuseText(c, where)
			}
		}
		return next(c)
	}
}

// badField reports whether a name or a value of fields holds badText, and
// where: "" for a name, the field's name for a value.
func badField(fields url.Values) (where string, bad bool) {
	for k, vs := range fields {
		if badText(k) {
			return "", true
		}
		for _, v := range vs {
			if badText(v) {
				return k, true
			}
		}
	}
	return "", false
}

// refuseText answers a request with badText: the API's JSON error under
// /api/, else the page or htmx fragment of the one error handler.
func (s *Server) refuseText(c echo.Context, where string) error {
	he := errBadText(where)
	if strings.HasPrefix(c.Request().URL.Path, "/api/") {
		return apiError(he.Code, "invalid_text", he.Message.(string))
	}
	return he
}

// readForms limits a request's body to limit (BodyLimit) and reads its
// form, urlencoded or multipart, refusing a field whose name or value
// holds badText with 400: the one place every form is checked, whatever
// the handler then reads. A body that cannot be read is 413 or 400
// (formError), as the handlers answered it.
func (s *Server) readForms(limit string) echo.MiddlewareFunc {
	bodyLimit := middleware.BodyLimit(limit)
	check := func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error {
			r := c.Request()
			if r.Method != http.MethodPost && r.Method != http.MethodPut && r.Method != http.MethodPatch {
				return next(c)
			}
			ctype := r.Header.Get(echo.HeaderContentType)
			if !strings.HasPrefix(ctype, echo.MIMEApplicationForm) && !strings.HasPrefix(ctype, echo.MIMEMultipartForm) {
				return next(c)
			}
			form, err := c.FormParams()
			if err != nil {
				return formError(err)
			}
			if where, bad := badField(form); bad {
				return s.refuseText(c, where)
			}
			return next(c)
		}
	}
	return func(next echo.HandlerFunc) echo.HandlerFunc { return bodyLimit(check(next)) }
}
