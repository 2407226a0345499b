package delivery_test

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/blnk-cloud/apikeys/db"
	"github.com/blnk-cloud/apikeys/internal/apikey"
	"github.com/blnk-cloud/apikeys/internal/audit"
	"github.com/blnk-cloud/apikeys/internal/blnk"
	"github.com/blnk-cloud/apikeys/internal/delivery"
	"github.com/blnk-cloud/apikeys/internal/testkit"
	"github.com/blnk-cloud/apikeys/internal/webhook"
)

// fixture is a database with a workspace, and a receiver: a real HTTP
// server on loopback that records what it gets and answers as told.
type fixture struct {
	dsn    string
	store  *db.DB
	ws     int64
	user   int64
	recv   *receiver
	hook   webhook.Endpoint
	secret string
	logs   *testkit.LogBuffer
}

// request is what the receiver got.
type request struct {
	id, timestamp, signature, ctype string
	body                            []byte
}

type receiver struct {
	*httptest.Server
	mu     sync.Mutex
	got    []request
	answer func(n int, r *http.Request) int // status for the n-th request (1-based)
}

func newReceiver(t *testing.T, answer func(n int, r *http.Request) int) *receiver {
	rc := &receiver{answer: answer}
	rc.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		rc.mu.Lock()
		rc.got = append(rc.got, request{r.Header.Get("webhook-id"), r.Header.Get("webhook-timestamp"),
			r.Header.Get("webhook-signature"), r.Header.Get("Content-Type"), body})
		n := len(rc.got)
		rc.mu.Unlock()
		status := http.StatusOK
		if rc.answer != nil {
			status = rc.answer(n, r)
		}
		w.WriteHeader(status)
		fmt.Fprintf(w, "answer %d", n)
	}))
	t.Cleanup(rc.Close)
	return rc
}

func (rc *receiver) requests() []request {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return append([]request(nil), rc.got...)
}

func newFixture(t *testing.T, answer func(n int, r *http.Request) int) *fixture {
	t.Helper()
	ctx := context.Background()
	f := &fixture{dsn: testkit.DSN(t), logs: &testkit.LogBuffer{}}
	f.store = open(t, f.dsn)
	w, u, err := f.store.CreateWorkspaceAdmin(ctx, "Acme", "admin@acme.io", "x", time.Now())
	if err != nil {
		t.Fatal(err)
	}
	f.ws, f.user = w.ID, u.ID
	f.recv = newReceiver(t, answer)
	f.hook = f.addHook(t, f.recv.URL+"/hooks")
	return f
}

func (f *fixture) addHook(t *testing.T, url string) webhook.Endpoint {
	t.Helper()
	ctx := context.Background()
	e, _, err := f.store.CreateWebhook(ctx, blnk.NewWebhook{
		Endpoint: webhook.Endpoint{ID: webhook.NewID(), WorkspaceID: f.ws, URL: url,
			Events: []webhook.EventType{webhook.KeyCreated, webhook.KeyRevoked}, CreatedAt: time.Now()},
		Secret: webhook.NewSecret(), CreateToken: apikey.NewID(), Actor: audit.Actor{Kind: audit.System},
	})
	if err != nil {
		t.Fatal(err)
	}
	if f.secret == "" {
		if f.secret, err = f.store.TakeWebhookSecret(ctx, f.ws, e.ID, time.Now()); err != nil {
			t.Fatal(err)
		}
	}
	return e
}

// allowLocal is the guard of a server run with --webhook-allow-private:
// the receivers of these tests are on loopback.
func allowLocal() *webhook.Guard { return &webhook.Guard{AllowPrivate: true} }

func open(t *testing.T, dsn string) *db.DB {
	t.Helper()
	d, err := db.Open(context.Background(), dsn)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { d.Close() })
	return d
}

