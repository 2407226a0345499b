// Package keyauth decides whether an API call's key gets in, fast.
//
// An Authenticator keeps every key's hash and metadata in memory (about
// 180 bytes a key, in an index the garbage collector never scans, see
// index.go), loaded from the database at start, or from a snapshot file
// and the changes since (snapshot.go). A check is then
// parse + checksum (garbage is refused before any lookup) -> SHA-256 ->
// table lookup -> revoked? -> expired? -> scope, with no database work and
// no allocation, and takes the same path for an unknown key as for a
// malformed one after the checksum.
//
// The index follows the database (a Store, declared here: the db package
// provides it for SQLite and PostgreSQL):
//   - in this process, the keys service (internal/keys) applies a change
//     before the dashboard answers, so a revoked key is refused from the
//     very next request;
//   - changes by other processes are announced by the store (a counter in
//     shared memory next to a SQLite file, LISTEN/NOTIFY on PostgreSQL),
//     which wakes Run; Run also polls every PollEvery as a safety net;
//   - the memory is trusted under a lease (MaxStaleness long). Each sync
//     reads the changes, then records a heartbeat that says which change
//     it has applied and renews the lease in the database, and only then
//     renews the lease in memory, from the instant its read began: the
//     lease in memory never ends after the one in the database, which
//     revokes wait for (internal/keys, db/servers.go). A check compares
//     the monotonic clock with the lease (one atomic load) and fails
//     closed, ErrUnavailable, once it has run out, whatever the reason
//     (database unreachable or hung, process paused, heartbeat lost).
//     Checks never read the database and never wait for a sync; every
//     database call of a sync has a deadline.
//
// Expiry is checked against the clock at each request, never cached.
//
// A key may carry an IP allowlist: the check compares the client's
// address with its CIDRs, kept in a pointer-free side table of the index,
// without allocating. A call from elsewhere is ErrIPNotAllowed.
//
// Usage is recorded in memory and written to the database in batches by
// Run, every flush interval and at shutdown: the last use of each key
// (time and client address), the addresses it was used from, and how many
// calls it got per hour, accepted or refused by reason (revoked, expired,
// scope, address). Counting costs a call one atomic add on its key's
// entry, no lock and no allocation; the counts are added to the
// database's (additive upserts), so those of several servers add up. A
// crash loses at most one interval of usage, and nothing else.
package keyauth

import (
	"context"
	"errors"
	"log/slog"
	"math"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/blnk-cloud/apikeys/internal/apikey"
	"github.com/blnk-cloud/apikeys/internal/blnk"
	"github.com/blnk-cloud/apikeys/internal/throttle"
)

// Store is what the Authenticator needs of the database.
type Store interface {
	// AuthKeys calls fn for every key and returns the last change it
	// includes.
	AuthKeys(ctx context.Context, fn func(blnk.Record)) (seq int64, err error)
	// KeyChangesSince returns the keys changed after change seq, as they
	// are now, and the last change included.
	KeyChangesSince(ctx context.Context, seq int64) ([]blnk.Record, int64, error)
	// RecordUsage stores a batch of usage: it sets last uses and
	// addresses' last times (unless the stored ones are newer) and adds
	// the hourly counts to the stored ones.
	RecordUsage(ctx context.Context, u blnk.Usage) error
	// WatchChanges returns a channel that receives soon after another
	// process may have committed a key change, until ctx ends.
	WatchChanges(ctx context.Context, log *slog.Logger) <-chan struct{}
	// KeyCount returns how many keys there are (the index is sized from
	// it before a load).
	KeyCount(ctx context.Context) (int, error)
	// KeyChange returns the key of change seq, "" if the log holds none.
	KeyChange(ctx context.Context, seq int64) (string, error)
	// ResumeKeys returns, in one snapshot, what a view of the keys saved
	// after change seq (of key keyID) needs to come up to date.
	ResumeKeys(ctx context.Context, seq int64, keyID string) (blnk.KeyResume, error)
	// Heartbeat records that a server is alive and what it has applied,
	// and renews its lease if it still holds hb.Held; otherwise it claims
	// a new one without renewing it (see db/servers.go).
	Heartbeat(ctx context.Context, hb blnk.Heartbeat) (blnk.Lease, error)
}

// outcome is what became of a call with a known key, for the counts.
type outcome uint8

const (
	accepted outcome = iota
	refusedRevoked
	refusedExpired
	refusedScope
	refusedAddress
	nOutcomes
)

