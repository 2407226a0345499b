package web_test

// The harness of the HTTP tests: a real Server on a real SQLite file, an
// injectable clock, a log buffer, and a client that keeps cookies like a
// browser. Everything goes through Server.ServeHTTP with httptest, so the
// tests exercise the real router and middleware.

import (
	"bytes"
	"context"
	"crypto/tls"
	"database/sql"
	"encoding/hex"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/netip"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/PuerkitoBio/goquery"
	"github.com/blnk-cloud/apikeys/db"
	"github.com/blnk-cloud/apikeys/internal/apikey"
	"github.com/blnk-cloud/apikeys/internal/keyauth"
	"github.com/blnk-cloud/apikeys/internal/keys"
	"github.com/blnk-cloud/apikeys/internal/password"
	"github.com/blnk-cloud/apikeys/internal/testkit"
	"github.com/blnk-cloud/apikeys/internal/testkit/htmlcheck"
	"github.com/blnk-cloud/apikeys/internal/testkit/openapicheck"
	"github.com/blnk-cloud/apikeys/web"
)

// origin is where the test server pretends to live.
const (
	origin = "http://dash.test"
	host   = "dash.test"
)

// The first admin that setup creates by default.
const (
	adminWorkspace = "Acme Corp"
	adminEmail     = "admin@example.com"
	adminPassword  = "correct horse battery staple"
)

// start is the clock's starting point: a fixed instant, so dates in pages
// are predictable.
var start = time.Date(2026, 3, 10, 12, 0, 0, 0, time.UTC)

// serverOpts changes the test server's configuration.
type serverOpts struct {
	// proxies are the trusted proxies (Config.TrustedProxies).
	proxies []netip.Prefix
	keyauth keyauth.Config
	config  func(*web.Config) // applied last
	dsn     string            // the database to serve (already migrated); default: a fresh one
	// sharedLogins keeps the sign-in throttle in the database, as serve
	// does, instead of in memory.
	sharedLogins bool
	// keyStore, when set, is the keys service's store in place of the
	// database (a wrapper of it, to hold or fail a write).
	keyStore func(*db.DB) keys.Store
}

// testServer is a Server with everything a test may want to look at.
type testServer struct {
	t      *testing.T
	srv    *web.Server
	db     *db.DB
	auth   *keyauth.Authenticator
	keys   *keys.Service
	clock  *testkit.Clock
	logs   *testkit.LogBuffer
	dir    string
	dbPath string
	raw    *sql.DB // a second connection, for counting rows

	mu        sync.Mutex
	responses []*response // every response any client got, in order
}

// newTestServer returns a server on a fresh database, with no admin yet.
func newTestServer(t *testing.T, opts serverOpts) *testServer {
	t.Helper()
	ctx := context.Background()
	dir := t.TempDir()
	path := opts.dsn
	if path == "" {
		path = testkit.DSN(t)
	}
	store, err := db.Open(ctx, path)
	if err != nil {
		t.Fatalf("db.Open: %v", err)
	}
	t.Cleanup(func() { store.Close() })

	clk := testkit.NewClock(start)
	logs := &testkit.LogBuffer{}
	log := slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))

	kcfg := opts.keyauth
	if kcfg.Now == nil {
		kcfg.Now = clk.Now
	}
	auth, err := keyauth.New(ctx, kcfg, store, log)
	if err != nil {
		t.Fatalf("keyauth.New: %v", err)
	}
	t.Cleanup(func() { auth.Close() })

	cfg := web.Config{
		SessionSecret:  []byte("0123456789abcdef0123456789abcdef-test-secret"),
		Passwords:      password.FastHasher,
		Now:            clk.Now,
		TrustedProxies: opts.proxies,
	}
	if opts.sharedLogins {
		cfg.SharedLogins = store
	}
	if opts.config != nil {
		opts.config(&cfg)
	}
	var kstore keys.Store = store
	if opts.keyStore != nil {
		kstore = opts.keyStore(store)
	}
	keyring := keys.New(keys.Config{Now: clk.Now}, kstore, auth, log)
	srv, err := web.New(cfg, store, auth, keyring, log)
	if err != nil {
		t.Fatalf("web.New: %v", err)
	}

	raw := store.SQL()
	return &testServer{t: t, srv: srv, db: store, auth: auth, keys: keyring, clock: clk, logs: logs, dir: dir, dbPath: path, raw: raw}
}