// createKey makes a key, which queues key.created.
func (f *fixture) createKey(t *testing.T) apikey.Key {
	t.Helper()
	token, _ := apikey.Generate()
	prefix, _ := apikey.Parse(token)
	k, _, err := f.store.CreateKey(context.Background(), blnk.NewKey{
		Key:  apikey.Key{ID: apikey.NewID(), WorkspaceID: f.ws, Name: "k", Prefix: prefix, Scopes: 1, CreatedAt: time.Now()},
		Hash: apikey.HashOf(token), CreatedBy: f.user, CreateToken: apikey.NewID(), Actor: audit.Actor{Kind: audit.CommandLine},
	})
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// run starts a worker on store until the returned stop is called (or the
// test ends).
func (f *fixture) run(t *testing.T, store *db.DB, cfg delivery.Config) (stop func()) {
	t.Helper()
	cancel, wait := f.start(t, store, cfg)
	return func() { cancel(); wait() }
}

// start starts a worker on store like run, and returns its stop in two
// halves: cancel tells it to stop, wait waits until it has (its attempts
// in flight finished, its unsent claims given back).
func (f *fixture) start(t *testing.T, store *db.DB, cfg delivery.Config) (cancel, wait func()) {
	t.Helper()
	if cfg.RetryBase == 0 {
		cfg.RetryBase = 50 * time.Millisecond
	}
	if cfg.PollEvery == 0 {
		cfg.PollEvery = 20 * time.Millisecond
	}
	if cfg.ServerID == "" {
		cfg.ServerID = "test"
	}
	w := delivery.New(cfg, store, slog.New(slog.NewTextHandler(f.logs, &slog.HandlerOptions{Level: slog.LevelDebug})))
	ctx, cancelCtx := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		w.Run(ctx)
	}()
	wait = func() { <-done }
	t.Cleanup(func() { cancelCtx(); wait() })
	return cancelCtx, wait
}

// deliveries returns the endpoint's deliveries, newest first.
func (f *fixture) deliveries(t *testing.T, hook webhook.Endpoint) []webhook.Delivery {
	t.Helper()
	dl, err := f.store.WebhookDeliveries(context.Background(), f.ws, hook.ID, 1000)
	if err != nil {
		t.Fatal(err)
	}
	return dl
}

// settled fails the test if any delivery of the database could still be
// sent: once every worker has stopped (a stop waits for the attempts in
// flight), a claim a day later, when every claim has run out, finds
// nothing. With it, what the receiver got is all it will ever get, so a
// duplicate, however late, is counted.
func (f *fixture) settled(t *testing.T) {
	t.Helper()
	left, err := f.store.ClaimDeliveries(context.Background(), "after-the-test", time.Now().Add(24*time.Hour), time.Minute, 1000)
	if err != nil {
		t.Fatal(err)
	}
	for _, j := range left { // its id and event, never its secret
		t.Errorf("delivery %d (event %s) could still be sent after every worker stopped", j.ID, j.EventID)
	}
}

// waitFor waits until cond holds, failing the test after 20 s.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("gave up waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// verifies is a receiver's check of the signature, written from the
// Standard Webhooks specification, independently of package webhook.
func verifies(secret string, r request) bool {
	key, err := base64.StdEncoding.DecodeString(strings.TrimPrefix(secret, "whsec_"))
	if err != nil {
		return false
	}
	mac := hmac.New(sha256.New, key)
	fmt.Fprintf(mac, "%s.%s.%s", r.id, r.timestamp, r.body)
	v, sig, _ := strings.Cut(r.signature, ",")
	got, err := base64.StdEncoding.DecodeString(sig)
	return v == "v1" && err == nil && hmac.Equal(got, mac.Sum(nil))
}

