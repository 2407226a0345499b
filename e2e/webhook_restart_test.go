package e2e

import (
	"context"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/blnk-cloud/apikeys/db"
	"github.com/blnk-cloud/apikeys/e2e/internal/dashtest"
	"github.com/blnk-cloud/apikeys/internal/apikey"
	"github.com/blnk-cloud/apikeys/internal/audit"
	"github.com/blnk-cloud/apikeys/internal/blnk"
	"github.com/blnk-cloud/apikeys/internal/webhook"
)

// TestWebhooksSurviveARestart: events queued and failing when the server
// stops are delivered by the next server on the same database, once.
func TestWebhooksSurviveARestart(t *testing.T) {
	t.Parallel()
	var up atomic.Bool
	var mu sync.Mutex
	delivered := map[string]int{} // webhook-id: requests answered 2xx
	tried := 0
	recv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		defer mu.Unlock()
		tried++
		if !up.Load() {
			w.WriteHeader(http.StatusServiceUnavailable)
			return
		}
		delivered[r.Header.Get("webhook-id")]++
		w.WriteHeader(http.StatusNoContent)
	}))
	t.Cleanup(recv.Close)

	dsn := filepath.Join(t.TempDir(), "data", "dashboard.db")
	first := dashtest.StartOn(t, binPath, dsn, "--webhook-retry", "300ms", "--webhook-poll", "100ms", "--webhook-allow-private")
	first.CreateAdmin(t, "Acme", "ada@acme.test", "correct horse battery")
	store, err := db.Open(context.Background(), dsn)
	must(t, err)
	defer store.Close()
	login, err := store.LoginByEmail(context.Background(), "ada@acme.test")
	must(t, err)
	if _, _, err := store.CreateWebhook(context.Background(), blnk.NewWebhook{
		Endpoint: webhook.Endpoint{ID: webhook.NewID(), WorkspaceID: login.Workspace.ID, URL: recv.URL + "/h",
			Events: []webhook.EventType{webhook.KeyCreated}, CreatedAt: time.Now()},
		Secret: webhook.NewSecret(), CreateToken: apikey.NewID(), Actor: audit.Actor{Kind: audit.System},
	}); err != nil {
		t.Fatal(err)
	}
	c := first.SignIn(t, "ada@acme.test", "correct horse battery")
	const n = 3
	for i := range n {
		c.CreateKey("key "+string(rune('a'+i)), "mcp:read")
	}
	waitUntil(t, 20*time.Second, func() bool {
		mu.Lock()
		defer mu.Unlock()
		return tried >= n
	})

	// Stop the server with its deliveries pending.
	must(t, first.Process.Signal(syscall.SIGTERM))
	waitUntil(t, 20*time.Second, func() bool { return strings.Contains(first.Logs.String(), "msg=stopped") })
	var pending int
	must(t, store.SQL().QueryRow(`SELECT count(*) FROM webhook_deliveries WHERE state = 'pending'`).Scan(&pending))
	if pending != n {
		t.Fatalf("%d deliveries pending after the stop, want %d", pending, n)
	}

	up.Store(true)
	dashtest.StartOn(t, binPath, dsn, "--webhook-retry", "300ms", "--webhook-poll", "100ms", "--webhook-allow-private")
	waitUntil(t, 20*time.Second, func() bool {
		var left int
		must(t, store.SQL().QueryRow(`SELECT count(*) FROM webhook_deliveries WHERE state <> 'delivered'`).Scan(&left))
		return left == 0
	})
	time.Sleep(300 * time.Millisecond) // a repeat would show by now
	mu.Lock()
	defer mu.Unlock()
	if len(delivered) != n {
		t.Errorf("%d events delivered, want %d", len(delivered), n)
	}
	for id, k := range delivered {
		if k != 1 {
			t.Errorf("event %s delivered %d times", id, k)
		}
	}
}

// TestWebhooksToLoopbackBlockedByDefault: a server started without
// --webhook-allow-private sends nothing to a receiver on loopback, even
// for an endpoint stored with its address (as one added before this rule,
// or a name that resolved elsewhere then); the attempt is listed as
// blocked. With the flag the same receiver gets the event.
func TestWebhooksToLoopbackBlockedByDefault(t *testing.T) {
	t.Parallel()
	var got atomic.Int32
	recv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got.Add(1)
		w.WriteHeader(http.StatusNoContent)
	}))
	t.Cleanup(recv.Close)
	for _, allow := range []bool{false, true} {
		dsn := filepath.Join(t.TempDir(), "data", "dashboard.db")
		args := []string{"--webhook-poll", "100ms"}
		if allow {
			args = append(args, "--webhook-allow-private")
		}
		a := dashtest.StartOn(t, binPath, dsn, args...)
		a.CreateAdmin(t, "Acme", "ada@acme.test", "correct horse battery")
		store, err := db.Open(context.Background(), dsn)
		must(t, err)
		login, err := store.LoginByEmail(context.Background(), "ada@acme.test")
		must(t, err)
		if _, _, err := store.CreateWebhook(context.Background(), blnk.NewWebhook{
			Endpoint: webhook.Endpoint{ID: webhook.NewID(), WorkspaceID: login.Workspace.ID, URL: recv.URL + "/h",
				Events: []webhook.EventType{webhook.KeyCreated}, CreatedAt: time.Now()},
			Secret: webhook.NewSecret(), CreateToken: apikey.NewID(), Actor: audit.Actor{Kind: audit.System},
		}); err != nil {
			t.Fatal(err)
		}
		a.SignIn(t, "ada@acme.test", "correct horse battery").CreateKey("blocked or not", "mcp:read")
		var state, lastErr string
		var status int
		waitUntil(t, 20*time.Second, func() bool {
			must(t, store.SQL().QueryRow(`SELECT state, COALESCE(last_error, ''), COALESCE(last_status, 0) FROM webhook_deliveries`).Scan(&state, &lastErr, &status))
			return state == "delivered" || lastErr != ""
		})
		store.Close()
		if !allow && (lastErr != "blocked: private address" || status != 0 || got.Load() != 0) {
			t.Errorf("without --webhook-allow-private: state %s, error %q, status %d, receiver got %d; want blocked, nothing sent", state, lastErr, status, got.Load())
		}
		if allow && (state != "delivered" || got.Load() != 1) {
			t.Errorf("with --webhook-allow-private: state %s, error %q, receiver got %d; want delivered once", state, lastErr, got.Load())
		}
	}
}
