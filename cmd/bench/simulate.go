package main

import (
	"container/heap"
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"runtime"
	"slices"
	"sync"
	"time"

	"github.com/blnk-cloud/apikeys/internal/apikey"
)

// The simulation (-simulate) of a deployment whose keys do not fit in one
// server's memory (cmd/bench/README.md, "Beyond one machine's memory").
// Each server holds a bounded hot set of keys (hotset.go) and looks the
// others up in the database; revocation stays exact through the change
// log and the lease of the servers today (internal/keyauth):
//
//   - A server answers only while its lease lasts: the start of its last
//     read of the change log plus the lease. Reads are started by a
//     notification or by the poll; applying a read replaces the record of
//     every changed key the hot set holds (a revoked key becomes a
//     tombstone), then renews the lease.
//   - A miss reads the key from the database, with the sequence number of
//     the last change its snapshot includes. Its answer is kept only if no
//     change of that key was applied since that number; else it is read
//     again.
//   - A revoke commits, then answers once every server has applied it or
//     its stored lease has run out (that server is fenced: it cannot renew
//     from a read begun before).
//
// Time is virtual (microseconds), every draw comes from one seeded
// generator, so a run is the same every time. After every answer, and on
// every server the moment each revoke answers, the simulation checks that
// no revoked key whose revoke has answered is accepted: violations.

// simConfig is one simulated deployment and its traffic.
type simConfig struct {
	keys, workspaces, servers int
	requests                  int     // client requests replayed
	rate                      int     // client requests per second, all servers together
	zipfS                     float64 // the popularity of keys: Zipf's s (> 1)
	hot                       int     // hot-set entries per server
	routed                    bool    // requests go to the server of their workspace, not any
	revokeEvery               int     // a revoke per this many requests
	warmup                    int     // first requests not counted in the hit rate

	poll, lease       time.Duration // --key-poll, --max-staleness
	notifyDelay       time.Duration // a notification arrives within this
	readLatency       time.Duration // a read of the change log
	lookup, slowLook  time.Duration // a miss's database read; one in 100 takes slowLook
	deaf              int           // this server loses one notification in deafOdds, and then waits for its poll (-1: none)
	deafOdds          int
	cutOff            int           // this server loses the database (-1: none) ...
	cutFrom, cutFor   time.Duration // ... from then, for so long
	seed              uint64
	noRecheck, noSync bool // broken variants, for the tests: keep stale misses; apply no change to hot sets
}

// defaultSim is the deployment of make bench-simulate, scaled down from
// 100,000,000 keys to keys (the hot set scales with it).
func defaultSim(keys int) simConfig {
	return simConfig{
		keys: keys, workspaces: 5_000, servers: 4,
		requests: 1_000_000, rate: 50_000, zipfS: 1.1, revokeEvery: 1_000, warmup: 250_000,
		poll: time.Second, lease: 3 * time.Second,
		notifyDelay: 10 * time.Millisecond, readLatency: 2 * time.Millisecond,
		lookup: time.Millisecond, slowLook: 50 * time.Millisecond,
		deaf: 1, deafOdds: 10, cutOff: 2, cutFrom: 8 * time.Second, cutFor: 5 * time.Second,
		seed: 21,
	}
}

// simResult is what one run measured.
type simResult struct {
	hot                  int
	counted, hits        int // client requests after the warm-up, and those answered from the hot set
	lookups              int // database reads of misses after the warm-up (re-reads included)
	rereads              int // misses read again: a change of their key was applied meanwhile
	unavailable          int // requests refused because the server's lease had run out or it could not read
	lost                 int // notifications lost
	revokes, answered    int
	lapsed               int // revokes that counted a server through its lease running out
	probes, violations   int
	answerP50, answerP99 time.Duration
	answerMax            time.Duration
	simulated            time.Duration
}

func (r simResult) hitRate() float64 { return float64(r.hits) / float64(max(r.counted, 1)) }

type simServer struct {
	hot         *hotSet
	applied     int64 // last change applied
	storedLease int64 // as the database has it (µs)
	lease       int64 // in memory: never after storedLease
	fence       int64 // reads begun before this cannot renew the lease
	syncing     bool
	again       bool
	changed     map[int32]int64 // key -> last change applied to it
}

type simEventKind uint8

