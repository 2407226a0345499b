package blnk

import (
	"time"

	"github.com/blnk-cloud/apikeys/internal/derrors"
)

// Idempotency: the answer to a POST sent with an Idempotency-Key header is
// kept, per management token, so that a retry (a CI job that lost the
// connection) gets the first answer again instead of making a second key.
const (
	// IdempotencyTTL is how long an answer is kept: a retry after that
	// runs as a new request.
	IdempotencyTTL = 24 * time.Hour
	// IdempotencyTakeover is how long a request may run before a retry
	// with its key may take it over: the server that ran it has crashed
	// (or lost its database) without finishing, and its row must not
	// refuse retries for a day. No handler of the API takes so long (a
	// revoke waits for the servers for seconds).
	IdempotencyTakeover = time.Minute
	// MaxIdempotencyKey is the longest Idempotency-Key, in bytes.
	MaxIdempotencyKey = 255
)

// IdempotencyState is where a kept request is.
type IdempotencyState string

const (
	// IdempotencyRunning: a server is running the request; its row is the
	// lock that keeps the others from running it too.
	IdempotencyRunning IdempotencyState = "running"
	// IdempotencyDone: the answer is kept.
	IdempotencyDone IdempotencyState = "done"
)

// IdempotentRequest names one request: the token that sent it, its
// Idempotency-Key, and the SHA-256 of its method, path and body.
type IdempotentRequest struct {
	TokenID int64
	Key     string
	Hash    []byte
}

// StoredResponse is a kept answer: its status, the headers a replay needs
// (Content-Type, Location), and its body, with any secret taken out.
type StoredResponse struct {
	Status int
	Header map[string]string
	Body   []byte
}

// IdempotencyRecord is a kept request, running or done.
type IdempotencyRecord struct {
	IdempotentRequest
	State     IdempotencyState
	Response  StoredResponse // when Done
	CreatedAt time.Time
	// StartedAt is when the server that runs it started (or took it
	// over): it finishes the row only if it is still the one running it.
	StartedAt time.Time
}

// Why an Idempotency-Key request is refused.
var (
	// ErrIdempotencyMismatch: the key was used for another request.
	ErrIdempotencyMismatch = &derrors.Error{Code: derrors.EINVALID, Message: "This Idempotency-Key was used with another request (method, path or body); use a new key for a new request."}
	// ErrIdempotencyInProgress: the first request with the key is still
	// running.
	ErrIdempotencyInProgress = &derrors.Error{Code: derrors.ECONFLICT, Message: "A request with this Idempotency-Key is still running; retry when it has been answered."}
)
