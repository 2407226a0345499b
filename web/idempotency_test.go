package web_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/blnk-cloud/apikeys/db"
	"github.com/blnk-cloud/apikeys/internal/apikey"
	"github.com/blnk-cloud/apikeys/internal/blnk"
	"github.com/blnk-cloud/apikeys/internal/keys"
	"github.com/blnk-cloud/apikeys/web"
)

// The Idempotency-Key tests run against the real POST /api/v1/keys of a
// test server whose admin has three management tokens. What ran is
// counted as rows of api_keys. keyGate stands between the keys service
// and the database to hold a create (to keep a request running) or fail
// it.
type idemTarget struct {
	ts     *testServer // the database the keys are counted in
	path   string      // where to POST
	tokens []string    // the secrets of tokens 1, 2, 3
	base   int         // rows of api_keys before the test
}

// token is the Authorization header of token i (1 to 3).
func (tg idemTarget) token(i int) string { return "Bearer " + tg.tokens[i-1] }

// body is a valid create's body.
func (tg idemTarget) body(name string) string {
	return fmt.Sprintf(`{"name":%q,"scopes":["mcp:read"]}`, name)
}

// ran returns how many keys the requests created.
func (tg idemTarget) ran() int { return tg.ts.count("api_keys") - tg.base }

// keyGate is the keys service's store: the database, but for CreateKey,
// which waits on hold (when set, after telling started) and returns fail
// (when set).
type keyGate struct {
	keys.Store
	hold    chan struct{}
	started chan struct{}
	fail    atomic.Pointer[error]
}

func (g *keyGate) wrap(d *db.DB) keys.Store { g.Store = d; return g }

func (g *keyGate) CreateKey(ctx context.Context, nk blnk.NewKey) (apikey.Key, bool, error) {
	if g.hold != nil {
		g.started <- struct{}{}
		select {
		case <-g.hold:
		case <-time.After(holdGuard):
			// Only when the lock is broken and a run nobody waits for
			// was held: the test fails on what it answers.
		}
	}
	if err := g.fail.Load(); err != nil && *err != nil {
		return apikey.Key{}, false, *err
	}
	return g.Store.CreateKey(ctx, nk)
}

// failWith makes creates fail with err (nil: work again).
func (g *keyGate) failWith(err error) { g.fail.Store(&err) }

// holdGuard ends a hold that no test releases, so that a broken lock
// fails the tests instead of hanging them.
const holdGuard = 10 * time.Second

// newIdemTarget returns a signed-in server with three management tokens,
// its gate, and its POST /api/v1/keys.
func newIdemTarget(t *testing.T) (*testServer, *keyGate, idemTarget) {
	t.Helper()
	g := &keyGate{}
	ts, admin := newSignedIn(t, serverOpts{keyStore: g.wrap})
	tg := idemTarget{ts: ts, path: "/api/v1/keys"}
	for i := range 3 {
		tg.tokens = append(tg.tokens, admin.createToken(fmt.Sprintf("ci %d", i+1), allTokenScopes...))
	}
	tg.base = ts.count("api_keys")
	return ts, g, tg
}

// on returns the target served by another server of tg's database, and
// its gate.
func (tg idemTarget) on(t *testing.T) (*testServer, *keyGate, idemTarget) {
	t.Helper()
	g := &keyGate{}
	other := newTestServer(t, serverOpts{dsn: tg.ts.dbPath, keyStore: g.wrap})
	return other, g, tg
}

// post sends a target's request with an Idempotency-Key (none if key is
// "").
func (tg idemTarget) post(c *client, tokenN int, key, body string, opts ...opt) *response {
	c.t.Helper()
	o := []opt{noCookies(), header("Authorization", tg.token(tokenN)), rawBody(strings.NewReader(body), "application/json")}
	if key != "" {
		o = append(o, header("Idempotency-Key", key))
	}
	return c.do(http.MethodPost, tg.path, nil, append(o, opts...)...)
}

func apiCode(t *testing.T, r *response) string {
	t.Helper()
	var e struct {
		Error struct {
			Code   string            `json:"code"`
			Fields map[string]string `json:"fields"`
		} `json:"error"`
	}
	if err := json.Unmarshal([]byte(r.Body), &e); err != nil {
		t.Fatalf("%d: not the JSON error: %v\n%s", r.Code, err, r.Body)
	}
	return e.Error.Code
}

func jsonObject(t *testing.T, body string) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal([]byte(body), &m); err != nil {
		t.Fatalf("not a JSON object: %v\n%s", err, body)
	}
	return m
}

