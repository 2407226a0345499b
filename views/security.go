package views

import (
	"net/url"
	"strings"

	"github.com/blnk-cloud/apikeys/internal/blnk"
)

// NavSecurity is Page.Nav for the security pages.
const NavSecurity = "security"

// SecurityPath is the person's sign-in security page.
const SecurityPath = "/settings/security"

// Security is Settings > Security: the person's second factors and, for
// Owners, the workspace's requirement of them. Each part is its own
// component (TOTPSection, RequireSection), so that more (passkeys,
// sessions) can be added beside them.
type Security struct {
	// Passkeys and Sessions are the passkeys and sessions sections.
	Passkeys Passkeys
	Sessions Sessions
	Factors  blnk.Factors
	// Required: the workspace requires a second factor (and the person
	// has none: the page says why they were sent here).
	Required bool
	// Problem is the require form's refusal, if any.
	Problem string
}

// TOTPSetup is the page that sets up an authenticator app: the QR code
// (a PNG as a data: URI, drawn by the server) and the secret as text,
// and the first code that confirms it.
type TOTPSetup struct {
	QR      string // data:image/png;base64,...
	Secret  string
	Code    string
	Problem string
}

// SecretGroups is the secret in groups of four, easier to type.
func (t TOTPSetup) SecretGroups() string {
	var b strings.Builder
	for i, r := range t.Secret {
		if i > 0 && i%4 == 0 {
			b.WriteByte(' ')
		}
		b.WriteRune(r)
	}
	return b.String()
}

// RecoveryCodes is the one showing of new recovery codes.
type RecoveryCodes struct {
	Codes []string
}

// Text is the codes as the downloaded text file holds them.
func (r RecoveryCodes) Text() string {
	return "Blnk Cloud recovery codes\n" +
		"Each code signs in once, in place of a code from your authenticator app.\n\n" +
		strings.Join(r.Codes, "\n") + "\n"
}

// DownloadURL is the codes as a data: URL, for a download link that works
// without JavaScript.
func (r RecoveryCodes) DownloadURL() string {
	return "data:text/plain;charset=utf-8," + strings.ReplaceAll(url.QueryEscape(r.Text()), "+", "%20")
}

// TwoFactorForm is the second step of signing in.
type TwoFactorForm struct {
	Problem string
	// PasskeyOrigin offers "Use a passkey" (at that origin) to a person
	// who has one; "": not offered.
	PasskeyOrigin string
}

// Sudo is the form that asks for the password or a code again before a
// dangerous action. Action is where it posts: "/sudo" (then Next is
// where to go), or the action's own address, with the action's form
// values (Fields) carried along as hidden inputs, so that the action
// continues with them.
type Sudo struct {
	Action  string
	Next    string
	Fields  []Field
	HasCode bool // the person has a second factor: offer the code
	// PasskeyOrigin offers "Use a passkey" (at that origin) to a person
	// who has one; "": not offered.
	PasskeyOrigin string
	Problem       string
	// Cancel is where Cancel goes: a page of the app.
	Cancel string
}

// Field is a form value carried along.
type Field struct{ Name, Value string }
