// Usage: every call counted in memory, per key and hour, with the last
// use and the last addresses, and written to the database in batches.

package keyauth

import (
	"context"
	"time"

	"github.com/blnk-cloud/apikeys/internal/blnk"
)

// hourMS is an hour in milliseconds.
const hourMS = int64(time.Hour / time.Millisecond)

// addrMark is what a flush last wrote of an entry's address, and of its
// last refused call.
type addrMark struct {
	ipHash  uint64
	at      int64 // Unix ms
	refused int64 // Unix ms
}

// addrRefresh is how stale an address's stored last time may grow while
// the key keeps being used from it (the pages add this server's own, to
// the millisecond).
const addrRefresh = time.Minute

// rolledCounts are an entry's counts of a past hour, awaiting the flush.
type rolledCounts struct {
	e    *useRec
	hour int64
	c    blnk.Counts
}

// maxPending bounds the usage kept in memory while the database cannot
// be written: hourly counts and addresses past it are dropped (and
// logged), last uses are not (they are one per key anyway).
const maxPending = 1 << 20

// flushTimeout bounds the write of one part of a flush.
const flushTimeout = 5 * time.Second

// flushPart is how many rows of each kind a part of a flush writes, and
// flushPause how long a flush waits between its parts.
const (
	flushPart  = 1000
	flushPause = 10 * time.Millisecond
)

// LastUsed returns the freshest known last use of a key, which may be
// newer than the database's until the next flush.
func (a *Authenticator) LastUsed(id string) (at time.Time, ip string, ok bool) {
	e := a.useOf(id)
	if e == nil {
		return time.Time{}, "", false
	}
	ms := e.lastUsed.Load()
	if ms == 0 {
		return time.Time{}, "", false
	}
	return time.UnixMilli(ms).UTC(), a.ips.get(e), true
}

// LastRefused returns the last refused call to a key that this process
// saw, which may be newer than the database's until the next flush.
func (a *Authenticator) LastRefused(id string) (blnk.Refusal, bool) {
	e := a.useOf(id)
	if e == nil {
		return blnk.Refusal{}, false
	}
	ms := e.lastRefused.Load()
	if ms == 0 {
		return blnk.Refusal{}, false
	}
	r := a.ips.getRefused(e)
	return blnk.Refusal{KeyID: id, At: time.UnixMilli(ms).UTC(), IP: r.ip.String(), Reason: r.why.reason()}, true
}

// reason is how a refusal's outcome is stored.
func (o outcome) reason() blnk.RefusalReason {
	switch o {
	case refusedRevoked:
		return blnk.RefusedRevoked
	case refusedExpired:
		return blnk.RefusedExpired
	case refusedScope:
		return blnk.RefusedScope
	case refusedAddress:
		return blnk.RefusedAddress
	}
	return ""
}

// Unflushed returns the calls to key id counted in memory and not written
// yet, and the hour they belong to (zero if none): what a page adds to the
// stored counts to be current.
func (a *Authenticator) Unflushed(id string) (hour time.Time, c blnk.Counts) {
	e := a.useOf(id)
	if e == nil {
		return time.Time{}, blnk.Counts{}
	}
	h := e.usageHour.Load()
	if h == 0 {
		return time.Time{}, blnk.Counts{}
	}
	return time.UnixMilli(h).UTC(), e.peekCounts()
}

