package db

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/blnk-cloud/apikeys/internal/apikey"
	"github.com/blnk-cloud/apikeys/internal/audit"
	"github.com/blnk-cloud/apikeys/internal/blnk"
)

// listFixture stores 130 keys of every status in one workspace (and a few
// in another) and returns them as stored, with the workspace.
func listFixture(t *testing.T, d *DB) (int64, []apikey.Key) {
	t.Helper()
	ctx := context.Background()
	w, u := newWorkspace(t, d, "Acme", "admin@acme.io")
	other, ou := newWorkspace(t, d, "Other", "admin@other.io")
	words := []string{"alpha", "Bravo", "charlie", "Delta", "echo", "Foxtrot"}
	scopeSets := [][]string{{"*"}, {"mcp:read"}, {"mcp:write"}, {"data:read", "proxy:read"}, {"data:write"}}
	var uses []blnk.Use
	var ids []string
	for i := range 130 {
		nk, _ := newKey(t, w.ID, u.ID, fmt.Sprintf("%s%03d", words[i%len(words)], (i*37)%130), testNow.Add(-time.Duration(i%40)*time.Hour))
		nk.Key.Scopes = mustScopes(t, scopeSets[i%len(scopeSets)]...)
		switch i % 7 {
		case 1: // expiring within 7 days
			nk.Key.ExpiresAt = testNow.Add(time.Duration(1+i%6) * 24 * time.Hour)
		case 2: // later
			nk.Key.ExpiresAt = testNow.Add(time.Duration(10+i) * 24 * time.Hour)
		case 3: // expired
			nk.Key.ExpiresAt = testNow.Add(-time.Duration(1+i) * time.Hour)
		}
		k := createKey(t, d, nk)
		ids = append(ids, k.ID)
		if i%7 == 4 {
			if _, err := d.RevokeKey(ctx, w.ID, k.ID, audit.Actor{}, testNow); err != nil {
				t.Fatal(err)
			}
		}
		if i%3 == 0 {
			uses = append(uses, blnk.Use{KeyID: k.ID, At: testNow.Add(-time.Duration(i) * time.Minute), IP: "192.0.2.1"})
		}
	}
	if err := d.RecordUsage(ctx, blnk.Usage{Uses: uses}); err != nil {
		t.Fatal(err)
	}
	for i := range 3 {
		nk, _ := newKey(t, other.ID, ou.ID, fmt.Sprintf("alpha%03d", i), testNow)
		createKey(t, d, nk)
	}
	keys := make([]apikey.Key, len(ids))
	for i, id := range ids {
		keys[i] = mustKey(t, d, w.ID, id)
	}
	return w.ID, keys
}

// wantStatus is the model of the status filters.
func wantStatus(k apikey.Key, s blnk.ListStatus) bool {
	st := k.Status(testNow)
	switch s {
	case blnk.ListActive:
		return st == apikey.Active
	case blnk.ListExpiring:
		return st == apikey.Active && !k.ExpiresAt.IsZero() && k.ExpiresAt.Sub(testNow) <= blnk.ExpiringWithin
	case blnk.ListRolled:
		return st == apikey.Rolled
	case blnk.ListExpired:
		return st == apikey.Expired
	case blnk.ListRevoked:
		return st == apikey.Revoked
	}
	return true
}

// sortValue is the model of the sort columns.
func sortValue(k apikey.Key, s blnk.ListSort) int64 {
	switch s {
	case blnk.SortCreated:
		return k.CreatedAt.UnixMilli()
	case blnk.SortExpires:
		if k.ExpiresAt.IsZero() {
			return 1<<63 - 1
		}
		return k.ExpiresAt.UnixMilli()
	case blnk.SortLastUsed:
		if k.LastUsedAt.IsZero() {
			return 0
		}
		return k.LastUsedAt.UnixMilli()
	}
	panic(s)
}

