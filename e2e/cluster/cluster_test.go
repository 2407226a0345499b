// Package cluster runs several real dashboard servers on one PostgreSQL
// database, as behind a load balancer, and checks cmd/dashboard/README.md's
// "Several servers": sign-in and keys shared, a revoke answered only once
// every live server refuses the key, a stopped server that never lets a
// revoked key in after it resumes, a server that loses the database
// failing closed and recovering by itself, migrations applied once by
// servers starting together. No browser: see e2e/cluster_test.go for the
// browser moving between servers.
package cluster

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/blnk-cloud/apikeys/e2e/internal/dashtest"
	"github.com/blnk-cloud/apikeys/internal/testkit"
)

var bin string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "dashboard-cluster-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	bin, err = dashtest.Build(dir)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

const (
	workspace = "Acme"
	email     = "admin@acme.test"
	password  = "correct horse battery staple"
)

// api is a client for the API, with connections kept alive as a
// gateway's are.
var api = &http.Client{
	Timeout:   10 * time.Second,
	Transport: &http.Transport{MaxIdleConnsPerHost: 64, MaxConnsPerHost: 64},
}

// verify calls /api/v1/verify on server a with token and returns the
// status.
func verify(t testing.TB, a *dashtest.App, token string) int {
	req, err := http.NewRequest(http.MethodGet, a.URL+"/api/v1/verify?scope=mcp:read", nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := api.Do(req)
	if err != nil {
		return 0 // the server is stopped or gone
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp.StatusCode
}

// cluster starts n servers on one fresh PostgreSQL schema, with the
// first admin, and returns them with that admin signed in on the first.
func cluster(t *testing.T, n int, args ...string) ([]*dashtest.App, *dashtest.Client) {
	t.Helper()
	dsn := testkit.PostgresDSN(t)
	apps := make([]*dashtest.App, n)
	for i := range apps {
		apps[i] = dashtest.StartOn(t, bin, dsn, args...)
	}
	apps[0].CreateAdmin(t, workspace, email, password)
	return apps, apps[0].SignIn(t, email, password)
}

var confirmed = regexp.MustCompile(`confirmed by (\d+) of (\d+) servers?(?: in (?:\d+(?:\.\d+)?) (?:ms|s)|; (\d+) stopped trusting (?:its|their) memory within (?:\d+(?:\.\d+)?) (?:ms|s))`)

// confirmation reads "confirmed by N of M", and how many stopped trusting
// their memory, from a revoked key's page.
func confirmation(t *testing.T, c *dashtest.Client, id string) (n, m int) {
	t.Helper()
	n, _, m = confirmationLapsed(t, c, id)
	return n, m
}

func confirmationLapsed(t *testing.T, c *dashtest.Client, id string) (n, lapsed, m int) {
	t.Helper()
	status, body := c.Get("/settings/api-keys/" + id)
	mm := confirmed.FindStringSubmatch(body)
	if status != http.StatusOK || mm == nil {
		t.Fatalf("key page: status %d, no \"confirmed by N of M\" in it", status)
	}
	fmt.Sscan(mm[1], &n)
	fmt.Sscan(mm[2], &m)
	if mm[3] != "" {
		fmt.Sscan(mm[3], &lapsed)
	}
	return n, lapsed, m
}

// TestRevokeAcrossServers: a key created through A works through B and C;
// revoked through A while clients hammer B and C, no call sent after the
// revoke's answer is accepted by any server.
func TestRevokeAcrossServers(t *testing.T) {
	apps, admin := cluster(t, 3)
	a, b, c := apps[0], apps[1], apps[2]
	key := admin.CreateKey("hammered", "mcp:read")

	// Usable through every server (they learn of it from A's notification).
	for _, s := range apps {
		waitFor(t, 5*time.Second, func() bool { return verify(t, s, key.Token) == http.StatusOK })
	}

	var revokedAt atomic.Int64 // UnixNano when the revoke's answer arrived; 0: not yet
	var before, after, leaked, odd atomic.Int64
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for i := range 16 {
		s := []*dashtest.App{b, c}[i%2]
		wg.Go(func() {
			for {
				select {
				case <-stop:
					return
				default:
				}
				sentAfter := revokedAt.Load() != 0
				status := verify(t, s, key.Token)
				switch {
				case sentAfter && status == http.StatusOK:
					leaked.Add(1)
				case sentAfter:
					after.Add(1)
					if status != http.StatusUnauthorized {
						odd.Add(1)
					}
				case status == http.StatusOK:
					before.Add(1)
				}
			}
		})
	}
	waitFor(t, 10*time.Second, func() bool { return before.Load() >= 500 })
	admin.Revoke(key.ID) // through A
	revokedAt.Store(time.Now().UnixNano())
	waitFor(t, 20*time.Second, func() bool { return after.Load() >= 2000 })
	close(stop)
	wg.Wait()

	if n := leaked.Load(); n != 0 {
		t.Errorf("%d calls sent after the revoke was answered were accepted by B or C, want 0", n)
	}
	if n := odd.Load(); n != 0 {
		t.Errorf("%d calls after the revoke got neither 200 nor 401", n)
	}
	t.Logf("%d calls accepted before the revoke, %d refused after it", before.Load(), after.Load())
	if n, m := confirmation(t, admin, key.ID); n != 3 || m != 3 {
		t.Errorf("the revoked key's page says confirmed by %d of %d, want 3 of 3", n, m)
	}
	if got := verify(t, a, key.Token); got != http.StatusUnauthorized {
		t.Errorf("A after the revoke: %d, want 401", got)
	}
}

// TestStoppedServer: with C stopped (SIGSTOP), a revoke through A is
// answered once C's lease has run out, within --revoke-wait, and says 2
// of 3 and 1 that stopped trusting its memory; once C resumes it never
// accepts the key.
func TestStoppedServer(t *testing.T) {
	const maxStale, revokeWait = 2 * time.Second, 3 * time.Second
	apps, admin := cluster(t, 3, "--max-staleness", maxStale.String(), "--revoke-wait", revokeWait.String())
	c := apps[2]
	key := admin.CreateKey("survives a pause", "mcp:read")
	for _, s := range apps {
		waitFor(t, 5*time.Second, func() bool { return verify(t, s, key.Token) == http.StatusOK })
	}

	if err := c.Process.Signal(syscall.SIGSTOP); err != nil {
		t.Fatal(err)
	}
	stopped := true
	defer func() {
		if stopped {
			c.Process.Signal(syscall.SIGCONT)
		}
	}()
	start := time.Now()
	admin.Revoke(key.ID)
	took := time.Since(start)
	if took > revokeWait+time.Second {
		t.Errorf("revoke with a stopped server took %v, want at most about --max-staleness (%v)", took, maxStale)
	}
	if n, lapsed, m := confirmationLapsed(t, admin, key.ID); n != 2 || lapsed != 1 || m != 3 {
		t.Errorf("the revoked key's page says confirmed by %d of %d, %d stopped trusting; want 2 of 3, 1", n, m, lapsed)
	}

	// C resumes; clients call it at once, many at the same time.
	if err := c.Process.Signal(syscall.SIGCONT); err != nil {
		t.Fatal(err)
	}
	stopped = false
	accepted, refused := hammer(t, c, key.Token, 16, 50*time.Millisecond, 0)
	if accepted != 0 {
		t.Errorf("C accepted the revoked key %d times after it resumed, want 0", accepted)
	}
	if refused == 0 {
		t.Error("C answered no call after it resumed")
	}
	// And it has caught up: 401, not 503.
	waitFor(t, 5*time.Second, func() bool { return verify(t, c, key.Token) == http.StatusUnauthorized })
}

// hammer calls verify on server s with token from n clients for d (or
// each for calls calls, if not 0), and counts the calls accepted and
// refused (401 or 503).
func hammer(t *testing.T, s *dashtest.App, token string, n int, d time.Duration, calls int) (accepted, refused int64) {
	var acc, ref atomic.Int64
	var wg sync.WaitGroup
	end := time.Now().Add(d)
	for range n {
		wg.Go(func() {
			for i := 0; (calls == 0 && time.Now().Before(end)) || i < calls; i++ {
				switch verify(t, s, token) {
				case http.StatusOK:
					acc.Add(1)
				case http.StatusUnauthorized, http.StatusServiceUnavailable:
					ref.Add(1)
				}
			}
		})
	}
	wg.Wait()
	return acc.Load(), ref.Load()
}

// TestStoppedAndCutServer: C is stopped (SIGSTOP) and its database
// connection hangs (packets dropped, nothing closed); a revoke through A
// is answered once C's lease ran out, and C, resumed, never accepts the
// key: it fails closed until it reaches the database again, then
// refuses the key.
func TestStoppedAndCutServer(t *testing.T) {
	dsn := testkit.PostgresDSN(t)
	u, err := url.Parse(dsn)
	if err != nil {
		t.Fatal(err)
	}
	proxy := startProxy(t, u.Host)
	viaProxy := *u
	viaProxy.Host = proxy.addr
	a := dashtest.StartOn(t, bin, dsn) // default --max-staleness and --revoke-wait
	b := dashtest.StartOn(t, bin, dsn)
	c := dashtest.StartOn(t, bin, viaProxy.String())
	a.CreateAdmin(t, workspace, email, password)
	admin := a.SignIn(t, email, password)
	key := admin.CreateKey("paused and cut", "mcp:read")
	for _, s := range []*dashtest.App{a, b, c} {
		waitFor(t, 5*time.Second, func() bool { return verify(t, s, key.Token) == http.StatusOK })
	}

	if err := c.Process.Signal(syscall.SIGSTOP); err != nil {
		t.Fatal(err)
	}
	stopped := true
	defer func() {
		if stopped {
			c.Process.Signal(syscall.SIGCONT)
		}
	}()
	proxy.blackhole()
	start := time.Now()
	admin.Revoke(key.ID)
	took := time.Since(start)
	t.Logf("revoke answered in %v with C stopped and cut off", took)
	const lease, revokeWait = 3 * time.Second, 4 * time.Second // the defaults
	if took > revokeWait+500*time.Millisecond {
		t.Errorf("revoke took %v, want within --revoke-wait (%v)", took, revokeWait)
	}
	if n, lapsed, m := confirmationLapsed(t, admin, key.ID); n != 2 || lapsed != 1 || m != 3 {
		t.Errorf("the revoked key's page says confirmed by %d of %d, %d stopped trusting; want 2 of 3, 1", n, m, lapsed)
	}

	if err := c.Process.Signal(syscall.SIGCONT); err != nil {
		t.Fatal(err)
	}
	stopped = false
	accepted, refused := hammer(t, c, key.Token, 16, 3*time.Second, 0)
	t.Logf("C resumed, cut off: %d calls refused, %d accepted", refused, accepted)
	if accepted != 0 {
		t.Errorf("C accepted the revoked key %d times after it resumed cut off, want 0", accepted)
	}
	if refused == 0 {
		t.Error("C answered no call after it resumed")
	}
	if got := verify(t, c, key.Token); got != http.StatusServiceUnavailable {
		t.Errorf("C cut off after resuming: %d, want 503", got)
	}

	// The database comes back: C catches up while clients keep calling.
	var wg sync.WaitGroup
	var late int64
	wg.Go(func() { late, _ = hammer(t, c, key.Token, 8, 3*time.Second, 0) })
	proxy.restore()
	wg.Wait()
	if late != 0 {
		t.Errorf("C accepted the revoked key %d times while reaching the database again, want 0", late)
	}
	waitFor(t, 10*time.Second, func() bool { return verify(t, c, key.Token) == http.StatusUnauthorized })
}

// TestDatabaseHangs: a server whose database connection hangs (packets
// dropped, nothing closed) keeps answering every call at once: from
// memory until its lease runs out, then 503; it recovers by itself.
func TestDatabaseHangs(t *testing.T) {
	dsn := testkit.PostgresDSN(t)
	u, err := url.Parse(dsn)
	if err != nil {
		t.Fatal(err)
	}
	proxy := startProxy(t, u.Host)
	viaProxy := *u
	viaProxy.Host = proxy.addr
	a := dashtest.StartOn(t, bin, dsn)
	c := dashtest.StartOn(t, bin, viaProxy.String()) // default --max-staleness (3s) and --key-poll (1s)
	a.CreateAdmin(t, workspace, email, password)
	admin := a.SignIn(t, email, password)
	key := admin.CreateKey("through a hang", "mcp:read")
	waitFor(t, 5*time.Second, func() bool { return verify(t, c, key.Token) == http.StatusOK })

	const lease, poll = 3 * time.Second, time.Second
	proxy.blackhole()
	cut := time.Now()
	var slowest, to503 time.Duration
	for time.Since(cut) < lease+3*time.Second {
		sent := time.Now()
		got := verify(t, c, key.Token)
		el := time.Since(sent)
		slowest = max(slowest, el)
		switch {
		case got == http.StatusServiceUnavailable && to503 == 0:
			to503 = time.Since(cut)
		case got == http.StatusOK && to503 != 0:
			t.Fatalf("C accepted a call %v after the hang, having failed closed at %v", time.Since(cut), to503)
		case got != http.StatusOK && got != http.StatusServiceUnavailable:
			t.Fatalf("C answered %d %v after the hang", got, time.Since(cut))
		}
		time.Sleep(5 * time.Millisecond)
	}
	t.Logf("database hung: C failed closed after %v; slowest call %v", to503, slowest)
	if to503 == 0 || to503 > lease+500*time.Millisecond || to503 < lease-poll-500*time.Millisecond {
		t.Errorf("C failed closed %v after the database hung, want about --max-staleness (%v)", to503, lease)
	}
	if slowest > 500*time.Millisecond {
		t.Errorf("a call took %v while the database hung, want every call answered at once", slowest)
	}
	if got := status(t, c.URL+"/readyz"); got != http.StatusServiceUnavailable {
		t.Errorf("/readyz while failing closed: %d, want 503", got)
	}

	proxy.restore()
	waitFor(t, 20*time.Second, func() bool { return verify(t, c, key.Token) == http.StatusOK })
}

// TestDatabaseLost: a server whose connection to the database is cut
// fails closed after --max-staleness (503 on the API and /readyz), and
// recovers by itself once it can reach the database again.
func TestDatabaseLost(t *testing.T) {
	dsn := testkit.PostgresDSN(t)
	u, err := url.Parse(dsn)
	if err != nil {
		t.Fatal(err)
	}
	proxy := startProxy(t, u.Host)
	viaProxy := *u
	viaProxy.Host = proxy.addr
	const maxStale = 2 * time.Second
	args := []string{"--key-poll", "200ms", "--revoke-wait", "3s", "--max-staleness", maxStale.String()}
	a := dashtest.StartOn(t, bin, dsn, args...)
	c := dashtest.StartOn(t, bin, viaProxy.String(), args...)
	a.CreateAdmin(t, workspace, email, password)
	admin := a.SignIn(t, email, password)
	key := admin.CreateKey("through a partition", "mcp:read")
	waitFor(t, 5*time.Second, func() bool { return verify(t, c, key.Token) == http.StatusOK })

	proxy.cut()
	cut := time.Now()
	// Within max-staleness C still answers from memory; after it, 503.
	waitFor(t, maxStale+10*time.Second, func() bool { return verify(t, c, key.Token) == http.StatusServiceUnavailable })
	if el := time.Since(cut); el < maxStale-500*time.Millisecond {
		t.Errorf("C failed closed %v after losing the database, before --max-staleness (%v)", el, maxStale)
	}
	req, _ := http.NewRequest(http.MethodGet, c.URL+"/api/v1/verify", nil)
	req.Header.Set("Authorization", "Bearer "+key.Token)
	resp, err := api.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusServiceUnavailable || resp.Header.Get("Retry-After") == "" || !strings.Contains(string(body), `"unavailable"`) {
		t.Errorf("verify while failing closed: %d, Retry-After %q, body %s; want 503 unavailable with Retry-After",
			resp.StatusCode, resp.Header.Get("Retry-After"), body)
	}
	if got := status(t, c.URL+"/readyz"); got != http.StatusServiceUnavailable {
		t.Errorf("/readyz while failing closed: %d, want 503", got)
	}
	if got := status(t, c.URL+"/healthz"); got != http.StatusOK {
		t.Errorf("/healthz while failing closed: %d, want 200 (alive)", got)
	}
	// A is not affected.
	if got := verify(t, a, key.Token); got != http.StatusOK {
		t.Errorf("A while C is cut off: %d, want 200", got)
	}

	proxy.restore()
	waitFor(t, 20*time.Second, func() bool { return verify(t, c, key.Token) == http.StatusOK })
	waitFor(t, 5*time.Second, func() bool { return status(t, c.URL+"/readyz") == http.StatusOK })
}

// TestStartTogether: servers starting at once on an empty database apply
// each migration once.
func TestStartTogether(t *testing.T) {
	dsn := testkit.PostgresDSN(t)
	var wg sync.WaitGroup
	for range 3 {
		wg.Go(func() { dashtest.StartOn(t, bin, dsn) })
	}
	wg.Wait()
	files, err := filepath.Glob("../../db/migrations/*.sql")
	if err != nil || len(files) == 0 {
		t.Fatalf("migration files: %v, %d", err, len(files))
	}
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	var rows, versions int
	if err := conn.QueryRow(ctx, `SELECT count(*), count(DISTINCT version) FROM schema_migrations`).Scan(&rows, &versions); err != nil {
		t.Fatal(err)
	}
	if rows != len(files) || versions != len(files) {
		t.Errorf("schema_migrations: %d rows, %d versions; want %d of each (one per migration)", rows, versions, len(files))
	}
}

func status(t testing.TB, u string) int {
	resp, err := api.Get(u)
	if err != nil {
		return 0
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp.StatusCode
}

func waitFor(t testing.TB, limit time.Duration, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(limit)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("condition not met within %v", limit)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// proxy forwards TCP connections to a PostgreSQL server, and can cut
// them all and refuse new ones, as a network partition would, or
// blackhole them: stop forwarding without closing anything, as when
// packets are dropped (what was sent meanwhile arrives once restored, as
// TCP's retransmissions would bring it).
type proxy struct {
	t      *testing.T
	addr   string
	target string

	mu    sync.Mutex
	ln    net.Listener
	conns map[net.Conn]bool
	held  bool
	flow  *sync.Cond // signalled when held ends
}

func startProxy(t *testing.T, target string) *proxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &proxy{t: t, addr: ln.Addr().String(), target: target, conns: map[net.Conn]bool{}}
	p.flow = sync.NewCond(&p.mu)
	p.serve(ln)
	t.Cleanup(p.cut)
	return p
}

func (p *proxy) serve(ln net.Listener) {
	p.mu.Lock()
	p.ln = ln
	p.mu.Unlock()
	go func() {
		for {
			in, err := ln.Accept()
			if err != nil {
				return
			}
			out, err := net.Dial("tcp", p.target)
			if err != nil {
				in.Close()
				continue
			}
			p.mu.Lock()
			p.conns[in], p.conns[out] = true, true
			p.mu.Unlock()
			go func() { p.copy(out, in); out.Close() }()
			go func() { p.copy(in, out); in.Close() }()
		}
	}()
}

// copy forwards from src to dst, holding what it read while blackholed.
func (p *proxy) copy(dst, src net.Conn) {
	buf := make([]byte, 32<<10)
	for {
		n, err := src.Read(buf)
		if n > 0 {
			p.mu.Lock()
			for p.held {
				p.flow.Wait()
			}
			p.mu.Unlock()
			if _, err := dst.Write(buf[:n]); err != nil {
				return
			}
		}
		if err != nil {
			return
		}
	}
}

// blackhole stops forwarding, on open connections and new ones, without
// closing anything.
func (p *proxy) blackhole() {
	p.mu.Lock()
	p.held = true
	p.mu.Unlock()
}

// cut closes every connection and stops listening: new connections are
// refused.
func (p *proxy) cut() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.ln != nil {
		p.ln.Close()
		p.ln = nil
	}
	for c := range p.conns {
		c.Close()
	}
	clear(p.conns)
	p.held = false
	p.flow.Broadcast()
}

// restore forwards again after blackhole, or listens again on the same
// address after cut.
func (p *proxy) restore() {
	p.t.Helper()
	p.mu.Lock()
	p.held = false
	p.flow.Broadcast()
	listening := p.ln != nil
	p.mu.Unlock()
	if listening {
		return
	}
	var ln net.Listener
	var err error
	for range 50 { // the port may linger for a moment
		if ln, err = net.Listen("tcp", p.addr); err == nil {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	if err != nil {
		p.t.Fatalf("proxy: listen again on %s: %v", p.addr, err)
	}
	p.serve(ln)
}
