package views

import (
	"time"

	"github.com/blnk-cloud/apikeys/internal/blnk"
)

// PasskeysPath is the page where a person manages their passkeys.
const PasskeysPath = "/settings/security/passkeys"

// PasskeyRemoveURL is where passkey id is removed.
func PasskeyRemoveURL(id string) string { return PasskeysPath + "/" + id + "/remove" }

// Passkeys is what PasskeysSection shows: a person's passkeys.
type Passkeys struct {
	// Enabled is false when the server has no public URL, without which
	// browsers cannot make passkeys for it.
	Enabled bool
	Keys    []blnk.Passkey
	// Here is the relying party id passkeys are made for now; a passkey
	// made for another (the public URL changed) is marked.
	Here string
	// Origin is the origin passkeys work at: a page opened at another
	// address links there instead of offering them.
	Origin string
	Now    time.Time
}

// passkeyLastUsed says when a passkey was last used.
func passkeyLastUsed(p blnk.Passkey, now time.Time) string {
	if p.LastUsedAt.IsZero() {
		return "Never"
	}
	return Ago(p.LastUsedAt, now)
}
