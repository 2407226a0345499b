package main

// Several servers on PostgreSQL (go run ./cmd/bench -postgres URL), in
// three parts, each on a schema of its own that is dropped at the end:
//
//   - verify against /healthz: the default scenarios on a server with the
//     PostgreSQL store and one with SQLite, 100,000 keys each, interleaved
//     in the same rounds (fewer than the default run's, to keep make bench
//     short): the checks stay in memory, so the ratios should match;
//   - revoke confirmation: three servers on one database; an admin signed
//     in on the first revokes keys one after the other as the page does
//     with JavaScript (an htmx POST), and reads from each answer how many
//     servers confirmed and how fast ("confirmed by 3 of 3 servers in
//     4 ms"); each key is checked on every server before (accepted) and
//     right after the answer (refused);
//   - start-up: a server on 1,000,000 keys, timed from the start of the
//     process until /readyz answers 200, with its resident memory, three
//     times, then under a short verify load; the same on SQLite.

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"math"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5"
)

// The goals of the issue, and how the run keeps to a reasonable time.
const (
	goalConfirmP99 = 50 * time.Millisecond // p99 of the revoke confirmations
	goalReady      = 5 * time.Second       // start of the process to /readyz 200, with 1,000,000 keys
	goalStartRSS   = 400e6                 // bytes, peak resident memory with 1,000,000 keys
	postgresRounds = 3                     // default -rounds with -postgres
	starts         = 3                     // starts timed per store
)

// liftLimiter lifts the failed-authentication limiter, which would turn
// the invalid scenarios and the checks of revoked keys into 429s after 20
// requests (it guards each server's CPU; a valid key never meets it).
var liftLimiter = []string{"--auth-fail-burst", "1000000000"}

// store is one database a part of the bench runs on.
type store struct {
	name string // "SQLite" or "PostgreSQL"
	dsn  string
	toks tokens
	seed time.Duration
}

// startups are a store's timed starts, then a load on the last one.
type startups struct {
	runs     []startRun
	load     result
	loadPeak int64 // kB, VmHWM after the load
}

// revokeRun is what the revokes did.
type revokeRun struct {
	confirm, answer          []time.Duration
	complete                 int // answers that said every server confirmed
	servers                  int // servers the last answer counted
	acceptedBefore, refused  int // checks on the three servers before and after
	checksBefore, checksMade int
}

