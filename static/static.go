// Package static embeds the dashboard's stylesheets, scripts and images,
// served under /static/. htmx is vendored here (see js/README.md); nothing
// is ever loaded from a CDN.
package static

import "embed"

// FS holds css/, js/ and img/.
//
//go:embed css js img
var FS embed.FS
