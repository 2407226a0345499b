package keyauth

import (
	"context"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"runtime"
	"syscall"
	"testing"
	"time"

	"github.com/blnk-cloud/apikeys/internal/apikey"
	"github.com/blnk-cloud/apikeys/internal/blnk"
)

func cpuNow() time.Duration {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// scaleKeys is the size of BenchmarkIndexScale's index.
var scaleKeys = flag.Int("scale-keys", 1_000_000, "keys of BenchmarkIndexScale")

// BenchmarkIndexScale builds an index of -scale-keys keys in memory (no
// database: records made here, as a load hands them over), then saves it
// as a snapshot and reads it back, and reports what each costs in CPU
// time (user+sys of the process: fair on a busy machine), the heap a key
// takes, and a lookup of keys drawn from 10,000. Issue 21's ten million:
//
//	go test -run '^$' -bench IndexScale -benchtime 1x ./internal/keyauth/ -args -scale-keys 10000000
func BenchmarkIndexScale(b *testing.B) {
	for b.Loop() {
		indexScale(b, *scaleKeys)
	}
}

func indexScale(t *testing.B, n int) {
	scopes, _ := apikey.ParseScopes([]string{"mcp:read"})
	a := &Authenticator{idx: newIndex(), log: slog.Default()}
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	a.idx.reserve(n + n/64)
	c0, w0 := cpuNow(), time.Now()
	toks := make([]string, 0, 10000)
	for i := range n {
		tok := fmt.Sprintf("token-%d", i)
		r := blnk.Record{Hash: apikey.HashOf(tok), Key: apikey.Key{ID: apikey.NewID(), WorkspaceID: 1,
			Name: fmt.Sprintf("bench key %07d", i), Prefix: "blnk_0123abcd", Scopes: scopes, CreatedAt: time.Unix(1700000000, 0)}, WorkspaceName: "Bench"}
		a.putLoaded(&r)
		if i%(n/10000) == 0 && len(toks) < 10000 {
			toks = append(toks, tok)
		}
	}
	c1, w1 := cpuNow(), time.Now()
	runtime.GC()
	runtime.ReadMemStats(&after)
	t.Logf("%d keys: built in %s CPU (records made and hashed included), %s wall; heap %d MB, %.0f bytes a key; Sys %d MB",
		n, c1-c0, w1.Sub(w0), (after.HeapAlloc-before.HeapAlloc)>>20, float64(after.HeapAlloc-before.HeapAlloc)/float64(n), after.Sys>>20)
	t.ReportMetric(float64(after.HeapAlloc-before.HeapAlloc)/float64(n), "bytes/key")
	hashes := make([]apikey.Hash, len(toks))
	for i, tk := range toks {
		hashes[i] = apikey.HashOf(tk)
	}
	t0 := time.Now()
	const probes = 2_000_000
	for i := range probes {
		if _, ok := a.idx.lookupHash(&hashes[i%len(hashes)]); !ok {
			t.Fatal("missing")
		}
	}
	t.Logf("lookup of keys drawn from 10,000: %s each", time.Since(t0)/probes)
	t.ReportMetric(float64(time.Since(t0))/probes, "ns/lookup")
	path := filepath.Join(t.TempDir(), "k.snap")
	c0, w0 = cpuNow(), time.Now()
	if err := a.WriteSnapshot(context.Background(), path); err != nil {
		t.Fatal(err)
	}
	fi, _ := os.Stat(path)
	t.Logf("snapshot written: %s CPU, %s wall, %d MB", cpuNow()-c0, time.Since(w0), fi.Size()>>20)
	t.ReportMetric((cpuNow() - c0).Seconds(), "write-cpu-s")
	c0, w0 = cpuNow(), time.Now()
	x, _, _, err := readSnapshot(path)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("snapshot read: %s CPU, %s wall, %d keys", cpuNow()-c0, time.Since(w0), x.keys)
	t.ReportMetric((cpuNow() - c0).Seconds(), "read-cpu-s")
	if x.keys != n {
		t.Fatalf("snapshot read %d keys, want %d", x.keys, n)
	}
}