func TestDeliveredAndSigned(t *testing.T) {
	f := newFixture(t, nil)
	f.run(t, f.store, delivery.Config{Guard: allowLocal()})
	before := time.Now().Unix()
	k := f.createKey(t)
	waitFor(t, "the delivery", func() bool { return len(f.recv.requests()) == 1 })
	r := f.recv.requests()[0]
	if !verifies(f.secret, r) {
		t.Errorf("signature %q does not verify with the endpoint's secret", r.signature)
	}
	if !strings.HasPrefix(r.id, "msg_") || r.ctype != "application/json" {
		t.Errorf("webhook-id %q, Content-Type %q", r.id, r.ctype)
	}
	if ts, err := strconv.ParseInt(r.timestamp, 10, 64); err != nil || ts < before-1 || ts > time.Now().Unix()+1 {
		t.Errorf("webhook-timestamp %q is not now", r.timestamp)
	}
	if !strings.Contains(string(r.body), `"type":"key.created"`) || !strings.Contains(string(r.body), k.ID) {
		t.Errorf("body = %s", r.body)
	}
	waitFor(t, "the attempt recorded", func() bool {
		dl := f.deliveries(t, f.hook)
		return len(dl) == 1 && dl[0].State == webhook.Delivered
	})
	dl := f.deliveries(t, f.hook)[0]
	if dl.Attempts != 1 || dl.LastStatus != 200 || dl.LastResponse != "answer 1" || dl.EventID != r.id || !dl.NextAttempt.IsZero() {
		t.Errorf("delivery = %+v", dl)
	}
}

func TestFailsTwiceThenSucceeds(t *testing.T) {
	f := newFixture(t, func(n int, _ *http.Request) int {
		if n <= 2 {
			return http.StatusServiceUnavailable
		}
		return http.StatusNoContent
	})
	f.run(t, f.store, delivery.Config{Guard: allowLocal()})
	f.createKey(t)
	waitFor(t, "delivered", func() bool {
		dl := f.deliveries(t, f.hook)
		return len(dl) == 1 && dl[0].State == webhook.Delivered
	})
	got := f.recv.requests()
	if len(got) != 3 {
		t.Fatalf("%d requests, want 3", len(got))
	}
	for _, r := range got {
		if r.id != got[0].id || !verifies(f.secret, r) {
			t.Errorf("attempt with webhook-id %q (first %q), signature valid %v", r.id, got[0].id, verifies(f.secret, r))
		}
	}
	if dl := f.deliveries(t, f.hook)[0]; dl.Attempts != 3 || dl.LastStatus != 204 {
		t.Errorf("delivery = %+v, want 3 attempts ending in 204", dl)
	}
	if !strings.Contains(f.logs.String(), "status=503") {
		t.Errorf("failed attempts not logged:\n%s", f.logs)
	}
}

// TestRestartWithPending: deliveries queued while no server sends, or
// retrying when a server stops, are delivered by the next server, once.
func TestRestartWithPending(t *testing.T) {
	var mu sync.Mutex
	down := true
	f := newFixture(t, func(int, *http.Request) int {
		mu.Lock()
		defer mu.Unlock()
		if down {
			return http.StatusBadGateway
		}
		return http.StatusOK
	})
	const n = 5
	for range n {
		f.createKey(t)
	}
	// A server tries once each, fails, and stops.
	stop := f.run(t, f.store, delivery.Config{Guard: allowLocal(), ServerID: "first", RetryBase: time.Hour})
	waitFor(t, "first attempts", func() bool {
		for _, dl := range f.deliveries(t, f.hook) {
			if dl.Attempts == 0 {
				return false
			}
		}
		return true
	})
	stop()
	// The next server starts with the queue as the database holds it; the
	// retries are due.
	mu.Lock()
	down = false
	mu.Unlock()
	next := open(t, f.dsn)
	if _, err := next.SQL().Exec(`UPDATE webhook_deliveries SET next_attempt_at = 0 WHERE next_attempt_at IS NOT NULL`); err != nil {
		t.Fatal(err)
	}
	stopNext := f.run(t, next, delivery.Config{Guard: allowLocal(), ServerID: "second"})
	waitFor(t, "delivered after the restart", func() bool {
		for _, dl := range f.deliveries(t, f.hook) {
			if dl.State != webhook.Delivered {
				return false
			}
		}
		return true
	})
	// No sleep for a duplicate to show: stop sending, then count
	// everything that was and could still be sent.
	stopNext()
	f.settled(t)
	ok := map[string]int{}
	for _, r := range f.recv.requests()[n:] {
		ok[r.id]++
	}
	if len(ok) != n {
		t.Errorf("%d events delivered after the restart, want %d", len(ok), n)
	}
	for id, c := range ok {
		if c != 1 {
			t.Errorf("event %s delivered %d times after the restart", id, c)
		}
	}
}

