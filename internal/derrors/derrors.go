// Package derrors is the errors the product knows about, with a code for
// programs and a sentence for people (wtf's Error, named as pkgsite names
// its domain errors). It is the lowest floor: every other package may
// import it, and it imports only the standard library. The web package
// maps codes to HTTP statuses in one place.
package derrors

import (
	"errors"
	"fmt"
)

// Error codes: what kind of failure an error is, which decides the HTTP
// status and the page or JSON code a user gets. Adapters map their own
// failures to these (the database's "no rows" is ENOTFOUND).
const (
	EINVALID      = "invalid"      // the input breaks a rule; Message says which
	ENOTFOUND     = "not_found"    // no such thing, or not in this workspace
	ECONFLICT     = "conflict"     // the thing changed or exists already
	EFORBIDDEN    = "forbidden"    // the actor's role does not allow it
	EUNAVAILABLE  = "unavailable"  // try again later (failing closed, a limit)
	EINTERNAL     = "internal"     // a bug or an adapter's failure
	ENOTSUPPORTED = "unsupported"  // not possible with this configuration
	EUNAUTHORIZED = "unauthorized" // the credential (a management token) is missing, unknown, expired or revoked
)

// Error is a failure the product knows about: a code for programs and a
// message a person can read (a sentence, shown next to a form field or in
// a JSON error). Internal failures are wrapped errors without a code, and
// their text is for the logs only.
type Error struct {
	Code    string
	Message string
}

// Error returns the message, so that an Error prints the same sentence in
// a log line, on the command line and in a page.
func (e *Error) Error() string { return e.Message }

// Errorf returns an Error with the code and a message made as fmt.Sprintf
// does.
func Errorf(code, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...)}
}

// Code returns the code of the first Error in err's chain: "" for nil,
// EINTERNAL for an error the product does not know.
func Code(err error) string {
	if err == nil {
		return ""
	}
	if e := first(err); e != nil {
		return e.Code
	}
	return EINTERNAL
}

// Message returns the message of the first Error in err's chain, or
// a generic sentence for an error the product does not know: its text is
// for the logs, never for a user.
func Message(err error) string {
	if err == nil {
		return ""
	}
	if e := first(err); e != nil {
		return e.Message
	}
	return "Something went wrong on our side."
}

// first returns the first Error in err's chain, or nil.
func first(err error) *Error {
	var e *Error
	errors.As(err, &e)
	return e
}