const (
	evPoll simEventKind = iota
	evNotify
	evSyncDone
	evLeaseEnd
	evLoadDone
)

type simEvent struct {
	at     int64
	n      int64 // order of scheduling, for ties
	kind   simEventKind
	server int
	key    int32
	seq    int64 // evSyncDone, evLoadDone: the snapshot's last change
	start  int64 // evSyncDone: when the read began
	client bool  // evLoadDone: a counted client request
}

type simQueue []simEvent

func (q simQueue) Len() int { return len(q) }
func (q simQueue) Less(i, j int) bool {
	return q[i].at < q[j].at || q[i].at == q[j].at && q[i].n < q[j].n
}
func (q simQueue) Swap(i, j int)    { q[i], q[j] = q[j], q[i] }
func (q *simQueue) Push(x any)      { *q = append(*q, x.(simEvent)) }
func (q *simQueue) Pop() any        { old := *q; e := old[len(old)-1]; *q = old[:len(old)-1]; return e }
func (q *simQueue) push(e simEvent) { heap.Push(q, e) }

type pendingRevoke struct {
	key       int32
	seq       int64
	committed int64
}

type sim struct {
	cfg       simConfig
	rng       *rand.Rand
	hashes    []apikey.Hash
	revokedAt []int64 // the change that revoked each key; 0: not revoked
	answered  []int64 // when each key's revoke answered (µs); 0: not yet
	log       []int32 // the change log: seq i+1 changed log[i]
	servers   []*simServer
	queue     simQueue
	n         int64
	pending   []pendingRevoke
	answers   []time.Duration
	res       simResult
}

// simulate runs one deployment. hashes are the keys' hashes (shared by
// the runs of one report).
func simulate(cfg simConfig, hashes []apikey.Hash) simResult {
	s := &sim{
		cfg:       cfg,
		rng:       rand.New(rand.NewPCG(cfg.seed, 0x5eed)),
		hashes:    hashes[:cfg.keys],
		revokedAt: make([]int64, cfg.keys),
		answered:  make([]int64, cfg.keys),
	}
	s.res.hot = cfg.hot
	// Popularity is independent of a key's number and workspace: the
	// Zipf rank is mapped through a permutation.
	perm := s.rng.Perm(cfg.keys)
	zipf := rand.NewZipf(s.rng, cfg.zipfS, 1, uint64(cfg.keys-1))
	draw := func() int32 { return int32(perm[zipf.Uint64()]) }

	for i := range cfg.servers {
		s.servers = append(s.servers, &simServer{hot: newHotSet(cfg.hot), changed: map[int32]int64{}})
		// Every server starts with a read at 0; polls are spread out.
		s.sync(i, 0)
		s.schedule(simEvent{at: micros(cfg.poll) * int64(i+1) / int64(cfg.servers), kind: evPoll, server: i})
	}
	step := int64(1_000_000) / int64(cfg.rate)
	if step < 1 {
		step = 1
	}
	var now int64
	for i := range cfg.requests {
		now = int64(i+1) * step
		s.runUntil(now)
		if cfg.revokeEvery > 0 && i%cfg.revokeEvery == cfg.revokeEvery-1 {
			s.revoke(draw(), now)
		}
		k := draw()
		srv := s.rng.IntN(cfg.servers)
		if cfg.routed {
			srv = int(k) % cfg.workspaces % cfg.servers // a key's workspace is its number modulo workspaces
		}
		s.request(srv, k, now, i >= cfg.warmup)
	}
	// Let the last revokes answer, and their probes run.
	s.runUntil(now + micros(cfg.lease) + micros(cfg.poll) + micros(cfg.slowLook)*4)
	s.res.simulated = time.Duration(now) * time.Microsecond
	s.res.answered = len(s.answers)
	if len(s.answers) > 0 {
		slices.Sort(s.answers)
		s.res.answerP50 = s.answers[len(s.answers)/2]
		s.res.answerP99 = s.answers[len(s.answers)*99/100]
		s.res.answerMax = s.answers[len(s.answers)-1]
	}
	return s.res
}

func micros(d time.Duration) int64 { return d.Microseconds() }

func (s *sim) schedule(e simEvent) {
	s.n++
	e.n = s.n
	s.queue.push(e)
}

