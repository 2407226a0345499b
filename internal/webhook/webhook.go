// Package webhook describes the webhooks the dashboard sends when
// something happens to a key: the events, their payloads, signing as
// Standard Webhooks do (https://www.standardwebhooks.com), the signing
// secret, the retry schedule, and which URLs may receive them. Standard
// library only. The db package stores endpoints, events and the queue of
// deliveries (enqueued in the transaction of the change); the delivery
// package sends them.
package webhook

import (
	"crypto/hmac"
	crand "crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	mrand "math/rand/v2"
	"strconv"
	"strings"
	"time"

	"github.com/blnk-cloud/apikeys/internal/apikey"
)

// EventType is what happened.
type EventType string

// The events an endpoint can subscribe to, and the test event.
const (
	KeyCreated  EventType = "key.created"
	KeyRevoked  EventType = "key.revoked"
	KeyRolled   EventType = "key.rolled"
	KeyLeaked   EventType = "key.leaked"
	KeyExpiring EventType = "key.expiring"
	KeyExpired  EventType = "key.expired"
	// Test is sent by "Send test event" to one endpoint, whatever it
	// subscribed to.
	Test EventType = "webhook.test"
)

// EventInfo describes an event for the form.
type EventInfo struct {
	Type        EventType
	Description string
}

var events = []EventInfo{
	{KeyCreated, "A key was created."},
	{KeyRevoked, "A key was revoked."},
	{KeyRolled, "A key was rolled: a new key replaces it."},
	{KeyLeaked, "A key was reported leaked, and revoked."},
	{KeyExpiring, "A key expires in 7 days, and again in 1 day."},
	{KeyExpired, "A key reached its expiry date."},
}

// Events returns the events an endpoint can subscribe to, in the order
// forms show them.
func Events() []EventInfo { return events }

// Subscribable reports whether t is an event endpoints can subscribe to.
func Subscribable(t string) bool {
	for _, e := range events {
		if string(e.Type) == t {
			return true
		}
	}
	return false
}

// Endpoint is a URL that receives a workspace's events.
type Endpoint struct {
	ID          string
	WorkspaceID int64
	URL         string
	Description string
	Events      []EventType
	CreatedAt   time.Time
	CreatedBy   string    // email, "" if unknown
	DisabledAt  time.Time // zero: enabled
}

// Enabled reports whether the endpoint receives events.
func (e Endpoint) Enabled() bool { return e.DisabledAt.IsZero() }

// Subscribes reports whether the endpoint receives events of type t.
func (e Endpoint) Subscribes(t EventType) bool {
	for _, x := range e.Events {
		if x == t {
			return true
		}
	}
	return false
}

// State is where a delivery is.
type State string

// The states of a delivery.
const (
	Pending   State = "pending"
	Delivered State = "delivered"
	Failed    State = "failed" // given up: its 24 hours of retries ran out
)

// Delivery is one event sent (or to be sent) to one endpoint, as the
// deliveries list shows it.
type Delivery struct {
	ID           int64
	WebhookID    string
	EventID      string // the webhook-id header
	Event        EventType
	CreatedAt    time.Time
	State        State
	Attempts     int
	NextAttempt  time.Time // zero: none
	LastAttempt  time.Time // zero: none yet
	LastStatus   int       // HTTP status of the last attempt; 0: no response
	LastError    string    // why the last attempt failed without a response
	LastDuration time.Duration
	LastResponse string // at most MaxResponse bytes of the last response body
	DeliveredAt  time.Time
}

// Lifetime is how long a delivery is retried before it is given up.
const Lifetime = 24 * time.Hour

// Timeout bounds one attempt: connecting, sending, and the response.
const Timeout = 10 * time.Second

// MaxResponse is how much of a response body is kept, in bytes.
const MaxResponse = 1024

// Backoff returns how long to wait after failed attempt number n (1 for
// the first) before the next: exponential from base, doubling each time,
// at most 6 hours, with ±20% jitter so that many failed deliveries do not
// retry in step. With the default base of 10 s an endpoint gets about 13
// attempts in 24 hours: 10 s, 20 s, 40 s, ... then every 6 hours.
func Backoff(n int, base time.Duration) time.Duration {
	const most = 6 * time.Hour
	d := base
	for i := 1; i < n && d < most; i++ {
		d *= 2
	}
	d = min(d, most)
	jitter := time.Duration((mrand.Float64()*0.4 - 0.2) * float64(d))
	return d + jitter
}

