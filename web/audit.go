package web

import (
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/labstack/echo/v4"

	"github.com/blnk-cloud/apikeys/internal/apikey"
	"github.com/blnk-cloud/apikeys/internal/audit"
	"github.com/blnk-cloud/apikeys/internal/blnk"
	"github.com/blnk-cloud/apikeys/views"
)

// auditPageSize is how many events a page of the audit log shows.
const auditPageSize = 50

// auditQuery is the audit log's filter and page as the URL asks for them.
type auditQuery struct {
	filter        blnk.AuditFilter
	shown         views.AuditFilter
	before, after int64
}

// parseAuditQuery reads the filter of the audit log, its exports and its
// pages from the URL: key (an id, or a prefix as the list shows it),
// actor, action, and a cursor (before or after an event id). Anything
// malformed is a 400 that says what.
func (s *Server) parseAuditQuery(c echo.Context) (auditQuery, error) {
	q := c.Request().URL.Query()
	var a auditQuery
	var err error
	if a.filter, err = parseAuditFilter(q, mustSession(c).Workspace.ID); err != nil {
		return a, err
	}
	cursor := func(name string) (int64, error) {
		v := q.Get(name)
		if v == "" {
			return 0, nil
		}
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil || n <= 0 {
			return 0, echo.NewHTTPError(http.StatusBadRequest, "This page of the audit log does not exist: start from the newest events.")
		}
		return n, nil
	}
	if a.before, err = cursor("before"); err != nil {
		return a, err
	}
	if a.after, err = cursor("after"); err != nil {
		return a, err
	}
	a.shown = views.AuditFilter{Key: a.filter.Key, Actor: a.filter.Actor, Action: string(a.filter.Action), Before: q.Get("before"), After: q.Get("after")}
	return a, nil
}

// parseAuditFilter reads the audit log's filter of workspace ws from the
// URL (the pages' and the management API's): key, actor, action.
func parseAuditFilter(q url.Values, ws int64) (blnk.AuditFilter, error) {
	f := blnk.AuditFilter{WorkspaceID: ws}
	key := strings.TrimSuffix(strings.TrimSpace(q.Get("key")), "...")
	if key != "" && !apikey.ValidID(key) && !isPrefix(key) {
		return f, echo.NewHTTPError(http.StatusBadRequest, "Filter by a key's id (key_…) or its prefix as the list shows it (blnk_ and 8 characters).")
	}
	actor := strings.ToLower(strings.TrimSpace(q.Get("actor")))
	if !utf8.ValidString(actor) || utf8.RuneCountInString(actor) > 320 {
		return f, echo.NewHTTPError(http.StatusBadRequest, "Filter by an actor: an email address, “command line”, “leak report” or “system”.")
	}
	action := audit.Action(strings.TrimSpace(q.Get("action")))
	if action != "" && !audit.Known(action) {
		return f, echo.NewHTTPError(http.StatusBadRequest, "There is no action “"+shown(string(action))+"” in the audit log.")
	}
	f.Key, f.Actor, f.Action = key, actor, action
	return f, nil
}

// isPrefix reports whether s looks like a key's display prefix.
func isPrefix(s string) bool {
	if len(s) != apikey.PrefixLen || !strings.HasPrefix(s, "blnk_") {
		return false
	}
	for _, c := range []byte(s[len("blnk_"):]) {
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f') {
			return false
		}
	}
	return true
}

// withoutSecrets returns the address of the same filter without the keys
// pasted into it (a whole key in the key filter, say), each cut to its
// public prefix as the log redacts it (apikey.Redact), and false when
// there were none: a key must not stay in the address bar, the history,
// a shared link or the filter's box.
func withoutSecrets(u *url.URL) (string, bool) {
	q := u.Query()
	found := false
	for name, vs := range q {
		for i, v := range vs {
			if r := apikey.Redact(v); r != v {
				vs[i], found = strings.ReplaceAll(r, "[redacted]", ""), true
			}
		}
		q[name] = vs
	}
	return u.Path + "?" + q.Encode(), found
}

func (s *Server) auditLog(c echo.Context) error {
	if to, ok := withoutSecrets(c.Request().URL); ok {
		return redirect(c, to)
	}
	q, err := s.parseAuditQuery(c)
	if err != nil {
		return err
	}
	page, err := s.db.AuditEvents(c.Request().Context(), q.filter, q.before, q.after, auditPageSize)
	if err != nil {
		return err
	}
	l := views.AuditLog{Filter: q.shown, Events: page.Events, Older: page.Older, Newer: page.Newer, Now: s.cfg.Now()}
	if !isFullPage(c) && c.Request().Header.Get("HX-Target") == "audit-results" {
		// A new filter or page: the table, and the export links of the
		// filter alongside.
		return render(c, http.StatusOK, views.AuditResults(l), views.AuditExportOOB(q.shown))
	}
	return renderPage(s, c, http.StatusOK, views.NavAudit, "Audit log", views.AuditLogPage, l)
}

// auditExport writes every event the filter selects, newest first, as
// CSV or JSON, streamed: events are written as they are read, a chunk at
// a time, and flushed to the client after each chunk, so that an export
// of any size holds one chunk in memory.
func (s *Server) auditExport(format string) echo.HandlerFunc {
	return func(c echo.Context) error {
		if to, ok := withoutSecrets(c.Request().URL); ok {
			return c.Redirect(http.StatusSeeOther, to)
		}
		q, err := s.parseAuditQuery(c)
		if err != nil {
			return err
		}
		w := c.Response()
		ex, err := audit.NewExporter(format, w, false)
		if err != nil {
			return err
		}
		ctype := "text/csv; charset=utf-8"
		if format == "json" {
			ctype = "application/json; charset=utf-8"
		}
		h := w.Header()
		h.Set(echo.HeaderContentType, ctype)
		h.Set("Content-Disposition", `attachment; filename="audit-log-`+s.cfg.Now().UTC().Format("20060102-150405")+`.`+format+`"`)
		h.Set("Cache-Control", "no-store")
		w.WriteHeader(http.StatusOK)
		if c.Request().Method == http.MethodHead {
			return nil // the headers say it all: no need to read the log
		}
		n := 0
		err = s.db.EachAuditEvent(c.Request().Context(), q.filter, func(ev audit.Event) error {
			if err := ex.Write(ev); err != nil {
				return err
			}
			if n++; n%exportFlushEvery == 0 {
				if err := ex.Flush(); err != nil {
					return err
				}
				w.Flush()
			}
			return nil
		})
		if err != nil {
			// The status is sent: the file ends short (a JSON export does
			// not parse), and the log says why.
			s.log.Error("audit export cut short", "request_id", requestIDOf(c), "events", n, "err", err)
			return nil
		}
		if err := ex.Close(); err != nil {
			return err
		}
		w.Flush()
		s.log.Info("audit log exported", "request_id", requestIDOf(c), "format", format, "events", n,
			"workspace_id", q.filter.WorkspaceID, "user_id", mustSession(c).User.ID)
		return nil
	}
}

// exportFlushEvery is how many events an export writes between flushes
// to the client.
const exportFlushEvery = 1000
