package gateways

import (
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/blnk-cloud/apikeys/e2e/internal/dashtest"
	"github.com/blnk-cloud/apikeys/internal/testkit"
)

// gateway is nginx or Caddy, run from the configuration the README shows.
type gateway struct {
	name string
	// bin is the program, found in PATH or in sbin (Debian puts nginx in
	// /usr/sbin, which is not in every user's PATH).
	bin string
	// command returns the gateway listening on listen (127.0.0.1:PORT) in
	// front of the dashboard and the backend (host:port), its files in dir.
	command func(t *testing.T, bin, dir, listen, dashboard, backend string) *exec.Cmd
	// code is the error code a client of the gateway reads when the
	// dashboard refused with code.
	code func(code string) string
}

var gateways = []gateway{
	{
		name: "nginx",
		bin:  "nginx",
		command: func(t *testing.T, bin, dir, listen, dashboard, backend string) *exec.Cmd {
			copyFile(t, "testdata/nginx.conf", filepath.Join(dir, "nginx.conf"))
			tmpl, err := os.ReadFile("nginx-blnk.conf")
			if err != nil {
				t.Fatal(err)
			}
			conf := envsubst(t, string(tmpl), map[string]string{
				"GATEWAY_LISTEN": listen, "BLNK_DASHBOARD": dashboard, "BACKEND": backend})
			if err := os.WriteFile(filepath.Join(dir, "blnk.conf"), []byte(conf), 0o644); err != nil {
				t.Fatal(err)
			}
			// -e: the error log of the start, before the configuration
			// is read, goes to dir too, not to /var/log/nginx.
			return exec.Command(bin, "-p", dir+"/", "-c", filepath.Join(dir, "nginx.conf"), "-e", filepath.Join(dir, "error.log"))
		},
		// auth_request passes the dashboard's status and headers, not its
		// body: the configuration rebuilds the code from the headers, and
		// cannot tell expired or revoked keys from unknown ones.
		code: func(code string) string {
			if code == "expired_key" || code == "revoked_key" {
				return "invalid_key"
			}
			return code
		},
	},
	{
		name: "caddy",
		bin:  "caddy",
		command: func(t *testing.T, bin, dir, listen, dashboard, backend string) *exec.Cmd {
			copyFile(t, "testdata/Caddyfile", filepath.Join(dir, "Caddyfile"))
			copyFile(t, "Caddyfile", filepath.Join(dir, "blnk.Caddyfile"))
			cmd := exec.Command(bin, "run", "--config", filepath.Join(dir, "Caddyfile"), "--adapter", "caddyfile")
			// Caddy keeps state under HOME and the XDG directories.
			cmd.Env = append(os.Environ(), "HOME="+dir, "XDG_DATA_HOME="+filepath.Join(dir, "data"),
				"XDG_CONFIG_HOME="+filepath.Join(dir, "config"),
				"GATEWAY_SITE=http://"+listen, "BLNK_DASHBOARD="+dashboard, "BACKEND="+backend)
			return cmd
		},
		code: func(code string) string { return code }, // forward_auth passes the body
	},
}

// findBin returns the path of a gateway's program, or fails the test
// saying how to install it: these tests never skip.
func findBin(t *testing.T, name string) string {
	t.Helper()
	if p, err := exec.LookPath(name); err == nil {
		return p
	}
	for _, dir := range []string{"/usr/sbin", "/usr/local/sbin", "/sbin"} {
		p := filepath.Join(dir, name)
		if st, err := os.Stat(p); err == nil && !st.IsDir() {
			return p
		}
	}
	t.Fatalf("%s is not installed: run `make test-deps` (e2e/setup.sh installs nginx and caddy from Debian)", name)
	return ""
}

// startGateway runs g in front of the dashboard and the backend on a free
// port and returns its base URL when it answers. It is stopped when the
// test ends.
func startGateway(t *testing.T, g gateway, dash *dashtest.App, backend string) string {
	t.Helper()
	bin := findBin(t, g.bin)
	dashboard := strings.TrimPrefix(dash.URL, "http://")
	// The free port may be taken between finding and binding it: try again.
	for attempt := 1; ; attempt++ {
		listen := freeAddr(t)
		dir := t.TempDir()
		cmd := g.command(t, bin, dir, listen, dashboard, backend)
		out := &testkit.LogBuffer{}
		cmd.Stdout, cmd.Stderr = out, out
		if err := cmd.Start(); err != nil {
			t.Fatalf("start %s: %v", g.name, err)
		}
		exited := make(chan error, 1)
		go func() { exited <- cmd.Wait() }()
		base := "http://" + listen
		err := waitHTTP(base, exited)
		if err == nil {
			t.Cleanup(func() { stop(t, g.name, cmd, exited, out, dir) })
			return base
		}
		cmd.Process.Kill()
		logs := out.String() + readFile(filepath.Join(dir, "error.log"))
		if strings.Contains(logs, "address already in use") && attempt < 3 {
			continue
		}
		t.Fatalf("%s did not start: %v\n%s", g.name, err, logs)
	}
}

// waitHTTP waits until base answers any HTTP request, or the process exits.
func waitHTTP(base string, exited <-chan error) error {
	client := &http.Client{Timeout: time.Second}
	deadline := time.Now().Add(15 * time.Second)
	for time.Now().Before(deadline) {
		select {
		case err := <-exited:
			return fmt.Errorf("exited: %v", err)
		default:
		}
		if resp, err := client.Get(base + "/"); err == nil {
			resp.Body.Close()
			return nil
		}
		time.Sleep(25 * time.Millisecond)
	}
	return errors.New("no answer within 15s")
}

// stop ends a gateway gracefully (nginx: SIGQUIT; Caddy: SIGTERM) and
// shows its logs if the test failed.
func stop(t *testing.T, name string, cmd *exec.Cmd, exited <-chan error, out *testkit.LogBuffer, dir string) {
	sig := syscall.SIGTERM
	if name == "nginx" {
		sig = syscall.SIGQUIT
	}
	cmd.Process.Signal(sig)
	select {
	case <-exited:
	case <-time.After(10 * time.Second):
		cmd.Process.Kill()
		t.Errorf("%s did not stop on %v", name, sig)
	}
	if t.Failed() {
		t.Logf("%s output:\n%s%s", name, out, readFile(filepath.Join(dir, "error.log")))
	}
}

// freeAddr returns 127.0.0.1:PORT with a port that was free a moment ago.
func freeAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return "127.0.0.1:" + strconv.Itoa(l.Addr().(*net.TCPAddr).Port)
}

var placeholder = regexp.MustCompile(`\$\{([A-Z_]+)\}`)

// envsubst fills ${NAME} from vars, as `envsubst '$NAME ...'` does: other
// dollar signs (nginx's own $variables) are left alone. A placeholder
// without a value fails the test.
func envsubst(t *testing.T, s string, vars map[string]string) string {
	t.Helper()
	return placeholder.ReplaceAllStringFunc(s, func(m string) string {
		v, ok := vars[m[2:len(m)-1]]
		if !ok {
			t.Fatalf("no value for %s", m)
		}
		return v
	})
}

func copyFile(t *testing.T, from, to string) {
	t.Helper()
	b, err := os.ReadFile(from)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(to, b, 0o644); err != nil {
		t.Fatal(err)
	}
}

func readFile(name string) string {
	b, _ := os.ReadFile(name)
	return string(b)
}
