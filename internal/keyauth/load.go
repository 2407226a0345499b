// Loading every key: the rows are read and decoded in one goroutine (the
// store's), and the index is built from them in another, so that a start
// takes about the longer of the two rather than their sum.

package keyauth

import (
	"context"
	"unsafe"

	"github.com/blnk-cloud/apikeys/internal/blnk"
)

// loadBatch is a run of records the reader hands to the builder, their
// strings copied into arena (the store's are good only during its call).
type loadBatch struct {
	recs  []blnk.Record
	arena []byte
}

const (
	loadBatchRecs  = 2048
	loadBatchArena = 256 << 10
	loadBatches    = 4 // in flight: the reader runs this far ahead at most
)

// loadAll reads every key of the store into the index (a is not shared
// yet) and returns the last change the keys include.
func (a *Authenticator) loadAll(ctx context.Context) (int64, error) {
	full := make(chan *loadBatch, loadBatches)
	free := make(chan *loadBatch, loadBatches+1)
	for range loadBatches + 1 {
		free <- &loadBatch{recs: make([]blnk.Record, 0, loadBatchRecs), arena: make([]byte, 0, loadBatchArena)}
	}
	built := make(chan struct{})
	go func() {
		defer close(built)
		for b := range full {
			for i := range b.recs {
				a.putLoaded(&b.recs[i])
			}
			clear(b.recs) // the allowlists
			b.recs, b.arena = b.recs[:0], b.arena[:0]
			free <- b
		}
	}()
	cur := <-free
	keep := func(s string) string {
		if len(s) == 0 {
			return ""
		}
		if len(cur.arena)+len(s) > cap(cur.arena) {
			return string([]byte(s)) // a record longer than the arena (never, with names of 400 characters)
		}
		off := len(cur.arena)
		cur.arena = append(cur.arena, s...)
		return unsafeStr(cur.arena[off:len(cur.arena)])
	}
	seq, err := a.store.AuthKeys(ctx, func(r blnk.Record) {
		if len(cur.recs) == loadBatchRecs || len(cur.arena)+1024 > cap(cur.arena) {
			full <- cur
			cur = <-free
		}
		k := &r.Key
		k.ID, k.Name, k.Prefix = keep(k.ID), keep(k.Name), keep(k.Prefix)
		k.RolledInto, k.RolledIntoPrefix = keep(k.RolledInto), keep(k.RolledIntoPrefix)
		r.WorkspaceName = keep(r.WorkspaceName)
		cur.recs = append(cur.recs, r)
	})
	full <- cur
	close(full)
	<-built
	return seq, err
}

// putLoaded adds a key read by loadAll: every hash of the store is
// distinct, so it skips put's lookup of an entry to bring up to date.
func (a *Authenticator) putLoaded(k *blnk.Record) {
	a.mu.Lock()
	defer a.mu.Unlock()
	e := a.idx.add(k.Hash, k.Key, k.WorkspaceName)
	if !k.Key.RevokedAt.IsZero() {
		e.revokedAt.Store(k.Key.RevokedAt.UnixMilli())
	}
	if a.idx.replacedOK { // the same hash twice (a store without the unique index): a revocation stays
		if r := a.idx.at(a.idx.replaced).revokedAt.Load(); r != 0 {
			e.revokedAt.CompareAndSwap(0, r)
		}
	}
}

// unsafeStr is b as a string, without a copy: good while b is.
func unsafeStr(b []byte) string { return unsafe.String(unsafe.SliceData(b), len(b)) }
