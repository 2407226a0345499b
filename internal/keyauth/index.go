package keyauth

import (
	"encoding/binary"
	"net/netip"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"unsafe"

	"github.com/blnk-cloud/apikeys/internal/apikey"
)

// index holds every key in memory that holds no pointers: two tables of
// slot numbers find a key by its hash and by its id, entries live in
// fixed chunks, and their text in append-only byte chunks. The garbage
// collector never scans any of it, however many keys there are. The
// Authenticator's mu guards the tables, the workspaces and the growth of
// the chunks; an entry's fields other than its atomics never change once
// it is published.
type index struct {
	byHash  slotTable            // by the key's hash (entry.hash)
	byID    slotTable            // by the key's id (the first idLen bytes of its text)
	keys    int                  // distinct hashes: the keys, whatever their entries
	entries []*[entryChunk]entry // never moved: atomics stay where they are
	n       uint32
	text    [][]byte // each of textChunk bytes, filled up, never moved
	// allow holds the IP allowlists of the keys that have one, each in
	// one chunk, one after the other (an entry's allowOff and allowN).
	// netip.Prefix holds a pointer (an IPv6 zone's handle), so these
	// chunks are the one part of the index the collector scans: a few
	// chunks, only for keys with an allowlist.
	allow  []*[allowChunk]netip.Prefix
	allowN uint32
	// workspaces are the keys' workspaces, each once (entry.ws): a
	// million keys of one workspace hold its name once.
	workspaces []workspace
	wsByID     map[int64]uint32
	// replaced is the entry the last add took the place of, if
	// replacedOK: the same key's older entry.
	replaced   uint32
	replacedOK bool
}

// workspace is a workspace of keys in the index.
type workspace struct {
	id   int64
	name string
}

const (
	idLen      = 24 // "key_" and 20 characters, see apikey.NewID
	entryChunk = 4096
	textChunk  = 64 << 10
	allowChunk = 4096 // CIDRs; at least apikey.MaxAllowlist
)

// entry is a key in the index: what a check needs, and no more (88
// bytes). What a key's use records (last use, address, counts) lives in
// a record of its own (useRec), made at its first use since the process
// started: most keys of a large index are not called in a given hour.
type entry struct {
	hash      apikey.Hash  // SHA-256 of the token: what byHash finds
	createdAt int64        // Unix ms
	expiresAt int64        // Unix ms; 0: never
	revokedAt atomic.Int64 // Unix ms; 0: not revoked
	textChunk uint32
	textOff   uint32        // id, prefix, name, then the successor's id and prefix if rolled
	ws        uint32        // the key's workspace in index.workspaces
	use       atomic.Uint32 // its use record plus one (Authenticator.uses); 0: none yet
	allowOff  uint32        // its allowlist in index.allow, if allowN > 0
	nameLen   uint16
	scopes    apikey.Set
	allowN    uint8
	rolled    bool // replaced by a successor (a roll), named after the name
}

// useRec is what a key's calls since the process started record: its
// last use and address, its last refused call, its counts of the current
// hour. Records live in fixed chunks (useTable) and hold no pointers, as
// entries do.
//
// A record is 128 bytes, and what every accepted call reads or writes
// (touch, count) comes first, in its first 64 bytes: chunks are large
// allocations, page-aligned, so that is one cache line. With keys drawn
// from many, each call's record is a cache miss; the layout makes it one
// miss rather than two or three (TestUseRecLayout).
type useRec struct {
	lastUsed  atomic.Int64  // Unix ms; 0: never
	ipHash    atomic.Uint64 // of the last address, see ipHash
	usageHour atomic.Int64  // the hour of usage (Unix ms)
	// Calls since the last flush, by outcome, during the hour starting at
	// usageHour. See Authenticator.count.
	usage          [nOutcomes]atomic.Uint32
	dirty          atomic.Bool
	idChunk, idOff uint32 // the key's id in the index's text

	ip lastIP // the last address, under ipLocks
	// The last refused call: from where and why, under ipLocks, and when
	// (Unix ms; 0: none since this process started). Never a use.
	refused refusal
	// written is the periodic flush (Authenticator.flushes) that last
	// wrote this record's last use and counts, 0: none; under flushMu.
	// It fills what would be padding before lastRefused.
	writtenBy   uint32
	lastRefused atomic.Int64

	// What a flush last wrote of the address and the last refused call;
	// under flushMu.
	written addrMark
}

const (
	useChunk  = 4096
	useChunks = 1 << 16 // 268 million records: far more keys than one process holds
)

