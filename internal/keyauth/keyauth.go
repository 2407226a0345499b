// Package keyauth decides whether an API call's key gets in, fast.
//
// An Authenticator keeps every key's hash and metadata in memory (about
// 200 bytes a key, in an index the garbage collector never scans, see
// index.go), loaded from the database at start. A check is then
// parse + checksum (garbage is refused before any lookup) -> SHA-256 ->
// map lookup -> revoked? -> expired? -> scope, with no database work and
// no allocation, and takes the same path for an unknown key as for a
// malformed one after the checksum.
//
// The index follows the database:
//   - in this process, Created and Revoked update it before the dashboard
//     answers, so a revoked key is refused from the very next request;
//   - other processes on the same database (a second server, the admin
//     command line) bump a counter in a small shared-memory file next to
//     the database after each change; every check reads it (one atomic
//     load) and, when it moved, reads the changes before answering. So a
//     revocation is exact across processes too;
//   - a background poll every second catches anything else (a process
//     that died between its commit and its bump): that is the bound.
//
// Expiry is checked against the clock at each request, never cached.
//
// Last use (time and client address) is recorded in memory and written to
// the database in batches by Run, every flush interval and at shutdown: a
// crash loses at most one interval of last-used times, and nothing else.
package keyauth

import (
	"context"
	"errors"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/blnk-cloud/apikeys/db"
	"github.com/blnk-cloud/apikeys/internal/apikey"
	"github.com/blnk-cloud/apikeys/internal/throttle"
)

// Why a key is refused.
var (
	ErrMissing           = errors.New("keyauth: no API key")
	ErrInvalid           = errors.New("keyauth: invalid API key") // malformed or unknown: never told apart
	ErrExpired           = errors.New("keyauth: API key expired")
	ErrRevoked           = errors.New("keyauth: API key revoked")
	ErrInsufficientScope = errors.New("keyauth: API key lacks the scope")
	ErrUnknownScope      = errors.New("keyauth: unknown scope")
)

// RateLimitedError is returned, whatever the token, to an address that
// failed too often; it may try again after RetryAfter.
type RateLimitedError struct {
	RetryAfter time.Duration
}

func (e *RateLimitedError) Error() string { return "keyauth: too many failed attempts" }

// Identity is who a valid key is: what handlers behind the check see.
type Identity struct {
	KeyID       string
	Name        string
	Prefix      string
	WorkspaceID int64
	Workspace   string
	Scopes      apikey.Set
	CreatedAt   time.Time
	ExpiresAt   time.Time // zero: never
}

// Config tunes an Authenticator; zero fields take the defaults.
type Config struct {
	// FlushEvery is how often last-used times are written (default 2s).
	FlushEvery time.Duration
	// PollEvery is how often the database is read for changes made by
	// other processes, as a safety net behind the change signal (default 1s).
	PollEvery time.Duration
	// Failures limits failed authentications per client address (default:
	// 20 in a row, then 2 a second). Valid keys never touch it.
	Failures throttle.Config
	// SignalPath is the shared-memory change counter's file; empty
	// disables it and leaves only the poll.
	SignalPath string
	// Now is the clock (default time.Now).
	Now func() time.Time
}

// Authenticator checks API keys against an in-memory index of all keys.
type Authenticator struct {
	cfg    Config
	db     *db.DB
	log    *slog.Logger
	fails  *throttle.Limiter
	signal *changeSignal // nil: none

	mu  sync.RWMutex // guards idx
	idx *index
	ips ipLocks

	syncMu  sync.Mutex // one reader of changes at a time
	seq     int64      // last key change applied; under syncMu
	seenSig atomic.Uint64
	dirtyMu sync.Mutex
	dirty   []*entry // keys used since the last flush
	flushMu sync.Mutex
}

