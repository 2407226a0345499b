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
// With -lockout it measures a lockout attack instead (lockout.go): a
// minute of wrong passwords for the admin's email from one address, and
// how often the admin's known browser and a new one still sign in.
//
// With -usage it measures usage and protection instead (usage.go): verify
// with usage counted and a 50-CIDR allowlist against the plain check, and
// a burst of 10,000 webhook events delivered to a local receiver.
//
// With -simulate it simulates instead, without a server (simulate.go), a
// deployment of 100,000,000 keys whose servers each hold a bounded hot
// set of them: hit rate, memory and the revocation guarantee.
//
// With -list it measures the keys list instead (list.go): pages of a
// 10,000-key workspace, first, filtered, sorted and deep by cursor.
// With -postgres URL it measures several servers on PostgreSQL instead
// (postgres.go): verify against /healthz with the PostgreSQL store beside
// SQLite, the confirmation of revokes through one of three servers, and
// start-up time and memory with 1,000,000 keys.
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
	lockout          bool
	usage            bool
	list             bool
	mgmt             bool
	postgres         string // the PostgreSQL server's URL; "": no PostgreSQL run
	postgresOptional bool   // an unreachable -postgres skips the run
	startKeys        int    // keys of the start-up measurement (-postgres)
	revokes          int    // revokes timed (-postgres)
	simulate         bool   // the simulation of a hot set per server
	simKeys          int    // keys simulated (-simulate)
	simRequests      int    // requests replayed per run (-simulate)
	zipf             float64
	startup          bool   // start-up only, both stores side by side
	baseBin          string // -startup: another server binary to compare with
	noSQLite         bool   // -startup: PostgreSQL only
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
	fs.BoolVar(&c.mgmt, "mgmt", false, "measure the management API on a 10,000-key workspace (list pages p50/p99, creates per second) instead")
	fs.BoolVar(&c.list, "list", false, "measure the keys list of a 10,000-key workspace (first, filtered, sorted and deep pages) instead")
	fs.BoolVar(&c.signin, "signin", false, "measure sign-in storms instead (128 and 2,000 wrong passwords at once): passwords hashed, peak memory, /healthz")
	fs.BoolVar(&c.lockout, "lockout", false, "measure a lockout attack instead (a minute of wrong passwords from one address): how often the owner's known browser and a new one still sign in")
	fs.StringVar(&c.postgres, "postgres", "", "measure several servers on the PostgreSQL server of this URL instead (in schemas of their own, dropped after): verify against /healthz beside SQLite, revoke confirmation with three servers, start-up with -start-keys keys")
	fs.BoolVar(&c.postgresOptional, "postgres-optional", false, "with -postgres: when the server cannot be reached, say so and exit 0 (make bench)")
	fs.IntVar(&c.startKeys, "start-keys", 1_000_000, "with -postgres: keys of the start-up measurement")
	fs.IntVar(&c.revokes, "revokes", 200, "with -postgres: revokes timed through one of three servers")
	fs.BoolVar(&c.simulate, "simulate", false, "simulate servers that each hold a bounded hot set of keys instead (no server, seconds): hit rate, memory and the revocation guarantee, for 100,000,000 keys scaled down to -sim-keys")
	fs.IntVar(&c.simKeys, "sim-keys", 1_000_000, "with -simulate: keys simulated")
	fs.IntVar(&c.simRequests, "sim-requests", 1_000_000, "with -simulate: requests replayed per run")
	fs.Float64Var(&c.zipf, "zipf", 1.1, "with -simulate: Zipf's s of the keys' popularity (more than 1)")
	fs.BoolVar(&c.startup, "startup", false, "measure start-up only instead, with -keys keys, on SQLite and on the PostgreSQL server of -postgres if one answers there: every key read, then from a snapshot file; ready time, CPU, memory, verify against /healthz")
	fs.BoolVar(&c.noSQLite, "no-sqlite", false, "with -startup and -postgres: PostgreSQL only (ten million keys take minutes to seed per store)")
	fs.StringVar(&c.baseBin, "base-bin", "", "with -startup: also start this server binary (another version) with every key read, for a ratio")
	if err := fs.Parse(args); err != nil {
		return config{}, err
	}
	roundsSet := false
	fs.Visit(func(f *flag.Flag) { roundsSet = roundsSet || f.Name == "rounds" })
	if c.postgres != "" && !roundsSet && !c.startup {
		c.rounds = postgresRounds
	}
	switch {
	case c.postgresOptional && c.postgres == "":
		return config{}, errors.New("-postgres-optional needs -postgres")
	case c.noSQLite && (!c.startup || c.postgres == ""):
		return config{}, errors.New("-no-sqlite needs -startup and -postgres")
	case c.postgres != "" && (c.startKeys < c.sample || c.revokes < 1 || c.revokes > c.sample):
		return config{}, errors.New("-start-keys must be at least -sample, and -revokes between 1 and -sample")
	case c.simulate && (c.simKeys < 10_000 || c.simRequests < 10_000 || c.zipf <= 1):
		return config{}, errors.New("-sim-keys and -sim-requests must be at least 10,000, and -zipf more than 1")
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
	// The other benches, by their flag, in the order they take
	// precedence; none: the default one below.
	for _, b := range []struct {
		on  bool
		run func(context.Context, config, io.Writer, io.Writer) error
	}{
		{cfg.simulate, runSimulate},
		{cfg.startup, runStartup},
		{cfg.signin, runSignin},
		{cfg.lockout, runLockout},
		{cfg.usage, runUsage},
		{cfg.list, runList},
		{cfg.mgmt, runMgmt},
		{cfg.postgres != "", runPostgres},
	} {
		if b.on {
			return b.run(ctx, cfg, stdout, stderr)
		}
	}
	logf := logTo(stderr)
	setup, err := newBench(ctx, cfg, "", true, logf)
	if err != nil {
		return err
	}
	defer setup.done()
	tmp, wrk := setup.tmp, setup.wrk

	// The server builds while the database fills: they use different cores.
	logf("creating a database of %d keys", cfg.keys)
	dbPath := filepath.Join(tmp, "bench.db")
	t0 := time.Now()
	toks, err := seed(ctx, dbPath, cfg.keys, cfg.sample)
	if err != nil {
		return fmt.Errorf("seed the database: %w", err)
	}
	logf("database ready in %s", time.Since(t0).Round(time.Millisecond))
	bin, err := setup.bin()
	if err != nil {
		return err
	}

	scenarios, err := scenariosFor(tmp, "", toks, cfg)
	if err != nil {
		return err
	}
	gen, err := newLoadGen(tmp, wrk, cfg)
	if err != nil {
		return err
	}
	unknownFile := scenarios[scUnknown].keyFile

	// The failed-authentication limiter would turn the invalid scenarios
	// into 429s after 20 requests: lift it to measure the 401 path.
	srv, err := startServer(ctx, bin, dbPath, append([]string{"--auth-fail-burst", "1000000000"}, strings.Fields(cfg.serverArgs)...)...)
	if err != nil {
		return err
	}
	idleRSS := srv.currentRSS()
	logf("server at %s, %d MB resident with %d keys loaded", srv.url, idleRSS/1024, cfg.keys)

	m := &measurer{gen: gen, cfg: cfg, logf: logf, stderr: stderr}
	targets := make([]target, len(scenarios))
	for i, sc := range scenarios {
		targets[i] = target{sc.name, srv, sc}
	}
	results, err := m.rounds(ctx, targets, cfg.rounds)
	if err != nil {
		srv.stop()
		return err
	}
	rssMax, hwm := srv.memory()
	m.stopped(srv, "server (limiter lifted)")

	// The same unknown keys against a server with the default limiter
	// (20 failures in a row, then 2 a second per client address): after
	// the first few, every answer is a 429. On whoami: verify answers a
	// limited caller 401 (for gateways), which the status cannot tell
	// from the other 401s; the check and the limiter are the same.
	limited := scenario{"whoami, unknown keys, default limiter (429)", "/api/v1/whoami", unknownFile, "401,429"}
	srv2, err := startServer(ctx, bin, dbPath, strings.Fields(cfg.serverArgs)...)
	if err != nil {
		return err
	}
	// Its own /healthz run just before, for a paired ratio.
	lb, err := m.measure(ctx, target{scenarios[scHealthz].name, srv2, scenarios[scHealthz]})
	if err != nil {
		srv2.stop()
		return err
	}
	lr, err := m.measure(ctx, target{limited.name, srv2, limited})
	if err != nil {
		srv2.stop()
		return err
	}
	logf("limiter     %-44s %9.0f req/s  p50 %-9s p99 %-9s server %5.1f µs/req  others %3.0f%%  %s",
		limited.name, lr.reqPerSec, fmtDur(lr.p50), fmtDur(lr.p99),
		us(lr.serverCPUPerReq()), 100*lr.cpu.otherShare(), lr.statusSummary())
	if lr.statuses[429] == 0 {
		m.problems = append(m.problems, "the default limiter never answered 429")
	}
	m.stopped(srv2, "server (default limiter)")
	problems := m.problems

	rep := report{
		cfg: cfg, wrk: wrk, scenarios: scenarios, results: results,
		limited: limited, limitedResult: lr, limitedBase: lb,
		idleRSS: idleRSS, rssMax: rssMax, hwm: hwm,
		problems: problems, elapsed: time.Since(setup.start),
		loadStart: setup.loadStart,
	}
	rep.write(ctx, stdout)
	return measured(problems)
}

