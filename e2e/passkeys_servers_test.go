package e2e

import (
	"context"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/playwright-community/playwright-go"

	"github.com/blnk-cloud/apikeys/db"
	"github.com/blnk-cloud/apikeys/e2e/internal/dashtest"
	"github.com/blnk-cloud/apikeys/internal/testkit"
)

// TestPasskeysAcrossServers: two dashboard servers on one PostgreSQL
// database behind one public URL, http://localhost:PORT, served by real
// nginx: one origin, so one relying party, as in a real deployment.
// nginx sends each request to server A or B by the cookie `backend` the
// test sets (begin-a: the ceremony's begin to A, everything else to B),
// and says which server answered (X-Upstream), which the test checks for
// every request that matters. The servers trust nginx's X-Forwarded-*
// (--trusted-proxies 127.0.0.1/32).
//
// A passkey added on A signs in as the second step after the password on
// B, and alone (its ceremony begun on A, finished on B: ceremonies are
// rows of the shared database); removed on B, A refuses it.
func TestPasskeysAcrossServers(t *testing.T) {
	t.Parallel()
	dsn := testkit.PostgresDSN(t)
	listen := freeLocalAddr(t)
	public := "http://localhost:" + listen[strings.LastIndex(listen, ":")+1:]
	args := []string{"--public-url", public, "--trusted-proxies", "127.0.0.1/32"}
	a := &app{dashtest.StartOn(t, binPath, dsn, args...)}
	b := &app{dashtest.StartOn(t, binPath, dsn, args...)}
	for _, s := range []*app{a, b} {
		if !strings.Contains(s.Logs.String(), `msg="passkeys on" rp_id=localhost origin=`+public) {
			t.Fatalf("a server does not make passkeys for %s:\n%s", public, s.Logs)
		}
	}
	a.createAdmin(t, "Acme Payments", "ada@acme.test", "correct horse battery")
	addrA, addrB := strings.TrimPrefix(a.URL, "http://"), strings.TrimPrefix(b.URL, "http://")
	startBalancer(t, listen, addrA, addrB)

	front := &app{&dashtest.App{URL: public}}
	page := newPage(t, front, pageOptions{})
	held := virtualAuthenticator(t, page)
	served := recordUpstreams(page, public)
	use := func(backend string) {
		t.Helper()
		must(t, page.Context().AddCookies([]playwright.OptionalCookie{{Name: "backend", Value: backend, URL: playwright.String(public)}}))
	}
	// servedBy checks that the requests of the last step were answered by
	// the server at addr (want: "POST /path" of each that matters).
	servedBy := func(step, addr string, want ...string) {
		t.Helper()
		got := served.take()
		for _, w := range want {
			if got[w] == "" {
				t.Errorf("%s: no %s went through nginx (saw %v)", step, w, got)
			} else if got[w] != addr {
				t.Errorf("%s: %s answered by %s, want %s", step, w, got[w], addr)
			}
		}
	}

	// 1. Added on A.
	use("a")
	signIn(t, page, "ada@acme.test", "correct horse battery")
	goTo(t, page, "/settings/security/passkeys")
	must(t, page.GetByLabel("Name of the new passkey").Fill("Work laptop"))
	must(t, page.GetByRole("button", playwright.PageGetByRoleOptions{Name: "Add a passkey"}).Click())
	must(t, expect.Locator(page.Locator(".flash")).ToHaveText("Passkey “Work laptop” added."))
	if n := held(); n != 1 {
		t.Fatalf("the authenticator holds %d passkeys, want 1", n)
	}
	servedBy("add on A", addrA, "POST /login", "POST /settings/security/passkeys/begin", "POST /settings/security/passkeys/finish", "GET /settings/security/passkeys")
	signOut(t, page)
	served.take()

	// 2. Password, then the passkey, on B.
	use("b")
	passkeySecondStep(t, page, "ada@acme.test", "correct horse battery")
	servedBy("password and passkey on B", addrB, "POST /login", "GET /login/two-factor", "POST /login/passkey/begin", "POST /login/passkey/finish", "GET /settings/api-keys")
	signOut(t, page)
	served.take()

	// 3. The passkey alone: begun on A, finished on B.
	use("begin-a")
	goTo(t, page, "/login")
	must(t, page.GetByRole("button", playwright.PageGetByRoleOptions{Name: "Sign in with a passkey"}).Click())
	must(t, expect.Page(page).ToHaveURL(regexp.MustCompile(`^`+regexp.QuoteMeta(public)+`/settings/api-keys$`)))
	got := served.take()
	if got["POST /login/passkey/begin"] != addrA || got["POST /login/passkey/finish"] != addrB || got["GET /settings/api-keys"] != addrB {
		t.Errorf("passkey alone: begin by %q (want A %s), finish and the keys page by %q and %q (want B %s)",
			got["POST /login/passkey/begin"], addrA, got["POST /login/passkey/finish"], got["GET /settings/api-keys"], addrB)
	}

	// 4. Removed on B (signing in just now counts as sudo).
	use("b")
	goTo(t, page, "/settings/security/passkeys")
	row := page.GetByRole("row").Filter(playwright.LocatorFilterOptions{HasText: "Work laptop"})
	must(t, expect.Locator(row.Locator("td[data-label='Last used']")).ToHaveText("just now"))
	must(t, page.GetByRole("button", playwright.PageGetByRoleOptions{Name: "Remove passkey Work laptop"}).Click())
	must(t, expect.Locator(page.Locator(".flash")).ToHaveText("Passkey “Work laptop” removed."))
	must(t, expect.Locator(page.GetByText("You have no passkeys yet.")).ToBeVisible())
	removed := ""
	for k, by := range served.take() {
		if removePath.MatchString(k) {
			removed = by
		}
	}
	if removed != addrB {
		t.Errorf("remove on B: the removal answered by %q, want %s", removed, addrB)
	}
	signOut(t, page)
	served.take()

	// 5. A refuses it; the authenticator still offers it.
	use("a")
	goTo(t, page, "/login")
	allowStatus(page, 403)
	must(t, page.GetByRole("button", playwright.PageGetByRoleOptions{Name: "Sign in with a passkey"}).Click())
	must(t, expect.Locator(page.GetByRole("alert")).ToContainText("This passkey was not accepted"))
	must(t, expect.Page(page).ToHaveURL(regexp.MustCompile(`/login$`)))
	servedBy("refused on A", addrA, "POST /login/passkey/begin", "POST /login/passkey/finish")
	if status := served.status("POST /login/passkey/finish"); status != http.StatusForbidden {
		t.Errorf("the removed passkey's sign-in on A: %d, want 403", status)
	}
	if n := held(); n != 1 {
		t.Errorf("the authenticator holds %d passkeys, want 1", n)
	}

	// The shared database agrees: no passkey left, one addition (on A)
	// and one removal (on B) recorded.
	store, err := db.Open(context.Background(), dsn)
	must(t, err)
	defer store.Close()
	var keys, added, gone int
	must(t, store.SQL().QueryRow(`SELECT count(*) FROM passkeys`).Scan(&keys))
	must(t, store.SQL().QueryRow(`SELECT count(*) FROM audit_events WHERE action = 'passkey.added'`).Scan(&added))
	must(t, store.SQL().QueryRow(`SELECT count(*) FROM audit_events WHERE action = 'passkey.removed'`).Scan(&gone))
	if keys != 0 || added != 1 || gone != 1 {
		t.Errorf("passkeys %d, passkey.added %d, passkey.removed %d; want 0, 1, 1", keys, added, gone)
	}
}

