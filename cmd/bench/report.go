package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"runtime"
	"slices"
	"strings"
	"time"
)

// The goals of the issue.
const (
	goalOneKey    = 0.85  // verify with one valid key, of /healthz's req/s
	goalRandom    = 0.85  // verify with keys drawn from 10,000, of /healthz's req/s (issue 21)
	goalRandomP99 = 1.2   // and its p99 at most this times /healthz's p99 (issue 21)
	goalP99       = 1.5   // the other verify scenarios' p99 at most this times /healthz's p99
	goalRSS       = 100e6 // bytes of resident memory under load
	invalidMargin = 0.03  // "invalid no slower than valid", within this noise
)

// Indexes of report.scenarios.
const (
	scHealthz = iota
	scOneKey
	scRandom
	scUnknown
	scMalformed
	// scHealthzMany is /healthz sent the random keys' 10,000 requests
	// (their Authorization headers, which the bare handler never reads):
	// the base of the three scenarios that draw from 10,000 requests.
	// wrk spends more CPU choosing among 10,000 prepared requests than
	// resending one (about 0.8 µs a request, /usr/bin/time), on the same
	// cores as the server, so a one-request /healthz is not their like.
	scHealthzMany
)

// baseOf is the scenario whose run of the same round a scenario's
// ratios are taken against: the /healthz run sent the same number of
// distinct requests.
func baseOf(i int) int {
	if i == scRandom || i == scUnknown || i == scMalformed {
		return scHealthzMany
	}
	return scHealthz
}

type report struct {
	cfg           config
	wrk           string
	scenarios     []scenario
	results       [][]result // [scenario][round]
	limited       scenario
	limitedResult result
	limitedBase   result // /healthz on the same server, just before
	idleRSS       int64  // kB
	rssMax, hwm   int64  // kB
	problems      []string
	elapsed       time.Duration
	loadStart     string // /proc/loadavg when the bench started
}

// summary is a scenario's medians over the rounds. The ratios are the
// medians of each round's ratio to the same round's /healthz run: paired,
// so that a slow moment of the machine touches both sides of a ratio.
type summary struct {
	reqPerSec, ratio float64
	p50, p99         time.Duration
	p99Ratio         float64
	cpuPerReq        time.Duration // the server's, median
	cpuRatio         float64       // to /healthz's, median of the rounds' ratios
	others           float64       // share of the machine other processes took, median
	othersMax        float64
	unexpected       int64
	statuses         map[int]int64
}

func (rp report) summarize(i int) summary { return summarize(rp.results[i], rp.results[baseOf(i)]) }

// summarize sums up the rounds of a scenario, each paired with the
// /healthz run of the same server in the same round (bases).
func summarize(runs, bases []result) summary {
	var s summary
	s.statuses = map[int]int64{}
	var rps, ratios, p99Ratios []float64
	var p50s, p99s, cpus []time.Duration
	var others, cpuRatios []float64
	for round, r := range runs {
		base := bases[round]
		cpuRatios = append(cpuRatios, float64(r.serverCPUPerReq())/float64(base.serverCPUPerReq()))
		cpus = append(cpus, r.serverCPUPerReq())
		others = append(others, r.cpu.otherShare())
		s.othersMax = max(s.othersMax, r.cpu.otherShare())
		rps = append(rps, r.reqPerSec)
		ratios = append(ratios, r.reqPerSec/base.reqPerSec)
		p50s = append(p50s, r.p50)
		p99s = append(p99s, r.p99)
		p99Ratios = append(p99Ratios, float64(r.p99)/float64(base.p99))
		s.unexpected += r.unexpected
		for c, n := range r.statuses {
			s.statuses[c] += n
		}
	}
	s.reqPerSec, s.ratio, s.p99Ratio = median(rps), median(ratios), median(p99Ratios)
	s.p50, s.p99 = median(p50s), median(p99s)
	s.cpuPerReq, s.cpuRatio, s.others = median(cpus), median(cpuRatios), median(others)
	return s
}

// writeTableHead starts the table of writeRow, whose first column is
// named first.
func writeTableHead(w io.Writer, first string) {
	fmt.Fprintf(w, "| %s | req/s | ratio to /healthz | p50 | p99 | p99 ratio | server CPU/req ² | others' CPU ³ | status check |\n", first)
	fmt.Fprintln(w, "|---|---:|---:|---:|---:|---:|---:|---:|---|")
}