func runPostgres(ctx context.Context, cfg config, stdout, stderr io.Writer) error {
	logf := logTo(stderr)

	version, err := reachable(ctx, cfg.postgres)
	if err != nil {
		msg := fmt.Sprintf("no PostgreSQL reachable at %s: %v", redacted(cfg.postgres), err)
		if cfg.postgresOptional {
			fmt.Fprintf(stdout, "\n## make bench: several servers on PostgreSQL: skipped\n\nSkipped: %s. "+
				"`make test-deps` starts one; or point BLNK_TEST_POSTGRES at one.\n", msg)
			logf("skipped the PostgreSQL run: %s", msg)
			return nil
		}
		return errors.New(msg)
	}
	setup, err := newBench(ctx, cfg, "postgres-", true, logf)
	if err != nil {
		return err
	}
	defer setup.done()
	tmp, wrk := setup.tmp, setup.wrk

	// Four data sets, seeded while the server builds: those of SQLite
	// (this process's CPU) beside those of PostgreSQL (mostly the
	// database server's).
	sets := []*store{
		{name: "SQLite", dsn: filepath.Join(tmp, "bench.db")},
		{name: "PostgreSQL"},
		{name: "SQLite", dsn: filepath.Join(tmp, "start.db")},
		{name: "PostgreSQL"},
	}
	for _, st := range sets {
		if st.dsn != "" {
			continue
		}
		dsn, drop, err := pgSchema(ctx, cfg.postgres)
		if err != nil {
			return err
		}
		if cfg.keep {
			logf("PostgreSQL schema kept: %s", redacted(dsn))
		} else {
			defer drop()
		}
		st.dsn = dsn
	}
	sizes := []int{cfg.keys, cfg.keys, cfg.startKeys, cfg.startKeys}
	seedErrs := make([]error, 2)
	var wg sync.WaitGroup
	for kind := range 2 {
		wg.Go(func() {
			for i := kind; i < len(sets); i += 2 {
				st := sets[i]
				logf("creating a %s database of %d keys", st.name, sizes[i])
				t0 := time.Now()
				toks, err := seed(ctx, st.dsn, sizes[i], cfg.sample)
				if err != nil {
					seedErrs[kind] = fmt.Errorf("seed %s: %w", st.name, err)
					return
				}
				st.toks, st.seed = toks, time.Since(t0)
				logf("  %s database of %d keys ready in %s", st.name, sizes[i], st.seed.Round(time.Millisecond))
			}
		})
	}
	wg.Wait()
	if err := errors.Join(seedErrs...); err != nil {
		return err
	}
	// The seeds' writes go to the disk now rather than during the runs.
	if err := checkpoint(ctx, cfg.postgres); err != nil {
		logf("CHECKPOINT: %v (PostgreSQL may write the seeds out during the first runs)", err)
	}
	syscall.Sync()
	bin, err := setup.bin()
	if err != nil {
		return err
	}
	gen, err := newLoadGen(tmp, wrk, cfg)
	if err != nil {
		return err
	}
	m := &measurer{gen: gen, cfg: cfg, logf: logf, stderr: stderr}
	extra := strings.Fields(cfg.serverArgs)

	// 1. Verify against /healthz, both stores in the same rounds.
	var targets []target
	var scenarios [][]scenario // [store][scenario]
	for _, st := range sets[:2] {
		scs, err := scenariosFor(tmp, strings.ToLower(st.name)+"-", st.toks, cfg)
		if err != nil {
			return err
		}
		scenarios = append(scenarios, scs)
		srv, err := startServer(ctx, bin, st.dsn, append(liftLimiter, extra...)...)
		if err != nil {
			return err
		}
		defer srv.stop()
		for _, sc := range scs {
			targets = append(targets, target{st.name + ": " + sc.name, srv, sc})
		}
	}
	results, err := m.rounds(ctx, targets, cfg.rounds)
	if err != nil {
		return err
	}
	m.stopped(targets[0].srv, "SQLite server")
	m.stopped(targets[len(targets)-1].srv, "PostgreSQL server")

	// 2. Revokes through one of three servers.
	logf("revoking %d keys through one of three servers", cfg.revokes)
	rv, err := revokeThree(ctx, m, bin, sets[1], cfg, extra)
	if err != nil {
		return err
	}
	logf("  confirmation p50 %s p99 %s; answer p50 %s p99 %s", fmtDur(percentile(rv.confirm, 50)),
		fmtDur(percentile(rv.confirm, 99)), fmtDur(percentile(rv.answer, 50)), fmtDur(percentile(rv.answer, 99)))

	// 3. Start-up with many keys.
	var ups []startups
	for _, st := range sets[2:] {
		up, err := startUp(ctx, m, bin, tmp, st, cfg, extra)
		if err != nil {
			return err
		}
		ups = append(ups, up)
	}

	writePostgres(stdout, cfg, version, sets, scenarios, results, rv, ups)
	writeProblems(stdout, m.problems)
	writeEnvironment(ctx, stdout, wrk, setup.loadStart, time.Since(setup.start))
	return measured(m.problems)
}

// reachable connects to the PostgreSQL server of dsn and returns its
// version.
func reachable(ctx context.Context, dsn string) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		return "", err
	}
	defer conn.Close(context.WithoutCancel(ctx))
	var v string
	err = conn.QueryRow(ctx, `SHOW server_version`).Scan(&v)
	return v, err
}

// checkpoint asks the PostgreSQL server of dsn for a checkpoint (which
// takes a superuser or the pg_checkpoint role).
func checkpoint(ctx context.Context, dsn string) error {
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		return err
	}
	defer conn.Close(context.WithoutCancel(ctx))
	_, err = conn.Exec(ctx, "CHECKPOINT")
	return err
}

