package blnk

import "time"

// Factors is what second factors a person has: a TOTP app, passkeys, and
// the recovery codes left. One store read (db.DB.Factors) returns it, so
// that every kind of factor counts wherever "has a second factor" is
// asked (sign-in, the Owner's requirement, the members page).
type Factors struct {
	TOTP         bool
	Passkeys     int
	RecoveryLeft int
}

// Any reports whether the person has a second factor (recovery codes
// alone are not one: they come with TOTP).
func (f Factors) Any() bool { return f.TOTP || f.Passkeys > 0 }

// TOTPFactor is a person's TOTP factor as stored: the secret sealed
// (never in plaintext) and the time step of the last code accepted.
type TOTPFactor struct {
	UserID    int64
	Sealed    []byte
	LastStep  int64
	CreatedAt time.Time
}

// SudoWindow is how long a password or second factor given (at sign-in
// or on /sudo) lets the session make dangerous actions without asking
// again.
const SudoWindow = 10 * time.Minute