// prefixes reads CIDRs or single addresses, for serverOpts.proxies.
func prefixes(s ...string) []netip.Prefix {
	out := make([]netip.Prefix, len(s))
	for i, v := range s {
		if p, err := netip.ParsePrefix(v); err == nil {
			out[i] = p
			continue
		}
		a := netip.MustParseAddr(v)
		out[i] = netip.PrefixFrom(a, a.BitLen())
	}
	return out
}

// newSignedIn returns a server whose first admin was created through
// /setup, and that admin's signed-in client.
func newSignedIn(t *testing.T, opts serverOpts) (*testServer, *client) {
	t.Helper()
	ts := newTestServer(t, opts)
	c := ts.client()
	c.setup(adminWorkspace, adminEmail, adminPassword)
	return ts, c
}

// count returns the number of rows of table.
func (ts *testServer) count(table string) int {
	ts.t.Helper()
	var n int
	if err := ts.raw.QueryRow(`SELECT count(*) FROM ` + table).Scan(&n); err != nil {
		ts.t.Fatalf("count %s: %v", table, err)
	}
	return n
}

// sessionHashes returns the ids (token hashes) of the stored sessions.
func (ts *testServer) sessionHashes() map[string]bool {
	ts.t.Helper()
	rows, err := ts.raw.Query(`SELECT token_hash FROM sessions`)
	if err != nil {
		ts.t.Fatal(err)
	}
	defer rows.Close()
	out := map[string]bool{}
	for rows.Next() {
		var h []byte
		if err := rows.Scan(&h); err != nil {
			ts.t.Fatal(err)
		}
		out[strings.ToUpper(hex.EncodeToString(h))] = true
	}
	return out
}

// counts returns the row counts of the tables a form could write to.
func (ts *testServer) counts() map[string]int {
	ts.t.Helper()
	m := map[string]int{}
	for _, table := range []string{"workspaces", "users", "memberships", "api_keys", "api_key_changes", "audit_events"} {
		m[table] = ts.count(table)
	}
	return m
}

// checkCounts fails if any table's row count differs from before.
func (ts *testServer) checkCounts(t *testing.T, before map[string]int) {
	t.Helper()
	after := ts.counts()
	for table, n := range before {
		if after[table] != n {
			t.Errorf("rows in %s: got %d, want %d (nothing written)", table, after[table], n)
		}
	}
}

// addWorkspace creates another workspace and its admin directly in the
// database, and returns that admin's signed-in client.
func (ts *testServer) addWorkspace(name, email, pw string) *client {
	ts.t.Helper()
	hash, err := password.FastHasher.Hash(pw)
	if err != nil {
		ts.t.Fatal(err)
	}
	if _, _, err := ts.db.CreateWorkspaceAdmin(context.Background(), name, email, hash, ts.clock.Now()); err != nil {
		ts.t.Fatalf("CreateWorkspaceAdmin: %v", err)
	}
	c := ts.client()
	c.signIn(email, pw)
	return c
}

// record keeps a response for the scans for leaked secrets.
func (ts *testServer) record(r *response) {
	ts.mu.Lock()
	defer ts.mu.Unlock()
	ts.responses = append(ts.responses, r)
}

// mark returns the number of responses so far: responses from mark on
// are those after it.
func (ts *testServer) mark() int {
	ts.mu.Lock()
	defer ts.mu.Unlock()
	return len(ts.responses)
}

// responsesSince returns the responses recorded from mark on.
func (ts *testServer) responsesSince(mark int) []*response {
	ts.mu.Lock()
	defer ts.mu.Unlock()
	return append([]*response(nil), ts.responses[mark:]...)
}

// dbFiles returns what the database holds, as bytes to scan for secrets:
// for SQLite the database file and its WAL and shared-memory files,
// whichever exist; for PostgreSQL every row of every table, as text.
func (ts *testServer) dbFiles() map[string][]byte {
	ts.t.Helper()
	out := map[string][]byte{}
	if ts.db.Kind() == db.Postgres {
		tables, err := ts.raw.Query(`SELECT table_name FROM information_schema.tables WHERE table_schema = current_schema()`)
		if err != nil {
			ts.t.Fatal(err)
		}
		var names []string
		for tables.Next() {
			var n string
			if err := tables.Scan(&n); err != nil {
				ts.t.Fatal(err)
			}
			names = append(names, n)
		}
		tables.Close()
		for _, n := range names {
			var dump []byte
			if err := ts.raw.QueryRow(`SELECT COALESCE(string_agg(t::text, E'\n'), '') FROM ` + n + ` t`).Scan(&dump); err != nil {
				ts.t.Fatalf("dump %s: %v", n, err)
			}
			out[n] = dump
		}
		return out
	}
	matches, _ := filepath.Glob(ts.dbPath + "*")
	for _, m := range matches {
		b, err := os.ReadFile(m)
		if err != nil {
			ts.t.Fatalf("read %s: %v", m, err)
		}
		out[filepath.Base(m)] = b
	}
	return out
}