// New loads every key of store into a new Authenticator.
func New(ctx context.Context, cfg Config, store *db.DB, log *slog.Logger) (*Authenticator, error) {
	if cfg.FlushEvery <= 0 {
		cfg.FlushEvery = 2 * time.Second
	}
	if cfg.PollEvery <= 0 {
		cfg.PollEvery = time.Second
	}
	if cfg.Failures == (throttle.Config{}) {
		cfg.Failures = throttle.Config{Burst: 20, Every: 500 * time.Millisecond}
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	a := &Authenticator{
		cfg:   cfg,
		db:    store,
		log:   log,
		fails: throttle.New(cfg.Failures, cfg.Now),
		idx:   newIndex(),
	}
	if cfg.SignalPath != "" {
		sig, err := openSignal(cfg.SignalPath)
		if err != nil {
			log.Warn("no shared change signal: changes from other processes take up to the poll interval",
				"path", cfg.SignalPath, "poll", cfg.PollEvery, "err", err)
		} else {
			a.signal = sig
			a.seenSig.Store(sig.load())
		}
	}
	a.syncMu.Lock()
	defer a.syncMu.Unlock()
	seq, err := store.AuthKeys(ctx, func(k db.AuthKey) { a.put(k) })
	if err != nil {
		return nil, err
	}
	a.seq = seq
	return a, nil
}

// Close releases the change signal.
func (a *Authenticator) Close() error {
	if a.signal != nil {
		return a.signal.close()
	}
	return nil
}

// Len returns the number of keys in the index.
func (a *Authenticator) Len() int {
	a.mu.RLock()
	defer a.mu.RUnlock()
	return len(a.idx.byHash)
}

// put adds a key to the index, or updates the revocation of a key it has.
func (a *Authenticator) put(k db.AuthKey) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if slot, ok := a.idx.byHash[k.Hash]; ok {
		if !k.Key.RevokedAt.IsZero() {
			a.idx.at(slot).revokedAt.CompareAndSwap(0, k.Key.RevokedAt.UnixMilli())
		}
		return
	}
	e := a.idx.add(k.Hash, k.Key, k.WorkspaceName)
	if !k.Key.RevokedAt.IsZero() {
		e.revokedAt.Store(k.Key.RevokedAt.UnixMilli())
	}
	if !k.Key.LastUsedAt.IsZero() {
		e.lastUsed.Store(k.Key.LastUsedAt.UnixMilli())
		a.setIP(e, k.Key.LastUsedIP)
	}
}

// byID returns the entry of key id, or nil.
func (a *Authenticator) byID(id string) *entry {
	k, ok := toID(id)
	if !ok {
		return nil
	}
	a.mu.RLock()
	defer a.mu.RUnlock()
	if slot, ok := a.idx.byID[k]; ok {
		return a.idx.at(slot)
	}
	return nil
}

// Created adds a key just stored by this process and tells other
// processes. Call it after the key's transaction committed.
func (a *Authenticator) Created(k apikey.Key, hash apikey.Hash, workspace string) {
	a.put(db.AuthKey{Hash: hash, Key: k, WorkspaceName: workspace})
	a.bump()
}

// Revoked marks a key revoked in the index and tells other processes.
// Call it after the revocation committed and before answering: from then
// on the key is refused.
func (a *Authenticator) Revoked(id string, at time.Time) {
	if e := a.byID(id); e != nil {
		e.revokedAt.CompareAndSwap(0, at.UnixMilli())
	}
	a.bump()
}

func (a *Authenticator) bump() {
	if a.signal != nil {
		// Our own index is already up to date, so when ours is the only
		// change we have not seen (the counter was one below its new
		// value), skip re-reading it. Otherwise another process changed a
		// key too: leave seenSig behind so the next check reads that.
		v := a.signal.bump()
		a.seenSig.CompareAndSwap(v-1, v)
	}
}

// LastUsed returns the freshest known last use of a key, which may be
// newer than the database's until the next flush.
func (a *Authenticator) LastUsed(id string) (at time.Time, ip string, ok bool) {
	e := a.byID(id)
	if e == nil {
		return time.Time{}, "", false
	}
	ms := e.lastUsed.Load()
	if ms == 0 {
		return time.Time{}, "", false
	}
	return time.UnixMilli(ms).UTC(), a.ips.get(e), true
}