func (s *sim) runUntil(t int64) {
	for len(s.queue) > 0 && s.queue[0].at <= t {
		e := heap.Pop(&s.queue).(simEvent)
		switch e.kind {
		case evPoll:
			s.sync(e.server, e.at)
			s.schedule(simEvent{at: e.at + micros(s.cfg.poll), kind: evPoll, server: e.server})
		case evNotify:
			s.sync(e.server, e.at)
		case evSyncDone:
			s.syncDone(e)
		case evLeaseEnd:
			s.checkRevokes(e.at)
		case evLoadDone:
			s.loadDone(e)
		}
	}
}

func (s *sim) cut(server int, t int64) bool {
	return server == s.cfg.cutOff && t >= micros(s.cfg.cutFrom) && t < micros(s.cfg.cutFrom+s.cfg.cutFor)
}

// sync starts a read of the change log, or asks for another after the
// one under way. A server cut off from the database reads nothing.
func (s *sim) sync(server int, t int64) {
	srv := s.servers[server]
	if srv.syncing {
		srv.again = true
		return
	}
	if s.cut(server, t) {
		return
	}
	srv.syncing = true
	s.schedule(simEvent{at: t + micros(s.cfg.readLatency), kind: evSyncDone, server: server, seq: int64(len(s.log)), start: t})
}

func (s *sim) syncDone(e simEvent) {
	srv := s.servers[e.server]
	srv.syncing = false
	for seq := srv.applied + 1; seq <= e.seq; seq++ {
		k := s.log[seq-1]
		if !s.cfg.noSync {
			srv.hot.replace(s.hashes[k], s.record(k, e.seq))
		}
		srv.changed[k] = seq
	}
	srv.applied = max(srv.applied, e.seq)
	if e.start >= srv.fence { // the heartbeat renews the lease, unless fenced
		srv.storedLease = max(srv.storedLease, e.start+micros(s.cfg.lease))
		srv.lease = srv.storedLease
		s.schedule(simEvent{at: srv.storedLease, kind: evLeaseEnd, server: e.server})
	} else {
		srv.again = true
	}
	s.checkRevokes(e.at)
	if srv.again {
		srv.again = false
		s.sync(e.server, e.at)
	}
}

// record is key k as a snapshot that includes changes up to seq sees it.
func (s *sim) record(k int32, seq int64) hotRecord {
	r := hotRecord{workspaceID: int64(int(k) % s.cfg.workspaces), scopes: 1}
	if at := s.revokedAt[k]; at != 0 && at <= seq {
		r.revoked = true
	}
	return r
}

func (s *sim) revoke(k int32, t int64) {
	for s.revokedAt[k] != 0 { // already revoked: the next key
		k = (k + 1) % int32(s.cfg.keys)
	}
	s.log = append(s.log, k)
	seq := int64(len(s.log))
	s.revokedAt[k] = seq
	s.res.revokes++
	s.pending = append(s.pending, pendingRevoke{key: k, seq: seq, committed: t})
	for i := range s.servers {
		if i == s.cfg.deaf && s.rng.IntN(s.cfg.deafOdds) == 0 {
			s.res.lost++
			continue
		}
		delay := 1 + s.rng.Int64N(max(micros(s.cfg.notifyDelay), 1))
		s.schedule(simEvent{at: t + delay, kind: evNotify, server: i})
	}
}

// checkRevokes answers the pending revokes that every server has applied
// or whose lease has run out, then probes every server with the key.
func (s *sim) checkRevokes(t int64) {
	kept := s.pending[:0]
	var done []pendingRevoke
	for _, p := range s.pending {
		ok := true
		for _, srv := range s.servers {
			if srv.applied < p.seq && srv.storedLease > t {
				ok = false
				break
			}
		}
		if ok {
			done = append(done, p)
		} else {
			kept = append(kept, p)
		}
	}
	s.pending = kept
	for _, p := range done {
		lapsed := false
		for _, srv := range s.servers {
			if srv.applied < p.seq {
				srv.fence = max(srv.fence, t)
				lapsed = true
			}
		}
		if lapsed {
			s.res.lapsed++
		}
		s.answered[p.key] = t
		s.answers = append(s.answers, time.Duration(t-p.committed)*time.Microsecond)
		for i := range s.servers {
			s.res.probes++
			s.request(i, p.key, t, false)
		}
	}
}

