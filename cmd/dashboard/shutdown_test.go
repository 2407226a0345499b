package main

import (
	"context"
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
