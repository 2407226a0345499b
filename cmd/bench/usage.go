package main

// Usage and protection (go run ./cmd/bench -usage): what counting calls
// per key and an IP allowlist of 50 CIDRs cost verify, and how fast a
// burst of 10,000 webhook events is delivered to a local receiver.
//
// Verify: two servers share the seeded database. Server A counts usage
// (the default) and is called with a key whose allowlist holds 50
// networks, the client's the last (every one compared); server B runs
// with --usage-counts=false and is called with a key without allowlist,
// the check as it was before either existed. Each verify run is paired
// with a /healthz run of its own server in the same round, and the
// ratios of the two servers are compared: the goal is A's within 5% of
// B's.
//
// Webhooks: a server runs on a small database with one endpoint pointing
// at a receiver in this process; 10,000 events are queued in one
// transaction, and the clock runs until the receiver has had every one.
// Every request's signature is checked, and every event must arrive once.

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"

	"encoding/base64"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"time"

	"github.com/blnk-cloud/apikeys/db"
	"github.com/blnk-cloud/apikeys/internal/apikey"
	"github.com/blnk-cloud/apikeys/internal/audit"
	"github.com/blnk-cloud/apikeys/internal/blnk"
	"github.com/blnk-cloud/apikeys/internal/webhook"
)

// goalUsageRatio: verify with counting and 50 CIDRs keeps at least this
// share of the plain check's throughput (both as ratios to /healthz).
const goalUsageRatio = 0.95

// burstEvents is the size of the webhook burst.
const burstEvents = 10_000

