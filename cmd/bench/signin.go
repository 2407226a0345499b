package main

// The sign-in storm (go run ./cmd/bench -signin): wrong passwords sent all
// at once to the real server, which must evaluate no more than the
// throttle allows, hash no more passwords at once than it has cores, stay
// small, and keep answering /healthz.

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"time"
)

// goalSigninRSS is the most resident memory a sign-in storm may take.
const goalSigninRSS = 300e6 // bytes

// stormSpec is one sign-in storm. The throttle's allowance is the most
// a storm can have hashed: an allowed attempt that does not get its turn
// to hash within 2 s (a busy machine) is answered 503 and given back.
type stormSpec struct {
	name     string
	n        int                // sign-ins sent at once
	form     func(i int) string // the body of the i-th
	forward  func(i int) string // its X-Forwarded-For: its client address
	expected func(hashes int) bool
	want     string // what expected checks, in words
}

// stormResult is what a storm did.
type stormResult struct {
	statuses      map[int]int
	errs          int           // requests that got no answer
	slowest       time.Duration // of the sign-ins
	hashes        int           // passwords evaluated, from the server's log
	busy          int           // refused for want of a free hash slot, from the log
	idleRSS       int64         // kB, before
	hwm           int64         // kB, the kernel's peak resident set (VmHWM)
	healthOK      int           // /healthz probes answered 200 during the storm
	healthFailed  int           // probes not answered 200 within 2 s
	healthSlowest time.Duration // slowest probe
}

func runSignin(ctx context.Context, cfg config, stdout, stderr io.Writer) error {
	logf := logTo(stderr)
	start := time.Now()
	setup, bin, dbPath, err := newAdminBench(ctx, cfg, "signin", "the right password, never sent", 0, logf)
	if err != nil {
		return err
	}
	defer setup.done()

	wrong := func(email string, i int) string {
		return url.Values{"email": {email}, "password": {"wrong password " + strconv.Itoa(i)}}.Encode()
	}
	oneAddress := func(int) string { return "198.51.100.7" }
	storms := []stormSpec{
		{
			name: "128 at once, one address, one email", n: 128,
			form:     func(i int) string { return wrong(benchAdmin, i) },
			forward:  oneAddress,
			expected: func(h int) bool { return h >= 1 && h <= 5 }, want: "1 to 5 (one address's allowance at one email)",
		},
		{
			name: "2,000 at once, one address, 2,000 emails", n: 2000,
			form:     func(i int) string { return wrong("user"+strconv.Itoa(i)+"@bench.test", i) },
			forward:  oneAddress,
			expected: func(h int) bool { return h >= 1 && h <= 20 }, want: "1 to 20 (the address's allowance)",
		},
		{
			// The throttle does not help here: only the bound on hashes
			// at once keeps the memory down.
			name: "2,000 at once, 2,000 addresses, 2,000 emails", n: 2000,
			form:     func(i int) string { return wrong("user"+strconv.Itoa(i)+"@bench.test", i) },
			forward:  func(i int) string { return fmt.Sprintf("10.0.%d.%d", i/250, i%250+1) },
			expected: func(h int) bool { return h > 0 && h < 2000 },
			want:     "bounded by the hashes that fit in the 2 s wait",
		},
	}

	var results []stormResult
	var problems []string
	for _, sp := range storms {
		// A fresh server each time: its own throttle and its own peak.
		srv, err := startServer(ctx, bin, dbPath, append([]string{"--trusted-proxies", "127.0.0.1"}, strings.Fields(cfg.serverArgs)...)...)
		if err != nil {
			return err
		}
		logf("%s ...", sp.name)
		r, err := storm(ctx, srv, sp)
		if stopErr := srv.stop(); stopErr != nil && err == nil {
			problems = append(problems, fmt.Sprintf("%s: the server did not stop cleanly: %v", sp.name, stopErr))
		}
		if err != nil {
			return err
		}
		logf("  statuses %v, %d without an answer, %d hashes, peak %d MB, /healthz %d ok, %d failed, slowest %s",
			r.statuses, r.errs, r.hashes, r.hwm/1024, r.healthOK, r.healthFailed, fmtDur(r.healthSlowest))
		for code, n := range r.statuses {
			if code != http.StatusUnauthorized && code != http.StatusTooManyRequests && code != http.StatusServiceUnavailable {
				problems = append(problems, fmt.Sprintf("%s: %d answers %d (want only 401, 429 and 503)", sp.name, n, code))
			}
		}
		if r.errs > 0 {
			problems = append(problems, fmt.Sprintf("%s: %d sign-ins got no answer", sp.name, r.errs))
		}
		if r.statuses[http.StatusUnauthorized] != r.hashes {
			problems = append(problems, fmt.Sprintf("%s: %d answers 401 but %d failures logged", sp.name, r.statuses[http.StatusUnauthorized], r.hashes))
		}
		if e := serverErrors(srv.stderr.String()); e != "" {
			problems = append(problems, sp.name+": the server logged errors:\n"+e)
		}
		results = append(results, r)
	}

	w := stdout
	fmt.Fprintf(w, "## Sign-in storms\n\n")
	model, ncpu := cpuInfo()
	fmt.Fprintf(w, "%s, %d cores; %s; the real server (default settings, `--trusted-proxies 127.0.0.1` so that the client address can be set per request), fresh for each storm; wrong passwords sent at once, each on its own connection; `/healthz` probed every 50 ms meanwhile.\n\n",
		time.Now().UTC().Format("2006-01-02 15:04 UTC"), ncpu, model)
	fmt.Fprintf(w, "| storm | 401 (hashed) | 429 | 503 | passwords hashed | want | slowest answer | peak memory (VmHWM) | /healthz during the storm |\n")
	fmt.Fprintf(w, "|---|---:|---:|---:|---:|---|---:|---:|---|\n")
	var goals []string
	for i, sp := range storms {
		r := results[i]
		health := fmt.Sprintf("%d/%d answered, slowest %s", r.healthOK, r.healthOK+r.healthFailed, fmtDur(r.healthSlowest))
		fmt.Fprintf(w, "| %s | %d | %d | %d | **%d** | %s | %s | **%.1f MB** (%.1f MB idle) | %s |\n",
			sp.name, r.statuses[401], r.statuses[429], r.statuses[503], r.hashes, sp.want,
			fmtDur(r.slowest), float64(r.hwm)/1024, float64(r.idleRSS)/1024, health)
		goals = append(goals,
			verdict(sp.expected(r.hashes), fmt.Sprintf("%s: %d passwords hashed, want %s", sp.name, r.hashes, sp.want)),
			verdict(float64(r.hwm)*1024 < goalSigninRSS, fmt.Sprintf("%s: peak %.1f MB, goal < %.0f MB", sp.name, float64(r.hwm)/1024, goalSigninRSS/1e6)),
			verdict(r.healthFailed == 0 && r.healthOK > 0, fmt.Sprintf("%s: /healthz answered %d of %d probes within 2 s", sp.name, r.healthOK, r.healthOK+r.healthFailed)))
	}
	fmt.Fprintf(w, "\nGoals:\n\n")
	for _, g := range goals {
		fmt.Fprintf(w, "- %s\n", g)
	}
	writeClosing(w, problems, start)
	return measured(problems)
}

