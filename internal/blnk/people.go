package blnk

import (
	"net/mail"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/blnk-cloud/apikeys/internal/apikey"
	"github.com/blnk-cloud/apikeys/internal/derrors"
	"github.com/blnk-cloud/apikeys/internal/naming"
)

// Workspace is a tenant: it owns API keys, and its users see only its keys.
type Workspace struct {
	ID        int64
	Name      string
	CreatedAt time.Time
	// RequireTwoFactor: its Owner requires every member to have a
	// second factor (read with the session).
	RequireTwoFactor bool
}

// User is a person who signs in to the dashboard.
type User struct {
	ID        int64
	Email     string
	Name      string // the display name; "" when none was given
	CreatedAt time.Time
}

// Limits on what people type.
const (
	MaxWorkspaceName = 100
	MaxEmail         = 254
)

// CleanWorkspaceName trims name and checks it (naming.Clean): 1 to 100
// characters, no control or hidden characters, something visible, no key
// pasted into it. Its errors, like
// the others of this package, are sentences for people.
func CleanWorkspaceName(name string) (string, error) {
	if err := apikey.CheckNoToken(name); err != nil {
		return "", err
	}
	clean, err := naming.Clean(name, MaxWorkspaceName)
	if err != nil {
		return "", apikey.TextProblem("Workspace name", "Enter a workspace name.", MaxWorkspaceName, err)
	}
	return clean, nil
}

// CleanEmail trims and lowercases an email address and checks that it is
// a plain address (no display name, no spaces, no control characters or
// bidirectional overrides, at most 254 characters).
func CleanEmail(email string) (string, error) {
	// Check UTF-8 before lowercasing: strings.ToLower turns invalid bytes
	// into U+FFFD, so that different inputs would become one address.
	valid := utf8.ValidString(email)
	email = strings.ToLower(strings.TrimSpace(email))
	if email == "" {
		return "", derrors.Errorf(derrors.EINVALID, "Enter an email address.")
	}
	if len(email) > MaxEmail || !valid {
		return "", derrors.Errorf(derrors.EINVALID, "Enter a valid email address.")
	}
	a, err := mail.ParseAddress(email)
	if err != nil || a.Address != email || a.Name != "" || strings.ContainsFunc(email, isControl) {
		return "", derrors.Errorf(derrors.EINVALID, "Enter a valid email address, like name@example.com.")
	}
	at := strings.LastIndexByte(email, '@')
	if at < 1 || !strings.Contains(email[at:], ".") {
		return "", derrors.Errorf(derrors.EINVALID, "Enter a valid email address, like name@example.com.")
	}
	return email, nil
}

// isControl reports whether r is a control character or a bidirectional
// control, which can make an address display as another one.
func isControl(r rune) bool {
	return unicode.IsControl(r) || unicode.Is(unicode.Bidi_Control, r)
}