// SecretPrefix starts every signing secret.
const SecretPrefix = "whsec_"

// NewSecret returns a new signing secret: "whsec_" and 24 random bytes in
// base64, as Standard Webhooks write them.
func NewSecret() string {
	var b [24]byte
	crand.Read(b[:])
	return SecretPrefix + base64.StdEncoding.EncodeToString(b[:])
}

// secretKey returns the HMAC key of a secret: the base64 after "whsec_".
func secretKey(secret string) ([]byte, error) {
	key, err := base64.StdEncoding.DecodeString(strings.TrimPrefix(secret, SecretPrefix))
	if err != nil || len(key) == 0 {
		return nil, errors.New("webhook: malformed signing secret")
	}
	return key, nil
}

// Sign returns the webhook-signature header of a message: "v1," and the
// base64 HMAC-SHA256, keyed with the secret, of "id.timestamp.body" (the
// timestamp in Unix seconds, as in the webhook-timestamp header).
func Sign(secret, msgID string, at time.Time, body []byte) (string, error) {
	key, err := secretKey(secret)
	if err != nil {
		return "", err
	}
	mac := hmac.New(sha256.New, key)
	mac.Write([]byte(msgID))
	mac.Write([]byte{'.'})
	mac.Write([]byte(strconv.FormatInt(at.Unix(), 10)))
	mac.Write([]byte{'.'})
	mac.Write(body)
	return "v1," + base64.StdEncoding.EncodeToString(mac.Sum(nil)), nil
}

// Crockford's base32, as key ids use.
const idAlphabet = "0123456789abcdefghjkmnpqrstvwxyz"

// NewID returns a new endpoint id, "wh_" and 20 characters.
func NewID() string { return apikey.RandomID("wh_") }

// ValidID reports whether s has the shape of an endpoint id.
func ValidID(s string) bool {
	if len(s) != 23 || !strings.HasPrefix(s, "wh_") {
		return false
	}
	for _, c := range []byte(s[3:]) {
		if !strings.ContainsRune(idAlphabet, rune(c)) {
			return false
		}
	}
	return true
}

// NewMessageID returns a new event id, "msg_" and 20 characters: the
// webhook-id header, the same for every attempt and endpoint of an event,
// so receivers can tell a retry from a new event.
func NewMessageID() string { return apikey.RandomID("msg_") }

// Payload is the body of an event, as Standard Webhooks shape it.
type Payload struct {
	Type      EventType      `json:"type"`
	Timestamp time.Time      `json:"timestamp"`
	Data      map[string]any `json:"data"`
}

// Encode returns the payload as sent.
func (p Payload) Encode() []byte {
	p.Timestamp = p.Timestamp.UTC()
	b, err := json.Marshal(p)
	if err != nil {
		panic(fmt.Sprintf("webhook: encode payload: %v", err)) // only maps of plain values go in
	}
	return b
}

// KeyData is what events say about a key: never its token or hash.
func KeyData(k apikey.Key) map[string]any {
	scopes := []string{}
	for _, s := range k.Scopes.Scopes() {
		scopes = append(scopes, string(s))
	}
	d := map[string]any{
		"id":           k.ID,
		"name":         k.Name,
		"prefix":       k.Prefix,
		"workspace_id": k.WorkspaceID,
		"scopes":       scopes,
		"created_at":   k.CreatedAt.UTC().Format(time.RFC3339),
		"expires_at":   nil,
	}
	if !k.ExpiresAt.IsZero() {
		d["expires_at"] = k.ExpiresAt.UTC().Format(time.RFC3339)
	}
	if !k.RevokedAt.IsZero() {
		d["revoked_at"] = k.RevokedAt.UTC().Format(time.RFC3339)
	}
	return d
}

// KeyEvent is the payload of an event about key k, done by actor (an
// email, or "command line", "leak report", "system"), with extra fields.
func KeyEvent(t EventType, at time.Time, k apikey.Key, actor string, extra map[string]any) []byte {
	data := map[string]any{"key": KeyData(k), "actor": actor}
	for n, v := range extra {
		data[n] = v
	}
	return Payload{Type: t, Timestamp: at, Data: data}.Encode()
}