// Why a key is refused.
var (
	ErrMissing           = errors.New("keyauth: no API key")
	ErrInvalid           = errors.New("keyauth: invalid API key") // malformed or unknown: never told apart
	ErrExpired           = errors.New("keyauth: API key expired")
	ErrRevoked           = errors.New("keyauth: API key revoked")
	ErrInsufficientScope = errors.New("keyauth: API key lacks the scope")
	ErrUnknownScope      = errors.New("keyauth: unknown scope")
	ErrIPNotAllowed      = errors.New("keyauth: client address not on the key's allowlist")
	// ErrUnavailable: this server holds no lease on its view of the keys
	// (it could not confirm it with the database for MaxStaleness), so it
	// trusts no key.
	ErrUnavailable = errors.New("keyauth: key view too stale to trust")
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
	// RolledInto and RolledIntoPrefix name the key that replaced this one
	// in a roll ("" if none): this key works until ExpiresAt, the end of
	// the roll's overlap.
	RolledInto, RolledIntoPrefix string
}

// Config tunes an Authenticator; zero fields take the defaults.
type Config struct {
	// FlushEvery is how often usage is written (default 2s); a key called
	// without a pause, every hotFlushes-th time.
	FlushEvery time.Duration
	// PollEvery is how often the database is read for changes made by
	// other processes, as a safety net behind the store's announcements,
	// and how often Run records a heartbeat (default 1s).
	PollEvery time.Duration
	// MaxStaleness is the lease: how long after a sync's read began the
	// view of the keys it confirmed may be used; after that, with no
	// newer confirmed sync, checks fail with ErrUnavailable (default:
	// never, for tools and tests). A revoke waits at most this long for a
	// server that does not apply it (internal/keys).
	MaxStaleness time.Duration
	// Failures limits failed authentications per client address (default:
	// 20 in a row, then 2 a second). Valid keys never touch it.
	Failures throttle.Config
	// ServerID and Address name this server in its heartbeats; without
	// ServerID there are none (a command line process, a test): a read
	// renews the lease in memory at once, and no revoke waits for it.
	ServerID, Address string
	// DisableUsageCounts turns off the hourly counts of calls (last use
	// is still recorded): for measuring what counting costs.
	DisableUsageCounts bool
	// SnapshotPath is a file where the index is saved (at shutdown, and
	// after a start that read every key) and read at start, with only the
	// keys changed since then read from the database; "" for none. See
	// snapshot.go.
	SnapshotPath string
	// Now is the clock (default time.Now). Staleness is measured with
	// the monotonic clock instead, so that tests can move Now freely.
	Now func() time.Time
}

// Authenticator checks API keys against an in-memory index of all keys.
type Authenticator struct {
	cfg     Config
	store   Store
	log     *slog.Logger
	fails   *throttle.Limiter
	born    time.Time // the monotonic clock's origin, see mono
	started time.Time

	mu   sync.RWMutex // guards idx
	idx  *index
	ips  ipLocks
	uses useTable

	syncMu     sync.Mutex   // one sync at a time; checks never take it
	seq        int64        // last key change applied; under syncMu
	held       int64        // the lease held in the database (0: none); under syncMu
	confirmed  atomic.Int64 // mono (ns) when the last confirmed sync's read began
	lease      atomic.Int64 // mono (ns) when the lease runs out
	appliedSeq atomic.Int64 // seq, for readers outside syncMu
	// fromSnapshot is, if the index came from the snapshot file, one more
	// than the number of keys changed since it was written; 0: every key
	// was read from the database.
	fromSnapshot int
	snapshotErr  error // why the snapshot was not used, if there was one
	dirtyMu      sync.Mutex
	dirty        []*useRec // keys used since the last flush
	rolledMu     sync.Mutex
	rolled       []rolledCounts // counts of past hours, taken off their entries
	flushMu      sync.Mutex
	spare        []*useRec  // a drained dirty list, reused; under flushMu
	pending      blnk.Usage // what the last flush could not write; under flushMu
	flushes      uint32     // periodic flushes so far, see flushDue; under flushMu
}