// scenariosFor writes the key files of the scenarios, their names
// starting with prefix, into dir, and returns the scenarios, in the
// order of the sc* constants of report.go.
func scenariosFor(dir, prefix string, toks tokens, cfg config) ([]scenario, error) {
	mid := len(toks.valid) / 2
	files := make([]string, 4)
	for i, f := range []struct {
		name string
		keys []string
	}{
		{"one-key.txt", toks.valid[mid : mid+1]},
		{"valid.txt", toks.valid},
		{"unknown.txt", toks.unknown},
		{"malformed.txt", toks.malformed},
	} {
		p, err := writeLines(dir, prefix+f.name, f.keys)
		if err != nil {
			return nil, err
		}
		files[i] = p
	}
	verify := verifyURL(cfg)
	return []scenario{
		{"GET /healthz (bare handler)", "/healthz", "-", "200"},
		{"verify, one valid key", verify, files[0], "200"},
		{"verify, valid keys drawn from " + thousands(float64(len(toks.valid))), verify, files[1], "200"},
		{"verify, invalid (unknown, valid checksum)", verify, files[2], "401"},
		{"verify, invalid (malformed)", verify, files[3], "401"},
		{"GET /healthz, drawn from " + thousands(float64(len(toks.valid))) + " requests ⁵", "/healthz", files[1], "200"},
	}, nil
}