// pgSchema creates a schema of its own on the PostgreSQL server of base
// and returns the URL that uses it (search_path, as the tests do), and a
// function that drops it.
func pgSchema(ctx context.Context, base string) (dsn string, drop func(), err error) {
	u, err := url.Parse(base)
	if err != nil {
		return "", nil, err
	}
	var b [6]byte
	rand.Read(b[:])
	schema := "bench_" + hex.EncodeToString(b[:])
	conn, err := pgx.Connect(ctx, base)
	if err != nil {
		return "", nil, err
	}
	defer conn.Close(context.WithoutCancel(ctx))
	if _, err := conn.Exec(ctx, "CREATE SCHEMA "+schema); err != nil {
		return "", nil, fmt.Errorf("create schema: %w", err)
	}
	q := u.Query()
	q.Set("search_path", schema)
	u.RawQuery = q.Encode()
	drop = func() {
		ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), time.Minute)
		defer cancel()
		conn, err := pgx.Connect(ctx, base)
		if err == nil {
			defer conn.Close(ctx)
			_, err = conn.Exec(ctx, "DROP SCHEMA "+schema+" CASCADE")
		}
		if err != nil {
			fmt.Fprintf(os.Stderr, "bench: drop schema %s: %v\n", schema, err)
		}
	}
	return u.String(), drop, nil
}

func redacted(dsn string) string {
	u, err := url.Parse(dsn)
	if err != nil {
		return "(unparsable URL)"
	}
	return u.Redacted()
}

var confirmedIn = regexp.MustCompile(`confirmed by (\d+) of (\d+) servers? in (\d+(?:\.\d+)?) (ms|s)\b`)

// revokeThree starts three servers on the database of st, signs in on the
// first and revokes cfg.revokes of the sampled keys through it, one after
// the other.
func revokeThree(ctx context.Context, m *measurer, bin string, st *store, cfg config, extra []string) (revokeRun, error) {
	var rv revokeRun
	// One after the other: the first generates the session secret that
	// the others read.
	var srvs []*server
	for range 3 {
		s, err := startServer(ctx, bin, st.dsn, append(liftLimiter, extra...)...)
		if err != nil {
			return rv, err
		}
		defer s.stop()
		srvs = append(srvs, s)
	}
	admin, err := signIn(ctx, srvs[0].url)
	if err != nil {
		return rv, err
	}
	api := &http.Client{Timeout: 10 * time.Second}
	status := func(srv *server, token string) (int, error) {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, srv.url+verifyURL(cfg), nil)
		if err != nil {
			return 0, err
		}
		req.Header.Set("Authorization", "Bearer "+token)
		resp, err := api.Do(req)
		if err != nil {
			return 0, err
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		return resp.StatusCode, nil
	}
	// askAll checks token on every server: how many were asked, and how
	// many answered want.
	askAll := func(token string, want int) (asked, answered int, err error) {
		for _, s := range srvs {
			code, err := status(s, token)
			if err != nil {
				return asked, answered, err
			}
			asked++
			if code == want {
				answered++
			}
		}
		return asked, answered, nil
	}
	// The last sampled keys: the verify scenarios drew from them too, on
	// another server, which is stopped now.
	n := len(st.toks.valid)
	for i := range cfg.revokes {
		id, token := st.toks.validIDs[n-1-i], st.toks.valid[n-1-i]
		asked, accepted, err := askAll(token, http.StatusOK)
		if err != nil {
			return rv, err
		}
		rv.checksBefore += asked
		rv.acceptedBefore += accepted
		req, err := http.NewRequestWithContext(ctx, http.MethodPost, srvs[0].url+"/settings/api-keys/"+id+"/revoke", strings.NewReader(""))
		if err != nil {
			return rv, err
		}
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.Header.Set("HX-Request", "true")
		t0 := time.Now()
		resp, err := admin.Do(req)
		if err != nil {
			return rv, err
		}
		body, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		took := time.Since(t0)
		if err != nil {
			return rv, err
		}
		mm := confirmedIn.FindStringSubmatch(string(body))
		if resp.StatusCode != http.StatusOK || mm == nil {
			return rv, fmt.Errorf("revoke %s: status %d, no \"confirmed by N of M servers in T\" in the answer", id, resp.StatusCode)
		}
		confirmed, _ := strconv.Atoi(mm[1])
		servers, _ := strconv.Atoi(mm[2])
		v, _ := strconv.ParseFloat(mm[3], 64)
		unit := time.Millisecond
		if mm[4] == "s" {
			unit = time.Second
		}
		rv.confirm = append(rv.confirm, time.Duration(v*float64(unit)))
		rv.answer = append(rv.answer, took)
		rv.servers = servers
		if confirmed == servers && servers == len(srvs) {
			rv.complete++
		}
		asked, refused, err := askAll(token, http.StatusUnauthorized)
		if err != nil {
			return rv, err
		}
		rv.checksMade += asked
		rv.refused += refused
	}
	if rv.acceptedBefore != rv.checksBefore {
		m.problems = append(m.problems, fmt.Sprintf("revokes: %d of %d checks before a revoke were not accepted", rv.checksBefore-rv.acceptedBefore, rv.checksBefore))
	}
	if rv.refused != rv.checksMade {
		m.problems = append(m.problems, fmt.Sprintf("revokes: %d of %d checks right after a revoke's answer were not refused", rv.checksMade-rv.refused, rv.checksMade))
	}
	for i, s := range srvs {
		m.stopped(s, fmt.Sprintf("revoke server %d", i+1))
	}
	return rv, nil
}