// request is a check of key k on server at t: from the hot set, or by a
// database read whose answer comes later (loadDone).
func (s *sim) request(server int, k int32, t int64, client bool) {
	srv := s.servers[server]
	if client {
		s.res.counted++
	}
	if t >= srv.lease {
		s.res.unavailable++
		return
	}
	if rec, ok := srv.hot.get(s.hashes[k]); ok {
		if client {
			s.res.hits++
		}
		s.answer(k, t, !rec.revoked)
		return
	}
	s.load(server, k, t, client)
}

func (s *sim) load(server int, k int32, t int64, client bool) {
	if s.cut(server, t) {
		s.res.unavailable++
		return
	}
	if client {
		s.res.lookups++
	}
	took := micros(s.cfg.lookup)
	if s.rng.IntN(100) == 0 {
		took = micros(s.cfg.slowLook)
	}
	s.schedule(simEvent{at: t + took, kind: evLoadDone, server: server, key: k, seq: int64(len(s.log)), client: client})
}

func (s *sim) loadDone(e simEvent) {
	srv := s.servers[e.server]
	if e.at >= srv.lease {
		s.res.unavailable++
		return
	}
	if !s.cfg.noRecheck && srv.changed[e.key] > e.seq {
		// A change of this key was applied after the read's snapshot: the
		// read may predate a revoke that has answered. Read again.
		s.res.rereads++
		s.load(e.server, e.key, e.at, e.client)
		return
	}
	rec := s.record(e.key, e.seq)
	srv.hot.put(s.hashes[e.key], rec)
	s.answer(e.key, e.at, !rec.revoked)
}

// answer checks an answer: accepting a key whose revoke has answered is
// a violation of the guarantee.
func (s *sim) answer(k int32, t int64, accepted bool) {
	if accepted && s.answered[k] != 0 && s.answered[k] <= t {
		s.res.violations++
	}
}

// simHashes returns n distinct, deterministic key hashes.
func simHashes(n int, seed uint64) []apikey.Hash {
	var s [32]byte
	s[0], s[1] = byte(seed), byte(seed>>8)
	r := rand.NewChaCha8(s)
	out := make([]apikey.Hash, n)
	for i := range out {
		r.Read(out[i][:])
	}
	return out
}

// hotSetBytes measures the heap a hot set of n keys takes, records
// included (their id and name allocated per key, as decoding rows does),
// and returns it per key.
func hotSetBytes(n int) float64 {
	hashes := simHashes(n, 99)
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	h := newHotSet(n)
	for i, hash := range hashes {
		h.put(hash, hotRecord{
			id:          apikey.NewID(),
			name:        fmt.Sprintf("production key %06d", i),
			workspaceID: int64(i % 5000), scopes: 3, expiresAt: 1_800_000_000_000,
		})
	}
	runtime.GC()
	runtime.ReadMemStats(&after)
	runtime.KeepAlive(h)
	return float64(after.HeapAlloc-before.HeapAlloc) / float64(n)
}

