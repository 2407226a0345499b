package blnk

import "github.com/blnk-cloud/apikeys/internal/derrors"

// The errors every store and service may return. They are values, so
// callers test them with errors.Is; each has a code and a sentence. The
// errors of one area stand beside its types (account.go, key.go,
// members.go, ...).
var (
	// ErrNotFound: no such thing, or not in the caller's workspace (the
	// two are never told apart).
	ErrNotFound = &derrors.Error{Code: derrors.ENOTFOUND, Message: "Not found."}
	// ErrAmbiguous: a prefix or name matches more than one key.
	ErrAmbiguous = &derrors.Error{Code: derrors.EINVALID, Message: "More than one key matches: use the key's id."}
	// ErrBadCursor: a list cursor this server did not write, or one
	// written for another sort.
	ErrBadCursor = &derrors.Error{Code: derrors.EINVALID, Message: "This page link is not valid (it may be from another sort); start from the first page."}
)