// Authenticate checks token, sent by the client at address ip, and returns
// the key's identity. Malformed and unknown tokens are both ErrInvalid.
//
// Failures are counted per address: an address may fail Failures.Burst
// times in a row and be told why; after that its failures are answered
// with a *RateLimitedError (429) that says nothing about the token, until
// its allowance refills, and cost no more than a check. A valid key is
// never refused by the limiter: behind a gateway every client shares the
// gateway's address, and two bad requests a second would otherwise lock
// out every new key; a correct guess, against 190 random bits, is not a
// risk to trade that for. Successes are never counted, and when no
// address is blocked the limiter costs nothing on the way in.
func (a *Authenticator) Authenticate(ctx context.Context, token, ip string) (Identity, error) {
	now := a.cfg.Now()
	e, err := a.check(ctx, token, now)
	if err == nil {
		a.touch(e, now, ip)
		return a.identity(e), nil
	}
	if wait := a.fails.WaitAt(ip, now); wait > 0 {
		return Identity{}, &RateLimitedError{RetryAfter: wait}
	}
	if wait := a.fails.FailAt(ip, now); wait > 0 {
		a.log.Warn("API authentication failures: address blocked", "ip", ip, "retry_after", wait)
	}
	return Identity{}, err
}

// Authorize is Authenticate followed by a check that the key allows scope.
func (a *Authenticator) Authorize(ctx context.Context, token, ip string, scope apikey.Scope) (Identity, error) {
	if !apikey.KnownScope(string(scope)) {
		return Identity{}, ErrUnknownScope
	}
	id, err := a.Authenticate(ctx, token, ip)
	if err != nil {
		return id, err
	}
	if !id.Scopes.Allows(scope) {
		return id, ErrInsufficientScope
	}
	return id, nil
}

// check finds the key of token and checks its status at now.
func (a *Authenticator) check(ctx context.Context, token string, now time.Time) (*entry, error) {
	if token == "" {
		return nil, ErrMissing
	}
	if _, err := apikey.Parse(token); err != nil {
		return nil, ErrInvalid
	}
	if a.signal != nil && a.signal.load() != a.seenSig.Load() {
		a.catchUp(ctx)
	}
	h := apikey.HashOf(token)
	a.mu.RLock()
	slot, ok := a.idx.byHash[h]
	var e *entry
	if ok {
		e = a.idx.at(slot)
	}
	a.mu.RUnlock()
	if e == nil {
		return nil, ErrInvalid
	}
	if e.revokedAt.Load() != 0 {
		return nil, ErrRevoked
	}
	if e.expiresAt != 0 && now.UnixMilli() >= e.expiresAt {
		return nil, ErrExpired // the expiry instant itself is expired, as apikey.IsExpired says
	}
	return e, nil
}

// identity is what handlers see of e.
func (a *Authenticator) identity(e *entry) Identity {
	a.mu.RLock()
	id, prefix, name, workspace := a.idx.strings(e)
	a.mu.RUnlock()
	return Identity{
		KeyID:       id,
		Name:        name,
		Prefix:      prefix,
		WorkspaceID: e.workspaceID,
		Workspace:   workspace,
		Scopes:      e.scopes,
		CreatedAt:   time.UnixMilli(e.createdAt).UTC(),
		ExpiresAt:   e.expiresTime(),
	}
}

// touch records a use of e. Busy keys write their timestamp at most once
// a second, so that cores do not fight over one cache line; a change of
// address is recorded at once.
func (a *Authenticator) touch(e *entry, now time.Time, ip string) {
	ms := now.UnixMilli()
	last := e.lastUsed.Load()
	h := ipHash(ip)
	if ms-last < 1000 && e.ipHash.Load() == h {
		return
	}
	if !e.lastUsed.CompareAndSwap(last, ms) {
		return // another request just recorded a use
	}
	if e.ipHash.Swap(h) != h {
		a.ips.set(e, ip)
	}
	if !e.dirty.Load() && e.dirty.CompareAndSwap(false, true) {
		a.dirtyMu.Lock()
		a.dirty = append(a.dirty, e)
		a.dirtyMu.Unlock()
	}
}