// TestIdempotencyReplays: a retry with the same key and body gets the
// first answer again, with its status and Location, and runs nothing; the
// secret is the first caller's only (the replay has null and a note, and
// no table holds it); another body is 422 idempotency_mismatch; another
// token's same key, or no key, runs again.
func TestIdempotencyReplays(t *testing.T) {
	ts, _, tg := newIdemTarget(t)
	c := ts.client()

	first := tg.post(c, 1, "create-ci-key", tg.body("CI"))
	if first.Code != http.StatusCreated {
		t.Fatalf("first: got %d, want 201\n%s", first.Code, first.Body)
	}
	secret, _ := jsonObject(t, first.Body)["secret"].(string)
	if _, err := apikey.Parse(secret); err != nil {
		t.Fatalf("first answer's secret %q: %v", secret, err)
	}
	if first.Header.Get("Idempotent-Replayed") != "" {
		t.Errorf("the first answer says Idempotent-Replayed")
	}

	for i := range 2 {
		again := tg.post(c, 1, "create-ci-key", tg.body("CI"))
		if again.Code != http.StatusCreated || again.Header.Get("Idempotent-Replayed") != "true" {
			t.Fatalf("retry %d: got %d, Idempotent-Replayed %q; want 201, true\n%s", i, again.Code, again.Header.Get("Idempotent-Replayed"), again.Body)
		}
		if got, want := again.Header.Get("Location"), first.Header.Get("Location"); got != want || got == "" {
			t.Errorf("retry %d: Location %q, want %q", i, got, want)
		}
		if strings.Contains(again.Body, secret) {
			t.Fatalf("retry %d: the replay holds the secret\n%s", i, again.Body)
		}
		want, got := jsonObject(t, first.Body), jsonObject(t, again.Body)
		want["secret"], want["note"] = nil, "The secret was shown in the first answer only; roll the key if it was lost."
		if a, b := fmt.Sprint(want), fmt.Sprint(got); a != b {
			t.Errorf("retry %d: body\n got %s\nwant %s", i, b, a)
		}
	}
	if got := tg.ran(); got != 1 {
		t.Fatalf("%d keys were created, want 1", got)
	}
	for name, b := range ts.dbFiles() {
		if strings.Contains(string(b), secret) {
			t.Errorf("%s holds the secret", name)
		}
	}

	r := tg.post(c, 1, "create-ci-key", tg.body("CI 2"))
	if r.Code != http.StatusUnprocessableEntity || apiCode(t, r) != "idempotency_mismatch" {
		t.Errorf("same key, another body: got %d %s, want 422 idempotency_mismatch", r.Code, r.Body)
	}
	if r := tg.post(c, 2, "create-ci-key", tg.body("CI 2")); r.Code != http.StatusCreated || r.Header.Get("Idempotent-Replayed") != "" {
		t.Errorf("another token's same key: got %d, replayed %q; want 201, run", r.Code, r.Header.Get("Idempotent-Replayed"))
	}
	for range 2 {
		if r := tg.post(c, 1, "", tg.body("No key")); r.Code != http.StatusCreated {
			t.Errorf("no Idempotency-Key: got %d, want 201", r.Code)
		}
	}
	if got := tg.ran(); got != 4 {
		t.Errorf("%d keys were created, want 4", got)
	}
}

// TestIdempotencyKeyIsChecked: a key of 255 characters is fine; longer,
// empty, twice, or with a control character is 422 validation_failed
// naming the header, and nothing runs.
func TestIdempotencyKeyIsChecked(t *testing.T) {
	ts, _, tg := newIdemTarget(t)
	c := ts.client()
	if r := tg.post(c, 1, strings.Repeat("k", 255), tg.body("a")); r.Code != http.StatusCreated {
		t.Fatalf("255 characters: got %d, want 201\n%s", r.Code, r.Body)
	}
	for _, tt := range []struct {
		name string
		opt  opt
	}{
		{"256 characters", header("Idempotency-Key", strings.Repeat("k", 256))},
		{"empty", header("Idempotency-Key", "")},
		{"a control character", header("Idempotency-Key", "a\x01b")},
		{"DEL", header("Idempotency-Key", "a\x7fb")},
		{"a C1 control character", header("Idempotency-Key", "a\u0085b")},
		{"invalid UTF-8", header("Idempotency-Key", "a\xffb")},
		{"twice", headers("Idempotency-Key", "one", "two")},
	} {
		t.Run(tt.name, func(t *testing.T) {
			r := tg.post(c, 1, "", tg.body("a"), tt.opt)
			if r.Code != http.StatusUnprocessableEntity || apiCode(t, r) != "validation_failed" {
				t.Fatalf("got %d %s, want 422 validation_failed", r.Code, r.Body)
			}
			if !strings.Contains(r.Body, `"Idempotency-Key"`) {
				t.Errorf("the error does not name the header: %s", r.Body)
			}
		})
	}
	if got := tg.ran(); got != 1 {
		t.Errorf("%d keys were created, want 1", got)
	}
}