// client is a browser: it keeps cookies, and sends Sec-Fetch-Site:
// same-origin with POSTs as browsers do.
type client struct {
	t          *testing.T
	ts         *testServer
	jar        *cookiejar.Jar
	remoteAddr string
}

func (ts *testServer) client() *client {
	jar, err := cookiejar.New(nil)
	if err != nil {
		ts.t.Fatal(err)
	}
	return &client{t: ts.t, ts: ts, jar: jar, remoteAddr: "192.0.2.10:40000"}
}

// response is what a request got back.
type response struct {
	Code    int
	Header  http.Header
	Body    string
	Cookies []*http.Cookie
	Method  string
	Target  string
}

// cookie returns the Set-Cookie of the response named name, or nil.
func (r *response) cookie(name string) *http.Cookie {
	for _, c := range r.Cookies {
		if c.Name == name {
			return c
		}
	}
	return nil
}

// String is everything a response sends: status, headers and body.
func (r *response) String() string {
	var b strings.Builder
	b.WriteString(strconv.Itoa(r.Code) + " " + http.StatusText(r.Code) + "\n")
	r.Header.Write(&b)
	b.WriteString("\n")
	b.WriteString(r.Body)
	return b.String()
}

// req is one request's options.
type req struct {
	header     http.Header
	unset      []string       // headers to remove (e.g. the default Sec-Fetch-Site)
	cookies    []*http.Cookie // sent instead of the jar's cookies, when set
	noCookies  bool           // send no cookie at all
	tls        bool
	remoteAddr string
	body       io.Reader // a raw body instead of the form
	ctype      string
}

type opt func(*req)

// header sets a request header.
func header(k, v string) opt {
	return func(r *req) { r.header.Set(k, v) }
}

// headers sends the header name once for each value, as separate fields.
func headers(name string, values ...string) opt {
	return func(r *req) { r.header[http.CanonicalHeaderKey(name)] = values }
}

// without removes a header the client would send by default.
func without(k string) opt { return func(r *req) { r.unset = append(r.unset, k) } }

// htmx marks the request as made by htmx.
func htmx() opt { return header("HX-Request", "true") }

// withCookies sends these cookies instead of the jar's (a replay).
func withCookies(cs []*http.Cookie) opt { return func(r *req) { r.cookies = cs } }

// noCookies sends no cookie.
func noCookies() opt { return func(r *req) { r.noCookies = true } }

// overTLS makes the request arrive over TLS.
func overTLS() opt { return func(r *req) { r.tls = true } }

// fromAddr sets the client's address.
func fromAddr(addr string) opt { return func(r *req) { r.remoteAddr = addr } }

// rawBody sends body as the request body.
func rawBody(body io.Reader, ctype string) opt {
	return func(r *req) { r.body, r.ctype = body, ctype }
}

