package db

import (
	"context"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/blnk-cloud/apikeys/internal/audit"
	"github.com/blnk-cloud/apikeys/internal/blnk"
)

// TestTOTPStepUsedOnce: a time step is accepted once, never an older
// one after it, and of many servers given the same code at once only
// one accepts it.
func TestTOTPStepUsedOnce(t *testing.T) {
	d, _ := openTestDB(t)
	ctx := context.Background()
	now := time.Date(2026, 3, 10, 12, 0, 0, 0, time.UTC)
	ws, u, err := d.SetupFirstAdmin(ctx, "Acme", "ada@example.com", "hash", now)
	if err != nil {
		t.Fatal(err)
	}
	ev := audit.Event{WorkspaceID: ws.ID, At: now, Action: audit.TwoFactorEnabled, Actor: audit.Actor{UserID: u.ID, Kind: audit.User}}
	f := blnk.TOTPFactor{UserID: u.ID, Sealed: make([]byte, 60), LastStep: 10, CreatedAt: now}
	if err := d.EnableTOTP(ctx, f, [][]byte{make([]byte, 32)}, ev); err != nil {
		t.Fatal(err)
	}
	if err := d.EnableTOTP(ctx, f, nil, ev); err != blnk.ErrAlreadySet {
		t.Errorf("a second app: %v, want ErrAlreadySet", err)
	}
	for _, tt := range []struct {
		step int64
		ok   bool
	}{{10, false}, {9, false}, {11, true}, {11, false}, {10, false}, {13, true}} {
		got, err := d.UseTOTPStep(ctx, u.ID, tt.step)
		if err != nil || got != tt.ok {
			t.Errorf("step %d: %v %v, want %v", tt.step, got, err, tt.ok)
		}
	}
	var wg sync.WaitGroup
	var accepted atomic.Int32
	for range 8 {
		wg.Go(func() {
			if ok, err := d.UseTOTPStep(ctx, u.ID, 14); err == nil && ok {
				accepted.Add(1)
			}
		})
	}
	wg.Wait()
	if n := accepted.Load(); n != 1 {
		t.Errorf("the same step at once: accepted %d times, want 1", n)
	}
	fs, err := d.FindFactors(ctx, u.ID)
	if err != nil || !fs.TOTP || fs.RecoveryLeft != 1 {
		t.Errorf("factors %+v %v", fs, err)
	}
}
