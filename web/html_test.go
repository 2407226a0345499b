package web_test

// Selectors for the pages the tests read: the parts of the key list,
// the details panel and forms, so that an assertion looks at the element
// its fact belongs to (see internal/testkit/htmlcheck).

import (
	"testing"

	"github.com/PuerkitoBio/goquery"
	"github.com/blnk-cloud/apikeys/internal/testkit/htmlcheck"
)

// parse parses a page or an htmx fragment for selectors.
func parse(t testing.TB, body string) *htmlcheck.Doc {
	t.Helper()
	return htmlcheck.Parse(t, body)
}

// rowSel is the selector of key id's row in the list.
func rowSel(id string) string { return htmlcheck.ID("key-row-" + id) }

// keyCell returns the cell labelled label in the row of key id.
func keyCell(d *htmlcheck.Doc, id, label string) *goquery.Selection {
	return d.Find(rowSel(id) + ` > td[data-label="` + label + `"]`)
}

// cellText returns the text of the cell labelled label in the row of key
// id in body, or "" when there is no such row or cell.
func cellText(t testing.TB, body, id, label string) string {
	t.Helper()
	return htmlcheck.Text(keyCell(parse(t, body), id, label))
}

// detail returns the text of the description of term in a key's or a
// webhook's details list (<dt>term</dt><dd>...</dd>), or "" when there
// is none.
func detail(d *htmlcheck.Doc, term string) string {
	dt := d.Find("dl dt").FilterFunction(func(_ int, s *goquery.Selection) bool {
		return htmlcheck.Text(s) == term
	}).First()
	return htmlcheck.Text(dt.NextFiltered("dd"))
}

// hasLink reports whether s holds a link to href.
func hasLink(s *goquery.Selection, href string) bool {
	return s.Find(`a[href="`+href+`"]`).Length() > 0
}

// textOf returns the text of everything in body, as a reader sees it.
func textOf(t testing.TB, body string) string {
	t.Helper()
	return htmlcheck.Text(parse(t, body).Selection)
}

// errorText returns what an error answer says, as a page (the error
// card's title and message) or as an htmx fragment (its one paragraph),
// or "" when body is neither.
func errorText(t testing.TB, body string) string {
	t.Helper()
	return parse(t, body).Text(".error-card h1, .error-card p.muted, p.error-fragment")
}
