package main

import (
	"context"
	"io"
	"net/http"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/blnk-cloud/apikeys/internal/testkit"
)

// setupLinkLog keeps the server's log, and closes seen once it holds
// waitFor.
type setupLinkLog struct {
	waitFor string
	mu      sync.Mutex
	buf     strings.Builder
	seen    chan struct{}
	once    sync.Once
}

func (w *setupLinkLog) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.buf.Write(p)
	if strings.Contains(w.buf.String(), w.waitFor) {
		w.once.Do(func() { close(w.seen) })
	}
	return len(p), nil
}

func (w *setupLinkLog) String() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.buf.String()
}

var (
	listeningURL = regexp.MustCompile(`msg=listening url=http://\S+:(\d+) `)
	setupLinkURL = regexp.MustCompile(`url="?http://\S+/setup\?token=([A-Za-z0-9_-]+)`)
)

// TestSetupLinkOnAnyAddress: a fresh server listening on every address
// prints a one-time setup link (192 random bits) and /setup asks for it;
// on loopback it prints none and /setup is open, as `make run` has it.
func TestSetupLinkOnAnyAddress(t *testing.T) {
	for _, tt := range []struct {
		listen   string
		wantLink bool
	}{
		{"0.0.0.0:0", true},
		{"127.0.0.1:0", false},
	} {
		t.Run(tt.listen, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
			defer cancel()
			// The link, when there is one, is logged right after "listening".
			w := &setupLinkLog{waitFor: "msg=listening", seen: make(chan struct{})}
			if tt.wantLink {
				w.waitFor = "first-run setup"
			}
			done := make(chan error, 1)
			go func() { done <- serve(ctx, []string{"--listen", tt.listen, "--db", testkit.DSN(t)}, w) }()
			select {
			case <-w.seen:
			case err := <-done:
				t.Fatalf("serve: %v\n%s", err, w)
			}
			logs := w.String()
			m := setupLinkURL.FindStringSubmatch(logs)
			port := listeningURL.FindStringSubmatch(logs)
			if port == nil {
				t.Fatalf("no listening line:\n%s", logs)
			}
			if (m != nil) != tt.wantLink {
				t.Fatalf("setup link logged: %v, want %v\n%s", m != nil, tt.wantLink, logs)
			}
			get := func(path string) int {
				t.Helper()
				resp, err := http.Get("http://127.0.0.1:" + port[1] + path)
				if err != nil {
					t.Fatal(err)
				}
				io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				return resp.StatusCode
			}
			if !tt.wantLink {
				if got := get("/setup"); got != http.StatusOK {
					t.Errorf("loopback: /setup without a token: %d, want 200", got)
				}
			} else {
				if len(m[1]) < 32 {
					t.Errorf("token %q: want at least 128 bits", m[1])
				}
				if got := get("/setup"); got != http.StatusForbidden {
					t.Errorf("/setup without the token: %d, want 403", got)
				}
				if got := get("/setup?token=" + m[1]); got != http.StatusOK {
					t.Errorf("/setup with the link's token: %d, want 200", got)
				}
			}
			cancel()
			if err := <-done; err != nil {
				t.Errorf("serve: %v", err)
			}
		})
	}
}
