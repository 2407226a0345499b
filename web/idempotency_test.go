package web_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/blnk-cloud/apikeys/internal/apikey"
	"github.com/blnk-cloud/apikeys/web"
)

// The Idempotency middleware's tests run against a target: a POST route
// with it, and a count of the route's side effects. fakeCreate is a
// stand-in for POST /api/v1/keys (the management API comes from another
// branch): a handler that answers a new key with its secret, as the
// OpenAPI document describes it, and counts its runs. Once the real route
// is merged, a target that sends a management token and counts rows of
// api_keys runs the same tests against it.
type idemTarget struct {
	path  string                   // where to POST
	token func(i int) string       // the Authorization header of token i
	body  func(name string) string // a valid request body
	ran   func() int               // how many times the request really ran
}

// fakeCreate is a test server whose POST /api/v1/keys is a counting
// handler behind Idempotency, with the token id taken from
// "Authorization: Bearer blnkm_<id>". hold, when not nil, is waited on by
// the handler after it counted (to keep a request running); fail makes the
// handler return that error.
type fakeCreate struct {
	runs    atomic.Int64
	hold    chan struct{}
	started chan struct{} // receives once per run, when hold is set
	fail    atomic.Pointer[error]
}

func newFakeCreate(t *testing.T, ts *testServer) (*fakeCreate, idemTarget) {
	t.Helper()
	f := &fakeCreate{}
	scope := func(c echo.Context) (int64, bool) {
		tok, ok := strings.CutPrefix(c.Request().Header.Get("Authorization"), "Bearer blnkm_")
		if !ok {
			return 0, false
		}
		id, err := strconv.ParseInt(tok, 10, 64)
		return id, err == nil
	}
	web.AddRoute(ts.srv, http.MethodPost, "/api/v1/keys", f.handle, web.Idempotency(web.IdempotencyService(ts.srv), scope))
	return f, idemTarget{
		path:  "/api/v1/keys",
		token: func(i int) string { return "Bearer blnkm_" + strconv.Itoa(i) },
		body:  func(name string) string { return fmt.Sprintf(`{"name":%q,"scopes":["*"]}`, name) },
		ran:   func() int { return int(f.runs.Load()) },
	}
}

// holdGuard ends a hold that no test releases, so that a broken lock
// fails the tests instead of hanging them.
const holdGuard = 10 * time.Second

// failWith makes the handler return err (nil: answer again).
func (f *fakeCreate) failWith(err error) { f.fail.Store(&err) }

func (f *fakeCreate) handle(c echo.Context) error {
	n := f.runs.Add(1)
	if f.hold != nil {
		f.started <- struct{}{}
		select {
		case <-f.hold:
		case <-time.After(holdGuard):
			// Only when the lock is broken and a run nobody waits for
			// was held: the test fails on what it answers.
		}
	}
	if err := f.fail.Load(); err != nil && *err != nil {
		return *err
	}
	var in struct {
		Name string `json:"name"`
	}
	if err := json.NewDecoder(c.Request().Body).Decode(&in); err != nil {
		return echo.NewHTTPError(http.StatusBadRequest, "bad body")
	}
	secret, err := apikey.Generate()
	if err != nil {
		return err
	}
	id := fmt.Sprintf("key_%020d", n)
	c.Response().Header().Set("Location", "/api/v1/keys/"+id)
	return c.JSON(http.StatusCreated, map[string]any{
		"id": id, "name": in.Name, "description": "", "prefix": secret[:13], "scopes": []string{"*"}, "role": "member",
		"status": "active", "allowlist": []string{}, "created_at": "2026-03-10T12:00:00Z", "created_by": "admin@example.com",
		"expires_at": nil, "last_used_at": nil, "revoked_at": nil, "rolled_from": nil, "rolled_into": nil, "secret": secret,
	})
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
	ts := newTestServer(t, serverOpts{})
	_, tg := newFakeCreate(t, ts)
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
		t.Fatalf("the handler ran %d times, want 1", got)
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
		t.Errorf("the handler ran %d times, want 4", got)
	}
}

