// Package keyauth decides whether an API call's key gets in, fast.
//
// An Authenticator keeps every key's hash and metadata in memory (about
// 270 bytes a key, in an index the garbage collector never scans, see
// index.go), loaded from the database at start. A check is then
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
	"fmt"
	"log/slog"
	"math"
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

// hourMS is an hour in milliseconds.
const hourMS = int64(time.Hour / time.Millisecond)

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
	// FlushEvery is how often last-used times are written (default 2s).
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

	mu  sync.RWMutex // guards idx
	idx *index
	ips ipLocks

	syncMu     sync.Mutex   // one sync at a time; checks never take it
	seq        int64        // last key change applied; under syncMu
	held       int64        // the lease held in the database (0: none); under syncMu
	confirmed  atomic.Int64 // mono (ns) when the last confirmed sync's read began
	lease      atomic.Int64 // mono (ns) when the lease runs out
	appliedSeq atomic.Int64 // seq, for readers outside syncMu
	dirtyMu    sync.Mutex
	dirty      []*entry // keys used since the last flush
	rolledMu   sync.Mutex
	rolled     []rolledCounts // counts of past hours, taken off their entries
	flushMu    sync.Mutex
	spare      []*entry   // a drained dirty list, reused; under flushMu
	pending    blnk.Usage // what the last flush could not write; under flushMu
	// written is, per entry slot, the address last written to the
	// addresses table and when: a key used from one address all day has
	// that row refreshed once a minute, not every flush. Under flushMu.
	written []addrMark
}

// addrMark is what a flush last wrote of an entry's address.
type addrMark struct {
	ipHash uint64
	at     int64 // Unix ms
}

// addrRefresh is how stale an address's stored last time may grow while
// the key keeps being used from it (the pages add this server's own, to
// the millisecond).
const addrRefresh = time.Minute

// rolledCounts are an entry's counts of a past hour, awaiting the flush.
type rolledCounts struct {
	e    *entry
	hour int64
	c    blnk.Counts
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
	seq, err := store.AuthKeys(ctx, func(k blnk.Record) { a.put(k) })
	if err != nil {
		return nil, err
	}
	a.seq = seq
	a.appliedSeq.Store(seq)
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

// Close releases what the Authenticator holds. (Nothing today: Run's
// context ends its background work.)
func (a *Authenticator) Close() error { return nil }

// mono returns the time since the Authenticator was made, on the
// monotonic clock.
func (a *Authenticator) mono() time.Duration { return time.Since(a.born) }

// Applied returns the last key change this Authenticator has applied.
func (a *Authenticator) Applied() int64 { return a.appliedSeq.Load() }

// Staleness returns how long ago the read of the last confirmed sync
// began.
func (a *Authenticator) Staleness() time.Duration {
	return a.mono() - time.Duration(a.confirmed.Load())
}

// Unavailable reports whether checks fail closed now: the lease has run
// out.
func (a *Authenticator) Unavailable() bool {
	return a.mono() >= time.Duration(a.lease.Load())
}

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
		e.lastUsed.Store(old.lastUsed.Load())
		st := a.ips.of(old)
		st.mu.Lock()
		ip := old.ip
		st.mu.Unlock()
		e.ipHash.Store(old.ipHash.Load())
		st = a.ips.of(e)
		st.mu.Lock()
		e.ip = ip
		st.mu.Unlock()
		// The old entry keeps its unflushed counts: it is still queued
		// if it has any, and the flush writes them under the same id.
		return
	}
	e := a.idx.add(k.Hash, k.Key, k.WorkspaceName)
	e.revokedAt.Store(revoked)
	if !k.Key.LastUsedAt.IsZero() {
		e.lastUsed.Store(k.Key.LastUsedAt.UnixMilli())
		a.setIP(e, k.Key.LastUsedIP)
	}
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

// Unflushed returns the calls to key id counted in memory and not written
// yet, and the hour they belong to (zero if none): what a page adds to the
// stored counts to be current.
func (a *Authenticator) Unflushed(id string) (hour time.Time, c blnk.Counts) {
	e := a.byID(id)
	if e == nil {
		return time.Time{}, blnk.Counts{}
	}
	h := e.usageHour.Load()
	if h == 0 {
		return time.Time{}, blnk.Counts{}
	}
	return time.UnixMilli(h).UTC(), e.peekCounts()
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
	return a.authorize(ctx, token, ip, "")
}

