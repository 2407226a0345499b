package web_test

import (
	"html"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"unicode/utf8"
)

var flashRE = regexp.MustCompile(`<div class="flash" role="status">([^<]*)</div>`)

// flashes returns the notices a page shows.
func flashes(body string) []string {
	var out []string
	for _, m := range flashRE.FindAllStringSubmatch(body, -1) {
		out = append(out, html.UnescapeString(m[1]))
	}
	return out
}

// TestRepeatedRevokesKeepOneNotice: a script that revokes keys with full
// page posts, and never loads the page they lead to, must not pile up
// notices until the session cookie is too long (a 500 after revokes that
// succeeded).
func TestRepeatedRevokesKeepOneNotice(t *testing.T) {
	t.Parallel()
	ts, c := newSignedIn(t, serverOpts{})
	var keys []newKey
	for i := range 20 {
		// 100 characters of 4 bytes each: the longest name there is.
		name := strconv.Itoa(100+i) + strings.Repeat("🔑", 97)
		if n := utf8.RuneCountInString(name); n != 100 {
			t.Fatalf("name of %d characters, want 100", n)
		}
		keys = append(keys, c.create(name))
	}
	for i, k := range keys {
		r := c.post("/settings/api-keys/"+k.ID+"/revoke", nil)
		if r.Code != http.StatusSeeOther {
			t.Fatalf("revoke %d: got %d, want 303\n%s", i+1, r.Code, r.Body)
		}
		if ts.revokedAt(k.ID) == 0 {
			t.Errorf("revoke %d: key not revoked", i+1)
		}
	}
	if strings.Contains(ts.logs.String(), "level=ERROR") {
		t.Errorf("errors logged:\n%s", ts.logs.String())
	}
	last := keys[len(keys)-1]
	r := c.get("/settings/api-keys/" + last.ID)
	if r.Code != http.StatusOK {
		t.Fatalf("page after the revokes: got %d, want 200", r.Code)
	}
	want := "The key “" + strconv.Itoa(119) + strings.Repeat("🔑", 97) + "” was revoked."
	if got := flashes(r.Body); len(got) != 1 || got[0] != want {
		t.Errorf("notices: got %q, want only the last one, %q", got, want)
	}
	if got := flashes(c.get("/settings/api-keys").Body); len(got) != 0 {
		t.Errorf("notices on the next page: got %q, want none", got)
	}
}
