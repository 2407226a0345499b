package keyauth_test

import (
	"context"
	"log/slog"
	"strings"
	"testing"

	"github.com/blnk-cloud/apikeys/internal/keyauth"
	"github.com/blnk-cloud/apikeys/internal/testkit"
)

// TestRunLogsNoErrorWhenStopped: a server told to stop while Run records
// its first heartbeat (here: before it starts) is shutting down normally,
// and logs no error; `make bench` counts any ERROR line as a failure.
func TestRunLogsNoErrorWhenStopped(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	var logs testkit.LogBuffer
	log := slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	a, err := keyauth.New(context.Background(), keyauth.Config{ServerID: "stopping", Address: "127.0.0.1:1"}, f.store, log)
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	a.Run(ctx)
	if strings.Contains(logs.String(), "level=ERROR") {
		t.Errorf("errors logged by a normal shutdown:\n%s", logs.String())
	}
}
