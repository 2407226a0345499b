package e2e

import (
	"bufio"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/blnk-cloud/apikeys/db"
	"github.com/blnk-cloud/apikeys/e2e/internal/dashtest"
	"github.com/blnk-cloud/apikeys/internal/testkit"
)

// serveUntilKilled starts the real server on dsn and returns its URL and
// its process; the caller kills it.
func serveUntilKilled(t *testing.T, dsn string) (string, *exec.Cmd, *testkit.LogBuffer) {
	t.Helper()
	logs := &testkit.LogBuffer{}
	cmd := exec.Command(binPath, "serve", "--listen", "127.0.0.1:0", "--db", dsn)
	cmd.Env = append(os.Environ(), "BLNK_SESSION_SECRET=")
	stderr, err := cmd.StderrPipe()
	must(t, err)
	must(t, cmd.Start())
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	found := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			fmt.Fprintln(logs, sc.Text())
			if m := regexp.MustCompile(`msg=listening url=(http://\S+)`).FindStringSubmatch(sc.Text()); m != nil {
				found <- m[1]
			}
		}
	}()
	select {
	case u := <-found:
		return u, cmd, logs
	case <-time.After(20 * time.Second):
		t.Fatalf("server did not start:\n%s", logs)
	}
	return "", nil, nil
}

