package main

import (
	"context"
	"io"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/blnk-cloud/apikeys/db"
	"github.com/blnk-cloud/apikeys/internal/apikey"
	"github.com/blnk-cloud/apikeys/internal/blnk"
)

func TestSummarizePairsRoundsWithTheirBase(t *testing.T) {
	ms := time.Millisecond
	run := func(rps float64, p99 time.Duration, requests int64, cpu time.Duration, statuses map[int]int64) result {
		return result{reqPerSec: rps, p50: p99 / 2, p99: p99, requests: requests, statuses: statuses,
			cpu: cpuUse{server: cpu, other: 10 * ms, capacity: 100 * ms}}
	}
	bases := []result{
		run(1000, 2*ms, 1000, 100*ms, nil),
		run(500, 4*ms, 500, 100*ms, nil), // a slow round: both sides slow
		run(1000, 2*ms, 1000, 100*ms, nil),
	}
	runs := []result{
		run(900, 3*ms, 900, 180*ms, map[int]int64{200: 900}),
		run(450, 6*ms, 450, 90*ms, map[int]int64{200: 440, 500: 10}),
		run(800, 2*ms, 800, 160*ms, map[int]int64{200: 800}),
	}
	runs[1].unexpected = 10
	s := summarize(runs, bases)
	// Ratios per round: 0.9, 0.9, 0.8 -> median 0.9; unpaired medians
	// (800 of 1000) would say 0.8.
	if s.ratio != 0.9 {
		t.Errorf("ratio = %v, want 0.9 (the median of each round's ratio)", s.ratio)
	}
	if s.reqPerSec != 800 {
		t.Errorf("req/s = %v, want the median 800", s.reqPerSec)
	}
	if s.p99Ratio != 1.5 {
		t.Errorf("p99 ratio = %v, want 1.5 (rounds 1.5, 1.5, 1)", s.p99Ratio)
	}
	if s.p99 != 3*ms || s.p50 != 1500*time.Microsecond {
		t.Errorf("p50, p99 = %v, %v; want 1.5ms, 3ms", s.p50, s.p99)
	}
	// CPU per request: 200µs, 200µs, 200µs against 100µs, 200µs, 100µs.
	if s.cpuPerReq != 200*time.Microsecond || s.cpuRatio != 2 {
		t.Errorf("CPU per request %v, ratio %v; want 200µs, 2", s.cpuPerReq, s.cpuRatio)
	}
	if s.others != 0.1 || s.othersMax != 0.1 {
		t.Errorf("others' share %v (max %v), want 0.1", s.others, s.othersMax)
	}
	if s.unexpected != 10 || s.statuses[200] != 2140 || s.statuses[500] != 10 {
		t.Errorf("unexpected %d, statuses %v", s.unexpected, s.statuses)
	}
}

func TestMedian(t *testing.T) {
	for _, tc := range []struct {
		in   []float64
		want float64
	}{
		{[]float64{3}, 3},
		{[]float64{3, 1, 2}, 2},
		{[]float64{4, 1, 3, 2}, 2.5},
	} {
		in := append([]float64(nil), tc.in...)
		if got := median(in); got != tc.want {
			t.Errorf("median(%v) = %v, want %v", tc.in, got, tc.want)
		}
	}
}

func TestVerifyGoals(t *testing.T) {
	scs := []scenario{{name: "/healthz"}, {name: "one key"}, {name: "random keys"}, {name: "unknown"}, {name: "malformed"}, {name: "/healthz, many"}}
	ok := summary{ratio: 0.9, p99Ratio: 1.1, p50: time.Millisecond}
	sums := []summary{{ratio: 1, p99Ratio: 1, p50: time.Millisecond}, ok, ok, ok, ok, {ratio: 0.95, p99Ratio: 1, p50: time.Millisecond}}
	for _, g := range verifyGoals(scs, sums) {
		if !g.ok {
			t.Errorf("missed with every scenario at 0.9: %s", g.text)
		}
	}
	slow := append([]summary(nil), sums...)
	slow[scRandom].ratio = goalRandom - 0.01
	slow[scUnknown].p99Ratio = goalP99 + 0.1
	slow[scOneKey].p99Ratio = goalRandomP99 + 0.1 // within the one key's goal, past the random keys'
	missed := 0
	for _, g := range verifyGoals(scs, slow) {
		if !g.ok {
			missed++
		}
	}
	// The random ratio, the unknown p99, and the unknown and malformed
	// keys now faster than the random ones is no miss.
	if missed != 2 {
		t.Errorf("%d goals missed, want 2 (random ratio, unknown p99)", missed)
	}
}

