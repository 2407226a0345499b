package web_test

import (
	"bytes"
	"compress/gzip"
	"io"
	"strings"
	"testing"

	"golang.org/x/net/html"

	"github.com/blnk-cloud/apikeys/static"
)

// assetLinks returns the href of every stylesheet and icon link and the src
// of every script of a page.
func assetLinks(t *testing.T, page string) []string {
	t.Helper()
	doc, err := html.Parse(strings.NewReader(page))
	if err != nil {
		t.Fatal(err)
	}
	var links []string
	for n := range doc.Descendants() {
		if n.Type != html.ElementNode {
			continue
		}
		for _, a := range n.Attr {
			if (n.Data == "link" && a.Key == "href") || (n.Data == "script" && a.Key == "src") {
				links = append(links, a.Val)
			}
		}
	}
	return links
}

func gunzip(t *testing.T, body string) string {
	t.Helper()
	zr, err := gzip.NewReader(strings.NewReader(body))
	if err != nil {
		t.Fatalf("not gzip: %v", err)
	}
	b, err := io.ReadAll(zr)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// TestStaticFilesAreFingerprintedAndImmutable: pages link to names that
// change with the content, and those are cached for a year; the plain
// names are revalidated.
func TestStaticFilesAreFingerprintedAndImmutable(t *testing.T) {
	t.Parallel()
	ts, anon := newSignedIn(t, serverOpts{})
	_ = ts
	page := anon.get("/settings/api-keys")
	links := assetLinks(t, page.Body)
	var fingerprinted int
	for _, l := range links {
		if !strings.HasPrefix(l, "/static/") {
			continue
		}
		fingerprinted++
		name := strings.TrimPrefix(l, "/static/")
		if _, ok := static.Names()[name]; !ok {
			t.Errorf("page links %s, not a fingerprinted name", l)
			continue
		}
		r := anon.get(l)
		if r.Code != 200 {
			t.Fatalf("GET %s: %d", l, r.Code)
		}
		if got, want := r.Header.Get("Cache-Control"), "public, max-age=31536000, immutable"; got != want {
			t.Errorf("GET %s: Cache-Control %q, want %q", l, got, want)
		}
		orig, _ := static.FS.ReadFile(static.Names()[name])
		if r.Body != string(orig) {
			t.Errorf("GET %s: body differs from %s", l, static.Names()[name])
		}
	}
	if fingerprinted < 4 {
		t.Fatalf("page links %d static files (%v), want stylesheet, two scripts and the icon", fingerprinted, links)
	}
	plain := anon.get("/static/css/app.css")
	if got := plain.Header.Get("Cache-Control"); got != "no-cache" || plain.Header.Get("ETag") == "" {
		t.Errorf("plain name: Cache-Control %q, ETag %q; want no-cache and an ETag", got, plain.Header.Get("ETag"))
	}
	// A name with a stale fingerprint is not served as immutable content.
	if r := anon.get("/static/css/app.0000000000.css"); r.Code != 404 {
		t.Errorf("stale fingerprint: %d, want 404", r.Code)
	}
}

// TestCompression: static files, pages and fragments are gzipped for
// browsers that accept it, never for those that do not; the API is not.
func TestCompression(t *testing.T) {
	t.Parallel()
	ts, c := newSignedIn(t, serverOpts{})
	k := c.create("Compressed")
	for i := range 30 {
		c.create("Key number " + strings.Repeat("x", i))
	}
	gz := header("Accept-Encoding", "gzip, deflate, br")
	tests := []struct {
		name   string
		target string
		opts   []opt
		want   bool
		base   []opt // sent with and without Accept-Encoding
	}{
		{"stylesheet", static.URL("css/app.css"), []opt{gz}, true, nil},
		{"htmx", static.URL("js/htmx-2.0.11.min.js"), []opt{gz}, true, nil},
		{"plain-named script", "/static/js/app.js", []opt{gz}, true, nil},
		{"keys list", "/settings/api-keys", []opt{gz}, true, nil},
		{"keys list fragment", "/settings/api-keys", []opt{gz, htmx()}, true, nil},
		{"audit export", "/settings/audit-log.csv", []opt{gz}, true, nil},
		{"no Accept-Encoding", "/settings/api-keys", nil, false, nil},
		{"gzip refused", static.URL("css/app.css"), []opt{header("Accept-Encoding", "gzip;q=0")}, false, nil},
		{"favicon (binary)", "/favicon.ico", []opt{gz}, false, nil},
		{"API", "/api/v1/whoami", []opt{gz}, false, []opt{header("Authorization", "Bearer "+k.Token)}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			plain := c.get(tt.target, tt.base...)
			r := c.get(tt.target, append(tt.opts, tt.base...)...)
			if r.Code != 200 || plain.Code != 200 {
				t.Fatalf("GET %s: %d / %d", tt.target, r.Code, plain.Code)
			}
			got := r.Header.Get("Content-Encoding") == "gzip"
			if got != tt.want {
				t.Fatalf("Content-Encoding %q, want gzip: %v", r.Header.Get("Content-Encoding"), tt.want)
			}
			if !got {
				return
			}
			if !strings.Contains(strings.Join(r.Header.Values("Vary"), ","), "Accept-Encoding") {
				t.Errorf("Vary %q, want Accept-Encoding", r.Header.Values("Vary"))
			}
			body := gunzip(t, r.Body)
			if len(r.Body) >= len(body) {
				t.Errorf("compressed %d bytes, plain %d: no gain", len(r.Body), len(body))
			}
			if strings.HasPrefix(tt.target, "/static/") && body != plain.Body {
				t.Errorf("decompressed body differs from the plain one")
			}
			if !strings.HasPrefix(tt.target, "/static/") && !bytes.Contains([]byte(body), []byte("Compressed")) && tt.name != "audit export" {
				t.Errorf("decompressed page lacks the key's name")
			}
		})
	}
	_ = ts
}