// do sends a request to the server and returns its response. A form is
// sent URL-encoded.
func (c *client) do(method, target string, form url.Values, opts ...opt) *response {
	c.t.Helper()
	o := &req{header: http.Header{}}
	for _, f := range opts {
		f(o)
	}
	var body io.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	}
	if o.body != nil {
		body = o.body
	}
	// The API's exchanges are held to the OpenAPI document, which needs
	// the request's body after the server has read it.
	api := strings.HasPrefix(target, "/api/")
	var sent []byte
	if api && body != nil {
		var err error
		if sent, err = io.ReadAll(body); err != nil {
			c.t.Fatalf("read the request body: %v", err)
		}
		body = bytes.NewReader(sent)
	}
	r := httptest.NewRequest(method, origin+target, body)
	r.RemoteAddr = c.remoteAddr
	if o.remoteAddr != "" {
		r.RemoteAddr = o.remoteAddr
	}
	if form != nil {
		r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	if o.ctype != "" {
		r.Header.Set("Content-Type", o.ctype)
	}
	if method == http.MethodPost {
		r.Header.Set("Sec-Fetch-Site", "same-origin")
	}
	for k, vs := range o.header {
		r.Header[k] = vs
	}
	for _, k := range o.unset {
		r.Header.Del(k)
	}
	if o.tls {
		r.TLS = &tls.ConnectionState{}
	}
	u := r.URL
	switch {
	case o.noCookies:
	case o.cookies != nil:
		for _, ck := range o.cookies {
			r.AddCookie(&http.Cookie{Name: ck.Name, Value: ck.Value})
		}
	default:
		for _, ck := range c.jar.Cookies(u) {
			r.AddCookie(ck)
		}
	}

	w := httptest.NewRecorder()
	c.ts.srv.ServeHTTP(w, r)
	res := w.Result()
	b, _ := io.ReadAll(res.Body)
	out := &response{Code: res.StatusCode, Header: res.Header, Body: string(b), Cookies: res.Cookies(), Method: method, Target: target}
	if !o.noCookies && o.cookies == nil {
		c.jar.SetCookies(u, res.Cookies())
	}
	c.ts.record(out)
	if api {
		checkOpenAPI(c.t, r, sent, out)
	}
	return out
}

// openAPI is the checker of every API exchange of this test binary,
// loaded once.
var openAPI = sync.OnceValues(openapicheck.New)

// checkOpenAPI fails the test when an API exchange is not one the OpenAPI
// document describes (openapicheck.Checker.Check).
func checkOpenAPI(t *testing.T, r *http.Request, body []byte, res *response) {
	t.Helper()
	chk, err := openAPI()
	if err != nil {
		t.Fatalf("openapicheck: %v", err)
	}
	x := openapicheck.Exchange{Request: r, RequestBody: body, Status: res.Code, Header: res.Header, Body: []byte(res.Body)}
	if err := chk.Check(context.Background(), x); err != nil {
		t.Errorf("OpenAPI: %v", err)
	}
}

func (c *client) get(target string, opts ...opt) *response {
	c.t.Helper()
	return c.do(http.MethodGet, target, nil, opts...)
}

func (c *client) post(target string, form url.Values, opts ...opt) *response {
	c.t.Helper()
	if form == nil {
		form = url.Values{}
	}
	return c.do(http.MethodPost, target, form, opts...)
}

// follow GETs the Location of a redirect.
func (c *client) follow(r *response, opts ...opt) *response {
	c.t.Helper()
	loc := r.Header.Get("Location")
	if loc == "" {
		loc = r.Header.Get("HX-Redirect")
	}
	if loc == "" {
		c.t.Fatalf("%s %s: no Location to follow (status %d)", r.Method, r.Target, r.Code)
	}
	return c.get(loc, opts...)
}

// cookiesFor returns the cookies the client would send to path.
func (c *client) cookiesFor(path string) []*http.Cookie {
	u, _ := url.Parse(origin + path)
	return c.jar.Cookies(u)
}

// sessionCookie returns the value of the client's session cookie.
func (c *client) sessionCookie() string {
	for _, ck := range c.cookiesFor("/") {
		if ck.Name == "blnk_session" {
			return ck.Value
		}
	}
	return ""
}

// setup creates the first admin through /setup; the client is then
// signed in.
func (c *client) setup(workspace, email, password string) {
	c.t.Helper()
	r := c.post("/setup", url.Values{"workspace": {workspace}, "email": {email}, "password": {password}, "confirm": {password}})
	if r.Code != http.StatusSeeOther || r.Header.Get("Location") != "/settings/api-keys" {
		c.t.Fatalf("POST /setup: got %d Location %q, want 303 to /settings/api-keys\n%s", r.Code, r.Header.Get("Location"), r.Body)
	}
}

// signIn signs the client in, failing the test if that does not work.
func (c *client) signIn(email, password string) {
	c.t.Helper()
	r := c.post("/login", url.Values{"email": {email}, "password": {password}})
	if r.Code != http.StatusSeeOther {
		c.t.Fatalf("POST /login: got %d, want 303\n%s", r.Code, r.Body)
	}
}

// newKey is a key created through the dashboard.
type newKey struct {
	ID     string
	Token  string
	Prefix string
	Reveal *response // the reveal page that showed the token
}