// Authorize is Authenticate followed by a check that the key allows scope.
func (a *Authenticator) Authorize(ctx context.Context, token, ip string, scope apikey.Scope) (Identity, error) {
	if !apikey.KnownScope(string(scope)) {
		return Identity{}, ErrUnknownScope
	}
	return a.authorize(ctx, token, ip, scope)
}

// authorize checks token, then the client's address against the key's
// allowlist, then scope unless it is empty; it counts the outcome for
// the key's usage.
func (a *Authenticator) authorize(ctx context.Context, token, ip string, scope apikey.Scope) (Identity, error) {
	now := a.cfg.Now()
	e, allow, err := a.check(token, now)
	if err == nil {
		// A refused call from a valid key is a use too: an address the key
		// is used from but should not be is what its owner wants to see.
		a.touch(e, now, ip)
		if allow != nil && !allows(allow, ip) {
			a.count(e, now, refusedAddress)
			return Identity{}, ErrIPNotAllowed
		}
		id := a.identity(e)
		if scope != "" && !e.scopes.Allows(scope) {
			a.count(e, now, refusedScope)
			return id, ErrInsufficientScope
		}
		a.count(e, now, accepted)
		return id, nil
	}
	switch err {
	case ErrUnavailable:
		return Identity{}, err // our failure, not the client's
	case ErrRevoked:
		a.count(e, now, refusedRevoked)
	case ErrExpired:
		a.count(e, now, refusedExpired)
	}
	if wait := a.fails.WaitAt(ip, now); wait > 0 {
		return Identity{}, &RateLimitedError{RetryAfter: wait}
	}
	if wait := a.fails.FailAt(ip, now); wait > 0 {
		a.log.Warn("API authentication failures: address blocked", "ip", ip, "retry_after", wait)
	}
	return Identity{}, err
}

// check finds the key of token and checks its status at now. It returns
// the key's entry when there is one, refused or not, and its allowlist
// (nil: none).
func (a *Authenticator) check(token string, now time.Time) (*entry, []cidr, error) {
	if token == "" {
		return nil, nil, ErrMissing
	}
	if _, err := apikey.Parse(token); err != nil {
		return nil, nil, ErrInvalid
	}
	// The lease, before anything of the view is read: a process paused
	// here and resumed after its lease ran out has read nothing yet.
	if a.mono() >= time.Duration(a.lease.Load()) {
		return nil, nil, ErrUnavailable
	}
	h := apikey.HashOf(token)
	a.mu.RLock()
	slot, ok := a.idx.lookupHash(&h)
	var e *entry
	var allow []cidr
	if ok {
		e = a.idx.at(slot)
		allow = a.idx.allowlist(e)
	}
	a.mu.RUnlock()
	if e == nil {
		return nil, nil, ErrInvalid
	}
	if e.revokedAt.Load() != 0 {
		return e, nil, ErrRevoked
	}
	if e.expiresAt != 0 && now.UnixMilli() >= e.expiresAt {
		return e, nil, ErrExpired // the expiry instant itself is expired, as apikey.IsExpired says
	}
	return e, allow, nil
}

// identity is what handlers see of e.
func (a *Authenticator) identity(e *entry) Identity {
	a.mu.RLock()
	id, prefix, name, workspace := a.idx.strings(e)
	succ, succPrefix := a.idx.successor(e)
	a.mu.RUnlock()
	return Identity{
		KeyID:            id,
		Name:             name,
		Prefix:           prefix,
		WorkspaceID:      e.workspaceID,
		Workspace:        workspace,
		Scopes:           e.scopes,
		CreatedAt:        time.UnixMilli(e.createdAt).UTC(),
		ExpiresAt:        e.expiresTime(),
		RolledInto:       succ,
		RolledIntoPrefix: succPrefix,
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
		a.ips.set(e, ip, last)
	}
	a.queue(e)
}

// queue puts e on the list of entries the next flush writes, once.
func (a *Authenticator) queue(e *entry) {
	if !e.dirty.Load() && e.dirty.CompareAndSwap(false, true) {
		a.dirtyMu.Lock()
		a.dirty = append(a.dirty, e)
		a.dirtyMu.Unlock()
	}
}

// count adds a call to e's counts for the hour of now. The counters are
// e's own atomics: concurrent calls never wait for each other, and a busy
// key costs one atomic add per call. They are for one hour at a time: the
// first call of a new hour moves the past hour's counts aside (rollHour),
// once per key and hour. A call racing with that move may land in the
// neighbouring hour; a clock that steps back counts in the current one.
func (a *Authenticator) count(e *entry, now time.Time, o outcome) {
	if a.cfg.DisableUsageCounts {
		return
	}
	ms := now.UnixMilli()
	if h := ms - ms%hourMS; h > e.usageHour.Load() {
		a.rollHour(e, h)
	}
	e.usage[o].Add(1)
	a.queue(e)
}