// removePath is the path a passkey is removed at.
var removePath = regexp.MustCompile(`^POST /settings/security/passkeys/([^/]+)/remove$`)

// upstreams records, for each "METHOD /path" the page asked the public
// URL for, the server nginx says answered it (X-Upstream) and the status.
type upstreams struct {
	mu    sync.Mutex
	by    map[string]string
	codes map[string]int
}

func recordUpstreams(page playwright.Page, public string) *upstreams {
	u := &upstreams{by: map[string]string{}, codes: map[string]int{}}
	page.OnResponse(func(r playwright.Response) {
		p, err := url.Parse(r.URL())
		if err != nil || !strings.HasPrefix(r.URL(), public+"/") {
			return
		}
		k := r.Request().Method() + " " + p.Path
		u.mu.Lock()
		u.by[k] = r.Headers()["x-upstream"]
		u.codes[k] = r.Status()
		u.mu.Unlock()
	})
	return u
}

// take returns what was recorded since the last take and starts afresh
// (statuses are kept for status).
func (u *upstreams) take() map[string]string {
	u.mu.Lock()
	defer u.mu.Unlock()
	got := u.by
	u.by = map[string]string{}
	return got
}

func (u *upstreams) status(k string) int {
	u.mu.Lock()
	defer u.mu.Unlock()
	return u.codes[k]
}

