// Package delivery sends the webhook deliveries queued in the database
// (see db/webhooks.go): every server runs a Worker, which claims due
// deliveries (each is claimed by one server at a time), sends them signed
// as Standard Webhooks do, and records each attempt: delivered on a 2xx
// answer, else retried with exponential backoff and jitter until 24 hours
// after the event, then given up. The queue lives in the database, so
// deliveries survive restarts, and every server's worker shares it.
//
// Outgoing requests are bounded: 10 s for the whole attempt, redirects
// are not followed (a 3xx answer is a failed attempt), only http and
// https, only to public addresses unless the operator allows private ones,
// never to this server's own listen address (webhook.Guard, checked on the
// address actually dialled, before connecting), no proxy from the
// environment, and at most 1 KB of the answer is kept.
package delivery

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"sync"
	"time"

	"github.com/blnk-cloud/apikeys/internal/blnk"
	"github.com/blnk-cloud/apikeys/internal/webhook"
)

// Config tunes a Worker; zero fields take the defaults.
type Config struct {
	// ServerID names this server's claims.
	ServerID string
	// Concurrency is how many requests may be in flight at once (default 16).
	Concurrency int
	// PollEvery is how often the queue is read for due deliveries, besides
	// when this process queues one (default 1s).
	PollEvery time.Duration
	// RetryBase is the first wait after a failed attempt; it doubles each
	// time (default 10s; see webhook.Backoff).
	RetryBase time.Duration
	// Timeout bounds an attempt (default webhook.Timeout, 10s).
	Timeout time.Duration
	// Guard decides which addresses may be reached; nil is the default
	// policy, public addresses only (tests whose receiver is on loopback
	// give one that allows private addresses).
	Guard *webhook.Guard
	// Now is the clock of the queue (default time.Now).
	Now func() time.Time
}

