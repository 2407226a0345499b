package web_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/blnk-cloud/apikeys/internal/audit"
	"github.com/blnk-cloud/apikeys/internal/testkit/htmlcheck"
)

// The counts follow every change: made here, through the web; made in the
// database by another process; and the passing of time.
func TestKeyListCountsFollowChanges(t *testing.T) {
	t.Parallel()
	ts, c := newSignedIn(t, serverOpts{})
	counts := func() string {
		t.Helper()
		body := c.get("/settings/api-keys").Body
		var parts []string
		for _, s := range []string{"all", "active", "expiring", "expired", "revoked"} {
			tab := parse(t, body).Find("nav.status-tabs a#status-tab-" + s)
			if tab.Length() != 1 {
				t.Fatalf("no %s tab", s)
			}
			parts = append(parts, s+"="+htmlcheck.Text(tab.Find("span.tab-count")))
		}
		return strings.Join(parts, " ")
	}
	a := c.create("First")
	if got := counts(); got != "all=1 active=1 expiring=0 expired=0 revoked=0" {
		t.Fatalf("after a create: %s", got)
	}
	soon := keyForm("Soon", "date", "mcp:read")
	soon.Set("expires_on", ts.clock.Now().AddDate(0, 0, 5).Format("2006-01-02"))
	c.createKey(soon)
	if got := counts(); got != "all=2 active=2 expiring=1 expired=0 revoked=0" {
		t.Fatalf("after a 7-day key: %s", got)
	}
	c.post("/settings/api-keys/"+a.ID+"/revoke", nil)
	if got := counts(); got != "all=2 active=1 expiring=1 expired=0 revoked=1" {
		t.Fatalf("after a revoke: %s", got)
	}
	// Another process writes the database (as the command line does).
	stored := ts.storeKeys(1, func(int) (string, []string, time.Time) { return "From the CLI", []string{"*"}, time.Time{} })
	if got := counts(); got != "all=3 active=2 expiring=1 expired=0 revoked=1" {
		t.Fatalf("after a key stored by another process: %s", got)
	}
	login, _ := ts.db.LoginByEmail(context.Background(), adminEmail)
	if _, err := ts.db.RevokeKey(context.Background(), login.Workspace.ID, stored[0].ID, audit.Actor{Kind: audit.CommandLine}, ts.clock.Now()); err != nil {
		t.Fatal(err)
	}
	if got := counts(); got != "all=3 active=1 expiring=1 expired=0 revoked=2" {
		t.Fatalf("after a revoke by another process: %s", got)
	}
	// Time: the 7-day key expires.
	ts.clock.Advance(8 * 24 * time.Hour)
	c.signIn(adminEmail, adminPassword)
	if got := counts(); got != "all=3 active=0 expiring=0 expired=1 revoked=2" {
		t.Fatalf("8 days later: %s", got)
	}
}