func runUsage(ctx context.Context, cfg config, stdout, stderr io.Writer) error {
	logf := logTo(stderr)
	start := time.Now()
	setup, err := newBench(ctx, cfg, "usage-", true, logf)
	if err != nil {
		return err
	}
	defer setup.done()
	tmp, wrk := setup.tmp, setup.wrk
	bin, err := setup.bin()
	if err != nil {
		return err
	}

	logf("creating a database of %d keys", cfg.keys)
	dbPath := filepath.Join(tmp, "bench.db")
	toks, err := seed(ctx, dbPath, cfg.keys, 2)
	if err != nil {
		return fmt.Errorf("seed: %w", err)
	}
	listed, plain := toks.valid[0], toks.valid[1]
	var nets []string
	for i := range 49 {
		nets = append(nets, fmt.Sprintf("10.%d.0.0/16", i))
	}
	nets = append(nets, "127.0.0.0/8") // wrk's address, last
	allow, err := apikey.ParseAllowlist(strings.Join(nets, "\n"))
	if err != nil {
		return err
	}
	if err := setAllowlist(ctx, dbPath, listed, allow); err != nil {
		return err
	}
	listedFile, err := writeLines(tmp, "listed.txt", []string{listed})
	if err != nil {
		return err
	}
	plainFile, err := writeLines(tmp, "plain.txt", []string{plain})
	if err != nil {
		return err
	}
	gen, err := newLoadGen(tmp, wrk, cfg)
	if err != nil {
		return err
	}

	extra := strings.Fields(cfg.serverArgs)
	a, err := startServer(ctx, bin, dbPath, extra...)
	if err != nil {
		return err
	}
	defer a.stop()
	b, err := startServer(ctx, bin, dbPath, append([]string{"--usage-counts=false"}, extra...)...)
	if err != nil {
		return err
	}
	defer b.stop()
	verify := verifyURL(cfg)
	type run struct {
		name string
		srv  *server
		sc   scenario
	}
	runs := []run{
		{"A: GET /healthz", a, scenario{path: "/healthz", keyFile: "-", expect: "200"}},
		{"A: verify, usage counted, 50-CIDR allowlist", a, scenario{path: verify, keyFile: listedFile, expect: "200"}},
		{"B: GET /healthz", b, scenario{path: "/healthz", keyFile: "-", expect: "200"}},
		{"B: verify, no counting, no allowlist", b, scenario{path: verify, keyFile: plainFile, expect: "200"}},
	}
	results := make([][]result, len(runs))
	var problems []string
	for round := range cfg.rounds {
		for i := range runs {
			ri := (i + 2*round) % len(runs) // the servers take turns going first
			r := runs[ri]
			if cfg.warmup >= time.Second {
				if _, err := gen.run(ctx, r.srv, r.sc.path, r.sc.keyFile, r.sc.expect, cfg.warmup); err != nil {
					return err
				}
			}
			res, err := gen.run(ctx, r.srv, r.sc.path, r.sc.keyFile, r.sc.expect, cfg.duration)
			if err != nil {
				return err
			}
			if res.unexpected > 0 {
				problems = append(problems, fmt.Sprintf("%s: %d unexpected statuses: %s", r.name, res.unexpected, res.statusSummary()))
			}
			results[ri] = append(results[ri], res)
			logf("round %d/%d  %-46s %9.0f req/s  p50 %-9s p99 %-9s server %5.1f µs/req  %s",
				round+1, cfg.rounds, r.name, res.reqPerSec, fmtDur(res.p50), fmtDur(res.p99), us(res.serverCPUPerReq()), res.statusSummary())
		}
	}
	if err := a.stop(); err != nil {
		problems = append(problems, fmt.Sprintf("server A did not stop cleanly: %v", err))
	}
	if err := b.stop(); err != nil {
		problems = append(problems, fmt.Sprintf("server B did not stop cleanly: %v", err))
	}
	for _, s := range []*server{a, b} {
		if e := serverErrors(s.stderr.String()); e != "" {
			problems = append(problems, "server logged errors:\n"+e)
		}
	}
	counted, err := countedCalls(ctx, dbPath, listed)
	if err != nil {
		return err
	}
	var sent int64
	for _, r := range results[1] {
		sent += r.requests
	}

	logf("webhook burst: %d events", burstEvents)
	burst, err := webhookBurst(ctx, bin, filepath.Join(tmp, "hooks.db"), extra, logf)
	if err != nil {
		return err
	}
	problems = append(problems, burst.problems...)

	// The report.
	var rel, cpuRel []float64
	for round := range cfg.rounds {
		ra := results[1][round].reqPerSec / results[0][round].reqPerSec
		rb := results[3][round].reqPerSec / results[2][round].reqPerSec
		rel = append(rel, ra/rb)
		ca := float64(results[1][round].serverCPUPerReq()) / float64(results[0][round].serverCPUPerReq())
		cb := float64(results[3][round].serverCPUPerReq()) / float64(results[2][round].serverCPUPerReq())
		cpuRel = append(cpuRel, ca/cb)
	}
	model, cpus := cpuInfo()
	fmt.Fprintf(stdout, "Usage and protection, %s UTC, %d-core %s, %s; %d keys, %d rounds of %s, wrk -t%d -c%d\n\n",
		time.Now().UTC().Format("2006-01-02 15:04"), cpus, model, runtime.Version(), cfg.keys, cfg.rounds, cfg.duration, cfg.threads, cfg.connections)
	fmt.Fprintln(stdout, "| server: scenario | req/s | ratio to its /healthz | p50 | p99 | server CPU/req |")
	fmt.Fprintln(stdout, "|---|---:|---:|---:|---:|---:|")
	for i, r := range runs {
		var rps, ratios []float64
		var p50s, p99s, cpus []time.Duration
		for round, res := range results[i] {
			base := results[i-i%2][round]
			rps = append(rps, res.reqPerSec)
			ratios = append(ratios, res.reqPerSec/base.reqPerSec)
			p50s, p99s, cpus = append(p50s, res.p50), append(p99s, res.p99), append(cpus, res.serverCPUPerReq())
		}
		fmt.Fprintf(stdout, "| %s | %s | %.2f | %s | %s | %.1f µs |\n", r.name, thousands(median(rps)), median(ratios),
			fmtDur(median(p50s)), fmtDur(median(p99s)), us(median(cpus)))
	}
	got := median(rel)
	fmt.Fprintf(stdout, "\nverify with counting and 50 CIDRs, relative to the plain check (median of the rounds' paired ratios): **%.3f** (goal ≥ %.2f): %s\n",
		got, goalUsageRatio, verdict(got >= goalUsageRatio, "within 5%"))
	fmt.Fprintf(stdout, "server CPU per verify with counting and 50 CIDRs, relative to the plain check's (each to its /healthz, median of the rounds): %.3f (steadier than req/s when other processes share the cores)\n",
		median(cpuRel))
	fmt.Fprintf(stdout, "calls counted for the allowlisted key after the servers stopped: %s of %s sent in the measured runs (warm-ups too are counted)\n",
		thousands(float64(counted)), thousands(float64(sent)))
	if counted < sent {
		problems = append(problems, fmt.Sprintf("counted %d calls, but %d were sent", counted, sent))
	}
	fmt.Fprintf(stdout, "\nwebhook burst: %s events to one local endpoint, delivered in %s: **%s deliveries/s**; each received once: %s; every signature valid: %s; recorded delivered: %s\n",
		thousands(burstEvents), burst.took.Round(time.Millisecond), thousands(float64(burstEvents)/burst.took.Seconds()),
		verdict(burst.dupes == 0 && burst.received == burstEvents, fmt.Sprintf("%d distinct, %d repeats", burst.received, burst.dupes)),
		verdict(burst.badSigs == 0, fmt.Sprintf("%d bad", burst.badSigs)),
		verdict(burst.recorded == burstEvents, fmt.Sprintf("%d of %d", burst.recorded, burstEvents)))
	fmt.Fprintf(stdout, "\n(took %s)\n", time.Since(start).Round(time.Second))
	for _, p := range problems {
		fmt.Fprintln(stdout, "PROBLEM:", p)
	}
	return measured(problems)
}

