// Package idempotency keeps the answers to POSTs sent with an
// Idempotency-Key header (SPEC: Management API), per management token, for
// 24 hours, in the database, so that they hold across servers and
// restarts: a retry of the same request gets the first answer again with
// its status; the same key with another request is refused
// (blnk.ErrIdempotencyMismatch); a retry while the first still runs is
// refused (blnk.ErrIdempotencyInProgress). A secret in an answer (a new
// key's) is sent to the first caller only: what is kept, and replayed,
// has "secret": null and a note.
//
// The database row is the lock: a server inserts it as running if absent
// and is then the only one to run the request. A request still running
// after blnk.IdempotencyTakeover (its server crashed) may be taken over by
// a retry, which runs it again.
package idempotency

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/json"
	"log/slog"
	"time"
	"unicode/utf8"

	"github.com/blnk-cloud/apikeys/internal/blnk"
	"github.com/blnk-cloud/apikeys/internal/derrors"
)

// Store is what the service needs of the database (db.DB).
type Store interface {
	StartIdempotent(ctx context.Context, r blnk.IdempotentRequest, now, staleBefore, expiredBefore time.Time) (blnk.IdempotencyRecord, bool, error)
	FinishIdempotent(ctx context.Context, rec blnk.IdempotencyRecord, resp blnk.StoredResponse) (bool, error)
	ReleaseIdempotent(ctx context.Context, rec blnk.IdempotencyRecord) error
	DeleteIdempotentBefore(ctx context.Context, t time.Time) (int64, error)
}

// Service keeps and replays answers.
type Service struct {
	store Store
	now   func() time.Time
	log   *slog.Logger
}

// New returns the service; now is the clock (nil: time.Now).
func New(store Store, now func() time.Time, log *slog.Logger) *Service {
	if now == nil {
		now = time.Now
	}
	return &Service{store: store, now: now, log: log}
}

// Claim is a request the caller runs: Finish or Release it.
type Claim struct {
	rec blnk.IdempotencyRecord
}

// CheckKey says what is wrong with an Idempotency-Key, or nil: 1 to 255
// bytes of UTF-8 without control characters.
func CheckKey(key string) error {
	switch {
	case key == "":
		return derrors.Errorf(derrors.EINVALID, "The Idempotency-Key header is empty.")
	case len(key) > blnk.MaxIdempotencyKey:
		return derrors.Errorf(derrors.EINVALID, "The Idempotency-Key may be at most 255 characters.")
	case !utf8.ValidString(key):
		return derrors.Errorf(derrors.EINVALID, "The Idempotency-Key must be UTF-8 text.")
	}
	for _, r := range key {
		if r < 0x20 || r == 0x7f || (r >= 0x80 && r < 0xa0) {
			return derrors.Errorf(derrors.EINVALID, "The Idempotency-Key may not hold control characters.")
		}
	}
	return nil
}

// Hash is the SHA-256 that tells requests apart: method, path and body.
func Hash(method, path string, body []byte) []byte {
	h := sha256.New()
	h.Write([]byte(method))
	h.Write([]byte{0})
	h.Write([]byte(path))
	h.Write([]byte{0})
	h.Write(body)
	return h.Sum(nil)
}

// Begin looks up the request that token sends with key. It returns a
// Claim when the caller is to run it (the first time, after 24 hours, or
// taking over a request whose server stopped), the kept answer when it
// was answered already, or blnk.ErrIdempotencyMismatch,
// blnk.ErrIdempotencyInProgress, or a key's problem (CheckKey).
func (s *Service) Begin(ctx context.Context, tokenID int64, key, method, path string, body []byte) (*Claim, *blnk.StoredResponse, error) {
	if err := CheckKey(key); err != nil {
		return nil, nil, err
	}
	r := blnk.IdempotentRequest{TokenID: tokenID, Key: key, Hash: Hash(method, path, body)}
	now := s.now()
	rec, started, err := s.store.StartIdempotent(ctx, r, now, now.Add(-blnk.IdempotencyTakeover), now.Add(-blnk.IdempotencyTTL))
	switch {
	case err != nil:
		return nil, nil, err
	case started:
		return &Claim{rec: rec}, nil, nil
	case !bytes.Equal(rec.Hash, r.Hash):
		return nil, nil, blnk.ErrIdempotencyMismatch
	case rec.State != blnk.IdempotencyDone:
		return nil, nil, blnk.ErrIdempotencyInProgress
	}
	return nil, &rec.Response, nil
}

// Finish keeps the answer of a claimed request, with its secrets taken
// out (Redact). It logs its own failure.
func (s *Service) Finish(ctx context.Context, c *Claim, resp blnk.StoredResponse) error {
	resp.Body = Redact(resp.Body)
	ok, err := s.store.FinishIdempotent(ctx, c.rec, resp)
	switch {
	case err != nil:
		s.log.Error("keep an idempotent answer", "token_id", c.rec.TokenID, "err", err)
	case !ok:
		s.log.Warn("idempotency key taken over before its answer was kept", "token_id", c.rec.TokenID)
	}
	return err
}

// Release forgets a claimed request that got no answer worth keeping (a
// failure of ours, a rate limit): a retry runs it again.
func (s *Service) Release(ctx context.Context, c *Claim) error {
	return s.store.ReleaseIdempotent(ctx, c.rec)
}

// Sweep deletes the answers older than blnk.IdempotencyTTL (a retry
// after that runs as a new request anyway), and returns how many.
func (s *Service) Sweep(ctx context.Context) (int64, error) {
	return s.store.DeleteIdempotentBefore(ctx, s.now().Add(-blnk.IdempotencyTTL))
}

// SecretNote is the note a replayed answer carries in place of a secret.
const SecretNote = "The secret was shown in the first answer only; roll the key if it was lost."

// Redact returns a JSON object body with every "secret" string (at any
// depth) made null, and, if there was one, a top-level "note" saying so.
// Other bodies are returned as they are.
func Redact(body []byte) []byte {
	var v map[string]any
	d := json.NewDecoder(bytes.NewReader(body))
	d.UseNumber()
	if err := d.Decode(&v); err != nil || v == nil {
		return body
	}
	if !redact(v) {
		return body
	}
	v["note"] = SecretNote
	out, err := json.Marshal(v)
	if err != nil {
		return body
	}
	return append(out, '\n')
}

// redact nulls the secrets under v, and reports whether there were any.
func redact(v any) bool {
	found := false
	switch v := v.(type) {
	case map[string]any:
		for k, x := range v {
			if _, ok := x.(string); ok && k == "secret" {
				v[k] = nil
				found = true
				continue
			}
			found = redact(x) || found
		}
	case []any:
		for _, x := range v {
			found = redact(x) || found
		}
	}
	return found
}
