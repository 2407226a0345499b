// Package mail sends the dashboard's emails (invitations, password reset
// links) through an SMTP server, off the request path: a page that asks
// for an email answers at once, and the message goes out in the
// background with a timeout. Each message has a plain-text and an HTML
// part. A message's link is a secret: nothing here logs a message's
// content, only its kind and the recipient's domain.
package mail

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	gomail "github.com/wneessen/go-mail"
)

// Message is one email: a recipient, a subject, and the same content as
// plain text and as HTML.
type Message struct {
	Kind    string // what it is, for the logs: "invitation", "password reset"
	To      string
	Subject string
	Text    string
	HTML    string
}

// Sender sends one message, within ctx.
type Sender interface {
	Send(ctx context.Context, m Message) error
}

// SMTP sends messages through an SMTP server.
type SMTP struct {
	host     string
	port     int
	implicit bool // smtps: TLS from the start
	user     string
	password string
	from     string
	timeout  time.Duration
}

// DefaultTimeout bounds one message's delivery to the SMTP server.
const DefaultTimeout = 15 * time.Second

// NewSMTP reads an SMTP server's URL: smtp://[user@]host[:port] (STARTTLS
// when the server offers it, required when a user is given unless the
// host is loopback; port 587 by default) or smtps://[user@]host[:port]
// (TLS from the start, port 465). The password is given apart, never in
// the URL (it would be in a flag or a log). from is the sender's
// address.
func NewSMTP(rawURL, password, from string) (*SMTP, error) {
	u, err := url.Parse(rawURL)
	if err != nil {
		return nil, errors.New("not a URL: use smtp://user@host:port")
	}
	s := &SMTP{password: password, timeout: DefaultTimeout}
	switch u.Scheme {
	case "smtp":
		s.port = 587
	case "smtps":
		s.port, s.implicit = 465, true
	default:
		return nil, fmt.Errorf("scheme %q: use smtp://user@host:port or smtps://user@host:port", u.Scheme)
	}
	if u.User != nil {
		if _, set := u.User.Password(); set {
			return nil, errors.New("the URL holds a password: give it in BLNK_SMTP_PASSWORD instead, and leave it out of the URL")
		}
		s.user = u.User.Username()
	}
	if (u.Path != "" && u.Path != "/") || u.RawQuery != "" || u.Fragment != "" {
		return nil, errors.New("use smtp://user@host:port, with no path or query")
	}
	s.host = u.Hostname()
	if s.host == "" {
		return nil, errors.New("no host: use smtp://user@host:port")
	}
	if p := u.Port(); p != "" {
		n, err := strconv.Atoi(p)
		if err != nil || n < 1 || n > 65535 {
			return nil, fmt.Errorf("port %q: use a number from 1 to 65535", p)
		}
		s.port = n
	}
	if s.password != "" && s.user == "" {
		return nil, errors.New("a password is set but the URL names no user: use smtp://user@host:port")
	}
	from = strings.TrimSpace(from)
	if from == "" {
		return nil, errors.New("no sender address: set --smtp-from (env BLNK_SMTP_FROM)")
	}
	if err := gomail.NewMsg().From(from); err != nil {
		return nil, fmt.Errorf("sender address %q: %v", from, err)
	}
	s.from = from
	return s, nil
}

// String describes the server for the logs: never the password.
func (s *SMTP) String() string {
	scheme := "smtp"
	if s.implicit {
		scheme = "smtps"
	}
	user := ""
	if s.user != "" {
		user = s.user + "@"
	}
	return scheme + "://" + user + net.JoinHostPort(s.host, strconv.Itoa(s.port))
}

func (s *SMTP) loopback() bool {
	if s.host == "localhost" {
		return true
	}
	a, err := netip.ParseAddr(s.host)
	return err == nil && a.IsLoopback()
}

// Send sends m, giving up after the SMTP's timeout or when ctx ends.
func (s *SMTP) Send(ctx context.Context, m Message) error {
	msg := gomail.NewMsg()
	if err := msg.From(s.from); err != nil {
		return err
	}
	if err := msg.To(m.To); err != nil {
		return err
	}
	msg.Subject(m.Subject)
	msg.SetMessageID()
	msg.SetDate()
	msg.SetBodyString(gomail.TypeTextPlain, m.Text)
	msg.AddAlternativeString(gomail.TypeTextHTML, m.HTML)

	opts := []gomail.Option{gomail.WithPort(s.port), gomail.WithTimeout(s.timeout)}
	switch {
	case s.implicit:
		opts = append(opts, gomail.WithSSL())
	case s.user != "" && !s.loopback():
		// Credentials never cross the network in the clear.
		opts = append(opts, gomail.WithTLSPolicy(gomail.TLSMandatory))
	default:
		opts = append(opts, gomail.WithTLSPolicy(gomail.TLSOpportunistic))
	}
	if s.user != "" {
		opts = append(opts, gomail.WithSMTPAuth(gomail.SMTPAuthAutoDiscover), gomail.WithUsername(s.user), gomail.WithPassword(s.password))
	}
	c, err := gomail.NewClient(s.host, opts...)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, s.timeout)
	defer cancel()
	return c.DialAndSendWithContext(ctx, msg)
}

// Outbox sends messages in the background: Post returns at once. At most
// a few are sent at a time; each gets the timeout, and a failure is
// logged (the kind and the recipient's domain, never the content).
type Outbox struct {
	sender  Sender
	timeout time.Duration
	log     *slog.Logger
	slots   chan struct{}
	wg      sync.WaitGroup
	ctx     context.Context
	cancel  context.CancelFunc
}

// NewOutbox returns an Outbox sending through sender, each message
// within timeout (default DefaultTimeout).
func NewOutbox(sender Sender, timeout time.Duration, log *slog.Logger) *Outbox {
	if timeout <= 0 {
		timeout = DefaultTimeout
	}
	ctx, cancel := context.WithCancel(context.Background())
	return &Outbox{sender: sender, timeout: timeout, log: log, slots: make(chan struct{}, 4), ctx: ctx, cancel: cancel}
}

// Post sends m in the background; requestID ties its log line to the
// request that asked.
func (o *Outbox) Post(m Message, requestID string) {
	o.wg.Go(func() {
		select {
		case o.slots <- struct{}{}:
		case <-o.ctx.Done():
			o.log.Error("email not sent: shutting down", "kind", m.Kind, "to_domain", domain(m.To), "request_id", requestID)
			return
		}
		defer func() { <-o.slots }()
		ctx, cancel := context.WithTimeout(o.ctx, o.timeout)
		defer cancel()
		start := time.Now()
		if err := o.sender.Send(ctx, m); err != nil {
			o.log.Error("email not sent", "kind", m.Kind, "to_domain", domain(m.To), "request_id", requestID, "err", err)
			return
		}
		o.log.Info("email sent", "kind", m.Kind, "to_domain", domain(m.To), "request_id", requestID, "ms", time.Since(start).Milliseconds())
	})
}

// Wait waits until every message posted so far is sent or has failed.
func (o *Outbox) Wait() { o.wg.Wait() }

// Close waits for the messages under way, until ctx ends; then it gives
// up on those left.
func (o *Outbox) Close(ctx context.Context) {
	done := make(chan struct{})
	go func() { o.wg.Wait(); close(done) }()
	select {
	case <-done:
	case <-ctx.Done():
		o.cancel()
		<-done
	}
	o.cancel()
}

// domain is the part of an address after the @, for the logs.
func domain(addr string) string {
	if i := strings.LastIndexByte(addr, '@'); i >= 0 {
		return addr[i+1:]
	}
	return ""
}
