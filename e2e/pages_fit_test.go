package e2e

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/blnk-cloud/apikeys/internal/apikey"
	"github.com/blnk-cloud/apikeys/internal/audit"
	"github.com/blnk-cloud/apikeys/internal/blnk"
	"github.com/blnk-cloud/apikeys/internal/webhook"
)

// TestOtherPagesFit: the members page (a 60-character email) and the
// webhooks page (a long URL and a 200-character description) fit at 390
// and 1440 px, light and dark: nothing scrolls sideways or leaves its
// row. The audit log and the deliveries have their own layout tests.
func TestOtherPagesFit(t *testing.T) {
	t.Parallel()
	a := startApp(t)
	a.createAdmin(t, "Acme Payments", "ada@acme.test", "correct horse battery")
	long := "grace.hopper-the-compiler-pioneer.department-of-navy@acme.test"
	for _, who := range []string{long + " member", "linus@acme.test viewer"} {
		f := strings.Fields(who)
		if out, err := a.cli(t, "correct horse battery\n", "members", "add", "--workspace", "Acme Payments", "--email", f[0], "--role", f[1]); err != nil {
			t.Fatalf("members add: %v\n%s", err, out)
		}
	}
	store, login := openAsAdmin(t, a)
	_, _, err := store.CreateWebhook(context.Background(), blnk.NewWebhook{
		Endpoint: webhook.Endpoint{ID: webhook.NewID(), WorkspaceID: login.Workspace.ID, URL: "https://hooks.example.com/blnk/key-events-receiver-for-the-payments-platform-in-the-eu-region",
			Events: []webhook.EventType{webhook.KeyCreated, webhook.KeyRevoked}, Description: longDesc, CreatedAt: time.Now()},
		Secret: webhook.NewSecret(), CreateToken: apikey.NewID(), Actor: audit.Actor{Kind: audit.System},
	})
	store.Close()
	must(t, err)

	for _, w := range []int{390, 1440} {
		for _, dark := range []bool{false, true} {
			t.Run(fmt.Sprintf("%d-dark-%v", w, dark), func(t *testing.T) {
				page := newPage(t, a, pageOptions{width: w, mobile: w < 500, dark: dark})
				must(t, page.SetViewportSize(w, 900))
				signIn(t, page, "ada@acme.test", "correct horse battery")
				goTo(t, page, "/settings/members")
				checkFits(t, page, "table.members", "tbody tr", 3)
				shot(t, page, fmt.Sprintf("fit-members-%d-%v", w, dark))
				goTo(t, page, "/settings/webhooks")
				checkFits(t, page, "table.endpoints", "tbody tr", 1)
				shot(t, page, fmt.Sprintf("fit-webhooks-%d-%v", w, dark))
			})
		}
	}
}
