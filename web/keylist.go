package web

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/a-h/templ"
	"github.com/labstack/echo/v4"

	"github.com/blnk-cloud/apikeys/internal/apikey"
	"github.com/blnk-cloud/apikeys/internal/blnk"
	"github.com/blnk-cloud/apikeys/views"
)

// maxSearchLen is the longest search of the keys list, in characters.
const maxSearchLen = 100

// maxListLimit is the most keys a page of the list may show.
const maxListLimit = 200

// listProblem is an address of the list that cannot be shown: a 400.
type listProblem = string

// parseListFilter reads the list's query parameters (web/README.md, "The
// keys list"). Each may appear once; unknown parameters are ignored. me is
// the person who asks: owner=me keeps their keys.
func parseListFilter(q url.Values, me int64) (views.ListFilter, blnk.ListQuery, listProblem) {
	var f views.ListFilter
	lq := blnk.ListQuery{Sort: blnk.SortCreated, Desc: true, Limit: views.DefaultListLimit}
	for _, name := range []string{"q", "status", "scope", "compliance", "owner", "sort", "cursor", "limit"} {
		if len(q[name]) > 1 {
			return f, lq, listProblem(fmt.Sprintf("“%s” is given %d times; give it once.", name, len(q[name])))
		}
	}
	search := strings.TrimSpace(q.Get("q"))
	switch {
	case !utf8.ValidString(search):
		return f, lq, "The search is not valid text."
	case utf8.RuneCountInString(search) > maxSearchLen:
		return f, lq, fmt.Sprintf("The search is longer than %d characters.", maxSearchLen)
	case strings.IndexFunc(search, unicode.IsControl) >= 0:
		return f, lq, "The search contains control characters."
	}
	f.Search, lq.Search = search, search

	switch s := blnk.ListStatus(q.Get("status")); s {
	case blnk.AnyStatus, blnk.ListActive, blnk.ListExpiring, blnk.ListRolled, blnk.ListExpired, blnk.ListRevoked:
		f.Status, lq.Status = string(s), s
	default:
		return f, lq, fmt.Sprintf("Unknown status “%s”: use active, expiring, rolled, expired or revoked.", clip(string(s)))
	}

	switch cp := q.Get("compliance"); cp {
	case "":
	case views.ComplianceNon:
		f.Compliance, lq.NonCompliant = cp, true
	default:
		return f, lq, fmt.Sprintf("Unknown compliance “%s”: use noncompliant, or leave it out.", clip(cp))
	}

	if sc := q.Get("scope"); sc != "" {
		if !apikey.KnownScope(sc) {
			return f, lq, fmt.Sprintf("Unknown scope “%s”.", clip(sc))
		}
		f.Scope, lq.Scope = sc, apikey.Scope(sc)
	}

	switch o := q.Get("owner"); o {
	case "":
	case "me":
		f.Owner, lq.CreatedBy = o, me
	default:
		return f, lq, fmt.Sprintf("Unknown owner “%s”: use me, or leave it out for everyone's keys.", clip(o))
	}

	// Without a sort, the status's default (the keys expiring soon,
	// soonest first); the filter keeps only a sort that differs from it.
	sort := q.Get("sort")
	if sort == "" {
		sort = views.DefaultSort(f.Status)
	}
	col, desc := strings.CutPrefix(sort, "-")
	if !blnk.KnownSort(blnk.ListSort(col)) {
		return f, lq, fmt.Sprintf("Unknown sort “%s”: use created, name, expires or last_used, with - for descending.", clip(sort))
	}
	lq.Sort, lq.Desc = blnk.ListSort(col), desc
	if sort != views.DefaultSort(f.Status) {
		f.Sort, f.Desc = col, desc
	}

	if s := q.Get("limit"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 || n > maxListLimit {
			return f, lq, fmt.Sprintf("The page size must be a number from 1 to %d.", maxListLimit)
		}
		f.Limit, lq.Limit = n, n
	}

	if s := q.Get("cursor"); s != "" {
		c, err := blnk.ParseCursor(s)
		if err != nil || c.Sort != lq.Sort || c.Desc != lq.Desc {
			return f, lq, "The page link is damaged or belongs to another sort order. Start again from the first page."
		}
		f.Cursor, lq.After = s, c
	}
	return f, lq, ""
}

// hasEmptyParam reports whether the address has a parameter without a
// value ("?q=&scope=").
func hasEmptyParam(q url.Values) bool {
	for _, vs := range q {
		if len(vs) == 1 && vs[0] == "" {
			return true
		}
	}
	return false
}

// typingOn reports whether the list the browser shows (its address,
// current) and the one asked for differ only in a search that was already
// there: the same search, typed further.
func typingOn(current string, next views.ListFilter) bool {
	u, err := url.Parse(current)
	if err != nil || u.Path != views.ListPath {
		return false
	}
	prev, _, problem := parseListFilter(u.Query(), 0)
	if problem != "" || prev.Search == "" || next.Search == "" || prev.Search == next.Search {
		return false
	}
	prev.Search, prev.Cursor = next.Search, next.Cursor
	return prev == next
}

// clip shortens what a problem message repeats of the address.
func clip(s string) string {
	if utf8.RuneCountInString(s) > 40 {
		return string([]rune(s)[:40]) + "…"
	}
	return s
}