// verifyURL is the path and query the verify scenarios call.
func verifyURL(cfg config) string {
	if cfg.scope == "" {
		return "/api/v1/verify"
	}
	return "/api/v1/verify?scope=" + cfg.scope
}

// newLoadGen writes wrk's script into dir and returns the load generator
// of cfg's settings.
func newLoadGen(dir, wrk string, cfg config) (loadGen, error) {
	script := filepath.Join(dir, "bench.lua")
	if err := os.WriteFile(script, []byte(wrkScript), 0o600); err != nil {
		return loadGen{}, err
	}
	return loadGen{wrk: wrk, script: script, threads: cfg.threads, connections: cfg.connections, timeout: 10 * time.Second}, nil
}

// target is one scenario against one server; label names it in the log.
type target struct {
	label string
	srv   *server
	sc    scenario
}

// measurer runs wrk with cfg's warm-up and duration and collects what
// makes a measurement invalid.
type measurer struct {
	gen      loadGen
	cfg      config
	logf     func(string, ...any)
	stderr   io.Writer // wrk's own output, with -v
	problems []string
}

// measure runs a warm-up, then the measured run, of t.
func (m *measurer) measure(ctx context.Context, t target) (result, error) {
	if m.cfg.warmup >= time.Second {
		w, err := m.gen.run(ctx, t.srv, t.sc.path, t.sc.keyFile, t.sc.expect, m.cfg.warmup)
		if err != nil {
			return result{}, err
		}
		m.check(t, "warm-up", w)
	}
	r, err := m.gen.run(ctx, t.srv, t.sc.path, t.sc.keyFile, t.sc.expect, m.cfg.duration)
	if err != nil {
		return result{}, err
	}
	m.check(t, "measured", r)
	if m.cfg.verbose {
		fmt.Fprint(m.stderr, r.raw)
	}
	return r, nil
}

func (m *measurer) check(t target, what string, r result) {
	if r.unexpected > 0 {
		m.problems = append(m.problems, fmt.Sprintf("%s (%s): %d responses with an unexpected status (want %s): %s",
			t.label, what, r.unexpected, t.sc.expect, r.statusSummary()))
	}
	if r.sockErrs != "" {
		m.logf("  %s (%s): socket errors: %s", t.label, what, r.sockErrs)
	}
}

