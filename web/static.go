package web

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"io/fs"
	"mime"
	"net/http"
	"path"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/blnk-cloud/apikeys/static"
)

// assets serves the embedded static files with strong ETags, so browsers
// revalidate them cheaply (304) instead of downloading them again.
type assets struct {
	files map[string]asset
}

type asset struct {
	body  []byte
	etag  string
	ctype string
}

func newAssets() *assets {
	a := &assets{files: make(map[string]asset)}
	fs.WalkDir(static.FS, ".", func(name string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || path.Ext(name) == ".md" {
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
		a.files[name] = asset{body: body, etag: `"` + hex.EncodeToString(sum[:8]) + `"`, ctype: ctype}
		return nil
	})
	return a
}

func (a *assets) serve(c echo.Context) error {
	return a.write(c, c.Param("*"))
}

func (a *assets) favicon(c echo.Context) error {
	return a.write(c, "img/favicon.ico")
}

func (a *assets) write(c echo.Context, name string) error {
	f, ok := a.files[name]
	if !ok {
		return echo.ErrNotFound
	}
	h := c.Response().Header()
	h.Set("ETag", f.etag)
	h.Set("Cache-Control", "no-cache")
	h.Set(echo.HeaderContentType, f.ctype)
	http.ServeContent(c.Response(), c.Request(), name, time.Time{}, bytes.NewReader(f.body))
	return nil
}