// touch records a use of e. Busy keys write their timestamp at most once
// a second, so that cores do not fight over one cache line; a change of
// address is recorded at once.
func (a *Authenticator) touch(k *entry, now time.Time, ip string) {
	e := a.uses.of(k)
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

// refuse counts a refused call to e, and records it as e's last refused
// call: at most once a second per key (a key refused thousands of times
// a second keeps its cores apart, as touch does), so the address and
// reason shown are of a call in the last second. It never touches
// lastUsed.
func (a *Authenticator) refuse(k *entry, now time.Time, ip string, why outcome) {
	e := a.uses.of(k)
	a.countRec(e, now, why)
	ms := now.UnixMilli()
	last := e.lastRefused.Load()
	if ms-last < 1000 && ms >= last {
		return
	}
	if !e.lastRefused.CompareAndSwap(last, ms) {
		return // another request just recorded one
	}
	a.ips.setRefused(e, refusal{ip: parseLastIP(ip), why: why})
	a.queue(e)
}

// queue puts e on the list of entries the next flush writes, once.
func (a *Authenticator) queue(e *useRec) {
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
func (a *Authenticator) count(k *entry, now time.Time, o outcome) {
	if a.cfg.DisableUsageCounts {
		return
	}
	a.countRec(a.uses.of(k), now, o)
}

// countRec is count on the key's use record.
func (a *Authenticator) countRec(e *useRec, now time.Time, o outcome) {
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
func (a *Authenticator) rollHour(e *useRec, h int64) {
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
func (e *useRec) takeCounts() blnk.Counts {
	return blnk.Counts{
		Accepted: int64(e.usage[accepted].Swap(0)),
		Revoked:  int64(e.usage[refusedRevoked].Swap(0)),
		Expired:  int64(e.usage[refusedExpired].Swap(0)),
		Scope:    int64(e.usage[refusedScope].Swap(0)),
		Address:  int64(e.usage[refusedAddress].Swap(0)),
	}
}

// peekCounts returns e's counts.
func (e *useRec) peekCounts() blnk.Counts {
	return blnk.Counts{
		Accepted: int64(e.usage[accepted].Load()),
		Revoked:  int64(e.usage[refusedRevoked].Load()),
		Expired:  int64(e.usage[refusedExpired].Load()),
		Scope:    int64(e.usage[refusedScope].Load()),
		Address:  int64(e.usage[refusedAddress].Load()),
	}
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

// hotFlushes is how many periodic flushes a key that keeps being called
// waits between two writes of its last use and counts: with the default
// FlushEvery of 2 s, a busy key is written every 10 s, a key called after
// a quiet spell at the next flush. 10,000 keys called without a pause
// made every flush write 20,000 rows, and the database's share of the
// machine was the largest part of what a check of a key drawn from
// 10,000 cost beyond one key's (cmd/bench/README.md). The pages of this
// server add its unwritten counts and last uses (Unflushed, LastUsed),
// so they stay exact; other servers see a busy key's up to
// hotFlushes×FlushEvery late, and a crash loses at most that much of
// its counts. A new address or refusal is written at the next flush.
const hotFlushes = 5

// Flush writes all the usage recorded and not yet written: last uses,
// addresses, hourly counts. What could not be written is kept for the
// next flush. Run calls it at the end; while it runs, it calls flushDue.
func (a *Authenticator) Flush(ctx context.Context) error {
	a.flushMu.Lock()
	defer a.flushMu.Unlock()
	return a.flush(ctx, true)
}

// flushDue is the periodic Flush: it leaves the last use and counts of a
// key written by one of the last hotFlushes-1 periodic flushes to a later
// one, unless its address changed or it has a refusal to write.
func (a *Authenticator) flushDue(ctx context.Context) error {
	a.flushMu.Lock()
	defer a.flushMu.Unlock()
	a.flushes++
	return a.flush(ctx, false)
}

// flush is Flush, or flushDue when all is false; the caller holds
// flushMu.
func (a *Authenticator) flush(ctx context.Context, all bool) error {
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
		if !all && a.recent(e) {
			a.queue(e) // for a later flush; its counts stay on it
			continue
		}
		e.writtenBy = a.flushes
		st := a.ips.of(e)
		st.mu.Lock()
		hour, c, ip := e.usageHour.Load(), e.takeCounts(), e.ip
		st.mu.Unlock()
		id := a.idOf(e.idChunk, e.idOff)
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
		if ms := e.lastRefused.Load(); ms != 0 && a.refusalDue(e, ms) {
			r := a.ips.getRefused(e)
			u.Refusals = append(u.Refusals, blnk.Refusal{KeyID: id, At: time.UnixMilli(ms).UTC(), IP: r.ip.String(), Reason: r.why.reason()})
		}
	}
	for _, r := range rolled {
		u.Hours = append(u.Hours, blnk.HourCount{KeyID: a.idOf(r.e.idChunk, r.e.idOff), Hour: time.UnixMilli(r.hour).UTC(), Counts: r.c})
	}
	a.ips.drain(func(s seenAddr) {
		u.Addresses = append(u.Addresses, blnk.Use{KeyID: a.idOf(s.idChunk, s.idOff), At: time.UnixMilli(s.at).UTC(), IP: s.ip.String()})
	})
	if len(u.Uses)+len(u.Addresses)+len(u.Hours)+len(u.Refusals) == 0 {
		return nil
	}
	// In parts, with a pause between them: one flush of 10,000 busy keys
	// is about 230 ms of work for SQLite, and in one go it took one of
	// two cores from the checks for that long (verify's p99 doubled).
	// Uses and addresses are upserts, and a part that fails leaves its
	// counts, and the ones after it, to the next flush.
	var err error
	for first := true; len(u.Uses)+len(u.Addresses)+len(u.Hours)+len(u.Refusals) > 0; first = false {
		if !first {
			a.pause(ctx)
		}
		part := blnk.Usage{Uses: cut(&u.Uses), Addresses: cut(&u.Addresses), Hours: cut(&u.Hours), Refusals: cut(&u.Refusals)}
		pctx, cancel := context.WithTimeout(ctx, flushTimeout)
		err = a.store.RecordUsage(pctx, part)
		cancel()
		if err != nil {
			u.Hours = append(part.Hours, u.Hours...)
			u.Addresses = append(part.Addresses, u.Addresses...)
			u.Refusals = append(part.Refusals, u.Refusals...)
			break
		}
	}
	if err != nil {
		for _, e := range batch {
			e.writtenBy = 0 // not written: due at the next flush, however busy
			a.queue(e)
		}
		if n := len(u.Hours) + len(u.Addresses); n > maxPending {
			a.log.Error("usage kept in memory while the database cannot be written: dropping some", "dropped", n-maxPending)
			u.Hours = u.Hours[max(0, len(u.Hours)-maxPending/2):]
			u.Addresses = u.Addresses[max(0, len(u.Addresses)-maxPending/2):]
		}
		// Refusals are one per key, and kept here because refusalDue
		// has marked them written.
		a.pending = blnk.Usage{Hours: u.Hours, Addresses: u.Addresses, Refusals: u.Refusals}
		return err
	}
	return nil
}

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

// recent reports whether e's use and counts were written by one of the
// last hotFlushes-1 periodic flushes and nothing of it must be written
// sooner: its address is the one last written and it has no refusal to
// write. The caller holds flushMu.
func (a *Authenticator) recent(e *useRec) bool {
	if e.writtenBy == 0 || a.flushes-e.writtenBy >= hotFlushes {
		return false
	}
	m := &e.written
	return e.ipHash.Load() == m.ipHash && e.lastRefused.Load() == m.refused
}

// refusalDue reports whether e's last refused call, at ms, is still to be
// written: a key refused once and used since is not written again at
// every flush. The caller holds flushMu.
func (a *Authenticator) refusalDue(e *useRec, ms int64) bool {
	m := &e.written
	if m.refused == ms {
		return false
	}
	m.refused = ms
	return true
}

// addressDue reports whether the address ip of e, last used at ms, is to
// be written by this flush: it changed, or its stored time is older than
// addrRefresh. The caller holds flushMu.
func (a *Authenticator) addressDue(e *useRec, ip string, ms int64) bool {
	m := &e.written
	h := ipHash(ip)
	if m.ipHash == h && ms-m.at < int64(addrRefresh/time.Millisecond) {
		return false
	}
	m.ipHash, m.at = h, ms
	return true
}

// idOf returns the id written at off in text chunk chunk of the index.
func (a *Authenticator) idOf(chunk, off uint32) string {
	a.mu.RLock()
	id := a.idx.idAt(chunk, off)
	a.mu.RUnlock()
	return id
}

// useOf returns the use record of key id, nil if it has none.
func (a *Authenticator) useOf(id string) *useRec {
	e := a.byID(id)
	if e == nil {
		return nil
	}
	u, _ := a.uses.find(e)
	return u
}