// setAllowlist gives the key of token an allowlist, as an edit from the
// command line would.
func setAllowlist(ctx context.Context, path, token string, allow []netip.Prefix) error {
	store, err := db.Open(ctx, path)
	if err != nil {
		return err
	}
	defer store.Close()
	k, err := keyOf(ctx, store, token)
	if err != nil {
		return err
	}
	_, _, err = store.EditKey(ctx, k.WorkspaceID, k.ID, blnk.KeyEdit{Name: k.Name, Description: k.Description, Allowlist: allow},
		audit.Actor{Kind: audit.CommandLine}, time.Now())
	return err
}

// keyOf finds the stored key of token by its prefix.
func keyOf(ctx context.Context, store *db.DB, token string) (apikey.Key, error) {
	prefix, err := apikey.Parse(token)
	if err != nil {
		return apikey.Key{}, err
	}
	return store.FindKey(ctx, prefix)
}

// countedCalls returns the calls stored for the key of token.
func countedCalls(ctx context.Context, path, token string) (int64, error) {
	store, err := db.Open(ctx, path)
	if err != nil {
		return 0, err
	}
	defer store.Close()
	k, err := keyOf(ctx, store, token)
	if err != nil {
		return 0, err
	}
	id := k.ID
	hours, err := store.KeyUsage(ctx, id, time.Time{})
	if err != nil {
		return 0, err
	}
	var n int64
	for _, h := range hours {
		n += h.Total()
	}
	return n, nil
}

type burstResult struct {
	took                     time.Duration
	received, dupes, badSigs int
	recorded                 int
	problems                 []string
}