func (c *Config) setDefaults() {
	if c.Concurrency <= 0 {
		c.Concurrency = 16
	}
	if c.PollEvery <= 0 {
		c.PollEvery = time.Second
	}
	if c.RetryBase <= 0 {
		c.RetryBase = 10 * time.Second
	}
	if c.Timeout <= 0 {
		c.Timeout = webhook.Timeout
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	if c.ServerID == "" {
		c.ServerID = "worker"
	}
}

// Worker sends the queued deliveries.
type Worker struct {
	cfg    Config
	store  Store
	log    *slog.Logger
	client *http.Client
}

// Store is what the worker needs of the database (db.DB): the queue of
// deliveries, claimed with a lease so that each is sent by one server.
type Store interface {
	ClaimDeliveries(ctx context.Context, by string, now time.Time, lease time.Duration, limit int) ([]blnk.Job, error)
	ReleaseDeliveries(ctx context.Context, jobs []blnk.Job) error
	RecordAttempts(ctx context.Context, attempts []blnk.Attempt) error
	// DeliveriesQueued receives when this process queued a delivery.
	DeliveriesQueued() <-chan struct{}
}

// New returns a Worker on store.
func New(cfg Config, store Store, log *slog.Logger) *Worker {
	cfg.setDefaults()
	// Control runs on every address dialled, after name resolution and
	// before connecting, whoever resolved the name: nothing reaches a
	// refused address, whatever DNS answers.
	dialer := &net.Dialer{Timeout: cfg.Timeout, Control: cfg.Guard.Control}
	transport := &http.Transport{
		Proxy:                 nil, // a proxy would dial for us, past the guard
		DialContext:           dialer.DialContext,
		ForceAttemptHTTP2:     true,
		TLSHandshakeTimeout:   cfg.Timeout,
		ResponseHeaderTimeout: cfg.Timeout,
		MaxIdleConns:          100,
		MaxIdleConnsPerHost:   cfg.Concurrency,
		IdleConnTimeout:       90 * time.Second,
	}
	client := &http.Client{
		Transport: transport,
		Timeout:   cfg.Timeout,
		CheckRedirect: func(*http.Request, []*http.Request) error {
			return http.ErrUseLastResponse // a redirect is the endpoint's answer, not followed
		},
	}
	return &Worker{cfg: cfg, store: store, log: log, client: client}
}

// lease is how long a claim holds: a claimed delivery may wait behind a
// full round of attempts before its own, then take one, and be recorded.
func (w *Worker) lease() time.Duration { return 3*w.cfg.Timeout + 10*time.Second }

// Run sends deliveries until ctx ends, then lets the attempts in flight
// finish, records them, and gives back the claims of deliveries it had
// not started.
//
// It keeps up to twice Concurrency deliveries claimed: Concurrency
// senders work on them while the next ones wait, and it claims again,
// in one transaction for many, once half have been sent.
func (w *Worker) Run(ctx context.Context) {
	conc := w.cfg.Concurrency
	results := make(chan blnk.Attempt, 4*conc)
	recorded := make(chan struct{})
	go func() {
		defer close(recorded)
		w.record(results)
	}()
	jobs := make(chan blnk.Job, 2*conc)
	done := make(chan struct{}, 2*conc)
	var unsent []blnk.Job
	var mu sync.Mutex
	var senders sync.WaitGroup
	for range conc {
		senders.Go(func() {
			for j := range jobs {
				if ctx.Err() != nil {
					mu.Lock()
					unsent = append(unsent, j)
					mu.Unlock()
				} else {
					// An attempt begun finishes, on its own timeout, even
					// when the server is stopping.
					results <- w.send(context.WithoutCancel(ctx), j)
				}
				done <- struct{}{}
			}
		})
	}
	outstanding := 0 // claimed and not yet sent
	poll := time.NewTicker(w.cfg.PollEvery)
	defer poll.Stop()
	for {
		if outstanding <= conc && ctx.Err() == nil {
			want := 2*conc - outstanding
			claimed, err := w.store.ClaimDeliveries(ctx, w.cfg.ServerID, w.cfg.Now(), w.lease(), want)
			if err != nil && ctx.Err() == nil {
				w.log.Error("claim webhook deliveries", "err", err)
			}
			for _, j := range claimed {
				outstanding++
				jobs <- j // never blocks: outstanding <= cap(jobs)
			}
			if len(claimed) == want {
				// The queue may hold more: claim again as soon as some
				// are sent.
				select {
				case <-done:
					outstanding--
					continue
				case <-ctx.Done():
				}
			}
		}
		select {
		case <-ctx.Done():
			close(jobs)
			senders.Wait()
			close(results)
			<-recorded
			if len(unsent) > 0 {
				release, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
				if err := w.store.ReleaseDeliveries(release, unsent); err != nil {
					w.log.Warn("give back unsent webhook deliveries (their claims run out instead)", "err", err)
				}
				cancel()
			}
			return
		case <-done:
			outstanding--
		case <-w.store.DeliveriesQueued():
		case <-poll.C:
		}
	}
}

// record writes attempts as they come, several in one transaction when
// they come together, until results is closed.
func (w *Worker) record(results <-chan blnk.Attempt) {
	const most = 200
	batch := make([]blnk.Attempt, 0, most)
	for a := range results {
		batch = append(batch[:0], a)
	more:
		for len(batch) < most {
			select {
			case a, ok := <-results:
				if !ok {
					break more
				}
				batch = append(batch, a)
			default:
				break more
			}
		}
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		err := w.store.RecordAttempts(ctx, batch)
		cancel()
		if err != nil {
			// The claims run out and the deliveries are sent again: a
			// receiver may see them twice, never zero times.
			w.log.Error("record webhook attempts", "err", err, "attempts", len(batch))
		}
	}
}

// send makes one attempt at a delivery.
func (w *Worker) send(ctx context.Context, j blnk.Job) blnk.Attempt {
	now, start := w.cfg.Now(), time.Now()
	a := blnk.Attempt{ID: j.ID, Claim: j.Claim, At: now}
	status, response, err := w.post(ctx, j, now)
	a.Status, a.Response = status, response
	a.Duration = time.Since(start)
	switch {
	case errors.Is(err, errBlocked) || errors.Is(err, errOwn):
		// Refused before any connection: no time is shown, so the log
		// cannot tell how long a name took to resolve either.
		a.Err, a.Duration = err.Error(), 0
	case err != nil:
		a.Err = err.Error()
	case status >= 200 && status < 300:
		a.Delivered = true
	}
	if !a.Delivered {
		if next := now.Add(webhook.Backoff(j.Attempts+1, w.cfg.RetryBase)); next.Before(j.Deadline) {
			a.Next = next
		}
	}
	level := slog.LevelDebug
	if !a.Delivered {
		level = slog.LevelWarn
	}
	w.log.Log(ctx, level, "webhook attempt", "delivery", j.ID, "webhook_id", j.WebhookID, "event", j.Event,
		"attempt", j.Attempts+1, "status", status, "err", a.Err, "duration", a.Duration, "retry_at", a.Next)
	return a
}

// post sends the request and returns the answer's status and the first
// bytes of its body, or why there was none.
func (w *Worker) post(ctx context.Context, j blnk.Job, now time.Time) (int, string, error) {
	u, err := url.Parse(j.URL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") {
		return 0, "", errors.New("not an http(s) URL")
	}
	sig, err := webhook.Sign(j.Secret, j.EventID, now, j.Payload)
	if err != nil {
		return 0, "", err
	}
	ctx, cancel := context.WithTimeout(ctx, w.cfg.Timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, j.URL, bytes.NewReader(j.Payload))
	if err != nil {
		return 0, "", errors.New("not a URL that can be requested")
	}
	h := req.Header
	h.Set("Content-Type", "application/json")
	h.Set("User-Agent", "Blnk-Webhooks/1")
	h.Set("webhook-id", j.EventID)
	h.Set("webhook-timestamp", strconv.FormatInt(now.Unix(), 10))
	h.Set("webhook-signature", sig)
	resp, err := w.client.Do(req)
	if err != nil {
		return 0, "", describe(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, webhook.MaxResponse))
	// Read a little more so the connection can be reused; no more.
	io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	if resp.StatusCode >= 300 && resp.StatusCode < 400 {
		return resp.StatusCode, string(body), fmt.Errorf("redirect to %q not followed", resp.Header.Get("Location"))
	}
	return resp.StatusCode, string(body), nil
}

// errBlocked is the recorded error of an attempt the guard refused: the
// same words whatever the address and port, so that the deliveries list
// tells nothing about the network behind this server.
var errBlocked = errors.New("blocked: private address")

// errOwn is the recorded error of an attempt at this server itself.
var errOwn = errors.New("refused: the URL points at this server")

// describe says why a request got no answer, without Go's wrapping.
func describe(err error) error {
	var ne net.Error
	switch {
	case errors.Is(err, webhook.ErrOwnAddress):
		return errOwn
	case errors.Is(err, webhook.ErrPrivateAddress):
		return errBlocked
	case errors.Is(err, context.DeadlineExceeded) || errors.As(err, &ne) && ne.Timeout():
		return errors.New("timed out (no answer within the time limit)")
	}
	var ue *url.Error
	if errors.As(err, &ue) {
		return ue.Err
	}
	return err
}
