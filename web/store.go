package web

import (
	"context"
	"time"

	"github.com/blnk-cloud/apikeys/internal/apikey"
	"github.com/blnk-cloud/apikeys/internal/audit"
	"github.com/blnk-cloud/apikeys/internal/blnk"
	"github.com/blnk-cloud/apikeys/internal/webhook"
)

// Store is what the pages read from the database themselves (db.DB). It
// has no method that writes, and the Server keeps the database only as a
// Store: every write goes through a service (keys, endpoints, accounts,
// members),
// which records its audit event with it. TestWebWritesOnlyThroughServices
// keeps it so.
type Store interface {
	Key(ctx context.Context, workspaceID int64, id string) (apikey.Key, error)
	ListKeys(ctx context.Context, workspaceID int64, q blnk.ListQuery) (blnk.KeyPage, error)
	CountKeys(ctx context.Context, workspaceID int64, q blnk.ListQuery) (blnk.StatusCounts, error)
	ListEntries(ctx context.Context, workspaceID int64) ([]blnk.ListEntry, error)
	CountActiveKeysNamed(ctx context.Context, workspaceID int64, name string, now time.Time) (int, error)
	// Lower folds case as the database's lower() does.
	Lower(s string) string
	LastChange(ctx context.Context) (int64, error)
	KeyUsage(ctx context.Context, id string, since time.Time) ([]blnk.HourCount, error)
	KeyAddresses(ctx context.Context, id string, n int) ([]blnk.Use, error)
	LastRefused(ctx context.Context, id string) (blnk.Refusal, bool, error)
	AuditEvents(ctx context.Context, f blnk.AuditFilter, before, after int64, limit int) (blnk.AuditPage, error)
	EachAuditEvent(ctx context.Context, f blnk.AuditFilter, fn func(audit.Event) error) error
	Webhooks(ctx context.Context, workspaceID int64) ([]webhook.Endpoint, error)
	Webhook(ctx context.Context, workspaceID int64, id string) (webhook.Endpoint, error)
	WebhookDeliveries(ctx context.Context, workspaceID int64, id string, n int) ([]webhook.Delivery, error)
	HasAdmin(ctx context.Context) (bool, error)
	LoginByEmail(ctx context.Context, email string) (blnk.Login, error)
	ListMemberships(ctx context.Context, userID int64) ([]blnk.Membership, error)
	ListMembers(ctx context.Context, workspaceID int64) ([]blnk.Member, error)
	FindMember(ctx context.Context, workspaceID, userID int64) (blnk.Member, error)
	FindUser(ctx context.Context, email string) (blnk.User, error)
	ListMemberKeys(ctx context.Context, workspaceID, userID int64, now time.Time) ([]apikey.Key, error)
	ListInvitations(ctx context.Context, workspaceID int64, now time.Time) ([]blnk.Invitation, error)
	FindInvitation(ctx context.Context, tokenHash []byte) (blnk.Invitation, error)
	KeyPolicy(ctx context.Context, workspaceID int64) (blnk.Policy, error)
	// FindFactors is the one read of "has a second factor" (passkeys
	// count there too).
	FindFactors(ctx context.Context, userID int64) (blnk.Factors, error)
	ListMemberFactors(ctx context.Context, workspaceID int64) (map[int64]blnk.Factors, error)
	FindPasswordReset(ctx context.Context, tokenHash []byte) (blnk.PasswordReset, error)
	ListSessions(ctx context.Context, userID int64, current []byte) ([]blnk.SessionInfo, error)
	ListTokens(ctx context.Context, workspaceID, userID int64) ([]blnk.Token, error)
	ListPasskeys(ctx context.Context, userID int64) ([]blnk.Passkey, error)
	CountPasskeys(ctx context.Context, userID int64) (int, error)
	LoginByUserID(ctx context.Context, userID int64) (blnk.Login, error)
}