func TestFormats(t *testing.T) {
	for _, tc := range []struct{ got, want string }{
		{thousands(0), "0"},
		{thousands(999), "999"},
		{thousands(1000), "1,000"},
		{thousands(1234567.6), "1,234,568"},
		{thousands(-1234), "-1,234"},
		{thousands(-123), "-123"},
		{fmtDur(850 * time.Microsecond), "850 µs"},
		{fmtDur(1234 * time.Microsecond), "1.23 ms"},
		{fmtDur(12345 * time.Microsecond), "12.3 ms"},
		{fmtDur(2500 * time.Millisecond), "2.50 s"},
		{mb(395_000_000), "395.0 MB"},
		{bytesIEC(512), "512 B"},
		{bytesIEC(1.5 * 1024 * 1024 * 1024), "1.5 GiB"},
	} {
		if tc.got != tc.want {
			t.Errorf("got %q, want %q", tc.got, tc.want)
		}
	}
}

func TestParseWrk(t *testing.T) {
	out := `Running 3s test @ http://127.0.0.1:4000/api/v1/verify
  1 threads and 32 connections
  Latency Distribution
     50%  180.00us
  61234 requests in 3.00s, 9.1MB read
Requests/sec:  20411.33
Transfer/sec:      3.03MB
BENCH requests=61234 duration_us=3000123 p50_us=180.5 p90_us=300.0 p99_us=1250.0 max_us=9000.0 unexpected=3 connect=0 read=2 write=0 timeout=1 statuses=200:61231,500:3
`
	r, err := parseWrk(out)
	if err != nil {
		t.Fatal(err)
	}
	if r.reqPerSec != 20411.33 || r.requests != 61234 || r.unexpected != 3 {
		t.Errorf("req/s %v, requests %d, unexpected %d", r.reqPerSec, r.requests, r.unexpected)
	}
	if r.duration != 3000123*time.Microsecond || r.p50 != 180500*time.Nanosecond || r.p99 != 1250*time.Microsecond {
		t.Errorf("duration %v, p50 %v, p99 %v", r.duration, r.p50, r.p99)
	}
	if r.sockErrs != "read 2, timeout 1" {
		t.Errorf("socket errors %q, want \"read 2, timeout 1\"", r.sockErrs)
	}
	if len(r.statuses) != 2 || r.statuses[200] != 61231 || r.statuses[500] != 3 {
		t.Errorf("statuses %v", r.statuses)
	}
	for _, bad := range []string{
		"",
		"Requests/sec:  20411.33\n",              // no BENCH line
		"BENCH requests=1 statuses=200:1\n",      // no Requests/sec
		"Requests/sec: many\nBENCH requests=1\n", // not a number
	} {
		if _, err := parseWrk(bad); err == nil {
			t.Errorf("parseWrk(%q) succeeded", bad)
		}
	}
}

func TestParseFlags(t *testing.T) {
	for _, tc := range []struct {
		args []string
		ok   bool
		want func(config) bool
	}{
		{nil, true, func(c config) bool { return c.keys == 100_000 && c.sample == 10_000 && c.rounds == 5 && !c.simulate }},
		{[]string{"-postgres", "postgres://x"}, true, func(c config) bool { return c.rounds == postgresRounds }},
		{[]string{"-postgres", "postgres://x", "-rounds", "2"}, true, func(c config) bool { return c.rounds == 2 }},
		{[]string{"-simulate"}, true, func(c config) bool { return c.simulate && c.simKeys == 1_000_000 && c.zipf == 1.1 }},
		{[]string{"-simulate", "-sim-keys", "50000", "-zipf", "1.2"}, true, func(c config) bool { return c.simKeys == 50_000 && c.zipf == 1.2 }},
		{[]string{"-simulate", "-zipf", "1"}, false, nil},
		{[]string{"-simulate", "-sim-keys", "10"}, false, nil},
		{[]string{"-postgres-optional"}, false, nil},
		{[]string{"-keys", "10", "-sample", "100"}, false, nil},
		{[]string{"-duration", "500ms"}, false, nil},
		{[]string{"-connections", "1", "-threads", "2"}, false, nil},
		{[]string{"extra"}, false, nil},
		{[]string{"-no-such-flag"}, false, nil},
	} {
		c, err := parseFlags(tc.args, io.Discard)
		if (err == nil) != tc.ok {
			t.Errorf("parseFlags(%q) error = %v, want ok %v", tc.args, err, tc.ok)
			continue
		}
		if tc.ok && !tc.want(c) {
			t.Errorf("parseFlags(%q) = %+v", tc.args, c)
		}
	}
}