func TestHangingEndpointTimesOut(t *testing.T) {
	f := newFixture(t, func(n int, r *http.Request) int {
		if n == 1 {
			select { // hang until the sender gives up
			case <-r.Context().Done():
			case <-time.After(10 * time.Second):
			}
		}
		return http.StatusOK
	})
	f.run(t, f.store, delivery.Config{Guard: allowLocal(), Timeout: 300 * time.Millisecond})
	f.createKey(t)
	var retried webhook.Delivery
	waitFor(t, "the timed out attempt", func() bool {
		dl := f.deliveries(t, f.hook)
		if len(dl) == 1 && dl[0].Attempts == 1 {
			retried = dl[0]
			return true
		}
		return dl[0].Attempts > 1
	})
	if retried.Attempts == 1 && (retried.LastStatus != 0 || !strings.Contains(retried.LastError, "timed out") || retried.State != webhook.Pending) {
		t.Errorf("after the hang: %+v", retried)
	}
	waitFor(t, "the retry delivered", func() bool { return f.deliveries(t, f.hook)[0].State == webhook.Delivered })
	if dl := f.deliveries(t, f.hook)[0]; dl.Attempts != 2 {
		t.Errorf("delivered after %d attempts, want 2", dl.Attempts)
	}
}

func TestRedirectNotFollowed(t *testing.T) {
	f := newFixture(t, nil)
	target := newReceiver(t, nil)
	redirector := httptest.NewServer(http.RedirectHandler(target.URL+"/elsewhere", http.StatusFound))
	t.Cleanup(redirector.Close)
	hook := f.addHook(t, redirector.URL+"/hooks")
	f.run(t, f.store, delivery.Config{Guard: allowLocal(), RetryBase: time.Hour})
	f.createKey(t)
	waitFor(t, "the attempt at the redirector", func() bool {
		dl := f.deliveries(t, hook)
		return len(dl) == 1 && dl[0].Attempts == 1
	})
	dl := f.deliveries(t, hook)[0]
	if dl.State != webhook.Pending || dl.LastStatus != http.StatusFound || !strings.Contains(dl.LastError, "not followed") {
		t.Errorf("delivery = %+v, want a failed 302 to retry", dl)
	}
	if got := target.requests(); len(got) != 0 {
		t.Errorf("the redirect's target got %d requests", len(got))
	}
}

func TestOwnAddressRefused(t *testing.T) {
	f := newFixture(t, nil)
	guard, err := webhook.NewGuard(strings.TrimPrefix(f.recv.URL, "http://"), true)
	if err != nil {
		t.Fatal(err)
	}
	// The endpoint is named by a host name that resolves to the guarded
	// address: the check is on the address dialled.
	hook := f.addHook(t, strings.Replace(f.recv.URL, "127.0.0.1", "localhost", 1)+"/self")
	f.run(t, f.store, delivery.Config{Guard: guard, RetryBase: time.Hour})
	f.createKey(t)
	waitFor(t, "the refused attempt", func() bool {
		dl := f.deliveries(t, hook)
		return len(dl) == 1 && dl[0].Attempts == 1
	})
	if dl := f.deliveries(t, hook)[0]; !strings.Contains(dl.LastError, "points at this server") {
		t.Errorf("delivery = %+v", dl)
	}
	for _, r := range f.recv.requests() {
		t.Errorf("the guarded server got a request: %+v", r)
	}
}