// TestIdempotencyKeyIsChecked: a key of 255 characters is fine; longer,
// empty, twice, or with a control character is 422 validation_failed
// naming the header, and nothing runs.
func TestIdempotencyKeyIsChecked(t *testing.T) {
	ts := newTestServer(t, serverOpts{})
	_, tg := newFakeCreate(t, ts)
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
		t.Errorf("the handler ran %d times, want 1", got)
	}
}

// TestIdempotencyInProgress: while the first request runs, a retry is
// 409 idempotency_in_progress with Retry-After; once it is answered, the
// retry gets its answer. A request still running after a minute (its
// server crashed) is taken over by a retry, which runs it again; the
// first caller still gets its own answer.
func TestIdempotencyInProgress(t *testing.T) {
	ts := newTestServer(t, serverOpts{})
	f, tg := newFakeCreate(t, ts)
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
		t.Errorf("the handler ran %d times, want 3 (slow, hung, and hung again by the takeover)", got)
	}
}

// TestIdempotencyKeepsRefusalsNotFailures: a 4xx answer is kept and
// replayed; a 500 is not (a retry runs again).
func TestIdempotencyKeepsRefusalsNotFailures(t *testing.T) {
	ts := newTestServer(t, serverOpts{})
	f, tg := newFakeCreate(t, ts)
	c := ts.client()
	f.failWith(echo.NewHTTPError(http.StatusConflict, "This key has been revoked."))
	for i := range 2 {
		if r := tg.post(c, 1, "refused", tg.body("a")); r.Code != http.StatusConflict || apiCode(t, r) != "conflict" {
			t.Fatalf("try %d: got %d %s, want 409 conflict", i, r.Code, r.Body)
		}
	}
	if got := tg.ran(); got != 1 {
		t.Fatalf("a refusal ran %d times, want 1 (kept)", got)
	}
	f.failWith(fmt.Errorf("the disk is on fire"))
	if r := tg.post(c, 1, "failed", tg.body("a")); r.Code != http.StatusInternalServerError {
		t.Fatalf("failure: got %d, want 500", r.Code)
	}
	f.failWith(nil)
	if r := tg.post(c, 1, "failed", tg.body("a")); r.Code != http.StatusCreated || r.Header.Get("Idempotent-Replayed") != "" {
		t.Fatalf("retry after a 500: got %d, replayed %q; want it run", r.Code, r.Header.Get("Idempotent-Replayed"))
	}
	if got := tg.ran(); got != 3 {
		t.Errorf("ran %d times, want 3", got)
	}
}

// TestIdempotencyExpires: after 24 hours a key is a new request, and the
// sweep deletes what is older.
func TestIdempotencyExpires(t *testing.T) {
	ts := newTestServer(t, serverOpts{})
	_, tg := newFakeCreate(t, ts)
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
			ts := newTestServer(t, serverOpts{})
			f, tg := newFakeCreate(t, ts)
			concurrentRetries(t, []*client{ts.client()}, []idemTarget{tg}, []*fakeCreate{f}, held)
		})
		t.Run(fmt.Sprintf("two servers, held %v", held), func(t *testing.T) {
			a := newTestServer(t, serverOpts{})
			b := newTestServer(t, serverOpts{dsn: a.dbPath})
			fa, ta := newFakeCreate(t, a)
			fb, tb := newFakeCreate(t, b)
			concurrentRetries(t, []*client{a.client(), b.client()}, []idemTarget{ta, tb}, []*fakeCreate{fa, fb}, held)
		})
	}
}

func concurrentRetries(t *testing.T, clients []*client, targets []idemTarget, fakes []*fakeCreate, held bool) {
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
	ran := 0
	for _, tg := range targets {
		ran += tg.ran()
	}
	if ran != 1 {
		t.Fatalf("the handler ran %d times, want 1", ran)
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