// TestSeedTokens seeds a small SQLite file and checks the tokens the load
// generator will send: the valid ones are stored keys (found by the
// store, hash and id), the unknown ones well-formed but not stored, the
// malformed ones refused by the parser.
// seedBulk (-startup) the same, its other keys generated in the database.
func TestSeedTokens(t *testing.T) {
	for _, tc := range []struct {
		name string
		seed func(ctx context.Context, dsn string, n, sample int) (tokens, error)
	}{{"imported", seed}, {"bulk", seedBulk}} {
		t.Run(tc.name, func(t *testing.T) { testSeedTokens(t, tc.seed) })
	}
}

func testSeedTokens(t *testing.T, seed func(ctx context.Context, dsn string, n, sample int) (tokens, error)) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "bench.db")
	const n, sample = 300, 30
	toks, err := seed(ctx, path, n, sample)
	if err != nil {
		t.Fatalf("seed: %v", err)
	}
	if len(toks.valid) != sample || len(toks.validIDs) != sample || len(toks.unknown) != sample || len(toks.malformed) != sample {
		t.Fatalf("sampled %d valid (%d ids), %d unknown, %d malformed; want %d each",
			len(toks.valid), len(toks.validIDs), len(toks.unknown), len(toks.malformed), sample)
	}
	store, err := db.Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	stored := map[apikey.Hash]string{}
	if _, err := store.AuthKeys(ctx, func(r blnk.Record) { stored[r.Hash] = strings.Clone(r.Key.ID) }); err != nil {
		t.Fatal(err)
	}
	if len(stored) != n {
		t.Errorf("the database holds %d keys, want %d", len(stored), n)
	}
	distinct := map[string]bool{}
	for i, tok := range toks.valid {
		if _, err := apikey.Parse(tok); err != nil {
			t.Errorf("valid token %d does not parse: %v", i, err)
		}
		if id, ok := stored[apikey.HashOf(tok)]; !ok || id != toks.validIDs[i] {
			t.Errorf("valid token %d: stored as %q (%v), want id %s", i, id, ok, toks.validIDs[i])
		}
		distinct[tok] = true
	}
	if len(distinct) != sample {
		t.Errorf("%d distinct valid tokens of %d", len(distinct), sample)
	}
	for i, tok := range toks.unknown {
		if _, err := apikey.Parse(tok); err != nil {
			t.Errorf("unknown token %d does not parse: %v", i, err)
		}
		if _, ok := stored[apikey.HashOf(tok)]; ok {
			t.Errorf("unknown token %d is stored", i)
		}
	}
	for i, tok := range toks.malformed {
		if _, err := apikey.Parse(tok); err == nil {
			t.Errorf("malformed token %d parses", i)
		}
		if len(tok) != len(toks.unknown[i]) || tok[:len(tok)-1] != toks.unknown[i][:len(tok)-1] {
			t.Errorf("malformed token %d is not unknown token %d with its last character changed", i, i)
		}
	}
	// The login the bench signs in with.
	if l, err := store.LoginByEmail(ctx, benchEmail); err != nil || l.Workspace.Name != "Bench" {
		t.Errorf("LoginByEmail(%s) = %+v, %v", benchEmail, l, err)
	}
	if _, err := seed(ctx, filepath.Join(t.TempDir(), "x.db"), 10, 20); err == nil || !strings.Contains(err.Error(), "sample") {
		t.Errorf("seed with a sample larger than the keys = %v", err)
	}
}

func TestBaseOf(t *testing.T) {
	for _, tc := range []struct {
		name     string
		sc, want int
	}{
		{"one key against one request", scOneKey, scHealthz},
		{"random keys against as many requests", scRandom, scHealthzMany},
		{"unknown keys against as many requests", scUnknown, scHealthzMany},
		{"malformed keys against as many requests", scMalformed, scHealthzMany},
		{"many requests against one", scHealthzMany, scHealthz},
		{"the base itself", scHealthz, scHealthz},
	} {
		if got := baseOf(tc.sc); got != tc.want {
			t.Errorf("%s: baseOf(%d) = %d, want %d", tc.name, tc.sc, got, tc.want)
		}
	}
}

func TestTailKeepsTheLastMiB(t *testing.T) {
	var tl tail
	line := []byte(strings.Repeat("x", 1023) + "\n")
	for range 3 << 10 { // 3 MiB
		tl.Write(line)
	}
	tl.Write([]byte("last"))
	got := tl.String()
	if len(got) < 1<<20 || len(got) > 2<<20 {
		t.Errorf("len(tail) = %d, want 1 to 2 MiB", len(got))
	}
	if !strings.HasSuffix(got, "x\nlast") {
		t.Errorf("tail ends %q, want the last write", got[len(got)-10:])
	}
}