// writeCPUNotes explains the marks of writeTableHead.
func writeCPUNotes(w io.Writer) {
	fmt.Fprintf(w, "² The server process's CPU time (user + system, /proc/PID/stat) during the run divided by its requests, "+
		"and its ratio to /healthz's: what a request costs, steadier than req/s when other processes share the cores.\n")
	fmt.Fprintf(w, "³ Share of the machine (%d CPUs × run time) used by processes other than the server and wrk during the run: "+
		"above a few percent, the run was disturbed.\n", runtime.NumCPU())
	fmt.Fprintf(w, "⁵ /healthz sent the random keys' requests, one drawn at random each time as those scenarios do (the bare handler never reads "+
		"their Authorization header): the base of the three rows drawn from many requests, so that wrk, on the same cores as the server, "+
		"does the same work in a run and in its base. Its own ratio is to the one-request /healthz.\n")
}

// writeRow writes a scenario's line of the table: its summary and
// whether every status was the expected one.
func writeRow(w io.Writer, name, expect string, s summary) {
	fmt.Fprintf(w, "| %s | %s | %.2f | %s | %s | %.2f | %.1f µs (%.2f×) | %.0f%% | %s |\n",
		name, thousands(s.reqPerSec), s.ratio, fmtDur(s.p50), fmtDur(s.p99), s.p99Ratio,
		us(s.cpuPerReq), s.cpuRatio, 100*s.others, statusCheck(expect, s.unexpected, s.statuses))
}

func median[T int64 | float64 | time.Duration](v []T) T {
	s := slices.Clone(v)
	slices.Sort(s)
	n := len(s)
	if n%2 == 1 {
		return s[n/2]
	}
	return (s[n/2-1] + s[n/2]) / 2
}

func (rp report) write(ctx context.Context, w io.Writer) {
	cfg := rp.cfg
	sums := make([]summary, len(rp.scenarios))
	for i := range rp.scenarios {
		sums[i] = rp.summarize(i)
	}

	fmt.Fprintf(w, "\n## make bench: /api/v1/verify against the bare /healthz handler\n\n")
	fmt.Fprintf(w, "Real server (`dashboard serve`, CGO_ENABLED=0, default log level) on 127.0.0.1 with %s keys in SQLite; "+
		"%s, %d rounds with the scenarios interleaved; "+
		"verify asks `%s`. Values are medians over the rounds; ratios are medians of per-round ratios to that round's /healthz.\n\n",
		thousands(float64(cfg.keys)), wrkRuns(cfg), cfg.rounds, verifyPath(cfg))

	writeTableHead(w, "scenario")
	for i, sc := range rp.scenarios {
		writeRow(w, sc.name, sc.expect, sums[i])
	}
	lr, lb := rp.limitedResult, rp.limitedBase
	writeRow(w, rp.limited.name+" ¹", rp.limited.expect, summarize([]result{lr}, []result{lb}))
	fmt.Fprintf(w, "\n¹ One run on a second server started without --auth-fail-burst (default limiter: 20 failures in a row, "+
		"then 2 a second per client address), compared with a /healthz run on that server just before it (%s req/s, p99 %s). The other rows use "+
		"--auth-fail-burst 1000000000 so that invalid keys measure the 401 path.\n", thousands(lb.reqPerSec), fmtDur(lb.p99))
	writeCPUNotes(w)

	names := make([]string, len(rp.scenarios))
	for i, sc := range rp.scenarios {
		names[i] = sc.name
	}
	writeRounds(w, names, rp.results)
	writeDisturbed(w, sums)

	peak := max(rp.rssMax, rp.hwm) * 1024
	fmt.Fprintf(w, "\nServer resident memory: %s after start with the keys loaded; under load, highest VmRSS sampled every 100 ms %s, VmHWM (kernel's peak) %s.\n",
		mb(rp.idleRSS*1024), mb(rp.rssMax*1024), mb(rp.hwm*1024))

	fmt.Fprintf(w, "\n### Goals\n\n")
	goal := func(ok bool, text string) {
		fmt.Fprintf(w, "- **%s** %s\n", passMark(ok), text)
	}
	for _, g := range verifyGoals(rp.scenarios, sums) {
		goal(g.ok, g.text)
	}
	one := summarize(rp.results[scRandom], rp.results[scHealthz]) // the base before scHealthzMany, for comparison
	fmt.Fprintf(w, "- (%s against the one-request %s, whose load generator does less: %.3f of its throughput, p99 %.3f×)\n",
		rp.scenarios[scRandom].name, rp.scenarios[scHealthz].name, one.ratio, one.p99Ratio)
	goal(float64(peak) < goalRSS, fmt.Sprintf("server resident memory under load: peak %s (goal < 100 MB)", mb(peak)))

	writeProblems(w, rp.problems)
	writeEnvironment(ctx, w, rp.wrk, rp.loadStart, rp.elapsed)
}