// webhookBurst queues burstEvents events for one endpoint on a fresh
// database and times a server delivering them to a receiver here.
func webhookBurst(ctx context.Context, bin, path string, extra []string, logf func(string, ...any)) (burstResult, error) {
	var r burstResult
	store, err := db.Open(ctx, path)
	if err != nil {
		return r, err
	}
	defer store.Close()
	ws, _, err := store.CreateWorkspaceAdmin(ctx, "Bench", "bench@example.com", "x", time.Now())
	if err != nil {
		return r, err
	}

	var mu sync.Mutex
	seen := map[string]int{}
	all := make(chan struct{})
	var secret string
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return r, err
	}
	recv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		body, _ := io.ReadAll(req.Body)
		id := req.Header.Get("webhook-id")
		ok := checkSignature(secret, id, req.Header.Get("webhook-timestamp"), req.Header.Get("webhook-signature"), body)
		mu.Lock()
		if !ok {
			r.badSigs++
		}
		seen[id]++
		if seen[id] > 1 {
			r.dupes++
		} else if len(seen) == burstEvents {
			close(all)
		}
		mu.Unlock()
		w.WriteHeader(http.StatusNoContent)
	})}
	go recv.Serve(ln)
	defer recv.Close()

	hook, _, err := store.CreateWebhook(ctx, blnk.NewWebhook{
		Endpoint: webhook.Endpoint{ID: webhook.NewID(), WorkspaceID: ws.ID, URL: "http://" + ln.Addr().String() + "/hook",
			Events: []webhook.EventType{webhook.KeyCreated}, CreatedAt: time.Now()},
		Secret: webhook.NewSecret(), CreateToken: "bench", Actor: audit.Actor{Kind: audit.System},
	})
	if err != nil {
		return r, err
	}
	if secret, err = store.TakeWebhookSecret(ctx, ws.ID, hook.ID, time.Now()); err != nil {
		return r, err
	}
	// The receiver is on loopback: a private address.
	srv, err := startServer(ctx, bin, path, append([]string{"--webhook-allow-private"}, extra...)...)
	if err != nil {
		return r, err
	}
	defer srv.stop()

	// Queue the events as the key changes would: an event row and a
	// delivery each, here all in one transaction.
	t0 := time.Now()
	payloads := make([][]byte, burstEvents)
	for i := range payloads {
		payloads[i] = webhook.Payload{Type: webhook.KeyCreated, Timestamp: t0, Data: map[string]any{"n": i}}.Encode()
	}
	if _, err := store.ImportEvents(ctx, ws.ID, webhook.KeyCreated, t0, payloads); err != nil {
		return r, err
	}
	logf("queued in %s; delivering", time.Since(t0).Round(time.Millisecond))
	queued := time.Now()
	select {
	case <-all:
	case <-time.After(5 * time.Minute):
		r.problems = append(r.problems, "the burst was not delivered within 5 minutes")
	case <-ctx.Done():
		return r, ctx.Err()
	}
	r.took = time.Since(queued)
	// The attempts are recorded in batches just after: wait for them.
	deadline := time.Now().Add(time.Minute)
	for {
		n, err := store.CountDeliveries(ctx, webhook.Delivered)
		if err != nil {
			return r, err
		}
		r.recorded = n
		if n == burstEvents || time.Now().After(deadline) {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	time.Sleep(200 * time.Millisecond) // a repeat would show by now
	mu.Lock()
	r.received = len(seen)
	mu.Unlock()
	if err := srv.stop(); err != nil {
		r.problems = append(r.problems, fmt.Sprintf("webhook server did not stop cleanly: %v", err))
	}
	if e := serverErrors(srv.stderr.String()); e != "" {
		r.problems = append(r.problems, "webhook server logged errors:\n"+e)
	}
	return r, nil
}

// checkSignature is a receiver's check, as the README shows it.
func checkSignature(secret, id, ts, sig string, body []byte) bool {
	key, err := base64.StdEncoding.DecodeString(strings.TrimPrefix(secret, "whsec_"))
	if err != nil {
		return false
	}
	mac := hmac.New(sha256.New, key)
	fmt.Fprintf(mac, "%s.%s.%s", id, ts, body)
	want := "v1," + base64.StdEncoding.EncodeToString(mac.Sum(nil))
	for _, s := range strings.Fields(sig) {
		if hmac.Equal([]byte(s), []byte(want)) {
			return true
		}
	}
	return false
}
