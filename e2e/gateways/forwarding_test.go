package gateways

import (
	"encoding/json"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/blnk-cloud/apikeys/e2e/internal/dashtest"
)

// appendingNginx is nginx as a reverse proxy in front of the dashboard
// that appends to the client's X-Forwarded-For ($proxy_add_x_forwarded_for).
var appendingNginx = gateway{
	name: "nginx",
	bin:  "nginx",
	command: func(t *testing.T, bin, dir, listen, dashboard, _ string) *exec.Cmd {
		copyFile(t, "testdata/nginx.conf", filepath.Join(dir, "nginx.conf"))
		tmpl, err := os.ReadFile("testdata/nginx-forwarding.conf")
		if err != nil {
			t.Fatal(err)
		}
		conf := envsubst(t, string(tmpl), map[string]string{"GATEWAY_LISTEN": listen, "BLNK_DASHBOARD": dashboard})
		if err := os.WriteFile(filepath.Join(dir, "blnk.conf"), []byte(conf), 0o644); err != nil {
			t.Fatal(err)
		}
		return exec.Command(bin, "-p", dir+"/", "-c", filepath.Join(dir, "nginx.conf"), "-e", filepath.Join(dir, "error.log"))
	},
}

// TestForgedXForwardedForBehindAppendingNginx: behind real nginx that
// appends the client's address to the client's own X-Forwarded-For, the
// dashboard (--trusted-proxies 127.0.0.1) sees the client's real address
// whatever the client wrote in the header: an allowlist of the forged
// addresses refuses it, one of its real address lets it in, and rotating
// the forged address gets no fresh failure allowance. Straight to the
// dashboard, the header is ignored.
func TestForgedXForwardedForBehindAppendingNginx(t *testing.T) {
	t.Parallel()
	dash := dashtest.Start(t, dashboardBin, "--trusted-proxies", "127.0.0.1", "--auth-fail-burst", "3", "--auth-fail-every", "1h")
	dash.CreateAdmin(t, "Acme", adminEmail, adminPassword)
	admin := dash.SignIn(t, adminEmail, adminPassword)
	proxy := startGateway(t, appendingNginx, dash, "")

	const real = "127.0.0.77" // the client's address; nginx reaches the dashboard from 127.0.0.1
	forgedOnly := admin.CreateKeyAllowing("Forged addresses only", "203.0.113.0/24, 10.9.9.9, 192.168.1.50", "mcp:read")
	realOnly := admin.CreateKeyAllowing("The real client only", real, "mcp:read")
	d := &net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(real)}, Timeout: 5 * time.Second}
	client := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{DialContext: d.DialContext}}
	call := func(base, token string, xff ...string) (int, string) {
		t.Helper()
		req, err := http.NewRequest("GET", base+"/api/v1/whoami", nil)
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Authorization", "Bearer "+token)
		for _, v := range xff {
			req.Header.Add("X-Forwarded-For", v)
		}
		resp, err := client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		var e struct {
			Error struct{ Code string } `json:"error"`
		}
		json.Unmarshal(body, &e)
		return resp.StatusCode, e.Error.Code
	}

	forged := []struct {
		name string
		xff  []string
	}{
		{"an allowed public address", []string{"203.0.113.7"}},
		{"an allowed private address in front of another (issue 15)", []string{"10.9.9.9, 192.168.1.50"}},
		{"the proxy's own address last", []string{"203.0.113.7, 127.0.0.1"}},
		{"two header fields", []string{"203.0.113.7", "10.9.9.9"}},
		{"garbage", []string{"203.0.113.7, not-an-address"}},
	}
	for _, f := range forged {
		if code, ecode := call(proxy, forgedOnly.Token, f.xff...); code != http.StatusForbidden || ecode != "ip_not_allowed" {
			t.Errorf("through nginx, forging %s: got %d %q, want 403 ip_not_allowed", f.name, code, ecode)
		}
		if code, _ := call(proxy, realOnly.Token, f.xff...); code != http.StatusOK {
			t.Errorf("through nginx, forging %s, a key allowing the real address: got %d, want 200", f.name, code)
		}
	}
	// Straight to the dashboard from an address that is no proxy.
	if code, ecode := call(dash.URL, forgedOnly.Token, "203.0.113.7"); code != http.StatusForbidden || ecode != "ip_not_allowed" {
		t.Errorf("straight to the dashboard with a forged header: got %d %q, want 403 ip_not_allowed", code, ecode)
	}

	// Bad keys with a new forged address each time: still one client.
	for i := range 6 {
		want := http.StatusUnauthorized
		if i >= 3 {
			want = http.StatusTooManyRequests
		}
		if code, ecode := call(proxy, "blnk_bad", "203.0.113."+strconv.Itoa(i+1)); code != want {
			t.Errorf("bad key %d with a rotated forged address: got %d %q, want %d", i+1, code, ecode, want)
		}
	}
}