// rounds measures every target once a round and returns the results by
// target, then round. The order rotates each round, so that no target
// always follows the same one (the random-key run leaves last-used times
// to flush).
func (m *measurer) rounds(ctx context.Context, targets []target, rounds int) ([][]result, error) {
	results := make([][]result, len(targets))
	for round := range rounds {
		for i := range targets {
			ti := (i + round) % len(targets)
			t := targets[ti]
			r, err := m.measure(ctx, t)
			if err != nil {
				return nil, err
			}
			results[ti] = append(results[ti], r)
			m.logf("round %d/%d  %-44s %9.0f req/s  p50 %-9s p99 %-9s server %5.1f µs/req  others %3.0f%%  %s",
				round+1, rounds, t.label, r.reqPerSec, fmtDur(r.p50), fmtDur(r.p99),
				us(r.serverCPUPerReq()), 100*r.cpu.otherShare(), r.statusSummary())
		}
	}
	return results, nil
}

// stopped stops srv with SIGTERM and notes it as a problem when it does
// not stop cleanly or logged errors.
func (m *measurer) stopped(srv *server, name string) {
	if err := srv.stop(); err != nil {
		m.problems = append(m.problems, fmt.Sprintf("%s did not stop cleanly on SIGTERM: %v", name, err))
	}
	if e := serverErrors(srv.stderr.String()); e != "" {
		m.problems = append(m.problems, name+" logged errors:\n"+e)
	}
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

// A bench is one run's temporary directory and what it needs there.
type bench struct {
	tmp       string                 // the run's directory
	wrk       string                 // the path of wrk, when the run asked for it
	bin       func() (string, error) // waits for the server's build
	done      func()                 // waits for the build, then removes tmp (unless -keep)
	start     time.Time              // when the run began, for its "whole run"
	loadStart string                 // /proc/loadavg when the run began
}

// newBench finds the module to build, makes the run's temporary directory
// (named for the run), installs wrk when withWrk and starts building the
// server in the background: the caller may seed a database meanwhile, on
// another core.
func newBench(ctx context.Context, cfg config, name string, withWrk bool, logf func(string, ...any)) (*bench, error) {
	b := &bench{start: time.Now(), loadStart: loadAvg()}
	moduleDir, err := moduleRoot(ctx)
	if err != nil {
		return nil, err
	}
	if b.tmp, err = os.MkdirTemp("", "blnk-bench-"+name); err != nil {
		return nil, err
	}
	remove := func() { os.RemoveAll(b.tmp) }
	if cfg.keep {
		logf("keeping %s", b.tmp)
		remove = func() {}
	}
	if withWrk {
		if b.wrk, err = ensureWrk(ctx, logf); err != nil {
			remove()
			return nil, err
		}
	}
	logf("building the server")
	b.bin = buildAsync(ctx, moduleDir, b.tmp)
	b.done = func() {
		b.bin()
		remove()
	}
	return b, nil
}

// benchAdmin is the email of the admin newAdminBench makes.
const benchAdmin = "admin@bench.test"

// newAdminBench is newBench without wrk for the benches that sign in
// (name: the run's): it waits for the server's build, then makes the
// workspace "Bench" and its admin (benchAdmin, password) in a new SQLite
// database in the run's directory, and stores keys keys in that
// workspace (seedList's). The caller calls b.done.
func newAdminBench(ctx context.Context, cfg config, name, password string, keys int, logf func(string, ...any)) (b *bench, bin, dbPath string, err error) {
	if b, err = newBench(ctx, cfg, name+"-", false, logf); err != nil {
		return nil, "", "", err
	}
	if bin, err = b.bin(); err == nil {
		dbPath = filepath.Join(b.tmp, name+".db")
		err = createAdmin(ctx, bin, dbPath, benchAdmin, password)
	}
	if err == nil && keys > 0 {
		logf("storing %d keys", keys)
		err = seedList(ctx, dbPath, benchAdmin, keys)
	}
	if err != nil {
		b.done()
		return nil, "", "", err
	}
	return b, bin, dbPath, nil
}

// newAdminServer is newAdminBench, then a server started on its database
// with -server-args, for the benches that need nothing else before the
// server runs. The caller stops srv, then calls b.done.
func newAdminServer(ctx context.Context, cfg config, name, password string, keys int, logf func(string, ...any)) (b *bench, srv *server, err error) {
	b, bin, dbPath, err := newAdminBench(ctx, cfg, name, password, keys, logf)
	if err != nil {
		return nil, nil, err
	}
	if srv, err = startServer(ctx, bin, dbPath, strings.Fields(cfg.serverArgs)...); err != nil {
		b.done()
		return nil, nil, err
	}
	return b, srv, nil
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
