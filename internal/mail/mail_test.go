package mail_test

import (
	"context"
	"log/slog"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/blnk-cloud/apikeys/internal/mail"
	"github.com/blnk-cloud/apikeys/internal/testkit"
)

func TestNewSMTP(t *testing.T) {
	for _, tt := range []struct {
		name, url, password, from string
		want, problem             string
	}{
		{name: "starttls with a user", url: "smtp://keys@mail.example.com:587", password: "pw", from: "keys@example.com", want: "smtp://keys@mail.example.com:587"},
		{name: "default port", url: "smtp://mail.example.com", from: "keys@example.com", want: "smtp://mail.example.com:587"},
		{name: "implicit tls", url: "smtps://u@mail.example.com", password: "pw", from: "Blnk <keys@example.com>", want: "smtps://u@mail.example.com:465"},
		{name: "password in the URL", url: "smtp://u:secret@mail.example.com", from: "keys@example.com", problem: "BLNK_SMTP_PASSWORD"},
		{name: "other scheme", url: "http://mail.example.com", from: "keys@example.com", problem: "scheme"},
		{name: "no host", url: "smtp://", from: "keys@example.com", problem: "no host"},
		{name: "bad port", url: "smtp://mail.example.com:99999", from: "keys@example.com", problem: "port"},
		{name: "a path", url: "smtp://mail.example.com/x", from: "keys@example.com", problem: "no path"},
		{name: "password without user", url: "smtp://mail.example.com", password: "pw", from: "keys@example.com", problem: "no user"},
		{name: "no sender", url: "smtp://mail.example.com", problem: "--smtp-from"},
		{name: "bad sender", url: "smtp://mail.example.com", from: "not an address", problem: "sender address"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			s, err := mail.NewSMTP(tt.url, tt.password, tt.from)
			if tt.problem != "" {
				if err == nil || !strings.Contains(err.Error(), tt.problem) {
					t.Fatalf("NewSMTP(%q) = %v, want an error about %q", tt.url, err, tt.problem)
				}
				if strings.Contains(err.Error(), "secret") {
					t.Errorf("the error repeats the password: %v", err)
				}
				return
			}
			if err != nil {
				t.Fatalf("NewSMTP(%q): %v", tt.url, err)
			}
			if got := s.String(); got != tt.want {
				t.Errorf("String() = %q, want %q", got, tt.want)
			}
		})
	}
}

// TestSendThroughMailpit sends an invitation through a real SMTP server
// and reads it back: both parts, the subject, the sender, the link.
func TestSendThroughMailpit(t *testing.T) {
	mp := testkit.StartMailpit(t)
	s, err := mail.NewSMTP("smtp://"+mp.SMTP, "", "Blnk Cloud <keys@example.com>")
	if err != nil {
		t.Fatal(err)
	}
	link := "https://keys.example.com/invite/abc<&>def"
	m, err := mail.InvitationMessage(mail.Invitation{To: "ana@example.com", Workspace: "Acme <Corp>", Role: "Admin", InvitedBy: "owner@example.com",
		Link: link, Expires: time.Date(2026, 12, 14, 9, 30, 0, 0, time.UTC)})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Send(context.Background(), m); err != nil {
		t.Fatalf("Send: %v", err)
	}
	got := mp.WaitFor(t, "ana@example.com", 1)
	if got.Subject != "You are invited to Acme <Corp> on Blnk Cloud" {
		t.Errorf("subject %q", got.Subject)
	}
	if got.From.Address != "keys@example.com" {
		t.Errorf("from %+v", got.From)
	}
	if !strings.Contains(got.Text, link) || !strings.Contains(got.Text, "14 December 2026 09:30 UTC") {
		t.Errorf("the text part lacks the link or the expiry:\n%s", got.Text)
	}
	if !strings.Contains(got.HTML, `href="https://keys.example.com/invite/abc%3c&amp;%3edef"`) || !strings.Contains(got.HTML, "Acme &lt;Corp&gt;") {
		t.Errorf("the HTML part does not escape the link and the name:\n%s", got.HTML)
	}
}

// TestOutboxLogsFailuresWithoutTheLink: a server that cannot be reached
// is logged with the kind and the domain, never the message.
func TestOutboxLogsFailuresWithoutTheLink(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close() // nothing listens there now
	s, err := mail.NewSMTP("smtp://"+addr, "", "keys@example.com")
	if err != nil {
		t.Fatal(err)
	}
	logs := &testkit.LogBuffer{}
	o := mail.NewOutbox(s, 5*time.Second, slog.New(slog.NewTextHandler(logs, nil)))
	m, err := mail.PasswordResetMessage(mail.PasswordReset{To: "ana@example.com", Link: "https://keys.example.com/password/reset/SECRET-TOKEN", Expires: time.Now()})
	if err != nil {
		t.Fatal(err)
	}
	o.Post(m, "req-1")
	o.Wait()
	got := logs.String()
	if !strings.Contains(got, "email not sent") || !strings.Contains(got, "to_domain=example.com") || !strings.Contains(got, "req-1") {
		t.Errorf("the failure is not logged as it should be:\n%s", got)
	}
	if strings.Contains(got, "SECRET-TOKEN") || strings.Contains(got, "ana@") {
		t.Errorf("the log holds the link or the address:\n%s", got)
	}
}
