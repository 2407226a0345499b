package views

import (
	"fmt"
	"net/url"
	"strings"
	"time"

	"github.com/blnk-cloud/apikeys/internal/apikey"
)

// BulkRevoke is the confirmation of a bulk revoke: the keys selected, in
// the list's order, and the list to go back to.
type BulkRevoke struct {
	Keys []apikey.Key
	Now  time.Time
	Back string // the list's address the keys were selected on ("": the list)
}

// ToRevoke are the keys the revoke would change: those not revoked yet.
func (b BulkRevoke) ToRevoke() []apikey.Key {
	var out []apikey.Key
	for _, k := range b.Keys {
		if k.Status(b.Now) != apikey.Revoked {
			out = append(out, k)
		}
	}
	return out
}

// Title asks the question: "Revoke 3 keys?".
func (b BulkRevoke) Title() string {
	n := len(b.ToRevoke())
	switch n {
	case 0:
		return "Already revoked"
	case 1:
		return "Revoke 1 key?"
	}
	return fmt.Sprintf("Revoke %s keys?", Count(int64(n)))
}

// Button is the confirming button's label.
func (b BulkRevoke) Button() string {
	if n := len(b.ToRevoke()); n != 1 {
		return fmt.Sprintf("Revoke %s Keys", Count(int64(n)))
	}
	return "Revoke 1 Key"
}

// BackURL is where Cancel and the answer lead: the list address the keys
// were selected on.
func (b BulkRevoke) BackURL() string { return ListBackURL(b.Back) }

// ListBackURL returns back if it is an address of the keys list on this
// site, else the list's own address: a form's "back" field must not send
// anyone elsewhere.
func ListBackURL(back string) string {
	u, err := url.Parse(back)
	if back == "" || err != nil || u.Scheme != "" || u.Host != "" || u.User != nil || u.Path != ListPath || strings.HasPrefix(back, "//") {
		return ListPath
	}
	return u.RequestURI()
}

// BulkRevokedText says what a bulk revoke did: "3 keys revoked · confirmed
// by 2 of 2 servers in 14 ms. 1 key was revoked already."
func BulkRevokedText(revoked, skipped int, c apikey.Confirmation) string {
	var text string
	if revoked > 0 {
		text = fmt.Sprintf("%s %s revoked", Count(int64(revoked)), keysWord(revoked)) + strings.TrimPrefix(ConfirmationText(c), "Revoked") + "."
	} else {
		text = "No key revoked."
	}
	switch {
	case skipped == 1:
		text += " 1 key was revoked already."
	case skipped > 1:
		text += fmt.Sprintf(" %s keys were revoked already.", Count(int64(skipped)))
	}
	return text
}

// BulkRevokeURL is the address of the bulk revoke's confirmation for ids.
func BulkRevokeURL(ids ...string) string {
	v := url.Values{"id": ids}
	return "/settings/api-keys/revoke?" + v.Encode()
}
