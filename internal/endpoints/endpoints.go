// Package endpoints is the service that owns every change to a
// workspace's webhook endpoints: add, show the secret once, enable,
// disable, send a test event, resend a delivery, delete. Each change and
// its audit event are one write of the store; the web pages and anything
// else that changes an endpoint go through here, never to the store.
// (Sending is internal/delivery's job; what an endpoint is,
// internal/webhook's.)
package endpoints

import (
	"context"
	"log/slog"
	"time"

	"github.com/blnk-cloud/apikeys/internal/audit"
	"github.com/blnk-cloud/apikeys/internal/blnk"
	"github.com/blnk-cloud/apikeys/internal/webhook"
)

// Store is what the service needs of the database (db.DB).
type Store interface {
	CreateWebhook(ctx context.Context, nw blnk.NewWebhook) (ep webhook.Endpoint, created bool, err error)
	TakeWebhookSecret(ctx context.Context, workspaceID int64, id string, now time.Time) (string, error)
	SetWebhookEnabled(ctx context.Context, workspaceID int64, id string, enabled bool, by audit.Actor, now time.Time) error
	SendTestEvent(ctx context.Context, workspaceID int64, id string, by audit.Actor, now time.Time) error
	ResendDelivery(ctx context.Context, workspaceID int64, webhookID string, deliveryID int64, now time.Time) error
	DeleteWebhook(ctx context.Context, workspaceID int64, id string, by audit.Actor, now time.Time) (webhook.Endpoint, error)
}

// Service changes webhook endpoints.
type Service struct {
	store Store
	now   func() time.Time
	log   *slog.Logger
}

// New returns a Service on store; now is the clock.
func New(store Store, now func() time.Time, log *slog.Logger) *Service {
	return &Service{store: store, now: now, log: log}
}

// Spec is a checked new endpoint: a URL the guard allows, events that
// exist, a clean description.
type Spec struct {
	WorkspaceID int64
	URL         string
	Events      []webhook.EventType
	Description string
	CreatedBy   int64 // the user who adds it
	// FormToken is the add form's one-time token: the same form sent
	// twice adds one endpoint.
	FormToken string
}

// Create adds an endpoint with a new signing secret and records
// webhook.created. created is false when the same form had added it
// already (ep is that endpoint).
func (s *Service) Create(ctx context.Context, sp Spec, by audit.Actor) (ep webhook.Endpoint, created bool, err error) {
	ep, created, err = s.store.CreateWebhook(ctx, blnk.NewWebhook{
		Endpoint: webhook.Endpoint{
			ID: webhook.NewID(), WorkspaceID: sp.WorkspaceID, URL: sp.URL, Description: sp.Description,
			Events: sp.Events, CreatedAt: s.now(),
		},
		Secret:      webhook.NewSecret(),
		CreatedBy:   sp.CreatedBy,
		CreateToken: sp.FormToken,
		Actor:       by,
	})
	if err == nil && created {
		s.log.Info("webhook created", "webhook_id", ep.ID, "workspace_id", ep.WorkspaceID, "actor", by.Name())
	}
	return ep, created, err
}

// TakeSecret returns the endpoint's signing secret the first time it is
// asked for, and "" after: it is shown once.
func (s *Service) TakeSecret(ctx context.Context, workspaceID int64, id string) (string, error) {
	return s.store.TakeWebhookSecret(ctx, workspaceID, id, s.now())
}

// SetEnabled enables or disables an endpoint, recording webhook.enabled or
// webhook.disabled when that changes anything.
func (s *Service) SetEnabled(ctx context.Context, workspaceID int64, id string, enabled bool, by audit.Actor) error {
	return s.store.SetWebhookEnabled(ctx, workspaceID, id, enabled, by, s.now())
}

// SendTest queues a test event to an enabled endpoint and records
// webhook.tested; a disabled endpoint is blnk.ErrDisabled.
func (s *Service) SendTest(ctx context.Context, workspaceID int64, id string, by audit.Actor) error {
	return s.store.SendTestEvent(ctx, workspaceID, id, by, s.now())
}

// Resend queues a delivery again.
func (s *Service) Resend(ctx context.Context, workspaceID int64, webhookID string, deliveryID int64) error {
	return s.store.ResendDelivery(ctx, workspaceID, webhookID, deliveryID, s.now())
}

// Delete deletes an endpoint and its pending deliveries and records
// webhook.deleted.
func (s *Service) Delete(ctx context.Context, workspaceID int64, id string, by audit.Actor) (webhook.Endpoint, error) {
	ep, err := s.store.DeleteWebhook(ctx, workspaceID, id, by, s.now())
	if err == nil {
		s.log.Info("webhook deleted", "webhook_id", ep.ID, "workspace_id", ep.WorkspaceID, "actor", by.Name())
	}
	return ep, err
}