// New loads every key of store into a new Authenticator.
func New(ctx context.Context, cfg Config, store Store, log *slog.Logger) (*Authenticator, error) {
	if cfg.FlushEvery <= 0 {
		cfg.FlushEvery = 2 * time.Second
	}
	// Unflushed counts live in memory: an interval of hours would put
	// much of a day at the mercy of a crash.
	cfg.FlushEvery = min(cfg.FlushEvery, 10*time.Minute)
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
		cfg:     cfg,
		store:   store,
		log:     log,
		fails:   throttle.New(cfg.Failures, cfg.Now),
		idx:     newIndex(),
		born:    time.Now(),
		started: cfg.Now(),
	}
	if cfg.MaxStaleness <= 0 {
		a.lease.Store(math.MaxInt64)
	}
	// (No lock: a is not shared yet.) A claim first, then the load: only a read begun after the claim
	// may renew the lease (see db/servers.go).
	if a.cfg.ServerID != "" {
		if _, err := a.confirm(ctx, a.mono()); err != nil {
			log.Error("heartbeat", "err", err)
		}
	}
	at := a.mono()
	if err := a.load(ctx); err != nil {
		return nil, err
	}
	renewed, err := a.confirm(ctx, at)
	if err == nil && !renewed {
		err = a.Sync(ctx) // a revoke gave up on this server while it loaded
	}
	if err != nil {
		// Run tries again; checks fail closed until then.
		log.Error("confirm the keys loaded", "err", err)
	}
	return a, nil
}

// load fills the index: from the snapshot file and the changes since,
// if there is one that fits the database, else from every key. (No lock:
// a is not shared yet.)
func (a *Authenticator) load(ctx context.Context) error {
	if path := a.cfg.SnapshotPath; path != "" {
		err := a.loadSnapshot(ctx, path)
		if err == nil {
			return nil
		}
		a.snapshotErr = err
		if !errors.Is(err, os.ErrNotExist) {
			a.log.Warn("key snapshot not used: reading every key", "path", path, "err", err)
		}
		if ctx.Err() != nil {
			return err
		}
		a.idx = newIndex()
	}
	if n, err := a.store.KeyCount(ctx); err == nil {
		a.idx.reserve(n + n/64) // and room for a few more
	}
	seq, err := a.loadAll(ctx)
	if err != nil {
		return err
	}
	a.seq = seq
	a.appliedSeq.Store(seq)
	return nil
}

// LoadedFrom says where the index came from at start: "snapshot" (and
// how many keys changed since it was written) or "database".
func (a *Authenticator) LoadedFrom() (string, int) {
	if a.fromSnapshot > 0 {
		return "snapshot", a.fromSnapshot - 1
	}
	return "database", 0
}

// Close releases what the Authenticator holds. (Nothing today: Run's
// context ends its background work.)
func (a *Authenticator) Close() error { return nil }

// Len returns the number of keys in the index.
func (a *Authenticator) Len() int {
	a.mu.RLock()
	defer a.mu.RUnlock()
	return a.idx.keys
}

// put adds a key to the index, or brings the entry of a key it has up to
// date. A revocation is never undone. An entry's other fields never change
// once published (checks read them without locks), so a key whose name,
// scopes or expiry changed gets a new entry, which carries its use over;
// the old one stays unreachable until the process restarts (changes of
// that kind are rare: people editing keys).
func (a *Authenticator) put(k blnk.Record) {
	a.mu.Lock()
	defer a.mu.Unlock()
	revoked := int64(0)
	if !k.Key.RevokedAt.IsZero() {
		revoked = k.Key.RevokedAt.UnixMilli()
	}
	if slot, ok := a.idx.lookupHash(&k.Hash); ok {
		old := a.idx.at(slot)
		if revoked != 0 {
			old.revokedAt.CompareAndSwap(0, revoked)
		}
		if a.idx.same(old, k.Key, k.WorkspaceName) {
			return
		}
		e := a.idx.add(k.Hash, k.Key, k.WorkspaceName)
		e.revokedAt.Store(old.revokedAt.Load())
		// The new entry takes the old one's use record (last use,
		// address, counts), made now if the key had none, so that a call
		// racing with this edit counts in the one record either way.
		e.use.Store(old.use.Load())
		return
	}
	e := a.idx.add(k.Hash, k.Key, k.WorkspaceName)
	e.revokedAt.Store(revoked)
	// The key's last use stays in the database: the pages read it there
	// and add what this process has seen since it started (LastUsed).
}

// byID returns the entry of key id, or nil.
func (a *Authenticator) byID(id string) *entry {
	a.mu.RLock()
	defer a.mu.RUnlock()
	if slot, ok := a.idx.lookupID(id); ok {
		return a.idx.at(slot)
	}
	return nil
}

// Put adds or updates a key that this process just changed in the
// database, before the change is answered. Call it after the commit; the
// change also reaches the index through the store (Sync), this only makes
// it immediate.
func (a *Authenticator) Put(r blnk.Record) { a.put(r) }

// Revoked marks a key revoked in the index, before the revocation is
// answered: from then on the key is refused. Call it after the commit.
func (a *Authenticator) Revoked(id string, at time.Time) {
	if e := a.byID(id); e != nil {
		e.revokedAt.CompareAndSwap(0, at.UnixMilli())
	}
}
