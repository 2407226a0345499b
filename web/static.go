package web

import (
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"encoding/hex"
	"io/fs"
	"mime"
	"net/http"
	"path"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/blnk-cloud/apikeys/static"
)

// assets serves the embedded static files. Pages link to fingerprinted
// names (static.URL), which are cached for a year as immutable: a new
// build changes the name, never the content behind one. The plain names
// still answer, revalidated by a strong ETag, for anything that links
// to them directly. Text files are compressed once, at start.
type assets struct {
	files map[string]asset
	// fingerprinted maps "css/app.1a2b3c4d5e.css" to "css/app.css".
	fingerprinted map[string]string
}

type asset struct {
	body  []byte
	gzip  []byte // nil when compressing does not pay (images)
	etag  string
	ctype string
}

func newAssets() *assets {
	a := &assets{files: make(map[string]asset), fingerprinted: static.Names()}
	fs.WalkDir(static.FS, ".", func(name string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || path.Ext(name) == ".md" || path.Ext(name) == ".go" {
			return err
		}
		body, err := static.FS.ReadFile(name)
		if err != nil {
			return err
		}
		sum := sha256.Sum256(body)
		ctype := mime.TypeByExtension(path.Ext(name))
		if ctype == "" {
			ctype = http.DetectContentType(body)
		}
		f := asset{body: body, etag: `"` + hex.EncodeToString(sum[:8]) + `"`, ctype: ctype}
		if compressible(ctype) {
			f.gzip = gzipped(body)
		}
		a.files[name] = f
		return nil
	})
	return a
}

// compressible reports whether a file of this type shrinks with gzip.
func compressible(ctype string) bool {
	return strings.HasPrefix(ctype, "text/") || strings.Contains(ctype, "javascript") ||
		strings.Contains(ctype, "svg") || strings.Contains(ctype, "json")
}

func gzipped(body []byte) []byte {
	var buf bytes.Buffer
	zw, _ := gzip.NewWriterLevel(&buf, gzip.BestCompression)
	zw.Write(body)
	zw.Close()
	if buf.Len() >= len(body) {
		return nil
	}
	return buf.Bytes()
}

func (a *assets) serve(c echo.Context) error {
	name := c.Param("*")
	if orig, ok := a.fingerprinted[name]; ok {
		return a.write(c, orig, true)
	}
	return a.write(c, name, false)
}

func (a *assets) favicon(c echo.Context) error {
	return a.write(c, "img/favicon.ico", false)
}

func (a *assets) write(c echo.Context, name string, immutable bool) error {
	f, ok := a.files[name]
	if !ok {
		return echo.ErrNotFound
	}
	h := c.Response().Header()
	h.Set(echo.HeaderContentType, f.ctype)
	if immutable {
		h.Set("Cache-Control", "public, max-age=31536000, immutable")
	} else {
		h.Set("ETag", f.etag)
		h.Set("Cache-Control", "no-cache")
	}
	body := f.body
	if f.gzip != nil {
		h.Add("Vary", "Accept-Encoding")
		if acceptsGzip(c.Request()) {
			body = f.gzip
			h.Set("Content-Encoding", "gzip")
			if !immutable {
				// The compressed bytes are another representation.
				h.Set("ETag", strings.TrimSuffix(f.etag, `"`)+`-gz"`)
			}
		}
	}
	http.ServeContent(c.Response(), c.Request(), name, time.Time{}, bytes.NewReader(body))
	return nil
}

// acceptsGzip reports whether the client takes gzip (Accept-Encoding:
// gzip, not gzip;q=0).
func acceptsGzip(r *http.Request) bool {
	for _, part := range strings.Split(r.Header.Get("Accept-Encoding"), ",") {
		coding, params, _ := strings.Cut(strings.TrimSpace(part), ";")
		if strings.EqualFold(strings.TrimSpace(coding), "gzip") || strings.TrimSpace(coding) == "*" {
			q := strings.ReplaceAll(strings.TrimSpace(params), " ", "")
			return q != "q=0" && q != "q=0.0" && q != "q=0.00" && q != "q=0.000"
		}
	}
	return false
}