func verdict(ok bool, what string) string {
	if ok {
		return "PASS " + what
	}
	return "MISSED " + what
}

// The server's log messages that the storm counts.
const (
	msgSigninFailed = "sign-in failed"
	msgSigninBusy   = "sign-in refused: too many password checks at once"
)

// storm sends sp.n sign-ins to srv at once and probes /healthz meanwhile.
func storm(ctx context.Context, srv *server, sp stormSpec) (stormResult, error) {
	r := stormResult{statuses: map[int]int{}, idleRSS: srv.currentRSS()}
	failedBefore, busyBefore := srv.logged.count(msgSigninFailed), srv.logged.count(msgSigninBusy)

	// Each sign-in on its own connection, as that many clients would.
	tr := &http.Transport{DisableKeepAlives: true, MaxConnsPerHost: 0}
	defer tr.CloseIdleConnections()
	client := &http.Client{Transport: tr, Timeout: time.Minute,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}

	probeCtx, stopProbe := context.WithCancel(ctx)
	probeDone := make(chan struct{})
	go func() {
		defer close(probeDone)
		pc := &http.Client{Timeout: 2 * time.Second}
		for probeCtx.Err() == nil {
			t0 := time.Now()
			resp, err := pc.Get(srv.url + "/healthz")
			el := time.Since(t0)
			if err == nil {
				io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
			}
			if probeCtx.Err() != nil && err != nil {
				break // cancelled at the end, not a failure
			}
			if err == nil && resp.StatusCode == http.StatusOK {
				r.healthOK++
			} else {
				r.healthFailed++
			}
			r.healthSlowest = max(r.healthSlowest, el)
			select {
			case <-probeCtx.Done():
			case <-time.After(50 * time.Millisecond):
			}
		}
	}()

	var mu sync.Mutex
	var wg sync.WaitGroup
	gate := make(chan struct{})
	for i := range sp.n {
		wg.Go(func() {
			req, err := http.NewRequestWithContext(ctx, http.MethodPost, srv.url+"/login", strings.NewReader(sp.form(i)))
			if err != nil {
				panic(err)
			}
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			req.Header.Set("X-Forwarded-For", sp.forward(i))
			<-gate
			t0 := time.Now()
			resp, err := client.Do(req)
			el := time.Since(t0)
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				r.errs++
				return
			}
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			r.statuses[resp.StatusCode]++
			r.slowest = max(r.slowest, el)
		})
	}
	time.Sleep(100 * time.Millisecond) // the goroutines are ready and waiting
	close(gate)
	wg.Wait()
	// A few more probes after the storm: the server is still there.
	time.Sleep(200 * time.Millisecond)
	stopProbe()
	<-probeDone

	_, r.hwm = srv.memory()
	r.hashes = srv.logged.count(msgSigninFailed) - failedBefore
	r.busy = srv.logged.count(msgSigninBusy) - busyBefore
	if r.busy != r.statuses[http.StatusServiceUnavailable] {
		return r, fmt.Errorf("%s: %d answers 503 but %d logged as refused for want of a hash slot", sp.name, r.statuses[503], r.busy)
	}
	return r, nil
}

// logCounter counts the lines a server logs, by message (text format).
type logCounter struct {
	mu      sync.Mutex
	partial []byte
	n       map[string]int
}

func (l *logCounter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.n == nil {
		l.n = map[string]int{}
	}
	l.partial = append(l.partial, p...)
	for {
		i := bytes.IndexByte(l.partial, '\n')
		if i < 0 {
			break
		}
		if m := logMsg.FindSubmatch(l.partial[:i]); m != nil {
			msg := string(m[1])
			if uq, err := strconv.Unquote(msg); err == nil {
				msg = uq
			}
			l.n[msg]++
		}
		l.partial = l.partial[i+1:]
	}
	return len(p), nil
}

var logMsg = regexp.MustCompile(` msg=("(?:[^"\\]|\\.)*"|\S+)`)

// count returns how many lines with message msg were logged.
func (l *logCounter) count(msg string) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.n[msg]
}
