package testkit

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// MailpitVersion is the mailpit e2e/setup.sh installs (make test-deps).
const MailpitVersion = "v1.33.1"

// Mailpit is a real SMTP server for the tests, started on free ports,
// whose messages are read through its HTTP API.
type Mailpit struct {
	// SMTP is its SMTP address, host:port.
	SMTP string
	// API is the base of its HTTP API, http://host:port.
	API string
}

// MailpitBinary returns the path of the mailpit binary: BLNK_MAILPIT,
// else where e2e/setup.sh installs it, else one in PATH. It fails the
// test, saying how to install it, when there is none: email tests are
// never skipped.
func MailpitBinary(t testing.TB) string {
	t.Helper()
	if p := os.Getenv("BLNK_MAILPIT"); p != "" {
		return p
	}
	cache := os.Getenv("XDG_CACHE_HOME")
	if cache == "" {
		home, _ := os.UserHomeDir()
		cache = filepath.Join(home, ".cache")
	}
	p := filepath.Join(cache, "blnk-e2e", "mailpit-"+MailpitVersion, "mailpit")
	if _, err := os.Stat(p); err == nil {
		return p
	}
	if p, err := exec.LookPath("mailpit"); err == nil {
		return p
	}
	t.Fatalf("mailpit %s is not installed (looked in %s, BLNK_MAILPIT and PATH): run `make test-deps` or `bash e2e/setup.sh`, which installs it with go install github.com/axllent/mailpit@%s", MailpitVersion, p, MailpitVersion)
	return ""
}

// freePort returns a port nothing listens on now.
func freePort(t testing.TB) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// StartMailpit starts mailpit on free ports of 127.0.0.1 for the test,
// and stops it when the test ends.
func StartMailpit(t testing.TB) *Mailpit {
	t.Helper()
	bin := MailpitBinary(t)
	var lastErr error
	for attempt := 0; attempt < 3; attempt++ { // a free port may be taken meanwhile
		smtp, api := freePort(t), freePort(t)
		m := &Mailpit{SMTP: "127.0.0.1:" + strconv.Itoa(smtp), API: "http://127.0.0.1:" + strconv.Itoa(api)}
		ctx, cancel := context.WithCancel(context.Background())
		cmd := exec.CommandContext(ctx, bin, "--smtp", m.SMTP, "--listen", "127.0.0.1:"+strconv.Itoa(api),
			"--database", filepath.Join(t.TempDir(), "mailpit.db"), "--disable-version-check", "--smtp-disable-rdns", "--quiet",
			"--smtp-auth-accept-any", "--smtp-auth-allow-insecure")
		var out strings.Builder
		cmd.Stdout, cmd.Stderr = &out, &out
		if err := cmd.Start(); err != nil {
			cancel()
			t.Fatalf("start mailpit: %v", err)
		}
		exited := make(chan error, 1)
		go func() { exited <- cmd.Wait() }()
		if lastErr = m.waitReady(exited); lastErr == nil {
			t.Cleanup(func() {
				cancel()
				<-exited
			})
			return m
		}
		cancel()
		<-exited
		lastErr = fmt.Errorf("%w\n%s", lastErr, out.String())
	}
	t.Fatalf("mailpit did not start: %v", lastErr)
	return nil
}

// waitReady waits for the API to answer, for 10 seconds at most.
func (m *Mailpit) waitReady(exited <-chan error) error {
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		select {
		case err := <-exited:
			return fmt.Errorf("mailpit exited: %v", err)
		default:
		}
		res, err := http.Get(m.API + "/api/v1/messages")
		if err == nil {
			res.Body.Close()
			if res.StatusCode == http.StatusOK {
				return nil
			}
		}
		time.Sleep(20 * time.Millisecond)
	}
	return fmt.Errorf("mailpit's API did not answer within 10 s")
}

// MailAddress is an address as mailpit's API gives it.
type MailAddress struct {
	Name    string
	Address string
}

// MailSummary is a message in mailpit's list.
type MailSummary struct {
	ID      string
	To      []MailAddress
	Subject string
}

// MailMessage is a whole message from mailpit's API.
type MailMessage struct {
	ID      string
	From    MailAddress
	To      []MailAddress
	Subject string
	Text    string
	HTML    string
}

// Messages lists the messages mailpit received, newest first.
func (m *Mailpit) Messages(t testing.TB) []MailSummary {
	t.Helper()
	var list struct{ Messages []MailSummary }
	m.getJSON(t, "/api/v1/messages", &list)
	return list.Messages
}

// Message reads one message.
func (m *Mailpit) Message(t testing.TB, id string) MailMessage {
	t.Helper()
	var msg MailMessage
	m.getJSON(t, "/api/v1/message/"+id, &msg)
	return msg
}

// WaitFor waits, 10 seconds at most, for the n-th message (from 1) sent
// to the address, and returns it.
func (m *Mailpit) WaitFor(t testing.TB, to string, n int) MailMessage {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		var found []MailSummary
		for _, s := range m.Messages(t) {
			for _, a := range s.To {
				if strings.EqualFold(a.Address, to) {
					found = append(found, s)
				}
			}
		}
		if len(found) >= n {
			return m.Message(t, found[len(found)-n].ID) // the list is newest first
		}
		if time.Now().After(deadline) {
			t.Fatalf("mailpit: %d messages to %s after 10 s, want %d", len(found), to, n)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func (m *Mailpit) getJSON(t testing.TB, path string, v any) {
	t.Helper()
	res, err := http.Get(m.API + path)
	if err != nil {
		t.Fatalf("mailpit %s: %v", path, err)
	}
	defer res.Body.Close()
	if res.StatusCode != http.StatusOK {
		t.Fatalf("mailpit %s: %s", path, res.Status)
	}
	if err := json.NewDecoder(res.Body).Decode(v); err != nil {
		t.Fatalf("mailpit %s: %v", path, err)
	}
}