// TestPrivateAddressesBlocked: without --webhook-allow-private (the
// default guard, nil) nothing on loopback is reached, whether the URL
// names the address or a host name that resolves to it (the check is on
// the address dialled, so DNS cannot get around it), and a closed port
// reads exactly as an open one: no status, no time, the same words.
func TestPrivateAddressesBlocked(t *testing.T) {
	f := newFixture(t, nil)
	closed := httptest.NewServer(http.NotFoundHandler())
	closedURL := closed.URL
	closed.Close() // nothing listens there any more
	port := f.recv.Listener.Addr().(*net.TCPAddr).Port
	hooks := []webhook.Endpoint{
		f.hook, // http://127.0.0.1:port/hooks
		f.addHook(t, fmt.Sprintf("http://localhost:%d/by-name", port)),
		f.addHook(t, fmt.Sprintf("http://[::ffff:127.0.0.1]:%d/mapped", port)),
		f.addHook(t, closedURL+"/closed"),
	}
	f.run(t, f.store, delivery.Config{RetryBase: time.Hour}) // Guard nil: the default policy
	f.createKey(t)
	for _, h := range hooks {
		waitFor(t, "the attempt at "+h.URL, func() bool {
			dl := f.deliveries(t, h)
			return len(dl) == 1 && dl[0].Attempts == 1
		})
		dl := f.deliveries(t, h)[0]
		if dl.LastError != "blocked: private address" || dl.LastStatus != 0 || dl.LastDuration != 0 || dl.LastResponse != "" {
			t.Errorf("%s: error %q, status %d, duration %v, response %q; want only \"blocked: private address\"",
				h.URL, dl.LastError, dl.LastStatus, dl.LastDuration, dl.LastResponse)
		}
		if dl.State != webhook.Pending {
			t.Errorf("%s: state %s, want pending (retried: the name may resolve elsewhere later)", h.URL, dl.State)
		}
	}
	if got := f.recv.requests(); len(got) != 0 {
		t.Errorf("the loopback receiver got %d requests", len(got))
	}
}

// TestRedirectToPrivateNotFollowed: no public receiver can run in a test,
// so the guard counts one loopback receiver as public and judges every
// other address by the real policy. That receiver answers with a redirect
// to another loopback port: the redirect is not followed (and the target,
// a private address, is refused when named directly).
func TestRedirectToPrivateNotFollowed(t *testing.T) {
	f := newFixture(t, nil) // f.recv: the private target
	redirector := httptest.NewServer(http.RedirectHandler(f.recv.URL+"/internal", http.StatusTemporaryRedirect))
	t.Cleanup(redirector.Close)
	public := netip.MustParseAddrPort(redirector.Listener.Addr().String())
	guard := &webhook.Guard{IsPublic: func(ap netip.AddrPort) bool {
		return ap == public || webhook.PublicAddr(ap.Addr())
	}}
	hook := f.addHook(t, redirector.URL+"/hooks")
	f.run(t, f.store, delivery.Config{Guard: guard, RetryBase: time.Hour})
	f.createKey(t)
	for _, h := range []webhook.Endpoint{hook, f.hook} {
		waitFor(t, "the attempt at "+h.URL, func() bool {
			dl := f.deliveries(t, h)
			return len(dl) == 1 && dl[0].Attempts == 1
		})
	}
	if dl := f.deliveries(t, hook)[0]; dl.LastStatus != http.StatusTemporaryRedirect || !strings.Contains(dl.LastError, "not followed") {
		t.Errorf("at the public receiver: status %d, error %q; want its 307, not followed", dl.LastStatus, dl.LastError)
	}
	if dl := f.deliveries(t, f.hook)[0]; dl.LastError != "blocked: private address" {
		t.Errorf("at the private target: error %q, want blocked", dl.LastError)
	}
	if got := f.recv.requests(); len(got) != 0 {
		t.Errorf("the private target got %d requests", len(got))
	}
}

