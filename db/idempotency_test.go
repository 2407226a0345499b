package db

import (
	"bytes"
	"context"
	"crypto/sha256"
	"testing"
	"time"

	"github.com/blnk-cloud/apikeys/internal/blnk"
)

// TestIdempotencyRows: the row is the lock. The first start wins; a second
// finds it running; a start of a request still running after the
// takeover time wins it (and the first can no longer finish it); an
// expired row is started afresh, whatever it held; a released row can be
// started again; the sweep deletes what is older than its time.
func TestIdempotencyRows(t *testing.T) {
	ctx := context.Background()
	d, _ := openTestDB(t)
	t0 := time.Date(2026, 3, 10, 12, 0, 0, 0, time.UTC)
	hash := func(s string) []byte { h := sha256.Sum256([]byte(s)); return h[:] }
	req := blnk.IdempotentRequest{TokenID: 7, Key: "retry-1", Hash: hash("a")}
	start := func(r blnk.IdempotentRequest, now time.Time) (blnk.IdempotencyRecord, bool) {
		t.Helper()
		rec, ok, err := d.StartIdempotent(ctx, r, now, now.Add(-blnk.IdempotencyTakeover), now.Add(-blnk.IdempotencyTTL))
		if err != nil {
			t.Fatalf("StartIdempotent: %v", err)
		}
		return rec, ok
	}

	first, ok := start(req, t0)
	if !ok {
		t.Fatal("first start: not started")
	}
	if rec, ok := start(req, t0.Add(time.Second)); ok || rec.State != blnk.IdempotencyRunning {
		t.Fatalf("second start while running: started %v, state %q; want running, not started", ok, rec.State)
	}
	if rec, ok := start(blnk.IdempotentRequest{TokenID: 7, Key: "retry-1", Hash: hash("b")}, t0.Add(2*time.Minute)); ok || !bytes.Equal(rec.Hash, req.Hash) {
		t.Fatalf("another request with the key: started %v; want the first request's row, not started (even past the takeover time)", ok)
	}
	if _, ok := start(blnk.IdempotentRequest{TokenID: 8, Key: "retry-1", Hash: hash("a")}, t0); !ok {
		t.Fatal("the same key of another token: not started; keys are per token")
	}

	// A minute later the first server is taken to have crashed.
	second, ok := start(req, t0.Add(blnk.IdempotencyTakeover+time.Millisecond))
	if !ok {
		t.Fatal("start past the takeover time: not started")
	}
	resp := blnk.StoredResponse{Status: 201, Header: map[string]string{"Content-Type": "application/json"}, Body: []byte(`{"secret":null}`)}
	if ok, err := d.FinishIdempotent(ctx, first, resp); err != nil || ok {
		t.Fatalf("the first server finishing a taken-over row: %v, %v; want false", ok, err)
	}
	if ok, err := d.FinishIdempotent(ctx, second, resp); err != nil || !ok {
		t.Fatalf("FinishIdempotent: %v, %v; want true", ok, err)
	}
	rec, ok := start(req, t0.Add(time.Hour))
	if ok || rec.State != blnk.IdempotencyDone || rec.Response.Status != 201 || string(rec.Response.Body) != `{"secret":null}` || rec.Response.Header["Content-Type"] != "application/json" {
		t.Fatalf("start after finish: started %v, %+v; want the kept answer", ok, rec)
	}
	if !rec.CreatedAt.Equal(t0) {
		t.Errorf("created_at: got %v, want %v (a takeover keeps the first time)", rec.CreatedAt, t0)
	}

	// After 24 hours the key starts afresh, even for another body.
	later := t0.Add(blnk.IdempotencyTTL + time.Millisecond)
	other := blnk.IdempotentRequest{TokenID: 7, Key: "retry-1", Hash: hash("b")}
	third, ok := start(other, later)
	if !ok {
		t.Fatal("start after 24 hours: not started")
	}
	if err := d.ReleaseIdempotent(ctx, third); err != nil {
		t.Fatal(err)
	}
	if _, ok := start(other, later); !ok {
		t.Fatal("start after a release: not started")
	}

	if n := count(t, d, "idempotency_keys"); n != 2 {
		t.Fatalf("rows: got %d, want 2", n)
	}
	n, err := d.DeleteIdempotentBefore(ctx, later.Add(-blnk.IdempotencyTTL).Add(time.Millisecond))
	if err != nil || n != 1 {
		t.Fatalf("DeleteIdempotentBefore: %d, %v; want 1 (token 8's row of t0)", n, err)
	}
}