// balancerConf is nginx in front of two dashboards at one public URL. The
// cookie `backend` picks the server: a, b, or begin-a (a ceremony's
// begin request to A, the rest to B); without it, 421.
const balancerConf = `daemon off;
master_process on;
worker_processes 1;
pid nginx.pid;
error_log error.log info;
events { worker_connections 256; }
http {
    access_log access.log;
    client_body_temp_path client_body_temp;
    proxy_temp_path proxy_temp;
    fastcgi_temp_path fastcgi_temp;
    uwsgi_temp_path uwsgi_temp;
    scgi_temp_path scgi_temp;

    upstream server_a { server ${A}; }
    upstream server_b { server ${B}; }

    map "$cookie_backend $uri" $dashboard {
        "~^begin-a /login/passkey/begin$" server_a;
        "~^begin-a "                      server_b;
        "~^a "                            server_a;
        "~^b "                            server_b;
        default                           "";
    }

    server {
        listen ${LISTEN};
        location / {
            if ($dashboard = "") {
                return 421;
            }
            proxy_pass http://$dashboard;
            proxy_set_header Host $http_host;
            proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
            proxy_set_header X-Forwarded-Proto $scheme;
            add_header X-Upstream $upstream_addr always;
        }
    }
}
`

// startBalancer runs nginx (balancerConf) on listen in front of the
// dashboards at addrA and addrB, and stops it when the test ends.
func startBalancer(t *testing.T, listen, addrA, addrB string) {
	t.Helper()
	bin := nginxBin(t)
	dir := t.TempDir()
	conf := strings.NewReplacer("${A}", addrA, "${B}", addrB, "${LISTEN}", listen).Replace(balancerConf)
	must(t, os.WriteFile(filepath.Join(dir, "nginx.conf"), []byte(conf), 0o644))
	cmd := exec.Command(bin, "-p", dir+"/", "-c", filepath.Join(dir, "nginx.conf"), "-e", filepath.Join(dir, "error.log"))
	out := &testkit.LogBuffer{}
	cmd.Stdout, cmd.Stderr = out, out
	must(t, cmd.Start())
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	logs := func() string {
		b, _ := os.ReadFile(filepath.Join(dir, "error.log"))
		return out.String() + string(b)
	}
	t.Cleanup(func() {
		cmd.Process.Signal(syscall.SIGQUIT)
		select {
		case <-exited:
		case <-time.After(10 * time.Second):
			cmd.Process.Kill()
			t.Errorf("nginx did not stop on SIGQUIT")
		}
		if t.Failed() {
			t.Logf("nginx:\n%s", logs())
		}
	})
	client := &http.Client{Timeout: time.Second}
	for deadline := time.Now().Add(15 * time.Second); time.Now().Before(deadline); time.Sleep(25 * time.Millisecond) {
		select {
		case err := <-exited:
			t.Fatalf("nginx exited: %v\n%s", err, logs())
		default:
		}
		if resp, err := client.Get("http://" + listen + "/healthz"); err == nil {
			resp.Body.Close()
			if resp.StatusCode != http.StatusMisdirectedRequest {
				t.Fatalf("nginx without a backend cookie: %d, want 421", resp.StatusCode)
			}
			return
		}
	}
	t.Fatalf("nginx did not answer within 15s\n%s", logs())
}

// nginxBin finds nginx in PATH or an sbin directory (Debian's is in
// /usr/sbin), or fails saying how to install it: nothing skips.
func nginxBin(t *testing.T) string {
	t.Helper()
	if p, err := exec.LookPath("nginx"); err == nil {
		return p
	}
	for _, dir := range []string{"/usr/sbin", "/usr/local/sbin", "/sbin"} {
		if st, err := os.Stat(filepath.Join(dir, "nginx")); err == nil && !st.IsDir() {
			return filepath.Join(dir, "nginx")
		}
	}
	t.Fatal("nginx is not installed: run `make test-deps` (e2e/setup.sh installs it from Debian)")
	return ""
}

// freeLocalAddr returns 127.0.0.1:PORT with a port that was free a moment
// ago: the public URL names it before nginx listens on it.
func freeLocalAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	must(t, err)
	defer l.Close()
	return "127.0.0.1:" + strconv.Itoa(l.Addr().(*net.TCPAddr).Port)
}