// TestIdempotencyInProgress: while the first request runs, a retry is
// 409 idempotency_in_progress with Retry-After; once it is answered, the
// retry gets its answer. A request still running after a minute (its
// server crashed) is taken over by a retry, which runs it again; the
// first caller still gets its own answer.
func TestIdempotencyInProgress(t *testing.T) {
	ts, f, tg := newIdemTarget(t)
	f.hold, f.started = make(chan struct{}), make(chan struct{}, 100)
	c := ts.client()

	done := make(chan *response)
	go func() { done <- tg.post(c, 1, "slow", tg.body("Slow")) }()
	<-f.started
	r := tg.post(c, 1, "slow", tg.body("Slow"))
	if r.Code != http.StatusConflict || apiCode(t, r) != "idempotency_in_progress" || r.Header.Get("Retry-After") == "" {
		t.Fatalf("retry while running: got %d %s (Retry-After %q), want 409 idempotency_in_progress", r.Code, r.Body, r.Header.Get("Retry-After"))
	}
	f.hold <- struct{}{}
	if first := <-done; first.Code != http.StatusCreated {
		t.Fatalf("first: got %d", first.Code)
	}
	if r := tg.post(c, 1, "slow", tg.body("Slow")); r.Code != http.StatusCreated || r.Header.Get("Idempotent-Replayed") != "true" {
		t.Fatalf("retry after: got %d, replayed %q", r.Code, r.Header.Get("Idempotent-Replayed"))
	}

	// A request that hangs past the takeover time.
	go func() { done <- tg.post(c, 1, "hung", tg.body("Hung")) }()
	<-f.started
	ts.clock.Advance(59 * time.Second)
	if r := tg.post(c, 1, "hung", tg.body("Hung")); r.Code != http.StatusConflict {
		t.Fatalf("retry within the minute: got %d, want 409", r.Code)
	}
	ts.clock.Advance(2 * time.Second)
	second := make(chan *response)
	go func() { second <- tg.post(c, 1, "hung", tg.body("Hung")) }()
	<-f.started // the retry took over, and runs
	f.hold <- struct{}{}
	f.hold <- struct{}{}
	a, b := <-done, <-second
	if a.Code != http.StatusCreated || b.Code != http.StatusCreated {
		t.Fatalf("hung request and its takeover: got %d and %d, want 201 both", a.Code, b.Code)
	}
	kept := tg.post(c, 1, "hung", tg.body("Hung"))
	if kept.Code != http.StatusCreated || kept.Header.Get("Idempotent-Replayed") != "true" {
		t.Fatalf("retry after the takeover: got %d, replayed %q", kept.Code, kept.Header.Get("Idempotent-Replayed"))
	}
	if got, want := jsonObject(t, kept.Body)["id"], jsonObject(t, b.Body)["id"]; got != want {
		t.Errorf("the kept answer is of key %v, want the takeover's %v", got, want)
	}
	if got := tg.ran(); got != 3 {
		t.Errorf("%d keys were created, want 3 (slow, hung, and hung again by the takeover)", got)
	}
}

// TestIdempotencyKeepsRefusalsNotFailures: a 4xx answer is kept and
// replayed; a 500 is not (a retry runs again).
func TestIdempotencyKeepsRefusalsNotFailures(t *testing.T) {
	ts, f, tg := newIdemTarget(t)
	c := ts.client()
	// A refusal that handleError writes after the handler returned:
	// kept, and replayed with its status and body.
	refused := tg.post(c, 1, "refused", tg.body(""))
	if refused.Code != http.StatusUnprocessableEntity || apiCode(t, refused) != "validation_failed" {
		t.Fatalf("an empty name: got %d %s, want 422 validation_failed", refused.Code, refused.Body)
	}
	again := tg.post(c, 1, "refused", tg.body(""))
	if again.Code != refused.Code || again.Body != refused.Body || again.Header.Get("Idempotent-Replayed") != "true" {
		t.Fatalf("the refusal again: got %d %s (replayed %q), want the first answer replayed", again.Code, again.Body, again.Header.Get("Idempotent-Replayed"))
	}
	f.failWith(fmt.Errorf("the disk is on fire"))
	if r := tg.post(c, 1, "failed", tg.body("a")); r.Code != http.StatusInternalServerError {
		t.Fatalf("failure: got %d, want 500", r.Code)
	}
	f.failWith(nil)
	if r := tg.post(c, 1, "failed", tg.body("a")); r.Code != http.StatusCreated || r.Header.Get("Idempotent-Replayed") != "" {
		t.Fatalf("retry after a 500: got %d, replayed %q; want it run", r.Code, r.Header.Get("Idempotent-Replayed"))
	}
	if got := tg.ran(); got != 1 {
		t.Errorf("%d keys created, want 1", got)
	}
}

