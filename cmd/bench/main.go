// Command bench measures the API hot path of the real server: it builds
// cmd/dashboard, serves a fresh database of 100,000 keys on loopback and
// drives it with wrk against the bare /healthz handler and
// /api/v1/verify with one valid key, keys drawn from 10,000 valid ones,
// unknown keys and malformed keys, interleaved over several rounds. It
// prints a markdown table of the medians, the server's peak resident
// memory and the goals, each with PASS or MISSED.
//
//	go run ./cmd/bench [-duration 3s] [-warmup 1s] [-rounds 5] [-connections 32] [-server-args "..."]
//
// With -signin it measures sign-in storms instead (signin.go): 128, then
// 2,000 wrong passwords sent at once to the real server, with the number
// of passwords it hashed, its peak resident memory and whether /healthz
// kept answering.
//
// With -usage it measures usage and protection instead (usage.go): verify
// with usage counted and a 50-CIDR allowlist against the plain check, and
// a burst of 10,000 webhook events delivered to a local receiver.
//
// With -list it measures the keys list instead (list.go): pages of a
// 10,000-key workspace, first, filtered, sorted and deep by cursor.
//
// It exits non-zero only when it could not measure (build, server, wrk,
// or responses with an unexpected status), never for a missed goal.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"runtime"
	"strings"
	"syscall"
	"time"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	err := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	if err != nil {
		if !errors.Is(err, flag.ErrHelp) {
			fmt.Fprintln(os.Stderr, "bench:", err)
		}
		os.Exit(1)
	}
}

// config is what the flags set.
type config struct {
	duration, warmup time.Duration
	rounds           int
	connections      int
	threads          int
	keys, sample     int
	scope            string
	keep, verbose    bool
	serverArgs       string
	signin           bool
	usage            bool
	list             bool
}