// pageThrough reads every page of q forward, then back from the last page
// to the first, and checks both give the same keys.
func pageThrough(t *testing.T, d *DB, workspaceID int64, q blnk.ListQuery) []string {
	t.Helper()
	ctx := context.Background()
	var pages [][]string
	q.After = blnk.Cursor{}
	for {
		p, err := d.ListKeys(ctx, workspaceID, q)
		if err != nil {
			t.Fatalf("ListKeys(%+v): %v", q, err)
		}
		if len(p.Keys) > q.Limit {
			t.Fatalf("page of %d keys, limit %d", len(p.Keys), q.Limit)
		}
		var ids []string
		for _, k := range p.Keys {
			ids = append(ids, k.ID)
		}
		pages = append(pages, ids)
		if (len(pages) == 1) != p.Prev.IsZero() {
			t.Fatalf("page %d: Prev = %+v", len(pages), p.Prev)
		}
		if p.Next.IsZero() {
			break
		}
		// The cursor goes through its text form, as in a URL.
		next, err := blnk.ParseCursor(p.Next.String())
		if err != nil || next != p.Next {
			t.Fatalf("blnk.ParseCursor(%q) = %+v, %v; want %+v", p.Next.String(), next, err, p.Next)
		}
		q.After = next
		if len(pages) > 200 {
			t.Fatal("no end of pages")
		}
	}
	// Back from the last page.
	p, err := d.ListKeys(ctx, workspaceID, q)
	if err != nil {
		t.Fatal(err)
	}
	for i := len(pages) - 2; i >= 0; i-- {
		if p.Prev.IsZero() {
			t.Fatalf("page %d has no Prev", i+2)
		}
		q.After = p.Prev
		if p, err = d.ListKeys(ctx, workspaceID, q); err != nil {
			t.Fatal(err)
		}
		var ids []string
		for _, k := range p.Keys {
			ids = append(ids, k.ID)
		}
		if !slices.Equal(ids, pages[i]) {
			t.Fatalf("page %d backward = %v, forward %v", i+1, ids, pages[i])
		}
		if p.Next.IsZero() {
			t.Fatalf("page %d read backward has no Next", i+1)
		}
	}
	var all []string
	for _, ids := range pages {
		all = append(all, ids...)
	}
	return all
}

func TestListKeysMatchesTheModel(t *testing.T) {
	d, _ := openTestDB(t)
	ws, keys := listFixture(t, d)
	ctx := context.Background()
	statuses := []blnk.ListStatus{blnk.AnyStatus, blnk.ListActive, blnk.ListExpiring, blnk.ListExpired, blnk.ListRevoked, blnk.ListRolled}
	for _, status := range statuses {
		for _, sort := range []blnk.ListSort{blnk.SortCreated, blnk.SortExpires, blnk.SortLastUsed} {
			for _, desc := range []bool{false, true} {
				name := fmt.Sprintf("%s/%s/desc=%v", status, sort, desc)
				t.Run(name, func(t *testing.T) {
					var want []apikey.Key
					for _, k := range keys {
						if wantStatus(k, status) {
							want = append(want, k)
						}
					}
					slices.SortFunc(want, func(a, b apikey.Key) int {
						c := cmpInt(sortValue(a, sort), sortValue(b, sort))
						if c == 0 {
							c = strings.Compare(a.ID, b.ID)
						}
						if desc {
							c = -c
						}
						return c
					})
					var wantIDs []string
					for _, k := range want {
						wantIDs = append(wantIDs, k.ID)
					}
					got := pageThrough(t, d, ws, blnk.ListQuery{Status: status, Sort: sort, Desc: desc, Limit: 17, Now: testNow})
					if !slices.Equal(got, wantIDs) {
						t.Fatalf("got %d keys %v\nwant %d %v", len(got), got, len(wantIDs), wantIDs)
					}
				})
			}
		}
	}

	counts, err := d.CountKeys(ctx, ws, blnk.ListQuery{Now: testNow})
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range statuses {
		n := 0
		for _, k := range keys {
			if wantStatus(k, s) {
				n++
			}
		}
		if counts.Of(s) != n {
			t.Errorf("count of %q = %d, want %d", s, counts.Of(s), n)
		}
	}
	if counts.All != 130 || counts.Expiring == 0 || counts.Expired == 0 || counts.Revoked == 0 {
		t.Errorf("counts = %+v", counts)
	}
}