// runSimulate runs the simulation for hot sets of 0.1%, 1% and 10% of
// the keys, with any server and routed by workspace, and prints the
// report.
func runSimulate(_ context.Context, cfg config, stdout, stderr io.Writer) error {
	logf := logTo(stderr)
	start := time.Now()
	base := defaultSim(cfg.simKeys)
	base.zipfS = cfg.zipf
	base.requests = cfg.simRequests
	base.warmup = cfg.simRequests / 4
	const target = 100_000_000
	logf("simulating %d keys (for %d), %d requests at %d/s, Zipf s=%.2f", base.keys, target, base.requests, base.rate, base.zipfS)
	hashes := simHashes(base.keys, base.seed)

	measured := min(200_000, base.keys)
	perKey := hotSetBytes(measured)
	logf("hot set: %.0f bytes per key (measured with %d keys)", perKey, measured)

	fmt.Fprintf(stdout, "## Beyond one machine's memory: simulation\n\n")
	fmt.Fprintf(stdout, "%s keys in %s workspaces (standing for %s), %d servers, %s requests at %s/s (%s simulated), "+
		"Zipf s = %.2f, a revoke every %s requests; lease %s, poll %s; server 1 loses one notification in %d, server 2 loses the database for %s.\n\n",
		thousands(float64(base.keys)), thousands(float64(base.workspaces)), thousands(float64(target)), base.servers, thousands(float64(base.requests)), thousands(float64(base.rate)),
		time.Duration(int64(base.requests)*int64(time.Second)/int64(base.rate)), base.zipfS, thousands(float64(base.revokeEvery)),
		base.lease, base.poll, base.deafOdds, base.cutFor)
	fmt.Fprintln(stdout, "| hot set per server | requests to | hit rate | database reads/s at 50,000 req/s | hot set at 100M keys | violations | revokes answered (lapsed) | answer p50 / p99 / max |")
	fmt.Fprintln(stdout, "| --- | --- | ---: | ---: | ---: | ---: | ---: | --- |")
	// The six runs are independent and each deterministic: run them side
	// by side.
	type run struct {
		frac   float64
		routed bool
		cfg    simConfig
		res    simResult
	}
	var runs []*run
	for _, frac := range []float64{0.001, 0.01, 0.1} {
		for _, routed := range []bool{false, true} {
			c := base
			c.hot = int(frac * float64(c.keys))
			c.routed = routed
			runs = append(runs, &run{frac: frac, routed: routed, cfg: c})
		}
	}
	var wg sync.WaitGroup
	sem := make(chan struct{}, runtime.GOMAXPROCS(0))
	for _, r := range runs {
		wg.Go(func() {
			sem <- struct{}{}
			defer func() { <-sem }()
			t0 := time.Now()
			r.res = simulate(r.cfg, hashes)
			logf("hot set %d, routed %v: hit rate %.4f, %d violations (%s)", r.cfg.hot, r.routed, r.res.hitRate(), r.res.violations, time.Since(t0).Round(time.Millisecond))
		})
	}
	wg.Wait()
	var total simResult
	for _, run := range runs {
		c, r := run.cfg, run.res
		to := "any server"
		if run.routed {
			to = "its workspace's server"
		}
		fmt.Fprintf(stdout, "| %s (%g%%) | %s | %.1f%% | %s | %s | %d | %s of %s (%d) | %s / %s / %s |\n",
			thousands(float64(c.hot)), run.frac*100, to, 100*r.hitRate(),
			thousands(float64(r.lookups)/float64(max(r.counted, 1))*float64(base.rate)),
			bytesIEC(perKey*run.frac*target), r.violations, thousands(float64(r.answered)), thousands(float64(r.revokes)), r.lapsed,
			r.answerP50.Round(time.Millisecond), r.answerP99.Round(time.Millisecond), r.answerMax.Round(time.Millisecond))
		total.violations += r.violations
		total.probes += r.probes
		total.rereads += r.rereads
		total.unavailable += r.unavailable
		total.lost += r.lost
	}
	fmt.Fprintf(stdout, "\nHot set: %.0f bytes per key, measured (runtime.MemStats) with %s keys and multiplied out; "+
		"every key in memory, as today: about 270 bytes a key, %s at 100M. Hit rates are of %s keys and one run's requests: a key's first request always misses, which holds down the largest hot set; "+
		"with Zipf s > 1 the same share of more keys takes more of the requests (compare -sim-keys 100000). "+
		"Probes of every server at each revoke's answer: %s; notifications lost: %s; misses read again because their key changed meanwhile: %s; "+
		"requests refused while a lease had run out: %s. Violations in all: %d.\n",
		perKey, thousands(float64(measured)), bytesIEC(270*target), thousands(float64(base.keys)),
		thousands(float64(total.probes)), thousands(float64(total.lost)), thousands(float64(total.rereads)), thousands(float64(total.unavailable)), total.violations)
	fmt.Fprintf(stdout, "\n(took %s)\n", time.Since(start).Round(100*time.Millisecond))
	if total.violations != 0 {
		return fmt.Errorf("%d violations: a revoked key was accepted after its revoke answered", total.violations)
	}
	return nil
}

// bytesIEC formats a size in bytes: 1.2 GiB.
func bytesIEC(b float64) string {
	for _, u := range []string{"B", "KiB", "MiB", "GiB", "TiB"} {
		if b < 1024 || u == "TiB" {
			if u == "B" {
				return fmt.Sprintf("%.0f B", b)
			}
			return fmt.Sprintf("%.1f %s", b, u)
		}
		b /= 1024
	}
	return ""
}
