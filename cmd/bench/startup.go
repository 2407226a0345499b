package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"time"
)

// runStartup measures start-up with -keys keys on SQLite and, when
// -postgres names a reachable server, PostgreSQL, side by side (issue
// 21): for each store, starts that read every key ("plain"), then starts
// from a snapshot file (--key-snapshot) written by a first start; each
// start timed until /readyz answers 200, with the server's CPU time
// (user+sys) until then and its memory; then verify with keys drawn from
// -sample against /healthz on the last server. With -base-bin, the same
// plain starts of that binary too (the version before, for a ratio).
func runStartup(ctx context.Context, cfg config, stdout, stderr io.Writer) error {
	logf := logTo(stderr)
	setup, err := newBench(ctx, cfg, "startup-", true, logf)
	if err != nil {
		return err
	}
	defer setup.done()
	var sets []*store
	if !cfg.noSQLite {
		sets = append(sets, &store{name: "SQLite", dsn: filepath.Join(setup.tmp, "start.db")})
	}
	if cfg.postgres != "" {
		if _, err := reachable(ctx, cfg.postgres); err != nil && cfg.noSQLite {
			return fmt.Errorf("no PostgreSQL at %s (%v), and -no-sqlite", redacted(cfg.postgres), err)
		} else if err != nil {
			logf("no PostgreSQL at %s (%v): SQLite only", redacted(cfg.postgres), err)
		} else {
			dsn, drop, err := pgSchema(ctx, cfg.postgres)
			if err != nil {
				return err
			}
			defer drop()
			sets = append(sets, &store{name: "PostgreSQL", dsn: dsn})
		}
	}
	for _, st := range sets {
		logf("creating a %s database of %d keys", st.name, cfg.keys)
		t0 := time.Now()
		if st.toks, err = seedBulk(ctx, st.dsn, cfg.keys, cfg.sample); err != nil {
			return fmt.Errorf("seed %s: %w", st.name, err)
		}
		st.seed = time.Since(t0)
		logf("  ready in %s", st.seed.Round(time.Millisecond))
	}
	if cfg.postgres != "" {
		checkpoint(ctx, cfg.postgres)
	}
	syscall.Sync()
	bin, err := setup.bin()
	if err != nil {
		return err
	}
	gen, err := newLoadGen(setup.tmp, setup.wrk, cfg)
	if err != nil {
		return err
	}
	m := &measurer{gen: gen, cfg: cfg, logf: logf, stderr: stderr}
	extra := strings.Fields(cfg.serverArgs)

	type row struct {
		name  string
		runs  []startRun
		ratio float64 // verify (keys drawn from -sample) / healthz
		p99   float64
		peak  int64 // kB, VmHWM after the load
	}
	var rows []row
	for _, st := range sets {
		snap := filepath.Join(setup.tmp, strings.ToLower(st.name)+".snap")
		modes := []struct {
			name string
			bin  string
			args []string
		}{{"plain load", bin, nil}, {"from a snapshot", bin, []string{"--key-snapshot", snap}}}
		if cfg.baseBin != "" {
			modes = append([]struct {
				name string
				bin  string
				args []string
			}{{"plain load, -base-bin", cfg.baseBin, nil}}, modes...)
		}
		for _, mode := range modes {
			if mode.args != nil {
				// A first start writes the snapshot after reading every key.
				srv, err := launch(mode.bin, st.dsn, append(mode.args, extra...)...)
				if err != nil {
					return err
				}
				if err := srv.waitListening(ctx, startupWait); err != nil {
					return err
				}
				deadline := time.Now().Add(startupWait)
				for !strings.Contains(srv.stderr.String(), "key snapshot saved") && time.Now().Before(deadline) {
					time.Sleep(50 * time.Millisecond)
				}
				m.stopped(srv, st.name+" server (writing the snapshot)")
				if fi, err := os.Stat(snap); err == nil {
					logf("%s snapshot: %s", st.name, mb(fi.Size()))
				}
			}
			r := row{name: st.name + ", " + mode.name}
			var srv *server
			for i := range starts {
				if srv != nil {
					m.stopped(srv, r.name)
				}
				if srv, err = launch(mode.bin, st.dsn, append(mode.args, extra...)...); err != nil {
					return err
				}
				defer srv.stop()
				if err := srv.waitListening(ctx, startupWait); err != nil {
					return err
				}
				ready, err := srv.waitStatus(ctx, "/readyz", startupWait)
				if err != nil {
					return err
				}
				cpu, _ := takeCPU(srv.cmd.Process.Pid)
				run := startRun{ready: ready, cpu: cpu.server, rss: srv.currentRSS()}
				_, run.hwm = srv.memory()
				run.from = "database"
				if strings.Contains(srv.stderr.String(), "keys_from=snapshot") {
					run.from = "snapshot"
				}
				logf("%s start %d/%d: /readyz 200 after %s, CPU %s, %s resident, peak %s, keys from the %s",
					r.name, i+1, starts, fmtDur(ready), fmtDur(run.cpu), mb(run.rss*1024), mb(run.hwm*1024), run.from)
				r.runs = append(r.runs, run)
			}
			scs, err := scenariosFor(setup.tmp, "startup-"+strings.ToLower(st.name)+"-", st.toks, cfg)
			if err != nil {
				return err
			}
			h, err := m.measure(ctx, target{r.name + ": healthz", srv, scs[scHealthzMany]})
			if err != nil {
				return err
			}
			v, err := m.measure(ctx, target{r.name + ": " + scs[scRandom].name, srv, scs[scRandom]})
			if err != nil {
				return err
			}
			r.ratio, r.p99 = v.reqPerSec/h.reqPerSec, float64(v.p99)/float64(h.p99)
			_, r.peak = srv.memory()
			m.stopped(srv, r.name)
			rows = append(rows, r)
		}
	}

	fmt.Fprintf(stdout, "\n### Start-up with %s keys\n\n", thousands(float64(cfg.keys)))
	fmt.Fprintf(stdout, "Median of %d starts (CPU: user+sys of the server from exec to /readyz 200); verify with keys drawn from %s against /healthz sent the same requests, %s after the starts.\n\n",
		starts, thousands(float64(cfg.sample)), cfg.duration)
	fmt.Fprintln(stdout, "| store, start | keys from | /readyz 200 | CPU to ready | resident when ready | peak when ready | peak after the load | verify / healthz | p99 ratio |")
	fmt.Fprintln(stdout, "|---|---|---:|---:|---:|---:|---:|---:|---:|")
	for _, r := range rows {
		t := totalStarts(r.runs)
		fmt.Fprintf(stdout, "| %s | %s | %s | %s | %s | %s | %s | %.2f | %.2f |\n", r.name, r.runs[len(r.runs)-1].from,
			fmtDur(median(t.ready)), fmtDur(median(t.cpu)), mb(t.rss*1024), mb(t.hwm*1024), mb(r.peak*1024), r.ratio, r.p99)
	}
	writeProblems(stdout, m.problems)
	writeEnvironment(ctx, stdout, setup.wrk, setup.loadStart, time.Since(setup.start))
	return measured(m.problems)
}

// startRun is one timed start, of -startup or of -postgres's start-up.
type startRun struct {
	listening time.Duration // after the process started (-postgres)
	ready     time.Duration // until /readyz answered 200
	cpu       time.Duration // user+sys of the server until then (-startup)
	rss, hwm  int64         // kB: VmRSS once ready, VmHWM then
	keys      int           // loaded, as the "listening" line says (-postgres)
	from      string        // "database" or "snapshot" (-startup)
}

// startTotals are a row's starts gathered for its table: each start's
// times, and the most memory any start held.
type startTotals struct {
	listening, ready, cpu []time.Duration
	rss, hwm              int64 // kB
}

func totalStarts(runs []startRun) startTotals {
	var t startTotals
	for _, r := range runs {
		t.listening, t.ready, t.cpu = append(t.listening, r.listening), append(t.ready, r.ready), append(t.cpu, r.cpu)
		t.rss, t.hwm = max(t.rss, r.rss), max(t.hwm, r.hwm)
	}
	return t
}

// startupWait bounds each wait of a start (listening, ready, the
// snapshot written): ten million keys read on a loaded 2-core machine
// take minutes.
const startupWait = 30 * time.Minute