func cmpInt(a, b int64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

func TestListKeysByName(t *testing.T) {
	d, _ := openTestDB(t)
	ws, keys := listFixture(t, d)
	for _, desc := range []bool{false, true} {
		got := pageThrough(t, d, ws, blnk.ListQuery{Sort: blnk.SortName, Desc: desc, Limit: 50, Now: testNow})
		if len(got) != len(keys) {
			t.Fatalf("%d keys, want %d", len(got), len(keys))
		}
		byID := map[string]apikey.Key{}
		for _, k := range keys {
			byID[k.ID] = k
		}
		for i := 1; i < len(got); i++ {
			a, b := strings.ToLower(byID[got[i-1]].Name), strings.ToLower(byID[got[i]].Name)
			if (a > b && !desc) || (a < b && desc) {
				t.Fatalf("desc=%v: %q before %q", desc, a, b)
			}
		}
	}
}

func TestListKeysSearchAndScope(t *testing.T) {
	d, _ := openTestDB(t)
	ws, keys := listFixture(t, d)
	ctx := context.Background()
	// Names with LIKE's wildcards and other scripts.
	w := keys[0].WorkspaceID
	for _, name := range []string{"100% coverage_bot", "Zahlungsdienst Größe 🚀", `back\slash`} {
		nk, _ := newKey(t, w, 0, name, testNow)
		keys = append(keys, createKey(t, d, nk))
	}
	find := func(q blnk.ListQuery) []string {
		t.Helper()
		q.Sort, q.Limit, q.Now = blnk.SortCreated, 200, testNow
		p, err := d.ListKeys(ctx, ws, q)
		if err != nil {
			t.Fatalf("ListKeys(%+v): %v", q, err)
		}
		var names []string
		for _, k := range p.Keys {
			names = append(names, k.Name)
		}
		slices.Sort(names)
		return names
	}
	check := func(q blnk.ListQuery, want func(apikey.Key) bool) {
		t.Helper()
		var names []string
		for _, k := range keys {
			if want(k) {
				names = append(names, k.Name)
			}
		}
		slices.Sort(names)
		if got := find(q); !slices.Equal(got, names) {
			t.Errorf("%+v: got %d %q, want %d %q", q, len(got), got, len(names), names)
		}
	}
	check(blnk.ListQuery{Search: "BRAVO0"}, func(k apikey.Key) bool { return strings.HasPrefix(strings.ToLower(k.Name), "bravo0") })
	check(blnk.ListQuery{Search: "%"}, func(k apikey.Key) bool { return strings.Contains(k.Name, "%") })
	check(blnk.ListQuery{Search: "_"}, func(k apikey.Key) bool { return strings.Contains(k.Name, "_") })
	check(blnk.ListQuery{Search: "blnk_"}, func(apikey.Key) bool { return true })
	check(blnk.ListQuery{Search: keys[9].Prefix}, func(k apikey.Key) bool { return k.ID == keys[9].ID })
	check(blnk.ListQuery{Search: `\`}, func(k apikey.Key) bool { return strings.Contains(k.Name, `\`) })
	check(blnk.ListQuery{Search: "🚀"}, func(k apikey.Key) bool { return strings.Contains(k.Name, "🚀") })
	check(blnk.ListQuery{Search: "' OR 1=1 --"}, func(apikey.Key) bool { return false })
	check(blnk.ListQuery{Search: keys[5].Prefix[3:]}, func(k apikey.Key) bool { return strings.Contains(k.Prefix, keys[5].Prefix[3:]) })
	check(blnk.ListQuery{Search: keys[7].ID}, func(k apikey.Key) bool { return k.ID == keys[7].ID })
	for _, sc := range apikey.Scopes() {
		check(blnk.ListQuery{Scope: sc.Scope}, func(k apikey.Key) bool { return k.Scopes.Allows(sc.Scope) })
	}
	check(blnk.ListQuery{Scope: apikey.DataRead, Status: blnk.ListRevoked, Search: "a"}, func(k apikey.Key) bool {
		return k.Scopes.Allows(apikey.DataRead) && wantStatus(k, blnk.ListRevoked) && strings.Contains(strings.ToLower(k.Name), "a")
	})
	// Counts follow the search.
	c, err := d.CountKeys(ctx, ws, blnk.ListQuery{Search: "alpha", Now: testNow})
	if err != nil {
		t.Fatal(err)
	}
	if n := len(find(blnk.ListQuery{Search: "alpha"})); c.All != n || n == 0 {
		t.Errorf("count of alpha = %d, want %d", c.All, n)
	}
}

func TestListKeysCursors(t *testing.T) {
	d, _ := openTestDB(t)
	ws, _ := listFixture(t, d)
	ctx := context.Background()
	p, err := d.ListKeys(ctx, ws, blnk.ListQuery{Sort: blnk.SortName, Limit: 10, Now: testNow})
	if err != nil || p.Next.IsZero() {
		t.Fatalf("first page: %v, next %+v", err, p.Next)
	}
	// A cursor of another sort or direction is refused.
	for _, q := range []blnk.ListQuery{{Sort: blnk.SortCreated}, {Sort: blnk.SortName, Desc: true}} {
		q.Limit, q.Now, q.After = 10, testNow, p.Next
		if _, err := d.ListKeys(ctx, ws, q); !errors.Is(err, blnk.ErrBadCursor) {
			t.Errorf("%+v: err = %v, want blnk.ErrBadCursor", q, err)
		}
	}
	// Garbage never parses.
	for _, s := range []string{"", "x", "!!!!", p.Next.String() + "x", strings.Repeat("A", 5000),
		(blnk.Cursor{Sort: "created", ID: "key_x", Value: "1e9"}).String(),
		(blnk.Cursor{Sort: "bogus", ID: "key_x", Value: "1"}).String(),
		(blnk.Cursor{Sort: "created", ID: "../etc", Value: "1"}).String()} {
		if c, err := blnk.ParseCursor(s); err == nil {
			t.Errorf("blnk.ParseCursor(%q) = %+v, want an error", s, c)
		}
	}
	// A cursor from another workspace's key only positions: it never
	// shows that workspace's keys.
	other, err := d.ListKeys(ctx, ws+1, blnk.ListQuery{Sort: blnk.SortName, Limit: 10, Now: testNow})
	if err != nil {
		t.Fatal(err)
	}
	if len(other.Keys) != 3 {
		t.Fatalf("other workspace has %d keys", len(other.Keys))
	}
	q := blnk.ListQuery{Sort: blnk.SortName, Limit: 200, Now: testNow, After: blnk.Cursor{Sort: blnk.SortName, ID: other.Keys[0].ID, Value: other.Keys[0].Name}}
	got, err := d.ListKeys(ctx, ws, q)
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range got.Keys {
		if k.WorkspaceID != ws {
			t.Fatalf("key of workspace %d listed", k.WorkspaceID)
		}
	}
}

func TestListKeysAmong(t *testing.T) {
	d, _ := openTestDB(t)
	ws, keys := listFixture(t, d)
	ctx := context.Background()
	among := []string{keys[3].ID, keys[40].ID, keys[77].ID, "key_notthere"}
	p, err := d.ListKeys(ctx, ws, blnk.ListQuery{Sort: blnk.SortCreated, Limit: 2, Now: testNow, Among: among})
	if err != nil {
		t.Fatal(err)
	}
	got := []string{p.Keys[0].ID, p.Keys[1].ID}
	if len(p.Keys) != 2 || p.Next.IsZero() {
		t.Fatalf("page of %d, next %v", len(p.Keys), p.Next)
	}
	p2, err := d.ListKeys(ctx, ws, blnk.ListQuery{Sort: blnk.SortCreated, Limit: 2, Now: testNow, Among: among, After: p.Next})
	if err != nil {
		t.Fatal(err)
	}
	got = append(got, p2.Keys[0].ID)
	if len(p2.Keys) != 1 || !p2.Next.IsZero() {
		t.Fatalf("second page of %d", len(p2.Keys))
	}
	slices.Sort(got)
	want := among[:3]
	slices.Sort(want)
	if !slices.Equal(got, want) {
		t.Errorf("got %v, want %v", got, want)
	}
	if p, err := d.ListKeys(ctx, ws, blnk.ListQuery{Sort: blnk.SortCreated, Limit: 2, Now: testNow, Among: []string{}}); err != nil || len(p.Keys) != 0 {
		t.Errorf("empty Among: %d keys, %v", len(p.Keys), err)
	}
}
