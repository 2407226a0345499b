package main

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/blnk-cloud/apikeys/internal/testkit"
)

// cancelOnListening is the log of a server that asks it to stop as soon
// as it says it is listening: the moment its background work (heartbeat,
// key changes, usage flushes, webhook deliveries) starts.
type cancelOnListening struct {
	logs   testkit.LogBuffer
	cancel context.CancelFunc
}

func (w *cancelOnListening) Write(p []byte) (int, error) {
	if strings.Contains(string(p), "msg=listening") {
		w.cancel()
	}
	return w.logs.Write(p)
}

// TestShutdownLogsNoError: a server started and stopped at once, again
// and again on one database of the tests' kind (SQLite or PostgreSQL),
// logs no line at level ERROR; `make bench` finds its run invalid on
// any, and a normal shutdown is not a failure.
func TestShutdownLogsNoError(t *testing.T) {
	dsn := testkit.DSN(t)
	for i := range 5 {
		ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
		w := &cancelOnListening{cancel: cancel}
		err := serve(ctx, []string{"--listen", "127.0.0.1:0", "--db", dsn, "--log-level", "debug",
			"--key-poll", "10ms", "--usage-flush", "10ms", "--webhook-poll", "10ms", "--sweep-every", "10ms"}, w)
		cancel()
		logs := w.logs.String()
		if err != nil {
			t.Fatalf("start %d: serve: %v\n%s", i+1, err, logs)
		}
		if !strings.Contains(logs, "msg=stopped") {
			t.Fatalf("start %d: the server did not say it stopped:\n%s", i+1, logs)
		}
		if strings.Contains(logs, "level=ERROR") {
			t.Errorf("start %d: errors logged by a normal shutdown:\n%s", i+1, logs)
		}
	}
}

// TestServeKeySnapshot: --key-snapshot saves the keys as the server
// stops, and the next start reads them from the file (the listening line
// says so); a file that is not a snapshot is ignored with a warning and
// every key read.
func TestServeKeySnapshot(t *testing.T) {
	dsn := testkit.DSN(t)
	path := filepath.Join(t.TempDir(), "keys.snap")
	start := func() string {
		t.Helper()
		ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
		defer cancel()
		w := &cancelOnListening{cancel: cancel}
		if err := serve(ctx, []string{"--listen", "127.0.0.1:0", "--db", dsn, "--key-snapshot", path}, w); err != nil {
			t.Fatalf("serve: %v\n%s", err, w.logs.String())
		}
		return w.logs.String()
	}
	if logs := start(); !strings.Contains(logs, "keys_from=database") || !strings.Contains(logs, "key snapshot saved") {
		t.Fatalf("first start: want the keys read from the database and a snapshot saved:\n%s", logs)
	}
	if logs := start(); !strings.Contains(logs, "keys_from=snapshot") || strings.Contains(logs, "level=ERROR") {
		t.Fatalf("second start: want the keys read from the snapshot, no error:\n%s", logs)
	}
	if err := os.WriteFile(path, []byte("not a snapshot"), 0o600); err != nil {
		t.Fatal(err)
	}
	if logs := start(); !strings.Contains(logs, "keys_from=database") || !strings.Contains(logs, "key snapshot not used") {
		t.Fatalf("a file that is not a snapshot: want a warning and the keys read from the database:\n%s", logs)
	}
}