// rollHour starts hour h on e's counters, setting the past hour's counts
// aside for the next flush.
func (a *Authenticator) rollHour(e *entry, h int64) {
	st := a.ips.of(e)
	st.mu.Lock()
	defer st.mu.Unlock()
	cur := e.usageHour.Load()
	if cur >= h {
		return // another call rolled it
	}
	c := e.takeCounts()
	e.usageHour.Store(h)
	if cur != 0 && c.Total() > 0 {
		a.rolledMu.Lock()
		a.rolled = append(a.rolled, rolledCounts{e: e, hour: cur, c: c})
		a.rolledMu.Unlock()
	}
}

// takeCounts returns e's counts and sets them to zero.
func (e *entry) takeCounts() blnk.Counts {
	return blnk.Counts{
		Accepted: int64(e.usage[accepted].Swap(0)),
		Revoked:  int64(e.usage[refusedRevoked].Swap(0)),
		Expired:  int64(e.usage[refusedExpired].Swap(0)),
		Scope:    int64(e.usage[refusedScope].Swap(0)),
		Address:  int64(e.usage[refusedAddress].Swap(0)),
	}
}

// peekCounts returns e's counts.
func (e *entry) peekCounts() blnk.Counts {
	return blnk.Counts{
		Accepted: int64(e.usage[accepted].Load()),
		Revoked:  int64(e.usage[refusedRevoked].Load()),
		Expired:  int64(e.usage[refusedExpired].Load()),
		Scope:    int64(e.usage[refusedScope].Load()),
		Address:  int64(e.usage[refusedAddress].Load()),
	}
}