// keyForm returns a create form with a fresh form token.
func keyForm(name string, expires string, scopes ...string) url.Values {
	if len(scopes) == 0 {
		scopes = []string{"*"}
	}
	return url.Values{"name": {name}, "scopes": scopes, "expires": {expires}, "form_token": {formToken()}}
}

var formTokenN struct {
	sync.Mutex
	n int
}

// formToken returns a form token unique in the test binary.
func formToken() string {
	formTokenN.Lock()
	defer formTokenN.Unlock()
	formTokenN.n++
	return fmt.Sprintf("%032x", formTokenN.n)
}

// createKey creates a key with form, follows the redirect to the reveal
// page, and returns the key with its token.
func (c *client) createKey(form url.Values) newKey {
	c.t.Helper()
	r := c.post("/settings/api-keys", form)
	if r.Code != http.StatusSeeOther {
		c.t.Fatalf("POST /settings/api-keys: got %d, want 303\n%s", r.Code, r.Body)
	}
	loc := r.Header.Get("Location")
	m := revealPathRE.FindStringSubmatch(loc)
	if m == nil {
		c.t.Fatalf("POST /settings/api-keys: Location %q, want /settings/api-keys/{id}/reveal", loc)
	}
	page := c.get(loc)
	if page.Code != http.StatusOK {
		c.t.Fatalf("GET %s: got %d, want 200", loc, page.Code)
	}
	token := revealedToken(page.Body)
	if token == "" {
		c.t.Fatalf("GET %s: no token on the reveal page\n%s", loc, page.Body)
	}
	prefix, err := apikey.Parse(token)
	if err != nil {
		c.t.Fatalf("revealed token %q does not parse: %v", token, err)
	}
	return newKey{ID: m[1], Token: token, Prefix: prefix, Reveal: page}
}

// create is createKey with a simple form.
func (c *client) create(name string, scopes ...string) newKey {
	c.t.Helper()
	return c.createKey(keyForm(name, "never", scopes...))
}

// revealPathRE matches a reveal page's path (a Location header, not HTML).
var revealPathRE = regexp.MustCompile(`^/settings/api-keys/(key_[0-9a-z]{20})/reveal$`)

// revealedToken returns the token of a reveal page, or "".
func revealedToken(body string) string {
	return htmlcheck.Read(body).Find("textarea#reveal-key").First().Text()
}

// inputValue returns the value of the input with HTML id id, and whether
// there is one.
func inputValue(body, id string) (string, bool) {
	return inputAttrValue(body, "id", id)
}

// inputAttrValue returns the value of the first input whose attribute
// attr is v, and whether there is one.
func inputAttrValue(body, attr, v string) (string, bool) {
	in := htmlcheck.Read(body).Find("input").FilterFunction(func(_ int, s *goquery.Selection) bool {
		got, ok := s.Attr(attr)
		return ok && got == v
	}).First()
	if in.Length() == 0 {
		return "", false
	}
	val, _ := in.Attr("value")
	return val, true
}

// problems returns the field problems shown in a form, by field name.
func problems(body string) map[string]string {
	out := map[string]string{}
	htmlcheck.Read(body).Find(`p.problem[id^="f-"][id$="-problem"]`).Each(func(_ int, s *goquery.Selection) {
		id, _ := s.Attr("id")
		out[strings.TrimSuffix(strings.TrimPrefix(id, "f-"), "-problem")] = s.Find("span").First().Text()
	})
	return out
}

// api calls the JSON API with token (none if empty) in an Authorization:
// Bearer header.
func (c *client) api(target, token string, opts ...opt) *response {
	c.t.Helper()
	if token != "" {
		opts = append([]opt{header("Authorization", "Bearer "+token)}, opts...)
	}
	return c.get(target, append(opts, noCookies())...)
}

// isFullPage reports whether body is a whole HTML document.
func isFullPage(body string) bool {
	return strings.HasPrefix(strings.ToLower(strings.TrimSpace(body)), "<!doctype html>")
}

// problemText returns the problem a form shows about itself as a whole
// (the alert of formProblem, not a roll's refusal, which has an id).
func problemText(body string) string {
	return htmlcheck.Read(body).Find(`div.alert.alert-error[role="alert"]:not([id])`).First().Find("span").First().Text()
}

// inputValueByName returns the (unescaped) value of the first input named
// name, and whether there is one.
func inputValueByName(body, name string) (string, bool) {
	return inputAttrValue(body, "name", name)
}
