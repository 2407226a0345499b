package keyauth

import (
	"net/netip"
	"sync"
	"sync/atomic"
	"time"
	"unsafe"

	"github.com/blnk-cloud/apikeys/internal/apikey"
)

// index holds every key in memory that holds no pointers: the maps map
// fixed-size values to slot numbers, entries live in fixed chunks, and
// their text in append-only byte chunks. The garbage collector never
// scans any of it, however many keys there are, and a key costs about
// 200 bytes. The Authenticator's mu guards the maps and the growth of the
// chunks; an entry's fields other than its atomics and its address never
// change once it is published.
type index struct {
	byHash  map[apikey.Hash]uint32
	byID    map[keyID]uint32
	entries []*[entryChunk]entry // never moved: atomics stay where they are
	n       uint32
	text    [][]byte // each of textChunk bytes, filled up, never moved
}

type keyID [idLen]byte

const (
	idLen      = 24 // "key_" and 20 characters, see apikey.NewID
	entryChunk = 4096
	textChunk  = 64 << 10
)

// entry is a key in the index.
type entry struct {
	workspaceID int64
	createdAt   int64 // Unix ms
	expiresAt   int64 // Unix ms; 0: never
	textChunk   uint32
	textOff     uint32 // id, prefix, name, workspace name, then the successor's id and prefix if rolled
	nameLen     uint16
	wsLen       uint16
	scopes      apikey.Set
	rolled      bool // replaced by a successor (a roll), named after the workspace name

	revokedAt atomic.Int64  // Unix ms; 0: not revoked
	lastUsed  atomic.Int64  // Unix ms; 0: never
	dirty     atomic.Bool   // used since the last flush
	ipHash    atomic.Uint64 // of the last address, see ipHash
	ip        lastIP        // the last address, under ipLocks
}

// lastIP is the address of a key's last use: v4 or v6, or none.
type lastIP struct {
	addr [16]byte
	kind uint8 // 0: none, 4, 6
}

// ipLocks guard the lastIP of entries, striped by address: a use records
// its address at most once a second per key, so contention is rare.
type ipLocks [64]sync.Mutex

func (l *ipLocks) of(e *entry) *sync.Mutex {
	return &l[(uintptr(unsafe.Pointer(e))/unsafe.Sizeof(entry{}))%uintptr(len(l))]
}

func newIndex() *index {
	return &index{byHash: make(map[apikey.Hash]uint32), byID: make(map[keyID]uint32)}
}

// toID returns id as a map key, and false if it cannot be a key id.
func toID(id string) (keyID, bool) {
	var k keyID
	if len(id) != idLen {
		return k, false
	}
	copy(k[:], id)
	return k, true
}

func (x *index) at(slot uint32) *entry {
	return &x.entries[slot/entryChunk][slot%entryChunk]
}

// add stores a new key and returns its entry; the caller holds the lock
// and has checked that the hash is new.
func (x *index) add(hash apikey.Hash, k apikey.Key, workspace string) *entry {
	id, ok := toID(k.ID)
	if !ok {
		panic("keyauth: key id of unexpected length: " + k.ID)
	}
	if x.n%entryChunk == 0 {
		x.entries = append(x.entries, new([entryChunk]entry))
	}
	slot := x.n
	x.n++
	e := x.at(slot)
	e.workspaceID = k.WorkspaceID
	e.createdAt = k.CreatedAt.UnixMilli()
	if !k.ExpiresAt.IsZero() {
		e.expiresAt = k.ExpiresAt.UnixMilli()
	}
	e.scopes = k.Scopes
	name, ws := truncate16(k.Name), truncate16(workspace)
	e.nameLen, e.wsLen = uint16(len(name)), uint16(len(ws))
	succ, succPrefix := "", ""
	if len(k.RolledInto) == idLen && len(k.RolledIntoPrefix) == apikey.PrefixLen {
		succ, succPrefix, e.rolled = k.RolledInto, k.RolledIntoPrefix, true
	}
	e.textChunk, e.textOff = x.write(k.ID, k.Prefix, name, ws, succ, succPrefix)
	x.byHash[hash] = slot
	x.byID[id] = slot
	return e
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

// strings returns an entry's id, prefix, name and workspace name. They
// point into the text chunks, which never change, so no copy is made.
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
	workspace = cut(int(e.wsLen))
	return id, prefix, name, workspace
}

// successor returns the id and prefix of the key that replaced e's key in
// a roll, or "" if none.
func (x *index) successor(e *entry) (id, prefix string) {
	if !e.rolled {
		return "", ""
	}
	base := x.text[e.textChunk][int(e.textOff)+idLen+apikey.PrefixLen+int(e.nameLen)+int(e.wsLen):]
	return unsafe.String(unsafe.SliceData(base), idLen), unsafe.String(unsafe.SliceData(base[idLen:]), apikey.PrefixLen)
}

func (e *entry) expiresTime() time.Time {
	if e.expiresAt == 0 {
		return time.Time{}
	}
	return time.UnixMilli(e.expiresAt).UTC()
}

// setIP records addr as the entry's last address.
func (l *ipLocks) set(e *entry, addr string) {
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
	mu := l.of(e)
	mu.Lock()
	e.ip = ip
	mu.Unlock()
}

// get returns the entry's last address, "" if none.
func (l *ipLocks) get(e *entry) string {
	mu := l.of(e)
	mu.Lock()
	ip := e.ip
	mu.Unlock()
	switch ip.kind {
	case 4:
		return netip.AddrFrom4([4]byte(ip.addr[:4])).String()
	case 6:
		return netip.AddrFrom16(ip.addr).String()
	}
	return ""
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
	return e.expiresAt == expires && e.scopes == k.Scopes && e.workspaceID == k.WorkspaceID &&
		name == truncate16(k.Name) && ws == truncate16(workspace) && succ == k.RolledInto
}

// truncate16 cuts s to what an entry's 16-bit length can hold.
func truncate16(s string) string {
	if len(s) > 1<<16-1 {
		return s[:1<<16-1]
	}
	return s
}
