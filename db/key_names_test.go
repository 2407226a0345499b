package db

import (
	"context"
	"testing"
	"time"

	"github.com/blnk-cloud/apikeys/internal/audit"
	"github.com/blnk-cloud/apikeys/internal/blnk"
)

func TestCountActiveKeysNamed(t *testing.T) {
	ctx := context.Background()
	d, _ := openTestDB(t)
	w1, u1 := newWorkspace(t, d, "Acme", "admin@acme.io")
	w2, u2 := newWorkspace(t, d, "Other", "admin@other.io")

	createKey(t, d, mustNewKey(t, w1.ID, u1.ID, "Production API Key", nil))
	createKey(t, d, mustNewKey(t, w1.ID, u1.ID, "production api key", nil))
	revoked := createKey(t, d, mustNewKey(t, w1.ID, u1.ID, "Production API Key", nil))
	if _, err := d.RevokeKey(ctx, w1.ID, revoked.ID, audit.Actor{UserID: u1.ID, Kind: audit.User}, testNow); err != nil {
		t.Fatal(err)
	}
	expires := testNow.Add(time.Hour)
	createKey(t, d, mustNewKey(t, w1.ID, u1.ID, "Production API Key", &expires))
	createKey(t, d, mustNewKey(t, w2.ID, u2.ID, "Production API Key", nil))
	createKey(t, d, mustNewKey(t, w1.ID, u1.ID, "Production API Key 2", nil))
	createKey(t, d, mustNewKey(t, w1.ID, u1.ID, "100% _real_", nil))

	for _, tc := range []struct {
		name        string
		workspaceID int64
		key         string
		now         time.Time
		want        int
	}{
		{"same name any case, the expiring one still active", w1.ID, "PRODUCTION api KEY", testNow, 3},
		{"after the expiring one expired", w1.ID, "Production API Key", expires, 2},
		{"another workspace sees its own", w2.ID, "Production API Key", testNow, 1},
		{"no such name", w1.ID, "Staging", testNow, 0},
		{"LIKE wildcards are plain characters", w1.ID, "100% _real%", testNow, 0},
		{"exactly", w1.ID, "100% _real_", testNow, 1},
		{"a workspace that does not exist", 999, "Production API Key", testNow, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := d.CountActiveKeysNamed(ctx, tc.workspaceID, tc.key, tc.now)
			if err != nil {
				t.Fatal(err)
			}
			if got != tc.want {
				t.Errorf("CountActiveKeysNamed(%d, %q) = %d, want %d", tc.workspaceID, tc.key, got, tc.want)
			}
		})
	}
}

// mustNewKey is newKey with an expiry (nil: never).
func mustNewKey(t *testing.T, workspaceID, userID int64, name string, expiresAt *time.Time) blnk.NewKey {
	t.Helper()
	nk, _ := newKey(t, workspaceID, userID, name, testNow.Add(-time.Hour))
	if expiresAt != nil {
		nk.Key.ExpiresAt = *expiresAt
	}
	return nk
}
