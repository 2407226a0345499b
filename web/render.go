package web

import (
	"bytes"
	"errors"
	"net/http"
	"strings"

	"github.com/a-h/templ"
	"github.com/labstack/echo/v4"

	"github.com/blnk-cloud/apikeys/internal/blnk"
	"github.com/blnk-cloud/apikeys/internal/derrors"
	"github.com/blnk-cloud/apikeys/views"
	"github.com/blnk-cloud/apikeys/web/apiv1"
)

// linkPage loads the page of a link sent to someone (an invitation, a
// password reset) with load. On GET it renders the page, whatever its
// status; on POST, a link that cannot be used (a status other than 200:
// expired, used, revoked) is answered with its page, and only a usable
// link's view comes back to be acted on, with the form parsed. nil:
// answered, or an error.
func linkPage[V any](c echo.Context, load func(echo.Context) (V, int, error), page func(V) templ.Component) (*V, error) {
	v, status, err := load(c)
	if err != nil {
		return nil, err
	}
	if c.Request().Method == http.MethodGet || c.Request().Method == http.MethodHead || status != http.StatusOK {
		return nil, render(c, status, page(v))
	}
	if _, err := c.FormParams(); err != nil {
		return nil, formError(err)
	}
	return &v, nil
}

// showLink is the GET handler of a link's page (linkPage).
func showLink[V any](load func(echo.Context) (V, int, error), page func(V) templ.Component) echo.HandlerFunc {
	return func(c echo.Context) error {
		_, err := linkPage(c, load, page)
		return err
	}
}

// render answers status with components, one after the other, as HTML.
// They are rendered into a buffer first: a component that fails has
// written nothing, and its error becomes a whole error page, not a
// truncated page with status 200.
func render(c echo.Context, status int, comps ...templ.Component) error {
	var buf bytes.Buffer
	for _, comp := range comps {
		if err := comp.Render(c.Request().Context(), &buf); err != nil {
			return err
		}
	}
	return c.HTMLBlob(status, buf.Bytes())
}

// isFullPage decides between a whole page and an htmx fragment: htmx asks
// with HX-Request, except when it restores history, which needs the page.
// Responses vary on it, so caches keep the two apart.
func isFullPage(c echo.Context) bool {
	c.Response().Header().Add("Vary", "HX-Request")
	h := c.Request().Header
	return h.Get("HX-Request") != "true" || h.Get("HX-History-Restore-Request") == "true"
}

// page returns the shell data of a signed-in page, taking the pending
// one-time notice.
func (s *Server) page(c echo.Context, title string) (views.Page, error) {
	cur := mustSession(c)
	flash, err := s.popFlash(c)
	if err != nil {
		return views.Page{}, err
	}
	ws, err := s.db.ListMemberships(c.Request().Context(), cur.User.ID)
	if err != nil {
		return views.Page{}, err
	}
	return views.Page{
		Title:       title,
		Email:       cur.User.Email,
		Workspace:   cur.Workspace.Name,
		WorkspaceID: cur.Workspace.ID,
		Workspaces:  ws,
		Flash:       flash,
		Now:         s.cfg.Now(),
	}, nil
}

// renderPage answers status with a whole signed-in page: view draws data
// in the shell (page) of the page titled title, in the sidebar's section
// nav ("" for the API keys).
func renderPage[T any](s *Server, c echo.Context, status int, nav, title string, view func(views.Page, T) templ.Component, data T) error {
	p, err := s.page(c, title)
	if err != nil {
		return err
	}
	p.Nav = nav
	return render(c, status, view(p, data))
}

// problem is an error the API answers with its own code: handlers return
// it (apiError) and handleError writes it, as it writes every other
// error, so that the JSON error shape has one writer. (The key checks of
// the hot path write theirs without allocating, in keyauth.)
type problem struct {
	status        int
	code, message string
	fields        map[string]string // validation_failed: a message per field
}

func (p *problem) Error() string { return p.code + ": " + p.message }