// useTable holds the use records: a fixed array of chunks, each published
// once, so that a check finds a record with two loads and no lock.
type useTable struct {
	mu     sync.Mutex // taken to make a record
	n      uint32
	chunks [useChunks]atomic.Pointer[[useChunk]useRec]
}

// at returns record n.
func (t *useTable) at(n uint32) *useRec {
	return &t.chunks[n/useChunk].Load()[n%useChunk]
}

// of returns e's record, made at its first call.
func (t *useTable) of(e *entry) *useRec {
	if n := e.use.Load(); n != 0 {
		return t.at(n - 1)
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	if n := e.use.Load(); n != 0 {
		return t.at(n - 1)
	}
	n := t.n
	if n/useChunk >= useChunks {
		n = useChunks*useChunk - 1 // never reached; shared rather than a crash
	} else {
		if t.chunks[n/useChunk].Load() == nil {
			t.chunks[n/useChunk].Store(new([useChunk]useRec))
		}
		t.n++
	}
	u := t.at(n)
	u.idChunk, u.idOff = e.textChunk, e.textOff
	e.use.Store(n + 1)
	return u
}

// find returns e's record, nil if it has none.
func (t *useTable) find(e *entry) (*useRec, uint32) {
	n := e.use.Load()
	if n == 0 {
		return nil, 0
	}
	return t.at(n - 1), n - 1
}

// allows reports whether the client address ip is in one of list's
// networks (netip.Prefix.Contains: IPv4 networks match IPv4 clients, IPv6
// networks IPv6 clients, an IPv4-mapped client counting as IPv4). It
// allocates nothing: an address without a zone parses in place.
func allows(list []netip.Prefix, ip string) bool {
	a, err := netip.ParseAddr(ip)
	if err != nil {
		return false
	}
	a = a.Unmap()
	for _, p := range list {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

// lastIP is the address of a key's last use: v4 or v6, or none.
type lastIP struct {
	addr [16]byte
	kind uint8 // 0: none, 4, 6
}

// ipLocks guard the lastIP of entries, striped by entry: a use records
// its address at most once a second per key unless the address changed,
// so contention is rare. Each stripe also keeps a ring of the addresses
// its keys were used from before their last one, since the last flush:
// a key used from three addresses between two flushes has all three
// written, not only the last (see Authenticator.Flush). A ring that
// overflows drops its oldest addresses; the last one of every key is in
// its entry anyway.
type ipLocks [64]ipStripe

type ipStripe struct {
	mu   sync.Mutex
	seen [seenRing]seenAddr
	n    uint64 // addresses ever written to seen
	read uint64 // how many of them a flush has taken
}

const seenRing = 64

// seenAddr is an address a key (its id in the index's text) was last
// used from at at (Unix ms).
type seenAddr struct {
	idChunk, idOff uint32
	ip             lastIP
	at             int64
}

func (l *ipLocks) of(u *useRec) *ipStripe {
	return &l[(uintptr(unsafe.Pointer(u))/unsafe.Sizeof(useRec{}))%uintptr(len(l))]
}

// refusal is where a key's last refused call came from, and why.
type refusal struct {
	ip  lastIP
	why outcome
}

// String writes the address, "" if none.
func (ip lastIP) String() string {
	switch ip.kind {
	case 4:
		return netip.AddrFrom4([4]byte(ip.addr[:4])).String()
	case 6:
		return netip.AddrFrom16(ip.addr).String()
	}
	return ""
}

func newIndex() *index { return &index{wsByID: map[int64]uint32{}} }

// slotTable finds entries by a key of theirs: an open-addressing table
// (linear probing, at most 3/4 full) of cells that hold a slot number
// plus one (0: an empty cell) and, in their high half, 32 bits of the
// key's hash, so that a probe past other keys reads no entry. Its cells
// are 8 bytes: BenchmarkLookupTables measures both tables at 42 bytes a
// key against 87 for a Go map of 32-byte hashes and one of ids (100,000
// keys), with lookups as fast; that is 45 MB at a million keys, and it
// is why the index does not use maps. What a cell's entry is compared
// with is the caller's (lookupHash, lookupID).
type slotTable struct {
	cells []uint64
	n     int
}

// cell is what a table holds for slot, whose key hashes to h.
func cell(h uint64, slot uint32) uint64 { return h&^0xffffffff | uint64(slot+1) }

// cellSlot is the slot a non-empty cell holds.
func cellSlot(c uint64) uint32 { return uint32(c) - 1 }

// sameHigh reports whether cell c may hold a key that hashes to h.
func sameHigh(c, h uint64) bool { return c>>32 == h>>32 }

// start returns the first cell to probe for h, and the mask of the
// table's size.
func (t *slotTable) start(h uint64) (uint64, uint64) {
	mask := uint64(len(t.cells) - 1)
	return h & mask, mask
}

// reserve sizes the table for n keys at once, rather than doubling it
// on the way there (each doubling places every cell again, and leaves
// the old cells as garbage).
func (t *slotTable) reserve(n int) {
	size := 1024
	for size*3 < n*4+4 {
		size *= 2
	}
	if t.n != 0 || size <= len(t.cells) {
		return
	}
	t.cells = make([]uint64, size)
}

// reserve sizes the index for n keys.
func (x *index) reserve(n int) {
	if n <= 0 || n > 1<<30 {
		return
	}
	x.byHash.reserve(n)
	x.byID.reserve(n)
	x.entries = slices.Grow(x.entries, n/entryChunk+1)
}

// grow doubles the table when one more key would fill it past 3/4,
// placing every cell again with rehash (the hash of a slot's key).
func (t *slotTable) grow(rehash func(slot uint32) uint64) {
	if (t.n+1)*4 <= len(t.cells)*3 {
		return
	}
	old := t.cells
	t.cells = make([]uint64, max(1024, 2*len(old)))
	for _, c := range old {
		if c == 0 {
			continue
		}
		i, mask := t.start(rehash(cellSlot(c)))
		for t.cells[i] != 0 {
			i = (i + 1) & mask
		}
		t.cells[i] = c
	}
}

// hashStart is where byHash probes for h: its first 8 bytes, as uniform
// as SHA-256 makes them (and no client can choose a hash).
func hashStart(h *apikey.Hash) uint64 { return binary.LittleEndian.Uint64(h[:8]) }

// idStart is where byID probes for id: its random part, mixed (the
// characters of an id carry 5 bits each).
func idStart(id string) uint64 {
	h := uint64(14695981039346656037)
	for i := 4; i < len(id); i++ { // after "key_"
		h = (h ^ uint64(id[i])) * 1099511628211
	}
	h ^= h >> 33
	h *= 0xff51afd7ed558ccd
	h ^= h >> 33
	return h
}

// id returns an entry's id; it points into the text chunks.
func (x *index) id(e *entry) string {
	return unsafe.String(&x.text[e.textChunk][e.textOff], idLen)
}

// idAt returns the id written at off in text chunk chunk.
func (x *index) idAt(chunk, off uint32) string {
	return unsafe.String(&x.text[chunk][off], idLen)
}

// lookupHash returns the slot of the key whose hash is h.
func (x *index) lookupHash(h *apikey.Hash) (uint32, bool) {
	t := &x.byHash
	if len(t.cells) == 0 {
		return 0, false
	}
	hs := hashStart(h)
	for i, mask := t.start(hs); ; i = (i + 1) & mask {
		c := t.cells[i]
		if c == 0 {
			return 0, false
		}
		if sameHigh(c, hs) && x.at(cellSlot(c)).hash == *h {
			return cellSlot(c), true
		}
	}
}

// lookupID returns the slot of the key whose id is id.
func (x *index) lookupID(id string) (uint32, bool) {
	if len(id) != idLen {
		return 0, false
	}
	return x.byID.find(idStart(id), func(s uint32) bool { return x.id(x.at(s)) == id })
}

// find returns the slot of the cell of the key that hashes to h (same
// tells it among others), as set placed it. lookupHash, on the hot path,
// writes the same loop out without the call of same.
func (t *slotTable) find(h uint64, same func(slot uint32) bool) (uint32, bool) {
	if len(t.cells) == 0 {
		return 0, false
	}
	for i, mask := t.start(h); ; i = (i + 1) & mask {
		c := t.cells[i]
		if c == 0 {
			return 0, false
		}
		if sameHigh(c, h) && same(cellSlot(c)) {
			return cellSlot(c), true
		}
	}
}

// place points byHash and byID at slot for its entry's hash and id: the
// cell of an older entry of the same key is taken over, else a new one.
// It returns the older entry's slot, if there was one.
func (x *index) place(slot uint32) (old uint32, replaced bool) {
	e := x.at(slot)
	x.byHash.grow(func(s uint32) uint64 { return hashStart(&x.at(s).hash) })
	old, replaced = x.byHash.set(hashStart(&e.hash), slot, func(s uint32) bool { return x.at(s).hash == e.hash })
	if !replaced {
		x.keys++
	}
	x.byID.grow(func(s uint32) uint64 { return idStart(x.id(x.at(s))) })
	id := x.id(e)
	x.byID.set(idStart(id), slot, func(s uint32) bool { return x.id(x.at(s)) == id })
	return old, replaced
}

// set points the cell of the key that hashes to h (same tells it among
// others) at slot, or a new cell; it returns the slot the cell held, if
// it was not new. The table has room (grow).
func (t *slotTable) set(h uint64, slot uint32, same func(slot uint32) bool) (uint32, bool) {
	for i, mask := t.start(h); ; i = (i + 1) & mask {
		c := t.cells[i]
		if c == 0 {
			t.cells[i] = cell(h, slot)
			t.n++
			return 0, false
		}
		if sameHigh(c, h) && same(cellSlot(c)) {
			t.cells[i] = cell(h, slot)
			return cellSlot(c), true
		}
	}
}

func (x *index) at(slot uint32) *entry {
	return &x.entries[slot/entryChunk][slot%entryChunk]
}

// add stores a new key and returns its entry; the caller holds the lock
// and has checked that the hash is new.
func (x *index) add(hash apikey.Hash, k apikey.Key, workspace string) *entry {
	if len(k.ID) != idLen {
		panic("keyauth: key id of unexpected length: " + k.ID)
	}
	if x.n%entryChunk == 0 {
		x.entries = append(x.entries, new([entryChunk]entry))
	}
	slot := x.n
	x.n++
	e := x.at(slot)
	e.hash = hash
	e.ws = x.workspace(k.WorkspaceID, workspace)
	e.createdAt = k.CreatedAt.UnixMilli()
	if !k.ExpiresAt.IsZero() {
		e.expiresAt = k.ExpiresAt.UnixMilli()
	}
	e.scopes = k.Scopes
	name := truncate16(k.Name)
	e.nameLen = uint16(len(name))
	succ, succPrefix := "", ""
	if len(k.RolledInto) == idLen && len(k.RolledIntoPrefix) == apikey.PrefixLen {
		succ, succPrefix, e.rolled = k.RolledInto, k.RolledIntoPrefix, true
	}
	e.textChunk, e.textOff = x.write(k.ID, k.Prefix, name, succ, succPrefix)
	if n := min(len(k.Allowlist), apikey.MaxAllowlist); n > 0 {
		e.allowOff = x.writeAllow(k.Allowlist[:n])
		e.allowN = uint8(n)
	}
	x.replaced, x.replacedOK = x.place(slot)
	return e
}

// workspace returns the number of workspace id in x.workspaces, added if
// new; a new name replaces the one held.
func (x *index) workspace(id int64, name string) uint32 {
	name = truncate16(name)
	if i, ok := x.wsByID[id]; ok {
		if x.workspaces[i].name != name {
			x.workspaces[i].name = strings.Clone(name)
		}
		return i
	}
	i := uint32(len(x.workspaces))
	x.workspaces = append(x.workspaces, workspace{id: id, name: strings.Clone(name)})
	x.wsByID[id] = i
	return i
}

// write appends strings to the text chunks, together, and returns where.
func (x *index) write(ss ...string) (chunk, off uint32) {
	n := 0
	for _, s := range ss {
		n += len(s)
	}
	last := len(x.text) - 1
	if last < 0 || len(x.text[last])+n > cap(x.text[last]) {
		x.text = append(x.text, make([]byte, 0, max(textChunk, n)))
		last++
	}
	buf := x.text[last]
	off = uint32(len(buf))
	for _, s := range ss {
		buf = append(buf, s...) // within capacity: the chunk does not move
	}
	x.text[last] = buf
	return uint32(last), off
}

// writeAllow appends an allowlist to the allow chunks, in one chunk, and
// returns where it starts.
func (x *index) writeAllow(list []netip.Prefix) uint32 {
	n := uint32(len(list))
	if x.allowN%allowChunk+n > allowChunk {
		x.allowN = (x.allowN/allowChunk + 1) * allowChunk // the rest of this chunk stays empty
	}
	if x.allowN/allowChunk >= uint32(len(x.allow)) {
		x.allow = append(x.allow, new([allowChunk]netip.Prefix))
	}
	off := x.allowN
	chunk := x.allow[off/allowChunk]
	for i, p := range list {
		chunk[off%allowChunk+uint32(i)] = p.Masked()
	}
	x.allowN += n
	return off
}

// allowlist returns e's allowlist, nil if it has none; the caller holds
// the lock (the chunk list may grow), the networks themselves never change.
func (x *index) allowlist(e *entry) []netip.Prefix {
	if e.allowN == 0 {
		return nil
	}
	chunk := x.allow[e.allowOff/allowChunk]
	off := e.allowOff % allowChunk
	return chunk[off : off+uint32(e.allowN)]
}

// strings returns an entry's id, prefix, name and workspace name. They
// point into the text chunks, which never change, so no copy is made.
// The caller holds the lock.
func (x *index) strings(e *entry) (id, prefix, name, workspace string) {
	base := x.text[e.textChunk][e.textOff:]
	cut := func(n int) string {
		s := unsafe.String(unsafe.SliceData(base), n)
		base = base[n:]
		return s
	}
	id = cut(idLen)
	prefix = cut(apikey.PrefixLen)
	name = cut(int(e.nameLen))
	return id, prefix, name, x.workspaces[e.ws].name
}

// successor returns the id and prefix of the key that replaced e's key in
// a roll, or "" if none.
func (x *index) successor(e *entry) (id, prefix string) {
	if !e.rolled {
		return "", ""
	}
	base := x.text[e.textChunk][int(e.textOff)+idLen+apikey.PrefixLen+int(e.nameLen):]
	return unsafe.String(unsafe.SliceData(base), idLen), unsafe.String(unsafe.SliceData(base[idLen:]), apikey.PrefixLen)
}

func (e *entry) expiresTime() time.Time {
	if e.expiresAt == 0 {
		return time.Time{}
	}
	return time.UnixMilli(e.expiresAt).UTC()
}

// set records addr as the key's last address. The address it replaces,
// last used at prevAt (Unix ms, 0: unknown), goes to the stripe's ring.
func (l *ipLocks) set(e *useRec, addr string, prevAt int64) {
	ip := parseLastIP(addr)
	st := l.of(e)
	st.mu.Lock()
	old := e.ip
	e.ip = ip
	if old.kind != 0 && old != ip && prevAt != 0 {
		st.seen[st.n%seenRing] = seenAddr{idChunk: e.idChunk, idOff: e.idOff, ip: old, at: prevAt}
		st.n++
	}
	st.mu.Unlock()
}

// parseLastIP reads addr, without allocating; none if it is not an
// address.
func parseLastIP(addr string) lastIP {
	var ip lastIP
	if a, err := netip.ParseAddr(addr); err == nil {
		a = a.Unmap()
		if a.Is4() {
			v4 := a.As4()
			copy(ip.addr[:], v4[:])
			ip.kind = 4
		} else {
			ip.addr, ip.kind = a.As16(), 6
		}
	}
	return ip
}

// setRefused records where the entry's last refused call came from, and
// why.
func (l *ipLocks) setRefused(e *useRec, r refusal) {
	st := l.of(e)
	st.mu.Lock()
	e.refused = r
	st.mu.Unlock()
}

// getRefused returns where the entry's last refused call came from, and
// why.
func (l *ipLocks) getRefused(e *useRec) refusal {
	st := l.of(e)
	st.mu.Lock()
	r := e.refused
	st.mu.Unlock()
	return r
}

// get returns the entry's last address, "" if none.
func (l *ipLocks) get(e *useRec) string {
	st := l.of(e)
	st.mu.Lock()
	ip := e.ip
	st.mu.Unlock()
	return ip.String()
}

// drain calls fn for the addresses the rings took since the last drain.
func (l *ipLocks) drain(fn func(seenAddr)) {
	var buf [seenRing]seenAddr
	for i := range l {
		st := &l[i]
		st.mu.Lock()
		from := max(st.read, st.n-min(st.n, seenRing))
		k := 0
		for j := from; j < st.n; j++ {
			buf[k] = st.seen[j%seenRing]
			k++
		}
		st.read = st.n
		st.mu.Unlock()
		for _, a := range buf[:k] {
			fn(a)
		}
	}
}

// same reports whether e holds what k and workspace say, apart from what
// changes in place (revocation, use).
func (x *index) same(e *entry, k apikey.Key, workspace string) bool {
	var expires int64
	if !k.ExpiresAt.IsZero() {
		expires = k.ExpiresAt.UnixMilli()
	}
	_, _, name, ws := x.strings(e)
	succ, _ := x.successor(e)
	if e.expiresAt != expires || e.scopes != k.Scopes || x.workspaces[e.ws].id != k.WorkspaceID ||
		name != truncate16(k.Name) || ws != truncate16(workspace) || succ != k.RolledInto {
		return false
	}
	list := x.allowlist(e)
	if len(list) != min(len(k.Allowlist), apikey.MaxAllowlist) {
		return false
	}
	for i, c := range list {
		if c != k.Allowlist[i].Masked() {
			return false
		}
	}
	return true
}

// truncate16 cuts s to what an entry's 16-bit length can hold.
func truncate16(s string) string {
	if len(s) > 1<<16-1 {
		return s[:1<<16-1]
	}
	return s
}