func TestLongResponseKept1KB(t *testing.T) {
	big := newReceiver(t, nil)
	big.Config.Handler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusInternalServerError)
		io.WriteString(w, strings.Repeat("é", 5000))
	})
	f := newFixture(t, nil)
	hook := f.addHook(t, big.URL)
	f.run(t, f.store, delivery.Config{Guard: allowLocal(), RetryBase: time.Hour})
	f.createKey(t)
	waitFor(t, "the attempt", func() bool {
		dl := f.deliveries(t, hook)
		return len(dl) == 1 && dl[0].Attempts == 1
	})
	if dl := f.deliveries(t, hook)[0]; len(dl.LastResponse) > webhook.MaxResponse || len(dl.LastResponse) < 1000 || dl.LastStatus != 500 {
		t.Errorf("kept %d bytes of the response (status %d), want at most %d", len(dl.LastResponse), dl.LastStatus, webhook.MaxResponse)
	}
}

// TestSeveralServersDeliverOnce: three servers share the queue; every
// event reaches the endpoint once.
func TestSeveralServersDeliverOnce(t *testing.T) {
	f := newFixture(t, nil)
	var stops []func()
	for i := range 3 {
		stops = append(stops, f.run(t, open(t, f.dsn), delivery.Config{Guard: allowLocal(), ServerID: fmt.Sprint("server-", i)}))
	}
	const n = 60
	for range n {
		f.createKey(t)
	}
	waitFor(t, "every delivery", func() bool {
		for _, dl := range f.deliveries(t, f.hook) {
			if dl.State != webhook.Delivered {
				return false
			}
		}
		return true
	})
	// No sleep for a duplicate to show: stop every server (each waits for
	// its attempts in flight), then count what was and could still be sent.
	for _, stop := range stops {
		stop()
	}
	f.settled(t)
	for _, dl := range f.deliveries(t, f.hook) {
		if dl.Attempts != 1 {
			t.Errorf("delivery %d: %d attempts, want 1", dl.ID, dl.Attempts)
		}
	}
	seen := map[string]int{}
	for _, r := range f.recv.requests() {
		seen[r.id]++
	}
	if len(seen) != n {
		t.Errorf("%d distinct events received, want %d", len(seen), n)
	}
	for id, c := range seen {
		if c != 1 {
			t.Errorf("event %s received %d times", id, c)
		}
	}
}

// TestStopGivesBackUnsent: a worker that stops gives back the claims of
// the deliveries it had not started, so the next server need not wait
// for them to run out.
func TestStopGivesBackUnsent(t *testing.T) {
	release := make(chan struct{})
	f := newFixture(t, func(int, *http.Request) int {
		<-release
		return http.StatusOK
	})
	for range 4 {
		f.createKey(t)
	}
	cancel, wait := f.start(t, f.store, delivery.Config{Guard: allowLocal(), Concurrency: 1})
	waitFor(t, "one delivery in flight", func() bool { return len(f.recv.requests()) == 1 })
	// The stop begins while the attempt is in flight, which then finishes:
	// in this order, not after a sleep that a slow machine may outlast.
	cancel()
	close(release)
	wait()
	var claimed int
	if err := f.store.SQL().QueryRow(`SELECT count(*) FROM webhook_deliveries WHERE claimed_by IS NOT NULL`).Scan(&claimed); err != nil {
		t.Fatal(err)
	}
	if claimed != 0 {
		t.Errorf("%d deliveries still claimed by the stopped worker", claimed)
	}
	dl := f.deliveries(t, f.hook)
	delivered := 0
	for _, d := range dl {
		if d.State == webhook.Delivered {
			delivered++
		}
	}
	if delivered != 1 || len(f.recv.requests()) != 1 {
		t.Errorf("%d delivered, %d sent; want the one in flight only", delivered, len(f.recv.requests()))
	}
}
