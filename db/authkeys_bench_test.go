package db

import (
	"context"
	"flag"
	"syscall"
	"testing"
	"time"

	"github.com/blnk-cloud/apikeys/internal/apikey"
	"github.com/blnk-cloud/apikeys/internal/blnk"
)

// authKeysN is BenchmarkAuthKeys's key count.
var authKeysN = flag.Int("authkeys-keys", 200_000, "keys of BenchmarkAuthKeys")

// BenchmarkAuthKeys reads every key as a starting server does (AuthKeys,
// the records handed to a function that keeps nothing) from a database
// of -authkeys-keys keys made by GenerateKeys, and reports the CPU time
// of this process a read takes (user+sys: fair on a busy machine; on
// PostgreSQL the server's own scan is not in it). Issue 21's million:
//
//	go test -run '^$' -bench AuthKeys -benchtime 3x ./db/ -args -authkeys-keys 1000000
func BenchmarkAuthKeys(b *testing.B) {
	ctx := context.Background()
	d, _ := openTestDB(b)
	w, u := newWorkspace(b, d, "Acme", "admin@acme.io")
	sets := []apikey.Set{mustScopes(b, "mcp:read", "mcp:write"), mustScopes(b, "*")}
	if _, err := d.GenerateKeys(ctx, SyntheticKeys{WorkspaceID: w.ID, CreatedBy: u.ID, N: *authKeysN, Scopes: sets,
		Created: testNow, ExpiresAt: testNow.AddDate(10, 0, 0)}); err != nil {
		b.Fatal(err)
	}
	var cpu time.Duration
	for b.Loop() {
		n := 0
		c0 := cpuTime()
		if _, err := d.AuthKeys(ctx, func(blnk.Record) { n++ }); err != nil {
			b.Fatal(err)
		}
		cpu += cpuTime() - c0
		if n != *authKeysN {
			b.Fatalf("AuthKeys read %d keys, want %d", n, *authKeysN)
		}
	}
	b.ReportMetric(cpu.Seconds()/float64(b.N), "cpu-s/op")
	b.ReportMetric(float64(cpu.Nanoseconds())/float64(b.N)/float64(*authKeysN), "cpu-ns/key")
}

func cpuTime() time.Duration {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
