package web

import (
	"context"
	"errors"
	"sync"

	"github.com/blnk-cloud/apikeys/db"
	"github.com/blnk-cloud/apikeys/internal/blnk"
)

// listCounts counts a workspace's keys per status for the keys list (its
// tabs, its "of N keys", the expiring banner) from a snapshot of the
// columns that decide it, kept until a key changes: counting 10,000 rows
// in SQLite on every page view cost more than the rest of the page.
// Status depends on the time, so it is worked out at each count, never
// kept. A snapshot is read again when the change log has moved, by
// whichever server or process changed a key.
type listCounts struct {
	db Store

	mu   sync.Mutex
	byWS map[int64]*listSnapshot
}

// maxSnapshots bounds the workspaces whose snapshot is kept, and
// maxSnapshotKeys the keys of one (about 150 bytes each): the counts of a
// larger workspace are taken in SQL at each view.
const (
	maxSnapshots    = 64
	maxSnapshotKeys = 200_000
)

// errTooBig is the snapshot of a workspace of more than maxSnapshotKeys.
var errTooBig = errors.New("workspace too large for a snapshot")

type listSnapshot struct {
	mu      sync.Mutex // held while it is read from the database
	seq     int64
	ready   bool
	tooBig  bool // it had more than maxSnapshotKeys keys: never read again
	entries []blnk.ListEntry
	lower   []string // the entries' names, folded as the database folds them
}

func newListCounts(store Store) *listCounts {
	return &listCounts{db: store, byWS: map[int64]*listSnapshot{}}
}

// maxAmong is the most keys count hands back as the ones a filter finds:
// that many or fewer, and the list reads them by id.
const maxAmong = 500

// count returns, at q.Now, the counts per status of all the workspace's
// keys and of those q's search and scope find (the same when q has
// neither), from one read of the snapshot and one pass over it; and,
// when q filters and finds at most maxAmong keys in its status, their ids
// (else nil). The counts say how many keys break q.Policy (whose
// creators have roles), and q.NonCompliant keeps only those.
func (lc *listCounts) count(ctx context.Context, workspaceID int64, q blnk.ListQuery, roles map[int64]blnk.Role) (all, found blnk.StatusCounts, among []string, err error) {
	entries, lower, err := lc.snapshot(ctx, workspaceID)
	search := q.Search != "" || q.Scope != "" || q.NonCompliant || q.CreatedBy != 0
	if errors.Is(err, errTooBig) {
		if all, err = lc.db.CountKeys(ctx, workspaceID, blnk.ListQuery{Now: q.Now, Policy: q.Policy}); err != nil || !search {
			return all, all, nil, err
		}
		found, err = lc.db.CountKeys(ctx, workspaceID, q)
		return all, found, nil, err
	}
	if err != nil {
		return all, found, nil, err
	}
	var nAll, nFound [5]int
	var ncAll, ncFound int
	filtered := search || q.Status != blnk.AnyStatus
	lowerSearch := lc.db.Lower(q.Search)
	among = []string{}
	for i, e := range entries {
		b := e.Bucket(q.Now)
		nAll[b]++
		nc := q.Policy.EntryNonCompliant(e, roles[e.CreatedBy], q.Now)
		if nc {
			ncAll++
		}
		if search && (!e.Matches(q, lower[i], lowerSearch) || q.NonCompliant && !nc) {
			continue
		}
		nFound[b]++
		if nc {
			ncFound++
		}
		if filtered && len(among) <= maxAmong && db.InStatus(b, q.Status) {
			among = append(among, e.ID)
		}
	}
	if !filtered || len(among) > maxAmong {
		among = nil
	}
	all, found = db.CountsOf(nAll), db.CountsOf(nFound)
	all.NonCompliant, found.NonCompliant = ncAll, ncFound
	return all, found, among, nil
}

// snapshot returns the workspace's entries, and their names folded, at
// least as new as the key changes applied when it is called. The slices
// are never written once returned.
func (lc *listCounts) snapshot(ctx context.Context, workspaceID int64) ([]blnk.ListEntry, []string, error) {
	// Every key change appends to the change log: its last sequence number
	// (one index lookup) says whether the snapshot is still right.
	seq, err := lc.db.LastChange(ctx)
	if err != nil {
		return nil, nil, err
	}
	lc.mu.Lock()
	snap := lc.byWS[workspaceID]
	if snap == nil {
		if len(lc.byWS) >= maxSnapshots {
			for id := range lc.byWS { // any one: the map's order is random
				delete(lc.byWS, id)
				break
			}
		}
		snap = &listSnapshot{}
		lc.byWS[workspaceID] = snap
	}
	lc.mu.Unlock()

	snap.mu.Lock()
	defer snap.mu.Unlock()
	if snap.tooBig {
		return nil, nil, errTooBig
	}
	if snap.ready && snap.seq >= seq {
		return snap.entries, snap.lower, nil
	}
	// Read after seq was: the rows are at least that new (a change that
	// lands in between only makes the next view read them again).
	entries, err := lc.db.ListEntries(ctx, workspaceID)
	if err != nil {
		return nil, nil, err
	}
	if len(entries) > maxSnapshotKeys {
		snap.tooBig = true
		return nil, nil, errTooBig
	}
	lower := make([]string, len(entries))
	for i, e := range entries {
		lower[i] = lc.db.Lower(e.Name)
	}
	snap.entries, snap.lower, snap.seq, snap.ready = entries, lower, seq, true
	return entries, lower, nil
}
