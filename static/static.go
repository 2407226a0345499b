// Package static embeds the dashboard's stylesheets, scripts and images,
// served under /static/. htmx is vendored here (see js/README.md); nothing
// is ever loaded from a CDN.
package static

import (
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"path"
	"strings"
	"sync"
)

// FS holds css/, js/ and img/.
//
//go:embed css js img
var FS embed.FS

// fingerprints maps a file's name ("css/app.css") to the name it is served
// under for a year ("css/app.1a2b3c4d5e.css"): a change of content is a
// change of name, so a browser never needs to ask again. Computed once
// from the embedded files, which cannot change while the process runs.
var fingerprints = sync.OnceValue(func() map[string]string {
	m := make(map[string]string)
	for _, dir := range []string{"css", "js", "img"} {
		entries, _ := FS.ReadDir(dir)
		for _, e := range entries {
			name := dir + "/" + e.Name()
			body, err := FS.ReadFile(name)
			if err != nil || e.IsDir() {
				continue
			}
			sum := sha256.Sum256(body)
			m[name] = Fingerprinted(name, hex.EncodeToString(sum[:5]))
		}
	}
	return m
})

// Fingerprinted returns name with hash before its extension:
// Fingerprinted("js/app.js", "ab12") is "js/app.ab12.js".
func Fingerprinted(name, hash string) string {
	ext := path.Ext(name)
	return strings.TrimSuffix(name, ext) + "." + hash + ext
}

// URL is the address a page links to for the file name ("css/app.css"):
// its fingerprinted name under /static/, cached by browsers for a year.
// An unknown name is linked as it is (and answers 404).
func URL(name string) string {
	if f, ok := fingerprints()[name]; ok {
		return "/static/" + f
	}
	return "/static/" + name
}

// Names maps every fingerprinted name to the file's own name.
func Names() map[string]string {
	m := make(map[string]string, len(fingerprints()))
	for name, f := range fingerprints() {
		m[f] = name
	}
	return m
}
