// Package htmlcheck lets tests assert HTML through a parser and CSS
// selectors instead of regular expressions or substrings: a fact is
// checked at the element it belongs to (a status badge in the row of its
// key, the value of one input), so markup moving around or the same words
// elsewhere on the page neither breaks nor fools the test.
//
// It is goquery over golang.org/x/net/html. Pages and htmx fragments both
// parse: a fragment is parsed as the content of a <template>, so a bare
// <tr> or <option> keeps its element, as a browser swapping it would.
package htmlcheck

import (
	"fmt"
	"strings"
	"testing"

	"github.com/PuerkitoBio/goquery"
	"golang.org/x/net/html"
	"golang.org/x/net/html/atom"
)

// Doc is a parsed page or fragment.
type Doc struct {
	t testing.TB
	*goquery.Document
}

// Parse parses body, a whole page (starting with a doctype or <html>) or a
// fragment, and fails the test if it cannot.
func Parse(t testing.TB, body string) *Doc {
	fail := func(format string, args ...any) { panic(fmt.Sprintf(format, args...)) }
	if t != nil {
		t.Helper()
		fail = t.Fatalf
	}
	lead := strings.ToLower(strings.TrimSpace(body))
	if strings.HasPrefix(lead, "<!doctype") || strings.HasPrefix(lead, "<html") {
		d, err := goquery.NewDocumentFromReader(strings.NewReader(body))
		if err != nil {
			fail("parse HTML: %v", err)
		}
		return &Doc{t: t, Document: d}
	}
	ctx := &html.Node{Type: html.ElementNode, Data: "template", DataAtom: atom.Template}
	nodes, err := html.ParseFragment(strings.NewReader(body), ctx)
	if err != nil {
		fail("parse HTML fragment: %v", err)
	}
	root := &html.Node{Type: html.DocumentNode}
	for _, n := range nodes {
		root.AppendChild(n)
	}
	return &Doc{t: t, Document: goquery.NewDocumentFromNode(root)}
}

// Text returns the text of the elements sel matches, whitespace collapsed
// to single spaces, as a reader sees it; "" when nothing matches.
func (d *Doc) Text(sel string) string {
	return Text(d.Find(sel))
}

// Text returns the text of s, whitespace collapsed to single spaces. Text
// of adjacent elements is kept apart by a space.
func Text(s *goquery.Selection) string {
	var b strings.Builder
	var walk func(*html.Node)
	walk = func(n *html.Node) {
		switch n.Type {
		case html.TextNode:
			b.WriteString(n.Data)
		case html.ElementNode:
			if n.DataAtom == atom.Script || n.DataAtom == atom.Style || n.DataAtom == atom.Template {
				return
			}
			b.WriteString(" ")
		}
		for c := n.FirstChild; c != nil; c = c.NextSibling {
			walk(c)
		}
		if n.Type == html.ElementNode {
			b.WriteString(" ")
		}
	}
	for _, n := range s.Nodes {
		walk(n)
	}
	return strings.Join(strings.Fields(b.String()), " ")
}

// Attr returns the attribute name of the first element sel matches, and
// whether there is such an element with that attribute.
func (d *Doc) Attr(sel, name string) (string, bool) {
	return d.Find(sel).First().Attr(name)
}

// Count returns the number of elements sel matches.
func (d *Doc) Count(sel string) int {
	return d.Find(sel).Length()
}

// Has reports whether sel matches any element.
func (d *Doc) Has(sel string) bool {
	return d.Count(sel) > 0
}

// One returns the single element sel matches, failing the test when there
// is none or more than one.
func (d *Doc) One(sel string) *goquery.Selection {
	s := d.Find(sel)
	if s.Length() != 1 {
		if d.t == nil {
			panic(fmt.Sprintf("%q matches %d elements, want 1", sel, s.Length()))
		}
		d.t.Helper()
		d.t.Fatalf("%q matches %d elements, want 1", sel, s.Length())
	}
	return s
}

// ID returns a selector for the element whose id is id, whatever
// characters the id holds.
func ID(id string) string {
	return `[id="` + strings.ReplaceAll(strings.ReplaceAll(id, `\`, `\\`), `"`, `\"`) + `"]`
}

// Read parses body like Parse, for helpers that have no testing.TB: the
// parser never fails on a string (it reports only read errors), and One
// panics instead of failing a test.
func Read(body string) *Doc {
	return Parse(nil, body)
}