// writeRounds writes each round's req/s, server CPU/req and others' CPU,
// a line per scenario (named by names).
func writeRounds(w io.Writer, names []string, results [][]result) {
	rounds := len(results[0])
	fmt.Fprintf(w, "\nreq/s, server CPU/req and others' CPU per round (run order rotates each round):\n\n| scenario |")
	for r := range rounds {
		fmt.Fprintf(w, " round %d |", r+1)
	}
	fmt.Fprintf(w, "\n|---|%s\n", strings.Repeat("---:|", rounds))
	for i, name := range names {
		fmt.Fprintf(w, "| %s |", name)
		for _, r := range results[i] {
			fmt.Fprintf(w, " %s, %.1f µs, %.0f%% |", thousands(r.reqPerSec), us(r.serverCPUPerReq()), 100*r.cpu.otherShare())
		}
		fmt.Fprintln(w)
	}
}

// writeDisturbed warns when other processes took much of the machine
// during some runs.
func writeDisturbed(w io.Writer, sums []summary) {
	var disturbed float64
	for _, s := range sums {
		disturbed = max(disturbed, s.othersMax)
	}
	if disturbed > 0.10 {
		fmt.Fprintf(w, "\n**Warning**: other processes took up to %.0f%% of the machine during some runs (per-round table above): "+
			"req/s, latencies and their ratios are unreliable; server CPU/req is the steadier measure. Run again on a quiet machine.\n",
			100*disturbed)
	}
}

// goal is a goal of the issue, met or missed.
type goal struct {
	ok   bool
	text string
}

func passMark(ok bool) string {
	if ok {
		return "PASS  "
	}
	return "MISSED"
}

// verifyGoals are the goals of verify against /healthz, from the
// summaries of the scenarios (in the order of the sc* constants).
func verifyGoals(scenarios []scenario, sums []summary) []goal {
	var gs []goal
	add := func(ok bool, text string) { gs = append(gs, goal{ok, text}) }
	one, rnd := sums[scOneKey], sums[scRandom]
	add(one.ratio >= goalOneKey, fmt.Sprintf("verify, one valid key: %.3f of /healthz's throughput (goal >= %.2f)", one.ratio, goalOneKey))
	add(rnd.ratio >= goalRandom, fmt.Sprintf("%s: %.3f of the throughput of %s (goal >= %.2f)",
		scenarios[scRandom].name, rnd.ratio, scenarios[scHealthzMany].name, goalRandom))
	for _, i := range []int{scOneKey, scRandom, scUnknown, scMalformed} {
		limit := goalP99
		if i == scRandom {
			limit = goalRandomP99
		}
		base := sums[baseOf(i)]
		add(sums[i].p99Ratio <= limit, fmt.Sprintf("%s: p99 %s = %.3f × the p99 of %s, %s (goal <= %.1f×)",
			scenarios[i].name, fmtDur(sums[i].p99), sums[i].p99Ratio, scenarios[baseOf(i)].name, fmtDur(base.p99), limit))
	}
	for _, i := range []int{scUnknown, scMalformed} {
		s := sums[i]
		add(s.ratio >= rnd.ratio-invalidMargin && s.p50 <= rnd.p50+rnd.p50*3/100,
			fmt.Sprintf("%s no slower than %s: throughput ratio %.3f vs %.3f, p50 %s vs %s (within %.0f%% noise)",
				scenarios[i].name, scenarios[scRandom].name, s.ratio, rnd.ratio, fmtDur(s.p50), fmtDur(rnd.p50), invalidMargin*100))
	}
	return gs
}

func writeProblems(w io.Writer, problems []string) {
	if len(problems) > 0 {
		fmt.Fprintf(w, "\n### Problems: the measurement is not valid\n\n")
		for _, p := range problems {
			fmt.Fprintf(w, "- %s\n", p)
		}
	}
}