// TestKillDuringABurstOfRolls kills the server (SIGKILL, no shutdown)
// while rolls arrive over HTTP, then looks at the database: every roll
// that was answered has its new key, the old key's end and its audit
// events; no key and no roll exists without its event, and no event
// without its change.
func TestKillDuringABurstOfRolls(t *testing.T) {
	t.Parallel()
	for _, kind := range []string{"sqlite", "postgres"} {
		t.Run(kind, func(t *testing.T) {
			dsn := filepath.Join(t.TempDir(), "data", "dashboard.db")
			if kind == "postgres" {
				dsn = testkit.PostgresDSN(t)
			}
			serverURL, cmd, logs := serveUntilKilled(t, dsn)
			admin := exec.Command(binPath, "admin", "create", "--db", dsn, "--workspace", "Crash", "--email", "crash@acme.test")
			admin.Stdin = strings.NewReader("correct horse battery\n")
			if out, err := admin.CombinedOutput(); err != nil {
				t.Fatalf("admin create: %v\n%s", err, out)
			}
			c := (&dashtest.App{URL: serverURL}).SignIn(t, "crash@acme.test", "correct horse battery")
			const n = 60
			ids := make([]string, n)
			for i := range ids {
				ids[i] = c.CreateKey(fmt.Sprint("crash ", i), "*").ID
			}

			// The burst: 8 clients roll the keys; the server is killed
			// once a third of them were answered.
			type ack struct{ old, new string }
			var mu sync.Mutex
			var acked []ack
			var answered atomic.Int32
			killed := make(chan struct{})
			go func() {
				for answered.Load() < n/3 {
					time.Sleep(time.Millisecond)
				}
				cmd.Process.Signal(syscall.SIGKILL)
				close(killed)
			}()
			reveal := regexp.MustCompile(`^/settings/api-keys/(key_[0-9a-z]{20})/reveal$`)
			next := atomic.Int32{}
			var wg sync.WaitGroup
			for range 8 {
				wg.Go(func() {
					for {
						i := int(next.Add(1)) - 1
						if i >= n {
							return
						}
						var tok [16]byte
						rand.Read(tok[:])
						resp, _, err := c.Try("POST", "/settings/api-keys/"+ids[i]+"/roll", url.Values{"overlap": {"1h"}, "form_token": {hex.EncodeToString(tok[:])}})
						if err != nil {
							continue // the server is gone: not acknowledged
						}
						m := reveal.FindStringSubmatch(resp.Header.Get("Location"))
						if resp.StatusCode != 303 || m == nil {
							t.Errorf("roll of %s: %d %q", ids[i], resp.StatusCode, resp.Header.Get("Location"))
							continue
						}
						mu.Lock()
						acked = append(acked, ack{ids[i], m[1]})
						mu.Unlock()
						answered.Add(1)
					}
				})
			}
			wg.Wait()
			select {
			case <-killed:
			case <-time.After(30 * time.Second):
				t.Fatal("the server was never killed")
			}
			cmd.Wait()
			if len(acked) < n/3 || len(acked) == n {
				t.Errorf("acknowledged %d of %d rolls: the kill did not land during the burst", len(acked), n)
			}
			t.Logf("%s: %d of %d rolls acknowledged before the kill", kind, len(acked), n)

			ctx := context.Background()
			store, err := db.Open(ctx, dsn)
			if err != nil {
				t.Fatal(err)
			}
			defer store.Close()
			raw := store.SQL()
			type keyState struct {
				rolledInto, rolledFrom string
				expires, rolledAt      int64
			}
			keys := map[string]keyState{}
			rows, err := raw.Query(`SELECT id, COALESCE(rolled_into, ''), COALESCE(rolled_from, ''), COALESCE(expires_at, 0), COALESCE(rolled_at, 0) FROM api_keys`)
			must(t, err)
			for rows.Next() {
				var id string
				var k keyState
				must(t, rows.Scan(&id, &k.rolledInto, &k.rolledFrom, &k.expires, &k.rolledAt))
				keys[id] = k
			}
			rows.Close()
			created, rolled := map[string]int{}, map[string]string{}
			rows, err = raw.Query(`SELECT action, key_id, details FROM audit_events WHERE key_id IS NOT NULL`)
			must(t, err)
			for rows.Next() {
				var action, key, details string
				must(t, rows.Scan(&action, &key, &details))
				switch action {
				case "key.created":
					created[key]++
				case "key.rolled":
					var d struct {
						RolledInto struct{ ID string } `json:"rolled_into"`
					}
					json.Unmarshal([]byte(details), &d)
					if rolled[key] != "" {
						t.Errorf("two key.rolled events for %s", key)
					}
					rolled[key] = d.RolledInto.ID
				}
			}
			rows.Close()

			// Every acknowledged roll: the new key, the old key's end, the event.
			for _, a := range acked {
				old, nw := keys[a.old], keys[a.new]
				if old.rolledInto != a.new || nw.rolledFrom != a.old {
					t.Errorf("acknowledged roll %s -> %s: stored links %q / %q", a.old, a.new, old.rolledInto, nw.rolledFrom)
				}
				if old.expires != old.rolledAt+time.Hour.Milliseconds() {
					t.Errorf("acknowledged roll of %s: end %d, want rolled_at %d + 1h", a.old, old.expires, old.rolledAt)
				}
				if rolled[a.old] != a.new || created[a.new] != 1 {
					t.Errorf("acknowledged roll %s -> %s: key.rolled into %q, key.created %d", a.old, a.new, rolled[a.old], created[a.new])
				}
			}
			// Nothing without its event, no event without its change.
			for id, k := range keys {
				if created[id] != 1 {
					t.Errorf("key %s has %d key.created events", id, created[id])
				}
				if k.rolledInto != "" && rolled[id] != k.rolledInto {
					t.Errorf("key %s rolled into %s, but its key.rolled says %q", id, k.rolledInto, rolled[id])
				}
			}
			for id, into := range rolled {
				if keys[id].rolledInto != into || keys[into].rolledFrom != id {
					t.Errorf("key.rolled %s -> %s without the roll", id, into)
				}
			}
			if t.Failed() {
				t.Logf("server log:\n%s", logs)
			}

			// A restarted server serves the rolled keys as they are.
			serverURL, _, _ = serveUntilKilled(t, dsn)
			c = (&dashtest.App{URL: serverURL}).SignIn(t, "crash@acme.test", "correct horse battery")
			if len(acked) > 0 {
				resp, body, err := c.Try("GET", "/settings/api-keys/"+acked[0].old, nil)
				if err != nil || resp.StatusCode != 200 || !strings.Contains(body, "Rolled") {
					t.Errorf("after the restart, the rolled key's page: %v %v", resp, err)
				}
			}
		})
	}
}
