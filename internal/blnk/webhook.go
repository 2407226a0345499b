package blnk

import (
	"time"

	"github.com/blnk-cloud/apikeys/internal/audit"
	"github.com/blnk-cloud/apikeys/internal/derrors"
	"github.com/blnk-cloud/apikeys/internal/webhook"
)

// ErrDisabled: a test event sent to a disabled webhook endpoint.
var ErrDisabled = &derrors.Error{Code: derrors.ECONFLICT, Message: "This webhook endpoint is disabled."}

// NewWebhook is what CreateWebhook stores.
type NewWebhook struct {
	Endpoint    webhook.Endpoint // ID, WorkspaceID, URL, Description, Events, CreatedAt
	Secret      string
	CreatedBy   int64 // user id; 0: unknown
	CreateToken string
	Actor       audit.Actor
}

// Job is a claimed delivery: what sending it needs.
type Job struct {
	ID        int64
	WebhookID string
	URL       string
	Secret    string
	EventID   string
	Event     webhook.EventType
	Payload   []byte
	Attempts  int // made before this one
	Deadline  time.Time
	Claim     string
}

// Attempt is the outcome of sending a claimed delivery.
type Attempt struct {
	ID       int64
	Claim    string // Job.Claim: a claim that ran out and was taken over records nothing
	At       time.Time
	Status   int // 0: no response
	Err      string
	Duration time.Duration
	Response string
	// Delivered: the endpoint answered 2xx. Otherwise Next is when to try
	// again, zero to give up (the deadline passed).
	Delivered bool
	Next      time.Time
}