// apiError returns the error the API answers with status, code and
// message.
func apiError(status int, code, message string) error {
	return &problem{status: status, code: code, message: message}
}

// statusOf is the HTTP status of a domain error's code.
var statusOf = map[string]int{
	derrors.EINVALID:      http.StatusUnprocessableEntity,
	derrors.ENOTFOUND:     http.StatusNotFound,
	derrors.ECONFLICT:     http.StatusConflict,
	derrors.EFORBIDDEN:    http.StatusForbidden,
	derrors.EUNAVAILABLE:  http.StatusServiceUnavailable,
	derrors.ENOTSUPPORTED: http.StatusNotImplemented,
	derrors.EUNAUTHORIZED: http.StatusUnauthorized,
}

// handleError turns a handler's error into a response: the JSON error of
// the API under /api/, an error page for browsers, a short fragment for
// htmx (which app.js shows as a notice). Internal errors are logged with
// the request id, and people see only that id. It is the one place that
// maps errors to statuses, pages and JSON.
func (s *Server) handleError(err error, c echo.Context) {
	if c.Response().Committed {
		s.log.Error("error after response started", "request_id", requestIDOf(c), "err", err)
		return
	}
	status, message, code := http.StatusInternalServerError, "", ""
	var fields map[string]string
	var he *echo.HTTPError
	var p *problem
	switch {
	case errors.As(err, &p):
		status, code, message, fields = p.status, p.code, p.message, p.fields
	case errors.As(err, &he):
		status = he.Code
		if m, ok := he.Message.(string); ok && status != http.StatusNotFound {
			message = m
		}
		if he.Internal != nil {
			s.log.Warn("request refused", "request_id", requestIDOf(c), "status", status, "err", he.Internal)
		}
	case errors.Is(err, blnk.ErrNotFound):
		status = http.StatusNotFound
	case statusOf[derrors.Code(err)] != 0:
		status, message = statusOf[derrors.Code(err)], derrors.Message(err)
	}
	if status >= 500 && code == "" {
		s.log.Error("request failed", "request_id", requestIDOf(c), "method", c.Request().Method,
			"path", logPath(c.Request().URL.Path), "err", err)
		message = ""
	}
	// The status's bare name, or nothing: app.js says it in its own words
	// (the page's sentences, such as "nothing at this address", are
	// written for a page, not a notice over one).
	generic := message == "" || strings.TrimSuffix(message, ".") == http.StatusText(status)
	title := http.StatusText(status)
	switch {
	case code != "":
	case status == http.StatusNotFound:
		title, message = "Page not found", "There is nothing at this address, or it belongs to another workspace."
	case status == http.StatusMethodNotAllowed:
		message = "This address does not accept that kind of request."
	case status == http.StatusRequestEntityTooLarge:
		message = "What you sent is too large."
	case status == http.StatusInternalServerError:
		title, message = "Something went wrong", "We could not complete your request. Please try again; if it keeps happening, contact support with the request ID below."
	}
	if message == "" {
		message = title + "."
	}

	if strings.HasPrefix(c.Request().URL.Path, "/api/") {
		if code == "" {
			code = strings.ToLower(strings.ReplaceAll(http.StatusText(status), " ", "_"))
		}
		if status == http.StatusInternalServerError {
			code = "internal_error"
		}
		c.Response().Header().Set("Cache-Control", "no-store")
		werr := c.JSON(status, apiv1.Error{Error: apiv1.ErrorObject{Code: code, Message: message, Fields: fields}})
		if werr != nil {
			s.log.Error("write error", "request_id", requestIDOf(c), "err", werr)
		}
		return
	}
	// HEAD gets the same answer as GET: net/http leaves the body out.
	var werr error
	if isFullPage(c) {
		werr = render(c, status, s.errorPage(c, status, title, message))
	} else {
		werr = render(c, status, views.ErrorFragment(message, generic))
	}
	if werr != nil {
		s.log.Error("write error page", "request_id", requestIDOf(c), "err", werr)
	}
}
