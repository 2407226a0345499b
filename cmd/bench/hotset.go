package main

import "github.com/blnk-cloud/apikeys/internal/apikey"

// hotRecord is what a server of the simulated design (simulate.go) keeps
// of a key in its hot set: what a check needs, as keyauth's index keeps
// it today.
type hotRecord struct {
	id          string
	name        string
	workspaceID int64
	scopes      uint64
	expiresAt   int64 // Unix ms; 0: never
	// revoked marks a tombstone: the key is revoked, and refused without
	// a database lookup (a leaked key that is hammered costs nothing).
	revoked bool
}

// hotSet is a bounded map of key hashes to records that forgets the
// least recently used key when it is full: an index into one slice of
// slots, linked in order of use, so that a full set allocates nothing.
type hotSet struct {
	index      map[apikey.Hash]int32
	slots      []hotSlot
	head, tail int32 // the most and the least recently used; -1: none
	capacity   int
}

type hotSlot struct {
	hash       apikey.Hash
	rec        hotRecord
	prev, next int32
}

func newHotSet(capacity int) *hotSet {
	return &hotSet{
		index:    make(map[apikey.Hash]int32, capacity),
		slots:    make([]hotSlot, 0, capacity),
		head:     -1,
		tail:     -1,
		capacity: capacity,
	}
}

func (h *hotSet) len() int { return len(h.index) }

// get returns the record of hash and marks it used.
func (h *hotSet) get(hash apikey.Hash) (hotRecord, bool) {
	i, ok := h.index[hash]
	if !ok {
		return hotRecord{}, false
	}
	h.toFront(i)
	return h.slots[i].rec, true
}

// put stores the record of hash as the most recently used, forgetting
// the least recently used key if the set is full.
func (h *hotSet) put(hash apikey.Hash, rec hotRecord) {
	if i, ok := h.index[hash]; ok {
		h.slots[i].rec = rec
		h.toFront(i)
		return
	}
	if h.capacity <= 0 {
		return
	}
	var i int32
	if len(h.slots) < h.capacity {
		i = int32(len(h.slots))
		h.slots = append(h.slots, hotSlot{prev: -1, next: -1})
	} else {
		i = h.tail
		h.unlink(i)
		delete(h.index, h.slots[i].hash)
	}
	h.slots[i].hash, h.slots[i].rec = hash, rec
	h.index[hash] = i
	h.linkFront(i)
}

// replace stores rec for hash if the set holds hash, without marking it
// used: how a server applies a key change it read from the change log.
func (h *hotSet) replace(hash apikey.Hash, rec hotRecord) bool {
	i, ok := h.index[hash]
	if ok {
		h.slots[i].rec = rec
	}
	return ok
}

func (h *hotSet) toFront(i int32) {
	if h.head == i {
		return
	}
	h.unlink(i)
	h.linkFront(i)
}

func (h *hotSet) unlink(i int32) {
	s := &h.slots[i]
	if s.prev >= 0 {
		h.slots[s.prev].next = s.next
	} else {
		h.head = s.next
	}
	if s.next >= 0 {
		h.slots[s.next].prev = s.prev
	} else {
		h.tail = s.prev
	}
	s.prev, s.next = -1, -1
}

func (h *hotSet) linkFront(i int32) {
	s := &h.slots[i]
	s.prev, s.next = -1, h.head
	if h.head >= 0 {
		h.slots[h.head].prev = i
	}
	h.head = i
	if h.tail < 0 {
		h.tail = i
	}
}
