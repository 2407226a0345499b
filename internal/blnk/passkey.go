package blnk

import (
	"time"

	"github.com/blnk-cloud/apikeys/internal/apikey"
	"github.com/blnk-cloud/apikeys/internal/derrors"
	"github.com/blnk-cloud/apikeys/internal/naming"
)

// Passkey is one of a person's passkeys (a WebAuthn credential), as the
// store keeps it. The credential's own record (public key, flags,
// attestation) is Credential, opaque here: internal/passkeys reads it.
type Passkey struct {
	ID     string // "pk_" and 20 characters (NewPasskeyID)
	UserID int64
	// RPID is the relying party the credential was made for: a passkey
	// works only on the domain it was added on.
	RPID         string
	CredentialID []byte
	Name         string
	Credential   []byte
	SignCount    uint32
	CreatedAt    time.Time
	LastUsedAt   time.Time // zero: never used
}

// The kinds of passkey ceremonies kept between their two requests.
const (
	CeremonyRegister     = "register"
	CeremonyLogin        = "login"         // a passkey alone signs in
	CeremonySecondFactor = "second_factor" // a passkey of a given person, after the password
)

// Ceremony is a passkey ceremony under way: begun by one request, ended
// (once) by the next.
type Ceremony struct {
	Kind      string
	UserID    int64  // 0: a sign-in with a passkey alone, the person not known yet
	Data      []byte // what the service needs to check the answer (JSON)
	ExpiresAt time.Time
}

// ErrCeremonyGone: a passkey ceremony that was finished already, timed
// out, or was never begun by this browser.
var ErrCeremonyGone = &derrors.Error{Code: derrors.EINVALID, Message: "This passkey request has expired or was used already. Try again."}

// ErrPasskeyRefused: a passkey's answer that does not check out (another
// site's, another person's, a replayed or a forged one). One sentence for
// all: it does not say which.
var ErrPasskeyRefused = &derrors.Error{Code: derrors.EFORBIDDEN, Message: "This passkey was not accepted. Try again, or sign in with your password."}

// ErrPasskeyTaken: the credential is stored already (the same passkey
// added twice).
var ErrPasskeyTaken = &derrors.Error{Code: derrors.ECONFLICT, Message: "This passkey has been added already."}

// MaxPasskeyName is the longest name a passkey may have, in characters.
const MaxPasskeyName = 100

// CleanPasskeyName trims name and checks it as key names are checked
// (naming.Clean): 1 to 100 visible characters, no control, bidirectional
// or hidden characters.
func CleanPasskeyName(name string) (string, error) {
	clean, err := naming.Clean(name, MaxPasskeyName)
	if err != nil {
		return "", apikey.TextProblem("Name", "Enter a name for the passkey, such as the device it is on.", MaxPasskeyName, err)
	}
	return clean, nil
}

// NewPasskeyID returns a random passkey id such as
// "pk_3kq9x0c1m7f2a8d4w6e5" (100 random bits, lowercase base32).
func NewPasskeyID() string { return apikey.RandomID("pk_") }

// ValidPasskeyID reports whether s has the shape of a NewPasskeyID id, so
// that handlers answer 404 to anything else without a query.
func ValidPasskeyID(s string) bool { return apikey.IDShaped(s, "pk_") }
