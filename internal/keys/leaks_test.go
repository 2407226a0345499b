package keys_test

import (
	"context"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/blnk-cloud/apikeys/db"
	"github.com/blnk-cloud/apikeys/internal/apikey"
	"github.com/blnk-cloud/apikeys/internal/audit"
	"github.com/blnk-cloud/apikeys/internal/blnk"
	"github.com/blnk-cloud/apikeys/internal/keyauth"
	"github.com/blnk-cloud/apikeys/internal/keys"
	"github.com/blnk-cloud/apikeys/internal/testkit"
)

// start is the fake clock of the leak and sweep tests.
var start = time.Date(2026, 3, 14, 15, 0, 0, 0, time.UTC)

// svcFixture is a keys service on a fresh database, with its index and a
// fake clock.
type svcFixture struct {
	store *db.DB
	auth  *keyauth.Authenticator
	svc   *keys.Service
	clock *testkit.Clock
	ws    int64
	wsNm  string
}

func newSvcFixture(t *testing.T) *svcFixture {
	t.Helper()
	ctx := context.Background()
	store, err := db.Open(ctx, testkit.DSN(t))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	clk := testkit.NewClock(start)
	log := slog.New(slog.DiscardHandler)
	a, err := keyauth.New(ctx, keyauth.Config{Now: clk.Now}, store, log)
	if err != nil {
		t.Fatal(err)
	}
	w, _, err := store.CreateWorkspaceAdmin(ctx, "Acme", "admin@acme.io", "x", start)
	if err != nil {
		t.Fatal(err)
	}
	return &svcFixture{store: store, auth: a, svc: keys.New(keys.Config{Now: clk.Now}, store, a, log), clock: clk, ws: w.ID, wsNm: w.Name}
}

func (f *svcFixture) add(t *testing.T, name string, expires time.Time) (apikey.Key, string) {
	t.Helper()
	c, err := f.svc.Create(context.Background(), audit.Actor{Kind: audit.CommandLine}, keys.Spec{
		WorkspaceID: f.ws, Workspace: f.wsNm, Name: name, Scopes: 1, ExpiresAt: expires, FormToken: apikey.NewID(),
	})
	if err != nil {
		t.Fatal(err)
	}
	return c.Key, c.Token
}

func TestReportLeaks(t *testing.T) {
	ctx := context.Background()
	f := newSvcFixture(t)
	k, token := f.add(t, "leaked", time.Time{})
	_, other := f.add(t, "not reported", time.Time{})
	if _, err := f.auth.Authenticate(ctx, token, "192.0.2.1"); err != nil {
		t.Fatal(err)
	}
	by := audit.Actor{Kind: audit.LeakReport, IP: "203.0.113.9"}
	unknown, _ := apikey.Generate()
	out, err := f.svc.ReportLeaks(ctx, by, []keys.LeakReport{
		{Token: "blnk_nope", URL: "https://x", Source: "s"},
		{Token: unknown, URL: "https://x", Source: "s"},
		{Token: " " + token + "\n", URL: "https://gist.example/abc\x00\u202e", Source: strings.Repeat("s", 500)},
		{Token: token, URL: "https://again", Source: "s"},
	})
	if err != nil {
		t.Fatal(err)
	}
	if out.Revoked != 1 || out.Recorded != 1 || out.Ignored != 3 {
		t.Errorf("outcome = %+v, want 1 revoked, 1 recorded, 3 ignored", out)
	}
	// Refused from the very next call, in this process.
	if _, err := f.auth.Authenticate(ctx, token, "192.0.2.1"); err != keyauth.ErrRevoked {
		t.Errorf("next call with the leaked key: %v, want %v", err, keyauth.ErrRevoked)
	}
	if _, err := f.auth.Authenticate(ctx, other, "192.0.2.1"); err != nil {
		t.Errorf("a key not reported: %v", err)
	}
	got, err := f.store.Key(ctx, f.ws, k.ID)
	if err != nil {
		t.Fatal(err)
	}
	if !got.Exposed() || got.Exposure.URL != "https://gist.example/abc" || len(got.Exposure.Source) != 200 {
		t.Errorf("exposure = %+v, want the URL cleaned and the source cut to 200 bytes", got.Exposure)
	}
	if _, err := f.svc.ReportLeaks(ctx, by, make([]keys.LeakReport, keys.MaxLeakReports+1)); err == nil {
		t.Error("a report of 101 items was handled")
	}
}

func TestSweepExpiring(t *testing.T) {
	ctx := context.Background()
	f := newSvcFixture(t)
	soon, _ := f.add(t, "soon", start.Add(3*24*time.Hour))
	f.add(t, "later", start.Add(90*24*time.Hour))
	f.add(t, "never", time.Time{})
	if n, err := f.svc.SweepExpiring(ctx); err != nil || n != 1 {
		t.Errorf("first sweep sent %d notices, %v; want 1 (7 days)", n, err)
	}
	if n, err := f.svc.SweepExpiring(ctx); err != nil || n != 0 {
		t.Errorf("second sweep sent %d notices, %v; want none", n, err)
	}
	f.clock.Set(start.Add(2*24*time.Hour + time.Hour))
	if n, err := f.svc.SweepExpiring(ctx); err != nil || n != 1 {
		t.Errorf("sweep a day before expiry sent %d, %v; want 1", n, err)
	}
	f.clock.Set(start.Add(3*24*time.Hour + time.Minute))
	if n, err := f.svc.SweepExpiring(ctx); err != nil || n != 0 {
		t.Errorf("sweep after expiry sent %d, %v; want none (key.expired is SweepExpired's)", n, err)
	}
	if n, err := f.svc.SweepExpired(ctx); err != nil || n != 1 {
		t.Errorf("SweepExpired recorded %d, %v; want the key that expired", n, err)
	}
	_ = soon
}

func TestPruneUsage(t *testing.T) {
	ctx := context.Background()
	f := newSvcFixture(t)
	k, _ := f.add(t, "used", time.Time{})
	if err := f.store.RecordUsage(ctx, blnk.Usage{Hours: []blnk.HourCount{
		{KeyID: k.ID, Hour: start.Add(-31 * 24 * time.Hour).Truncate(time.Hour), Counts: blnk.Counts{Accepted: 1}},
		{KeyID: k.ID, Hour: start.Truncate(time.Hour), Counts: blnk.Counts{Accepted: 2}},
	}}); err != nil {
		t.Fatal(err)
	}
	if err := f.svc.PruneUsage(ctx); err != nil {
		t.Fatal(err)
	}
	hours, err := f.store.KeyUsage(ctx, k.ID, time.Time{})
	if err != nil || len(hours) != 1 || hours[0].Accepted != 2 {
		t.Errorf("usage after pruning = %+v, %v; want the recent hour only", hours, err)
	}
}