// setIP records the address of a use loaded from the database.
func (a *Authenticator) setIP(e *entry, ip string) {
	e.ipHash.Store(ipHash(ip))
	a.ips.set(e, ip)
}

// ipHash is FNV-1a of an address, to tell cheaply whether it changed.
func ipHash(ip string) uint64 {
	h := uint64(14695981039346656037)
	for i := 0; i < len(ip); i++ {
		h ^= uint64(ip[i])
		h *= 1099511628211
	}
	return h
}

// catchUp reads the key changes other processes made. Requests arriving
// meanwhile wait for it, so none is answered from a stale index.
func (a *Authenticator) catchUp(ctx context.Context) {
	a.syncMu.Lock()
	defer a.syncMu.Unlock()
	sig := a.signal.load()
	if sig == a.seenSig.Load() {
		return // another request caught up already
	}
	if err := a.readChanges(ctx); err != nil {
		a.log.Error("read key changes", "err", err)
		return // try again on the next request
	}
	a.seenSig.Store(sig)
}

// readChanges applies the changes after a.seq; the caller holds syncMu.
func (a *Authenticator) readChanges(ctx context.Context) error {
	changed, seq, err := a.db.KeyChangesSince(context.WithoutCancel(ctx), a.seq)
	if err != nil {
		return err
	}
	for _, k := range changed {
		a.put(k)
	}
	a.seq = seq
	return nil
}

// Poll reads the key changes other processes made since the last read.
func (a *Authenticator) Poll(ctx context.Context) error {
	a.syncMu.Lock()
	defer a.syncMu.Unlock()
	return a.readChanges(ctx)
}

// Flush writes the last uses recorded since the previous flush.
func (a *Authenticator) Flush(ctx context.Context) error {
	a.flushMu.Lock()
	defer a.flushMu.Unlock()
	a.dirtyMu.Lock()
	batch := a.dirty
	a.dirty = nil
	a.dirtyMu.Unlock()
	if len(batch) == 0 {
		return nil
	}
	uses := make([]db.Usage, 0, len(batch))
	for _, e := range batch {
		// Clear the flag before reading, so a use racing with this flush
		// queues the key again rather than being lost.
		e.dirty.Store(false)
		a.mu.RLock()
		id, _, _, _ := a.idx.strings(e)
		a.mu.RUnlock()
		uses = append(uses, db.Usage{KeyID: id, At: time.UnixMilli(e.lastUsed.Load()), IP: a.ips.get(e)})
	}
	if err := a.db.RecordUsage(ctx, uses); err != nil {
		for _, e := range batch {
			if e.dirty.CompareAndSwap(false, true) {
				a.dirtyMu.Lock()
				a.dirty = append(a.dirty, e)
				a.dirtyMu.Unlock()
			}
		}
		return err
	}
	return nil
}

// Run flushes last uses and polls for changes until ctx ends, then
// flushes one last time.
func (a *Authenticator) Run(ctx context.Context) {
	flush := time.NewTicker(a.cfg.FlushEvery)
	poll := time.NewTicker(a.cfg.PollEvery)
	defer flush.Stop()
	defer poll.Stop()
	for {
		select {
		case <-ctx.Done():
			stop, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
			if err := a.Flush(stop); err != nil {
				a.log.Error("flush last used at shutdown", "err", err)
			}
			cancel()
			return
		case <-flush.C:
			if err := a.Flush(ctx); err != nil && ctx.Err() == nil {
				a.log.Error("flush last used", "err", err)
			}
		case <-poll.C:
			if err := a.Poll(ctx); err != nil && ctx.Err() == nil {
				a.log.Error("poll key changes", "err", err)
			}
		}
	}
}

// SignalPath returns the change signal's file for the database at dbPath.
func SignalPath(dbPath string) string { return dbPath + "-keysignal" }

// NotifyChanged tells the servers sharing the database at dbPath that a
// key changed, for processes such as the admin command line that change
// keys without an Authenticator. Call it after the change committed.
func NotifyChanged(dbPath string) error {
	sig, err := openSignal(SignalPath(dbPath))
	if err != nil {
		return err
	}
	sig.bump()
	return sig.close()
}