// setIP records the address of a use loaded from the database.
func (a *Authenticator) setIP(e *entry, ip string) {
	e.ipHash.Store(ipHash(ip))
	a.ips.set(e, ip, 0)
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

// forever is the lease published by a server that never fails closed
// (MaxStaleness unset): revokes wait for it as long as they may.
const forever = 100 * 365 * 24 * time.Hour

// dbTimeout bounds each database call of a sync: a connection that hangs
// must cost a retry on another one, not the lease. A third of the lease,
// within [200ms, 5s].
func (a *Authenticator) dbTimeout() time.Duration {
	if a.cfg.MaxStaleness <= 0 {
		return 5 * time.Second
	}
	return min(max(a.cfg.MaxStaleness/3, 200*time.Millisecond), 5*time.Second)
}

// retrySync is how soon Run tries again after a failed sync.
const retrySync = 100 * time.Millisecond

// errNotRenewed: the database kept changing the lease under the sync.
var errNotRenewed = errors.New("keyauth: lease not renewed")

// Sync reads the key changes made since the last sync, records a
// heartbeat that says this server has applied them and renews its lease,
// then renews the lease in memory. The keys service calls it after a
// change, so that the change counts as applied here when a revoke waits
// for the servers; Run calls it when changes are announced and every
// PollEvery. It never holds anything a check waits for.
func (a *Authenticator) Sync(ctx context.Context) error {
	a.syncMu.Lock()
	defer a.syncMu.Unlock()
	for range 2 {
		at := a.mono()
		if err := a.readChanges(ctx); err != nil {
			return err
		}
		renewed, err := a.confirm(ctx, at)
		if err != nil || renewed {
			return err
		}
		// The heartbeat claimed the lease (a revoke gave up on the one
		// held, or none was held): a read begun after the claim renews it.
	}
	return errNotRenewed
}

// Poll is Sync.
func (a *Authenticator) Poll(ctx context.Context) error { return a.Sync(ctx) }

// readChanges applies the changes after a.seq; the caller holds syncMu.
func (a *Authenticator) readChanges(ctx context.Context) error {
	rctx, cancel := context.WithTimeout(ctx, a.dbTimeout())
	defer cancel()
	changed, seq, err := a.store.KeyChangesSince(rctx, a.seq)
	if err != nil {
		return fmt.Errorf("read key changes: %w", err)
	}
	for _, k := range changed {
		a.put(k)
	}
	a.seq = seq
	a.appliedSeq.Store(seq) // only once the changes are in the index
	return nil
}

// confirm records a heartbeat after a read of the changes that began at
// mono at, asking to renew the lease until at+MaxStaleness, and renews
// the lease in memory to that if the database did: the lease in memory
// never ends after the stored one, whenever this process is paused. The
// caller holds syncMu.
func (a *Authenticator) confirm(ctx context.Context, at time.Duration) (bool, error) {
	if a.cfg.ServerID == "" {
		a.renew(at)
		return true, nil
	}
	renew := forever
	if a.cfg.MaxStaleness > 0 {
		// What is left of the lease now, measured before the heartbeat is
		// sent: the database adds it to its own now, which is later.
		renew = at + a.cfg.MaxStaleness - a.mono()
	}
	hctx, cancel := context.WithTimeout(ctx, a.dbTimeout())
	defer cancel()
	lease, err := a.store.Heartbeat(hctx, blnk.Heartbeat{
		ServerID: a.cfg.ServerID,
		Address:  a.cfg.Address,
		Started:  a.started,
		At:       a.cfg.Now(),
		Applied:  a.seq,
		Held:     a.held,
		Renew:    renew,
	})
	if err != nil {
		// It may have been written all the same: hold nothing, so that
		// the next heartbeat claims the lease again.
		a.held = 0
		return false, fmt.Errorf("heartbeat: %w", err)
	}
	a.held = lease.Held
	if lease.Renewed {
		a.renew(at)
	}
	return lease.Renewed, nil
}

// renew extends the lease in memory to at+MaxStaleness. The caller holds
// syncMu.
func (a *Authenticator) renew(at time.Duration) {
	a.confirmed.Store(int64(at))
	if a.cfg.MaxStaleness <= 0 {
		return
	}
	if until := int64(at + a.cfg.MaxStaleness); until > a.lease.Load() {
		a.lease.Store(until)
	}
}

// maxPending bounds the usage kept in memory while the database cannot
// be written: hourly counts and addresses past it are dropped (and
// logged), last uses are not (they are one per key anyway).
const maxPending = 1 << 20

// Flush writes the usage recorded since the previous flush: last uses,
// addresses, hourly counts. What could not be written is kept for the
// next flush.
func (a *Authenticator) Flush(ctx context.Context) error {
	a.flushMu.Lock()
	defer a.flushMu.Unlock()
	a.dirtyMu.Lock()
	batch := a.dirty
	a.dirty = a.spare[:0]
	a.dirtyMu.Unlock()
	defer func() {
		// The next flush swaps this list in: entries still queued are in
		// a.dirty by now.
		clear(batch)
		a.spare = batch[:0]
	}()
	a.rolledMu.Lock()
	rolled := a.rolled
	a.rolled = nil
	a.rolledMu.Unlock()

	u := a.pending
	a.pending = blnk.Usage{}
	u.Uses = nil // last uses are taken from the entries again
	for _, e := range batch {
		// Clear the flag before reading, so a use racing with this flush
		// queues the key again rather than being lost.
		e.dirty.Store(false)
		st := a.ips.of(e)
		st.mu.Lock()
		hour, c, ip := e.usageHour.Load(), e.takeCounts(), e.ip
		st.mu.Unlock()
		id := a.idOf(e)
		if ms := e.lastUsed.Load(); ms != 0 {
			use := blnk.Use{KeyID: id, At: time.UnixMilli(ms).UTC(), IP: ip.String()}
			u.Uses = append(u.Uses, use)
			if use.IP != "" && a.addressDue(e, use.IP, ms) {
				u.Addresses = append(u.Addresses, use)
			}
		}
		if c.Total() > 0 {
			u.Hours = append(u.Hours, blnk.HourCount{KeyID: id, Hour: time.UnixMilli(hour).UTC(), Counts: c})
		}
	}
	for _, r := range rolled {
		u.Hours = append(u.Hours, blnk.HourCount{KeyID: a.idOf(r.e), Hour: time.UnixMilli(r.hour).UTC(), Counts: r.c})
	}
	a.ips.drain(func(s seenAddr) {
		a.mu.RLock()
		e := a.idx.at(s.slot)
		a.mu.RUnlock()
		u.Addresses = append(u.Addresses, blnk.Use{KeyID: a.idOf(e), At: time.UnixMilli(s.at).UTC(), IP: s.ip.String()})
	})
	if len(u.Uses)+len(u.Addresses)+len(u.Hours) == 0 {
		return nil
	}
	// In parts, with a pause between them: one flush of 10,000 busy keys
	// is about 230 ms of work for SQLite, and in one go it took one of
	// two cores from the checks for that long (verify's p99 doubled).
	// Uses and addresses are upserts, and a part that fails leaves its
	// counts, and the ones after it, to the next flush.
	var err error
	for first := true; len(u.Uses)+len(u.Addresses)+len(u.Hours) > 0; first = false {
		if !first {
			a.pause(ctx)
		}
		part := blnk.Usage{Uses: cut(&u.Uses), Addresses: cut(&u.Addresses), Hours: cut(&u.Hours)}
		pctx, cancel := context.WithTimeout(ctx, flushTimeout)
		err = a.store.RecordUsage(pctx, part)
		cancel()
		if err != nil {
			u.Hours = append(part.Hours, u.Hours...)
			u.Addresses = append(part.Addresses, u.Addresses...)
			break
		}
	}
	if err != nil {
		for _, e := range batch {
			a.queue(e)
		}
		if n := len(u.Hours) + len(u.Addresses); n > maxPending {
			a.log.Error("usage kept in memory while the database cannot be written: dropping some", "dropped", n-maxPending)
			u.Hours = u.Hours[max(0, len(u.Hours)-maxPending/2):]
			u.Addresses = u.Addresses[max(0, len(u.Addresses)-maxPending/2):]
		}
		a.pending = blnk.Usage{Hours: u.Hours, Addresses: u.Addresses}
		return err
	}
	return nil
}

// flushTimeout bounds the write of one part of a flush.
const flushTimeout = 5 * time.Second

// flushPart is how many rows of each kind a part of a flush writes, and
// flushPause how long a flush waits between its parts.
const (
	flushPart  = 1000
	flushPause = 10 * time.Millisecond
)

// cut takes the first flushPart items off *s and returns them.
func cut[T any](s *[]T) []T {
	n := min(len(*s), flushPart)
	head := (*s)[:n:n]
	*s = (*s)[n:]
	return head
}

// pause waits flushPause between the parts of a flush, unless ctx is
// done (the last flush at shutdown does not wait).
func (a *Authenticator) pause(ctx context.Context) {
	t := time.NewTimer(flushPause)
	defer t.Stop()
	select {
	case <-t.C:
	case <-ctx.Done():
	}
}

// addressDue reports whether the address ip of e, last used at ms, is to
// be written by this flush: it changed, or its stored time is older than
// addrRefresh. The caller holds flushMu.
func (a *Authenticator) addressDue(e *entry, ip string, ms int64) bool {
	if int(e.slot) >= len(a.written) {
		a.written = append(a.written, make([]addrMark, int(e.slot)+1-len(a.written)+entryChunk)...)
	}
	m := &a.written[e.slot]
	h := ipHash(ip)
	if m.ipHash == h && ms-m.at < int64(addrRefresh/time.Millisecond) {
		return false
	}
	*m = addrMark{ipHash: h, at: ms}
	return true
}

// idOf returns the id of the key of e.
func (a *Authenticator) idOf(e *entry) string {
	a.mu.RLock()
	id, _, _, _ := a.idx.strings(e)
	a.mu.RUnlock()
	return id
}

// Run follows the database until ctx ends: it syncs (Sync) when other
// processes announce key changes and every PollEvery, again soon after a
// sync failed, and flushes last uses every FlushEvery, apart from the
// syncs so that a long flush never delays a renewal of the lease; at the
// end it flushes one last time.
func (a *Authenticator) Run(ctx context.Context) {
	var wg sync.WaitGroup
	wg.Go(func() { a.follow(ctx) })
	flush := time.NewTicker(a.cfg.FlushEvery)
	defer flush.Stop()
	for {
		select {
		case <-ctx.Done():
			wg.Wait()
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
		}
	}
}

// follow syncs until ctx ends.
func (a *Authenticator) follow(ctx context.Context) {
	wake := a.store.WatchChanges(ctx, a.log)
	poll := time.NewTicker(a.cfg.PollEvery)
	defer poll.Stop()
	// A first sync at once: what was committed before the watch began
	// announces nothing.
	retry := make(chan time.Time, 1)
	retry <- time.Time{}
	var again <-chan time.Time = retry
	for {
		select {
		case <-ctx.Done():
			return
		case <-wake:
		case <-poll.C:
		case <-again:
		}
		again = nil
		if err := a.Sync(ctx); err != nil && ctx.Err() == nil {
			a.log.Error("sync key changes", "err", err, "stale_for", a.Staleness(), "failing_closed", a.Unavailable())
			again = time.After(retrySync)
		}
	}
}