// TestIdempotencyExpires: after 24 hours a key is a new request, and the
// sweep deletes what is older.
func TestIdempotencyExpires(t *testing.T) {
	ts, _, tg := newIdemTarget(t)
	c := ts.client()
	tg.post(c, 1, "daily", tg.body("a"))
	ts.clock.Advance(24*time.Hour - time.Millisecond)
	if r := tg.post(c, 1, "daily", tg.body("a")); r.Header.Get("Idempotent-Replayed") != "true" {
		t.Fatalf("within 24 hours: got %d, not replayed", r.Code)
	}
	ts.clock.Advance(2 * time.Millisecond)
	if r := tg.post(c, 1, "daily", tg.body("other")); r.Code != http.StatusCreated || r.Header.Get("Idempotent-Replayed") != "" {
		t.Fatalf("after 24 hours, another body: got %d %s, want it run", r.Code, r.Body)
	}
	tg.post(c, 2, "other", tg.body("a"))
	ts.clock.Advance(24*time.Hour + time.Millisecond)
	tg.post(c, 3, "fresh", tg.body("a"))
	n, err := web.IdempotencyService(ts.srv).Sweep(context.Background())
	if err != nil || n != 2 {
		t.Fatalf("Sweep: %d, %v; want 2", n, err)
	}
	if got := ts.count("idempotency_keys"); got != 1 {
		t.Errorf("rows after the sweep: %d, want 1", got)
	}
}

// TestIdempotencyConcurrentRetries: 50 requests with one key at once, on
// one server and then on two servers of one database, run the handler
// once; each of the others gets 409 idempotency_in_progress or the
// replay. Held: the handler waits until the 49 others are answered, which
// must then all be 409.
func TestIdempotencyConcurrentRetries(t *testing.T) {
	for _, held := range []bool{false, true} {
		t.Run(fmt.Sprintf("one server, held %v", held), func(t *testing.T) {
			ts, f, tg := newIdemTarget(t)
			concurrentRetries(t, []*client{ts.client()}, []idemTarget{tg}, []*keyGate{f}, held)
		})
		t.Run(fmt.Sprintf("two servers, held %v", held), func(t *testing.T) {
			a, fa, ta := newIdemTarget(t)
			b, fb, tb := ta.on(t)
			concurrentRetries(t, []*client{a.client(), b.client()}, []idemTarget{ta, tb}, []*keyGate{fa, fb}, held)
		})
	}
}

func concurrentRetries(t *testing.T, clients []*client, targets []idemTarget, fakes []*keyGate, held bool) {
	const n = 50
	hold, started := make(chan struct{}), make(chan struct{}, n)
	if held {
		for _, f := range fakes {
			f.hold, f.started = hold, started
		}
	}
	var wg sync.WaitGroup
	codes := make([]int, n)
	replayed := make([]bool, n)
	answered := make(chan struct{}, n)
	for i := range n {
		wg.Go(func() {
			k := i % len(clients)
			r := targets[k].post(clients[k], 1, "burst", targets[k].body("Burst"))
			codes[i], replayed[i] = r.Code, r.Header.Get("Idempotent-Replayed") == "true"
			answered <- struct{}{}
		})
	}
	if held {
		<-started
	wait:
		for range n - 1 {
			select {
			case <-answered:
			case <-started: // a second run: the lock does not hold
				t.Errorf("the handler started again while the first run was held")
				break wait
			}
		}
		close(hold)
	}
	wg.Wait()
	if ran := targets[0].ran(); ran != 1 {
		t.Fatalf("%d keys were created, want 1", ran)
	}
	first, inProgress := 0, 0
	for i, code := range codes {
		switch {
		case code == http.StatusCreated && !replayed[i]:
			first++
		case code == http.StatusCreated:
		case code == http.StatusConflict:
			inProgress++
		default:
			t.Errorf("request %d: got %d, want 201 or 409", i, code)
		}
	}
	if first != 1 {
		t.Errorf("%d answers were not replays, want 1", first)
	}
	if held && inProgress != n-1 {
		t.Errorf("%d answers were 409 while the first was held, want %d", inProgress, n-1)
	}
	t.Logf("%d in progress, %d replays", inProgress, n-1-inProgress)
	if r := targets[0].post(clients[0], 1, "burst", targets[0].body("Burst")); r.Header.Get("Idempotent-Replayed") != "true" {
		t.Errorf("after the burst: got %d, not replayed", r.Code)
	}
}
