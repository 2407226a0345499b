package views

import (
	"slices"
	"strconv"
	"time"

	"github.com/blnk-cloud/apikeys/internal/webhook"
)

// WebhookList is the webhooks page.
type WebhookList struct {
	Endpoints []webhook.Endpoint
	Now       time.Time
}

// WebhookForm is the form that adds an endpoint, as typed.
type WebhookForm struct {
	URL         string
	Events      []string
	Description string
	Token       string // one-time form token: a resubmitted form adds one endpoint
	Problems    Problems
}

// Has reports whether the form has event t ticked.
func (f WebhookForm) Has(t webhook.EventType) bool {
	return slices.Contains(f.Events, string(t))
}

// WebhookDetails is an endpoint's page: its settings and recent deliveries.
type WebhookDetails struct {
	Endpoint   webhook.Endpoint
	Deliveries []webhook.Delivery
	Now        time.Time
}

// pending reports whether any delivery listed waits for an attempt: the
// list then refreshes itself.
func (d WebhookDetails) pending() bool {
	for _, dl := range d.Deliveries {
		if dl.State == webhook.Pending {
			return true
		}
	}
	return false
}

// WebhookSecret is the page that shows a new endpoint's signing secret,
// once. Secret is empty once it can no longer be shown.
type WebhookSecret struct {
	Endpoint webhook.Endpoint
	Secret   string
}

// WebhookURL is the address of an endpoint's page, or of a sub-page.
func WebhookURL(id string, sub ...string) string {
	u := "/settings/webhooks/" + id
	for _, s := range sub {
		u += "/" + s
	}
	return u
}

// ResendURL is where a delivery's resend button posts.
func ResendURL(webhookID string, delivery int64) string {
	return WebhookURL(webhookID, "deliveries", strconv.FormatInt(delivery, 10), "resend")
}

// badge is a state as people read it, and the class of its badge.
type badge struct{ Label, Class string }

// deliveryBadge is a delivery's state.
func deliveryBadge(d webhook.Delivery) badge {
	switch {
	case d.State == webhook.Delivered:
		return badge{"Delivered", "badge-active"}
	case d.State == webhook.Failed:
		return badge{"Failed", "badge-revoked"}
	case d.Attempts == 0:
		return badge{"Sending", "badge-expired"}
	}
	return badge{"Retrying", "badge-expired"}
}

// responseText says what the last attempt got: "HTTP 200", or why none.
func responseText(d webhook.Delivery) string {
	switch {
	case d.Attempts == 0:
		return "Not sent yet"
	case d.LastStatus != 0:
		return "HTTP " + strconv.Itoa(d.LastStatus)
	case d.LastError != "":
		return "No response"
	}
	return "No response"
}

// In describes how far ahead t is: "in 20 seconds", "in 3 minutes".
func In(t, now time.Time) string {
	d := t.Sub(now)
	switch {
	case d <= time.Second:
		return "now"
	case d < time.Minute:
		return "in " + plural(int(d/time.Second), "second")
	case d < time.Hour:
		return "in " + plural(int(d/time.Minute), "minute")
	case d < 48*time.Hour:
		return "in " + plural(int(d/time.Hour), "hour")
	}
	return "on " + Date(t)
}