// writeClosing writes a run's problems, if any, and how long it took,
// from start.
func writeClosing(w io.Writer, problems []string, start time.Time) {
	if len(problems) > 0 {
		fmt.Fprintf(w, "\nProblems (the measurement is not valid):\n\n")
		for _, p := range problems {
			fmt.Fprintf(w, "- %s\n", p)
		}
	}
	fmt.Fprintf(w, "\nTook %s.\n", time.Since(start).Round(time.Second))
}

// measured returns the error of a run with problems: its measurement is
// not valid.
func measured(problems []string) error {
	if len(problems) > 0 {
		return errors.New("the measurement is not valid: see the problems above")
	}
	return nil
}

// loadAvg is /proc/loadavg, for the report to say how busy the machine
// was at the start and at the end ("" where there is none).
func loadAvg() string {
	b, _ := os.ReadFile("/proc/loadavg")
	return strings.TrimSpace(string(b))
}

// writeEnvironment says where and when the bench ran.
func writeEnvironment(ctx context.Context, w io.Writer, wrk, loadStart string, elapsed time.Duration) {
	model, cpus := cpuInfo()
	goVersion := "unknown"
	if out, err := exec.CommandContext(ctx, "go", "version").Output(); err == nil {
		goVersion = strings.TrimSpace(string(out))
	}
	wrkVersion := "unknown"
	if out, _ := exec.CommandContext(ctx, wrk, "--version").CombinedOutput(); len(out) > 0 {
		wrkVersion, _, _ = strings.Cut(strings.TrimSpace(string(out)), "\n")
		wrkVersion, _, _ = strings.Cut(wrkVersion, " Copyright")
	}
	kernel, _ := os.ReadFile("/proc/sys/kernel/osrelease")
	fmt.Fprintf(w, "\n### Environment\n\n")
	fmt.Fprintf(w, "- date: %s\n", time.Now().Format("2006-01-02 15:04:05 MST"))
	fmt.Fprintf(w, "- %s\n", goVersion)
	fmt.Fprintf(w, "- CPU: %s, %d cores (/proc/cpuinfo), runtime.NumCPU %d, GOMAXPROCS left to the runtime\n", model, cpus, runtime.NumCPU())
	fmt.Fprintf(w, "- Linux %s; /proc/loadavg at the start %s, at the end %s (other work on the machine skews the numbers)\n",
		strings.TrimSpace(string(kernel)), loadStart, loadAvg())
	fmt.Fprintf(w, "- load generator: %s (%s)\n", wrkVersion, wrk)
	fmt.Fprintf(w, "- whole run: %s\n", elapsed.Round(time.Second))
}

// wrkRuns says how wrk measured each run.
func wrkRuns(cfg config) string {
	return fmt.Sprintf("wrk -t%d -c%d --latency, %s per run after a %s warm-up", cfg.threads, cfg.connections, cfg.duration, cfg.warmup)
}

func verifyPath(cfg config) string { return "GET " + verifyURL(cfg) }

func statusCheck(expect string, unexpected int64, statuses map[int]int64) string {
	r := result{statuses: statuses}
	if unexpected > 0 {
		return fmt.Sprintf("**FAIL**: %d unexpected (want %s): %s", unexpected, expect, r.statusSummary())
	}
	return "ok: " + r.statusSummary()
}

// us returns d in microseconds.
func us(d time.Duration) float64 { return float64(d) / float64(time.Microsecond) }

// fmtDur writes a latency with three significant digits, in µs, ms or s.
func fmtDur(d time.Duration) string {
	us := float64(d) / float64(time.Microsecond)
	switch {
	case us >= 1e6:
		return fmt.Sprintf("%.2f s", us/1e6)
	case us < 1000:
		return fmt.Sprintf("%.0f µs", us)
	case us < 10_000:
		return fmt.Sprintf("%.2f ms", us/1000)
	default:
		return fmt.Sprintf("%.1f ms", us/1000)
	}
}

// thousands writes a number rounded to a whole, with thousands separators.
func thousands(v float64) string {
	s := fmt.Sprintf("%.0f", v)
	var b strings.Builder
	if rest, ok := strings.CutPrefix(s, "-"); ok {
		b.WriteByte('-')
		s = rest
	}
	for i, c := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(c)
	}
	return b.String()
}

// mb writes bytes in MB (10^6 bytes), the unit of the goal.
func mb(bytes int64) string {
	return fmt.Sprintf("%.1f MB", float64(bytes)/1e6)
}
