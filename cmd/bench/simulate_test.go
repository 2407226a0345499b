package main

import (
	"testing"
	"time"
)

// smallSim is the simulation scaled down for the tests: a few seconds of
// traffic over 20,000 keys.
func smallSim(hot int) simConfig {
	c := defaultSim(20_000)
	c.workspaces = 200
	c.requests, c.warmup = 100_000, 20_000
	c.revokeEvery = 200
	c.rate = 20_000
	c.cutFrom, c.cutFor = 2*time.Second, 4*time.Second // longer than the lease
	c.hot = hot
	return c
}

func TestSimulationRevokedKeysAreRefusedEverywhere(t *testing.T) {
	hashes := simHashes(20_000, 1)
	for _, tc := range []struct {
		name   string
		change func(*simConfig)
		broken bool
	}{
		{"any server", func(c *simConfig) {}, false},
		{"routed by workspace", func(c *simConfig) { c.routed = true }, false},
		{"slow lookups", func(c *simConfig) { c.lookup = 20 * time.Millisecond }, false},
		// The checker must be able to fail: a server that keeps a miss read
		// before a revoke it has applied since, or that applies no change to
		// its hot set, accepts revoked keys.
		{"broken: stale misses kept", func(c *simConfig) { c.lookup = 20 * time.Millisecond; c.noRecheck = true }, true},
		{"broken: changes not applied", func(c *simConfig) { c.noSync = true }, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := smallSim(200)
			tc.change(&c)
			r := simulate(c, hashes)
			if r.revokes == 0 || r.answered != r.revokes {
				t.Fatalf("%d of %d revokes answered", r.answered, r.revokes)
			}
			if r.lapsed == 0 {
				t.Errorf("no revoke counted a server through its lease: the cut-off server was not exercised")
			}
			if r.lost == 0 {
				t.Errorf("no notification lost: the deaf server was not exercised")
			}
			if r.probes != r.revokes*c.servers {
				t.Errorf("%d probes for %d revokes on %d servers", r.probes, r.revokes, c.servers)
			}
			if tc.broken && r.violations == 0 {
				t.Errorf("violations = 0 in a broken design: the check cannot fail")
			}
			if !tc.broken && r.violations != 0 {
				t.Errorf("violations = %d, want 0", r.violations)
			}
			if r.answerMax > c.lease+c.poll {
				t.Errorf("slowest revoke answered after %s, more than the lease and a poll (%s)", r.answerMax, c.lease+c.poll)
			}
		})
	}
}

func TestSimulationHitRateGrowsWithHotSet(t *testing.T) {
	hashes := simHashes(20_000, 1)
	for _, routed := range []bool{false, true} {
		prev := -1.0
		for _, hot := range []int{20, 200, 2_000} { // 0.1%, 1%, 10%
			c := smallSim(hot)
			c.routed = routed
			r := simulate(c, hashes)
			if r.hitRate() <= prev {
				t.Errorf("routed %v: hit rate with %d keys = %.3f, not above %.3f with fewer", routed, hot, r.hitRate(), prev)
			}
			if r.hits+r.lookups < r.counted-r.unavailable {
				t.Errorf("routed %v, hot %d: %d hits and %d lookups for %d requests (%d refused unavailable)", routed, hot, r.hits, r.lookups, r.counted, r.unavailable)
			}
			prev = r.hitRate()
		}
		if prev < 0.5 {
			t.Errorf("routed %v: hit rate with 10%% of keys = %.3f; Zipf s=1.1 should give more than half", routed, prev)
		}
	}
}

func TestSimulationIsDeterministic(t *testing.T) {
	hashes := simHashes(20_000, 1)
	a, b := simulate(smallSim(200), hashes), simulate(smallSim(200), hashes)
	if a != b {
		t.Errorf("two runs differ:\n%+v\n%+v", a, b)
	}
}

func TestHotSet(t *testing.T) {
	hashes := simHashes(4, 7)
	h := newHotSet(2)
	h.put(hashes[0], hotRecord{workspaceID: 0})
	h.put(hashes[1], hotRecord{workspaceID: 1})
	h.get(hashes[0]) // 1 is now the least recently used
	h.put(hashes[2], hotRecord{workspaceID: 2})
	if _, ok := h.get(hashes[1]); ok {
		t.Error("the least recently used key was kept")
	}
	for _, i := range []int{0, 2} {
		if r, ok := h.get(hashes[i]); !ok || r.workspaceID != int64(i) {
			t.Errorf("key %d: %+v, %v", i, r, ok)
		}
	}
	if h.replace(hashes[3], hotRecord{revoked: true}) {
		t.Error("replace stored a key the set did not hold")
	}
	if !h.replace(hashes[0], hotRecord{revoked: true}) {
		t.Error("replace missed a key the set holds")
	}
	if r, _ := h.get(hashes[0]); !r.revoked {
		t.Error("the replaced record is not a tombstone")
	}
	if h.len() != 2 {
		t.Errorf("len = %d, want 2", h.len())
	}
}