// signIn signs the seeded admin in on the server at base and returns a
// client with the session, as a browser would hold it.
func signIn(ctx context.Context, base string) (*http.Client, error) {
	jar, err := cookiejar.New(nil)
	if err != nil {
		return nil, err
	}
	c := &http.Client{Jar: jar, Timeout: 10 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	form := url.Values{"email": {benchEmail}, "password": {benchPassword}}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, base+"/login", strings.NewReader(form.Encode()))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	resp, err := c.Do(req)
	if err != nil {
		return nil, err
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusSeeOther {
		return nil, fmt.Errorf("sign in: status %d, want 303", resp.StatusCode)
	}
	return c, nil
}

var loadedKeys = regexp.MustCompile(`msg=listening .*\bkeys=(\d+)`)

// startUp starts a server on st starts times, each timed until /readyz
// answers, then loads the last one with verify for cfg.duration (its key
// file in dir).
func startUp(ctx context.Context, m *measurer, bin, dir string, st *store, cfg config, extra []string) (startups, error) {
	var up startups
	var srv *server
	for i := range starts {
		if srv != nil {
			m.stopped(srv, st.name+" server (start-up)")
		}
		var err error
		if srv, err = launch(bin, st.dsn, extra...); err != nil {
			return up, err
		}
		defer srv.stop()
		if err := srv.waitListening(ctx, 2*time.Minute); err != nil {
			return up, err
		}
		ready, err := srv.waitStatus(ctx, "/readyz", time.Minute)
		if err != nil {
			return up, err
		}
		run := startRun{listening: srv.listening, ready: ready, rss: srv.currentRSS()}
		_, run.hwm = srv.memory()
		if mm := loadedKeys.FindStringSubmatch(srv.stderr.String()); mm != nil {
			run.keys, _ = strconv.Atoi(mm[1])
		}
		if run.keys != cfg.startKeys {
			m.problems = append(m.problems, fmt.Sprintf("%s start-up: the server loaded %d keys, want %d", st.name, run.keys, cfg.startKeys))
		}
		m.logf("%s start %d/%d: listening after %s, /readyz 200 after %s, %s resident, peak %s",
			st.name, i+1, starts, fmtDur(run.listening), fmtDur(run.ready), mb(run.rss*1024), mb(run.hwm*1024))
		up.runs = append(up.runs, run)
	}
	scs, err := scenariosFor(dir, "start-"+strings.ToLower(st.name)+"-", st.toks, cfg)
	if err != nil {
		return up, err
	}
	sc := scs[scRandom]
	if up.load, err = m.measure(ctx, target{st.name + ", " + thousands(float64(cfg.startKeys)) + " keys: " + sc.name, srv, sc}); err != nil {
		return up, err
	}
	_, up.loadPeak = srv.memory()
	m.stopped(srv, st.name+" server (start-up)")
	return up, nil
}

// percentile returns the p-th percentile of ds (nearest rank).
func percentile(ds []time.Duration, p float64) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	s := append([]time.Duration(nil), ds...)
	slices.Sort(s)
	i := int(math.Ceil(p/100*float64(len(s)))) - 1
	return s[max(0, min(i, len(s)-1))]
}