func parseFlags(args []string, stderr io.Writer) (config, error) {
	fs := flag.NewFlagSet("bench", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var c config
	fs.DurationVar(&c.duration, "duration", 3*time.Second, "measured time of each run (whole seconds)")
	fs.DurationVar(&c.warmup, "warmup", 1*time.Second, "unmeasured load before each run (whole seconds; 0: none)")
	fs.IntVar(&c.rounds, "rounds", 5, "rounds of all scenarios, interleaved; the table shows medians")
	fs.IntVar(&c.connections, "connections", 32, "wrk connections (-c)")
	fs.IntVar(&c.threads, "threads", 1, "wrk threads (-t); 1 leaves the server most of a 2-core machine")
	fs.IntVar(&c.keys, "keys", 100_000, "keys in the database")
	fs.IntVar(&c.sample, "sample", 10_000, "valid keys the random scenario draws from (and invalid keys of each kind)")
	fs.StringVar(&c.scope, "scope", "mcp:read", "scope asked of /api/v1/verify, as a gateway would; empty: none")
	fs.BoolVar(&c.keep, "keep", false, "keep the temporary directory (database, binary, key files)")
	fs.BoolVar(&c.verbose, "v", false, "print wrk's own output of every run to stderr")
	fs.StringVar(&c.serverArgs, "server-args", "", "extra flags for the server, space-separated (experiments, e.g. \"--usage-flush 1h\")")
	fs.BoolVar(&c.usage, "usage", false, "measure usage counting with a 50-CIDR allowlist against the plain check, and a burst of 10,000 webhook events, instead")
	fs.BoolVar(&c.list, "list", false, "measure the keys list of a 10,000-key workspace (first, filtered, sorted and deep pages) instead")
	fs.BoolVar(&c.signin, "signin", false, "measure sign-in storms instead (128 and 2,000 wrong passwords at once): passwords hashed, peak memory, /healthz")
	if err := fs.Parse(args); err != nil {
		return config{}, err
	}
	switch {
	case fs.NArg() > 0:
		return config{}, fmt.Errorf("unexpected argument %q", fs.Arg(0))
	case c.duration < time.Second || c.warmup < 0:
		return config{}, errors.New("-duration must be at least 1s and -warmup not negative")
	case c.rounds < 1 || c.connections < 1 || c.threads < 1 || c.connections < c.threads:
		return config{}, errors.New("-rounds, -threads and -connections must be positive, with connections >= threads")
	case c.sample < 1 || c.keys < c.sample:
		return config{}, errors.New("-sample must be between 1 and -keys")
	}
	return c, nil
}

// scenario is one kind of load.
type scenario struct {
	name    string
	path    string
	keyFile string // "-": no key
	expect  string // statuses that count as right, "200" or "401,429"
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	cfg, err := parseFlags(args, stderr)
	if err != nil {
		return err
	}
	if cfg.signin {
		return runSignin(ctx, cfg, stdout, stderr)
	}
	if cfg.usage {
		return runUsage(ctx, cfg, stdout, stderr)
	}
	if cfg.list {
		return runList(ctx, cfg, stdout, stderr)
	}
	logf := func(format string, a ...any) {
		fmt.Fprintf(stderr, "bench: "+format+"\n", a...)
	}
	start := time.Now()
	loadStart, _ := os.ReadFile("/proc/loadavg")

	moduleDir, err := moduleRoot(ctx)
	if err != nil {
		return err
	}
	tmp, err := os.MkdirTemp("", "blnk-bench-")
	if err != nil {
		return err
	}
	if cfg.keep {
		logf("keeping %s", tmp)
	} else {
		defer os.RemoveAll(tmp)
	}

	wrk, err := ensureWrk(ctx, logf)
	if err != nil {
		return err
	}

	// Build while the database fills: they use different cores.
	type built struct {
		bin string
		err error
	}
	buildDone := make(chan built, 1)
	go func() {
		bin, err := buildServer(ctx, moduleDir, tmp)
		buildDone <- built{bin, err}
	}()
	logf("creating a database of %d keys", cfg.keys)
	dbPath := filepath.Join(tmp, "bench.db")
	t0 := time.Now()
	toks, err := seed(ctx, dbPath, cfg.keys, cfg.sample)
	if err != nil {
		<-buildDone
		return fmt.Errorf("seed the database: %w", err)
	}
	logf("database ready in %s", time.Since(t0).Round(time.Millisecond))
	b := <-buildDone
	if b.err != nil {
		return b.err
	}

	oneKey, err := writeLines(tmp, "one-key.txt", toks.valid[len(toks.valid)/2:len(toks.valid)/2+1])
	if err != nil {
		return err
	}
	validFile, err := writeLines(tmp, "valid.txt", toks.valid)
	if err != nil {
		return err
	}
	unknownFile, err := writeLines(tmp, "unknown.txt", toks.unknown)
	if err != nil {
		return err
	}
	malformedFile, err := writeLines(tmp, "malformed.txt", toks.malformed)
	if err != nil {
		return err
	}
	script := filepath.Join(tmp, "bench.lua")
	if err := os.WriteFile(script, []byte(wrkScript), 0o600); err != nil {
		return err
	}
	gen := loadGen{wrk: wrk, script: script, threads: cfg.threads, connections: cfg.connections, timeout: 10 * time.Second}

	verify := "/api/v1/verify"
	if cfg.scope != "" {
		verify += "?scope=" + cfg.scope
	}
	n := thousands(float64(cfg.sample))
	// In the order of the sc* constants of report.go.
	scenarios := []scenario{
		{"GET /healthz (bare handler)", "/healthz", "-", "200"},
		{"verify, one valid key", verify, oneKey, "200"},
		{"verify, valid keys drawn from " + n, verify, validFile, "200"},
		{"verify, invalid (unknown, valid checksum)", verify, unknownFile, "401"},
		{"verify, invalid (malformed)", verify, malformedFile, "401"},
	}

	// The failed-authentication limiter would turn the invalid scenarios
	// into 429s after 20 requests: lift it to measure the 401 path.
	srv, err := startServer(ctx, b.bin, dbPath, append([]string{"--auth-fail-burst", "1000000000"}, strings.Fields(cfg.serverArgs)...)...)
	if err != nil {
		return err
	}
	idleRSS := srv.currentRSS()
	logf("server at %s, %d MB resident with %d keys loaded", srv.url, idleRSS/1024, cfg.keys)

	results := make([][]result, len(scenarios)) // [scenario][round]
	var problems []string
	check := func(sc scenario, what string, r result) {
		if r.unexpected > 0 {
			problems = append(problems, fmt.Sprintf("%s (%s): %d responses with an unexpected status (want %s): %s",
				sc.name, what, r.unexpected, sc.expect, r.statusSummary()))
		}
		if r.sockErrs != "" {
			logf("  %s (%s): socket errors: %s", sc.name, what, r.sockErrs)
		}
	}
	measure := func(sc scenario, srv *server) (result, error) {
		if cfg.warmup >= time.Second {
			w, err := gen.run(ctx, srv, sc.path, sc.keyFile, sc.expect, cfg.warmup)
			if err != nil {
				return result{}, err
			}
			check(sc, "warm-up", w)
		}
		r, err := gen.run(ctx, srv, sc.path, sc.keyFile, sc.expect, cfg.duration)
		if err != nil {
			return result{}, err
		}
		check(sc, "measured", r)
		if cfg.verbose {
			fmt.Fprint(stderr, r.raw)
		}
		return r, nil
	}
	for round := range cfg.rounds {
		// Rotate the order each round, so that no scenario always follows
		// the same one (the random-key run leaves last-used times to flush).
		for i := range scenarios {
			si := (i + round) % len(scenarios)
			sc := scenarios[si]
			r, err := measure(sc, srv)
			if err != nil {
				srv.stop()
				return err
			}
			results[si] = append(results[si], r)
			logf("round %d/%d  %-44s %9.0f req/s  p50 %-9s p99 %-9s server %5.1f µs/req  others %3.0f%%  %s",
				round+1, cfg.rounds, sc.name, r.reqPerSec, fmtDur(r.p50), fmtDur(r.p99),
				us(r.serverCPUPerReq()), 100*r.cpu.otherShare(), r.statusSummary())
		}
	}
	rssMax, hwm := srv.memory()
	if err := srv.stop(); err != nil {
		problems = append(problems, fmt.Sprintf("server (limiter lifted) did not stop cleanly on SIGTERM: %v", err))
	}
	if e := serverErrors(srv.stderr.String()); e != "" {
		problems = append(problems, "server logged errors:\n"+e)
	}

	// The same unknown keys against a server with the default limiter
	// (20 failures in a row, then 2 a second per client address): after
	// the first few, every answer is a 429. On whoami: verify answers a
	// limited caller 401 (for gateways), which the status cannot tell
	// from the other 401s; the check and the limiter are the same.
	limited := scenario{"whoami, unknown keys, default limiter (429)", "/api/v1/whoami", unknownFile, "401,429"}
	srv2, err := startServer(ctx, b.bin, dbPath, strings.Fields(cfg.serverArgs)...)
	if err != nil {
		return err
	}
	// Its own /healthz run just before, for a paired ratio.
	lb, err := measure(scenarios[scHealthz], srv2)
	if err != nil {
		srv2.stop()
		return err
	}
	lr, err := measure(limited, srv2)
	if err != nil {
		srv2.stop()
		return err
	}
	logf("limiter     %-44s %9.0f req/s  p50 %-9s p99 %-9s server %5.1f µs/req  others %3.0f%%  %s",
		limited.name, lr.reqPerSec, fmtDur(lr.p50), fmtDur(lr.p99),
		us(lr.serverCPUPerReq()), 100*lr.cpu.otherShare(), lr.statusSummary())
	if lr.statuses[429] == 0 {
		problems = append(problems, "the default limiter never answered 429")
	}
	if err := srv2.stop(); err != nil {
		problems = append(problems, fmt.Sprintf("server (default limiter) did not stop cleanly on SIGTERM: %v", err))
	}
	if e := serverErrors(srv2.stderr.String()); e != "" {
		problems = append(problems, "server (default limiter) logged errors:\n"+e)
	}

	rep := report{
		cfg: cfg, wrk: wrk, scenarios: scenarios, results: results,
		limited: limited, limitedResult: lr, limitedBase: lb,
		idleRSS: idleRSS, rssMax: rssMax, hwm: hwm,
		problems: problems, elapsed: time.Since(start),
		loadStart: strings.TrimSpace(string(loadStart)),
	}
	rep.write(ctx, stdout)
	if len(problems) > 0 {
		return errors.New("the measurement is not valid: see the problems above")
	}
	return nil
}

// moduleRoot returns the directory of the main module's go.mod, so that
// the bench builds the right server whatever the working directory.
func moduleRoot(ctx context.Context) (string, error) {
	out, err := exec.CommandContext(ctx, "go", "env", "GOMOD").Output()
	if err != nil {
		return "", fmt.Errorf("go env GOMOD: %w", err)
	}
	mod := strings.TrimSpace(string(out))
	if mod == "" || mod == os.DevNull {
		return "", errors.New("run the bench inside the module (go run ./cmd/bench)")
	}
	return filepath.Dir(mod), nil
}

// serverErrors returns the server's log lines at level ERROR.
func serverErrors(log string) string {
	var lines []string
	for l := range strings.Lines(log) {
		if strings.Contains(l, "level=ERROR") {
			lines = append(lines, strings.TrimRight(l, "\n"))
		}
	}
	return strings.Join(lines, "\n")
}

// cpuInfo returns the CPU model of /proc/cpuinfo and the number of
// processors listed there.
func cpuInfo() (model string, n int) {
	b, err := os.ReadFile("/proc/cpuinfo")
	if err != nil {
		return "unknown", runtime.NumCPU()
	}
	for l := range strings.Lines(string(b)) {
		k, v, ok := strings.Cut(l, ":")
		if !ok {
			continue
		}
		switch strings.TrimSpace(k) {
		case "model name":
			if model == "" {
				model = strings.TrimSpace(v)
			}
		case "processor":
			n++
		}
	}
	if model == "" {
		model = "unknown"
	}
	return model, n
}
