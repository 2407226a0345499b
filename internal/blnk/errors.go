package blnk

import "github.com/blnk-cloud/apikeys/internal/derrors"

// The errors every store and service may return. They are values, so
// callers test them with errors.Is; each has a code and a sentence.
var (
	// ErrNotFound: no such thing, or not in the caller's workspace (the
	// two are never told apart).
	ErrNotFound = &derrors.Error{Code: derrors.ENOTFOUND, Message: "Not found."}
	// ErrEmailTaken: an account with this email exists already.
	ErrEmailTaken = &derrors.Error{Code: derrors.ECONFLICT, Message: "An account with this email exists already."}
	// ErrAlreadySet: the first-run setup was done already.
	ErrAlreadySet = &derrors.Error{Code: derrors.ECONFLICT, Message: "This dashboard has been set up already."}
	// ErrAmbiguous: a prefix or name matches more than one key.
	ErrAmbiguous = &derrors.Error{Code: derrors.EINVALID, Message: "More than one key matches: use the key's id."}
	// ErrBadCursor: a list cursor this server did not write, or one
	// written for another sort.
	ErrBadCursor = &derrors.Error{Code: derrors.EINVALID, Message: "This page link is not valid (it may be from another sort); start from the first page."}

	// Why a change to a key is refused.
	ErrKeyRevoked = &derrors.Error{Code: derrors.ECONFLICT, Message: "This key has been revoked."}
	ErrKeyExpired = &derrors.Error{Code: derrors.ECONFLICT, Message: "This key has expired."}
	ErrKeyRolled  = &derrors.Error{Code: derrors.ECONFLICT, Message: "This key has been rolled already."}
	// ErrFormUsed: the form token of a roll made another key already (a
	// create form's token sent to a roll).
	ErrFormUsed = &derrors.Error{Code: derrors.ECONFLICT, Message: "This form was sent already; open it again."}

	// ErrDisabled: a test event sent to a disabled webhook endpoint.
	ErrDisabled = &derrors.Error{Code: derrors.ECONFLICT, Message: "This webhook endpoint is disabled."}
)