// searchWithoutSecret returns the search to show instead of q when q holds
// a key, or more of one than its public prefix (someone pasted a key into
// the search box): that key's prefix, so that the rest leaves the address.
// It finds what the log redacts (apikey.Redact), wherever it is in q.
func searchWithoutSecret(q string) (string, bool) {
	r := apikey.Redact(q)
	if r == q {
		return "", false
	}
	i := strings.Index(r, "[redacted]")
	return r[strings.LastIndex(r[:i], "blnk"):i], true // a key's prefix, or a management token's
}

func (s *Server) keyList(c echo.Context) error {
	req := c.Request()
	full := isFullPage(c)
	query := req.URL.Query()
	// A key pasted into the search must not stay in the address bar, the
	// history or a shared link: the list searches by its prefix instead.
	// A page is redirected; htmx gets the results of the prefix, the
	// prefix's address and the search box emptied of the key.
	pasted := false
	if prefix, ok := searchWithoutSecret(query.Get("q")); ok {
		query.Set("q", prefix)
		if full {
			return c.Redirect(http.StatusSeeOther, views.ListPath+"?"+query.Encode())
		}
		pasted = true
	}

	filter, _, problem := parseListFilter(query, 0)
	// A form without JavaScript sends every field, empty ones too: the
	// list moves to its one address (htmx requests get it in HX-Push-Url).
	// So does the sort select's default order, sent with every search.
	if full && problem == "" && (hasEmptyParam(query) || query.Get("sort") == views.DefaultSort(filter.Status)) {
		return c.Redirect(http.StatusSeeOther, filter.URL())
	}
	if err := s.withPolicy(c); err != nil {
		return err
	}
	l, err := s.keyListOf(c.Request().Context(), mustSession(c), query)
	if err != nil {
		return err
	}

	status := http.StatusOK
	if l.Problem != "" {
		status = http.StatusBadRequest
	}
	if !full {
		// The address follows the list: the server's canonical form of
		// what is shown. Typing on in the search box replaces the entry
		// of the search before; anything else is a new entry, for the
		// back button.
		h := c.Response().Header()
		if typingOn(req.Header.Get("HX-Current-URL"), l.Filter) {
			h.Set("HX-Replace-Url", l.Filter.URL())
		} else {
			h.Set("HX-Push-Url", l.Filter.URL())
		}
		return render(c, status, views.KeysResultsSwap(l, pasted))
	}
	return renderPage(s, c, status, "", "API Keys", views.KeysPage, l)
}

// keyListOf reads the page of the workspace's keys list that query (the
// list's address) asks for, with its counts; an address that cannot be
// shown gives a list with its Problem and no keys.
func (s *Server) keyListOf(ctx context.Context, cur *blnk.Session, query url.Values) (views.KeyList, error) {
	now := s.cfg.Now()
	ws := cur.Workspace.ID
	filter, lq, problem := parseListFilter(query, cur.User.ID)
	lq.Now, lq.Policy = now, views.PolicyOf(ctx).Policy
	l := views.KeyList{Now: now, Filter: filter, Problem: string(problem)}

	counts, among, err := s.fillCounts(ctx, ws, lq, &l)
	if err != nil {
		return l, err
	}
	if problem == "" {
		// The keys the filter finds, when they are few: read by id.
		lq.Among = among
		if counts.Of(lq.Status) > 0 {
			page, err := s.db.ListKeys(ctx, ws, lq)
			if err != nil {
				return l, err
			}
			for i := range page.Keys {
				s.freshLastUsed(&page.Keys[i])
			}
			l.Keys, l.Next, l.Prev, l.Offset = page.Keys, page.Next.String(), page.Prev.String(), page.Offset
		}
	}
	return l, nil
}

// fillCounts sets l's totals, expiring count and status tabs for the
// filter lq (all keys' counts if l has a Problem). It returns the counts
// of what the filter finds and, when few, their ids (see listCounts).
func (s *Server) fillCounts(ctx context.Context, ws int64, lq blnk.ListQuery, l *views.KeyList) (blnk.StatusCounts, []string, error) {
	all, counts, among, err := s.counts.count(ctx, ws, lq, views.PolicyOf(ctx).Roles)
	if err != nil {
		return counts, nil, err
	}
	l.Total, l.ExpiringSoon = all.All, all.Expiring
	l.NonCompliant, l.NonCompliantFound = all.NonCompliant, counts.NonCompliant
	if l.Problem != "" {
		counts = all
	}
	l.Tabs = l.Tabs[:0]
	for _, t := range views.ListStatuses {
		t.Count = counts.Of(blnk.ListStatus(t.Status))
		l.Tabs = append(l.Tabs, t)
	}
	return counts, among, nil
}

// countsOOB returns, for an htmx action taken from the keys list (the
// panel over it), the list's counts as they are now, out of band: the
// status tabs of the filter the list shows (read from its address) and
// the expiring banner. Nil for an action from anywhere else.
func (s *Server) countsOOB(c echo.Context) (templ.Component, error) {
	if !fromList(c) {
		return nil, nil
	}
	u, _ := url.Parse(c.Request().Header.Get("HX-Current-URL")) // fromList parsed it
	me := mustSession(c).User.ID
	filter, lq, problem := parseListFilter(u.Query(), me)
	if problem != "" {
		filter, lq, _ = parseListFilter(nil, me)
	}
	if err := s.withPolicy(c); err != nil {
		return nil, err
	}
	now := s.cfg.Now()
	lq.Now, lq.Policy = now, views.PolicyOf(c.Request().Context()).Policy
	l := views.KeyList{Now: now, Filter: filter}
	if _, _, err := s.fillCounts(c.Request().Context(), mustSession(c).Workspace.ID, lq, &l); err != nil {
		return nil, err
	}
	return views.KeyCountsOOB(l), nil
}