func writePostgres(w io.Writer, cfg config, version string, sets []*store, scenarios [][]scenario, results [][]result, rv revokeRun, ups []startups) {
	fmt.Fprintf(w, "\n## make bench: several servers on PostgreSQL\n\n")
	fmt.Fprintf(w, "PostgreSQL %s at %s, on the same machine; each data set in a schema of its own, dropped after the run. "+
		"Real servers (`dashboard serve`, CGO_ENABLED=0, default log level) on 127.0.0.1.\n", version, hostOf(cfg.postgres))

	fmt.Fprintf(w, "\n### Verify against /healthz, SQLite and PostgreSQL in the same rounds\n\n")
	fmt.Fprintf(w, "%s keys in each store, one server each (`--auth-fail-burst 1000000000`); %s, "+
		"%d rounds (the default run has 5; fewer here to keep `make bench` short) with all ten runs interleaved; verify asks `%s`. "+
		"Medians over the rounds; ratios to the /healthz of the same server in the same round.\n\n",
		thousands(float64(cfg.keys)), wrkRuns(cfg), cfg.rounds, verifyPath(cfg))
	writeTableHead(w, "store: scenario")
	var names []string
	sums := make([][]summary, len(scenarios))
	for si, scs := range scenarios {
		for i, sc := range scs {
			name := sets[si].name + ": " + sc.name
			names = append(names, name)
			s := summarize(results[si*len(scs)+i], results[si*len(scs)+baseOf(i)])
			sums[si] = append(sums[si], s)
			writeRow(w, name, sc.expect, s)
		}
	}
	fmt.Fprintln(w)
	writeCPUNotes(w)
	writeRounds(w, names, results)
	writeDisturbed(w, append(append([]summary(nil), sums[0]...), sums[1]...))

	fmt.Fprintf(w, "\n### Revoke confirmation, three servers on one database\n\n")
	fmt.Fprintf(w, "Three servers on the PostgreSQL database above (%s keys, default --revoke-wait, --key-poll and --max-staleness), no other load. "+
		"An admin signed in on the first revokes %d keys one after the other as the page does with JavaScript (htmx POST to /settings/api-keys/{id}/revoke) "+
		"and reads the confirmation from each answer (\"confirmed by 3 of 3 servers in N ms\": from the revoke's commit until every live server had applied it, "+
		"to the millisecond). Each key is checked on all three servers before the revoke and right after its answer.\n\n",
		thousands(float64(cfg.keys)), cfg.revokes)
	fmt.Fprintln(w, "| over the revokes | p50 | p90 | p99 | max |")
	fmt.Fprintln(w, "|---|---:|---:|---:|---:|")
	for _, row := range []struct {
		name string
		ds   []time.Duration
	}{
		{"confirmation (what the page says)", rv.confirm},
		{"revoke answer, as the browser waits for it", rv.answer},
	} {
		fmt.Fprintf(w, "| %s | %s | %s | %s | %s |\n", row.name, fmtDur(percentile(row.ds, 50)), fmtDur(percentile(row.ds, 90)),
			fmtDur(percentile(row.ds, 99)), fmtDur(percentile(row.ds, 100)))
	}
	fmt.Fprintf(w, "\nConfirmed by every server (%d of %d): %d of %d revokes. Checks on the three servers: accepted before the revoke %d of %d, refused right after its answer %d of %d.\n",
		rv.servers, 3, rv.complete, len(rv.confirm), rv.acceptedBefore, rv.checksBefore, rv.refused, rv.checksMade)

	fmt.Fprintf(w, "\n### Start-up with %s keys\n\n", thousands(float64(cfg.startKeys)))
	fmt.Fprintf(w, "The server started %d times on the same database, each timed from the start of the process until /readyz answers 200 "+
		"(asked every 10 ms; the keys are loaded before the server listens); then wrk loads the last one for %s with keys drawn from %s. "+
		"Memory from /proc/PID/status (MB = 10^6 bytes).\n\n",
		starts, cfg.duration, thousands(float64(cfg.sample)))
	fmt.Fprintln(w, "| store | seeded in ⁴ | listening (keys loaded) | /readyz 200 | resident when ready | peak (VmHWM) when ready | peak after the load | verify under that load |")
	fmt.Fprintln(w, "|---|---:|---:|---:|---:|---:|---:|---:|")
	for i, up := range ups {
		t := totalStarts(up.runs)
		st := sets[2+i]
		fmt.Fprintf(w, "| %s | %s | %s (%s–%s) | **%s** (%s–%s) | %s | %s | **%s** | %s req/s, p99 %s |\n",
			st.name, st.seed.Round(100*time.Millisecond), fmtDur(median(t.listening)), fmtDur(slices.Min(t.listening)), fmtDur(slices.Max(t.listening)),
			fmtDur(median(t.ready)), fmtDur(slices.Min(t.ready)), fmtDur(slices.Max(t.ready)),
			mb(t.rss*1024), mb(t.hwm*1024), mb(max(t.hwm, up.loadPeak)*1024), thousands(up.load.reqPerSec), fmtDur(up.load.p99))
	}
	fmt.Fprintf(w, "\nMedian of the %d starts, (fastest–slowest); memory: the highest of the starts.\n"+
		"⁴ Written in bulk (COPY on PostgreSQL, one transaction on SQLite), the two stores side by side and beside the build of the server.\n", starts)

	fmt.Fprintf(w, "\n### Goals\n\n")
	goal := func(ok bool, text string) { fmt.Fprintf(w, "- **%s** %s\n", passMark(ok), text) }
	for _, g := range verifyGoals(scenarios[1], sums[1]) {
		goal(g.ok, "PostgreSQL: "+g.text)
	}
	fmt.Fprintf(w, "- (the same ratios on SQLite in the same rounds: one key %.3f, keys drawn from %s %.3f)\n",
		sums[0][scOneKey].ratio, thousands(float64(cfg.sample)), sums[0][scRandom].ratio)
	p99 := percentile(rv.confirm, 99)
	goal(p99 < goalConfirmP99 && rv.complete == len(rv.confirm),
		fmt.Sprintf("revoke confirmed by all three servers: p99 %s over %d revokes, p50 %s; %d of %d confirmed by every server (goal p99 < %s)",
			fmtDur(p99), len(rv.confirm), fmtDur(percentile(rv.confirm, 50)), rv.complete, len(rv.confirm), fmtDur(goalConfirmP99)))
	for i, up := range ups {
		t := totalStarts(up.runs)
		slowest, peak := slices.Max(t.ready), max(t.hwm, up.loadPeak)
		name := sets[2+i].name
		goal(slowest < goalReady, fmt.Sprintf("%s, %s keys: ready after %s at the slowest of %d starts (goal < %s)",
			name, thousands(float64(cfg.startKeys)), fmtDur(slowest), starts, fmtDur(goalReady)))
		goal(float64(peak)*1024 < goalStartRSS, fmt.Sprintf("%s, %s keys: peak resident memory %s, start and load (goal < %s)",
			name, thousands(float64(cfg.startKeys)), mb(peak*1024), mb(goalStartRSS)))
	}
}

// hostOf is the host and port of a URL, for the report.
func hostOf(dsn string) string {
	u, err := url.Parse(dsn)
	if err != nil {
		return "(unparsable URL)"
	}
	return u.Host
}
