package keyauth_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/blnk-cloud/apikeys/internal/apikey"
	"github.com/blnk-cloud/apikeys/internal/blnk"
	"github.com/blnk-cloud/apikeys/internal/keyauth"
)

func TestAllowlist(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t)
	_, listed := f.addKey(t, keySpec{name: "listed", scopes: []string{"mcp:read"}, allow: "203.0.113.0/24\n2001:db8::/32, 198.51.100.7"})
	_, open := f.addKey(t, keySpec{name: "open"})
	_, v6all := f.addKey(t, keySpec{name: "every IPv6", allow: "::/0"})
	_, v4all := f.addKey(t, keySpec{name: "every IPv4", allow: "0.0.0.0/0"})
	var fifty []string
	for i := range 49 {
		fifty = append(fifty, fmt.Sprintf("10.%d.0.0/16", i))
	}
	_, many := f.addKey(t, keySpec{name: "fifty", allow: strings.Join(append(fifty, "192.0.2.77/32"), ",")})
	a := newAuth(t, f.store, keyauth.Config{})

	tests := []struct {
		name, token, ip string
		scope           apikey.Scope
		want            error
	}{
		{"in an IPv4 network", listed, "203.0.113.9", "", nil},
		{"IPv4 network boundary low", listed, "203.0.113.0", "", nil},
		{"IPv4 network boundary high", listed, "203.0.113.255", "", nil},
		{"next IPv4 network", listed, "203.0.114.0", "", keyauth.ErrIPNotAllowed},
		{"single address", listed, "198.51.100.7", "", nil},
		{"next to the single address", listed, "198.51.100.8", "", keyauth.ErrIPNotAllowed},
		{"in the IPv6 network", listed, "2001:db8:1234::5", "", nil},
		{"outside the IPv6 network", listed, "2001:db9::1", "", keyauth.ErrIPNotAllowed},
		{"IPv4-mapped IPv6 of an allowed address", listed, "::ffff:203.0.113.9", "", nil},
		{"no address", listed, "", "", keyauth.ErrIPNotAllowed},
		{"not an address", listed, "example.com", "", keyauth.ErrIPNotAllowed},
		{"address with a zone", listed, "fe80::1%eth0", "", keyauth.ErrIPNotAllowed},
		{"address checked before scope", listed, "192.0.2.1", apikey.MCPWrite, keyauth.ErrIPNotAllowed},
		{"scope still checked", listed, "203.0.113.9", apikey.MCPWrite, keyauth.ErrInsufficientScope},
		{"allowed with the scope", listed, "203.0.113.9", apikey.MCPRead, nil},
		{"no allowlist, any address", open, "192.0.2.1", "", nil},
		{"no allowlist, no address", open, "", "", nil},
		{"::/0 lets IPv6 in", v6all, "2001:db8::1", "", nil},
		{"::/0 is not IPv4", v6all, "192.0.2.1", "", keyauth.ErrIPNotAllowed},
		{"0.0.0.0/0 lets IPv4 in", v4all, "192.0.2.1", "", nil},
		{"0.0.0.0/0 is not IPv6", v4all, "2001:db8::1", "", keyauth.ErrIPNotAllowed},
		{"50th network of 50", many, "192.0.2.77", "", nil},
		{"first network of 50", many, "10.0.3.4", "", nil},
		{"none of 50", many, "192.0.2.78", "", keyauth.ErrIPNotAllowed},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var err error
			var id keyauth.Identity
			if tt.scope == "" {
				id, err = a.Authenticate(ctx, tt.token, tt.ip)
			} else {
				id, err = a.Authorize(ctx, tt.token, tt.ip, tt.scope)
			}
			if err != tt.want {
				t.Fatalf("error = %v, want %v", err, tt.want)
			}
			if err == keyauth.ErrIPNotAllowed && id != (keyauth.Identity{}) {
				t.Errorf("refused by address, but identity %+v returned", id)
			}
		})
	}
}

// TestAllowlistFollowsEdits: a key whose allowlist changes in the
// database is checked against the new one once the change is read.
func TestAllowlistFollowsEdits(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t)
	k, token := f.addKey(t, keySpec{allow: "192.0.2.0/24"})
	a := newAuth(t, f.store, keyauth.Config{})
	if _, err := a.Authenticate(ctx, token, "198.51.100.1"); err != keyauth.ErrIPNotAllowed {
		t.Fatalf("before the edit: %v, want %v", err, keyauth.ErrIPNotAllowed)
	}
	list, _ := apikey.ParseAllowlist("198.51.100.0/24")
	k.Allowlist = list
	a.Put(blnk.Record{Hash: apikey.HashOf(token), Key: k, WorkspaceName: f.ws.Name})
	if _, err := a.Authenticate(ctx, token, "198.51.100.1"); err != nil {
		t.Errorf("after the edit, from the new network: %v", err)
	}
	if _, err := a.Authenticate(ctx, token, "192.0.2.1"); err != keyauth.ErrIPNotAllowed {
		t.Errorf("after the edit, from the old network: %v, want %v", err, keyauth.ErrIPNotAllowed)
	}
	k.Allowlist = nil
	a.Put(blnk.Record{Hash: apikey.HashOf(token), Key: k, WorkspaceName: f.ws.Name})
	if _, err := a.Authenticate(ctx, token, "203.0.113.1"); err != nil {
		t.Errorf("allowlist removed: %v", err)
	}
}

// TestUsageCounts: calls are counted per key and hour, accepted or refused
// by reason, in memory, and written by Flush with every address used.
func TestUsageCounts(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t)
	clk := newClock(start)
	k, token := f.addKey(t, keySpec{name: "counted", scopes: []string{"mcp:read"}, allow: "192.0.2.0/24"})
	rk, revokedToken := f.addKey(t, keySpec{name: "revoked"})
	ek, expiredToken := f.addKey(t, keySpec{name: "expired", expires: start.Add(-time.Hour)})
	f.revoke(t, f.store, rk.ID)
	a := newAuth(t, f.store, keyauth.Config{Now: clk.Now})

	const n = 9
	for i := range n {
		clk.Add(time.Second)
		if _, err := a.Authenticate(ctx, token, fmt.Sprintf("192.0.2.%d", i%3+1)); err != nil {
			t.Fatalf("call %d: %v", i, err)
		}
	}
	clk.Add(time.Second)
	for range 2 {
		if _, err := a.Authorize(ctx, token, "192.0.2.1", apikey.DataRead); err != keyauth.ErrInsufficientScope {
			t.Fatalf("scope: %v", err)
		}
	}
	clk.Add(time.Second)
	for range 3 {
		if _, err := a.Authenticate(ctx, token, "198.51.100.1"); err != keyauth.ErrIPNotAllowed {
			t.Fatalf("address: %v", err)
		}
	}
	for range 4 {
		if _, err := a.Authenticate(ctx, revokedToken, "192.0.2.9"); err != keyauth.ErrRevoked {
			t.Fatalf("revoked: %v", err)
		}
	}
	if _, err := a.Authenticate(ctx, expiredToken, "192.0.2.9"); err != keyauth.ErrExpired {
		t.Fatalf("expired: %v", err)
	}
	if _, err := a.Authenticate(ctx, unknownToken(t), "192.0.2.9"); err != keyauth.ErrInvalid {
		t.Fatalf("unknown: %v", err)
	}

	hour := start.Truncate(time.Hour)
	want := blnk.Counts{Accepted: n, Scope: 2, Address: 3}
	if h, c := a.Unflushed(k.ID); !h.Equal(hour) || c != want {
		t.Errorf("Unflushed = %v %+v, want %v %+v", h, c, hour, want)
	}
	if got := dbHours(t, f, k.ID); len(got) != 0 {
		t.Errorf("counts in the database before a flush: %+v (no write per call)", got)
	}
	if err := a.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	if h, c := a.Unflushed(k.ID); c != (blnk.Counts{}) {
		t.Errorf("Unflushed after the flush = %v %+v, want none", h, c)
	}
	checkHours(t, f, k.ID, map[time.Time]blnk.Counts{hour: want})
	checkHours(t, f, rk.ID, map[time.Time]blnk.Counts{hour: {Revoked: 4}})
	checkHours(t, f, ek.ID, map[time.Time]blnk.Counts{hour: {Expired: 1}})
	// The three addresses the accepted calls came from; the refused one
	// is the key's last refused call, not a use (TestLastRefused).
	checkAddresses(t, f, k.ID, "192.0.2.3", "192.0.2.2", "192.0.2.1")

	// The next hour is a row of its own; a flush adds to what is stored.
	clk.Set(hour.Add(time.Hour + time.Minute))
	for range 2 {
		if _, err := a.Authenticate(ctx, token, "192.0.2.1"); err != nil {
			t.Fatal(err)
		}
	}
	clk.Set(hour.Add(30 * time.Minute)) // a clock that steps back counts in the current hour
	if _, err := a.Authenticate(ctx, token, "192.0.2.1"); err != nil {
		t.Fatal(err)
	}
	if err := a.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	checkHours(t, f, k.ID, map[time.Time]blnk.Counts{hour: want, hour.Add(time.Hour): {Accepted: 3}})
}

// TestUsageHourRollover: calls on both sides of an hour, with no flush
// between them, land in their own hours.
func TestUsageHourRollover(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t)
	eleven := time.Date(2026, 3, 14, 11, 0, 0, 0, time.UTC)
	clk := newClock(eleven.Add(-time.Second))
	k, token := f.addKey(t, keySpec{})
	a := newAuth(t, f.store, keyauth.Config{Now: clk.Now})
	for range 3 {
		if _, err := a.Authenticate(ctx, token, "192.0.2.1"); err != nil {
			t.Fatal(err)
		}
	}
	clk.Set(eleven.Add(time.Second))
	for range 2 {
		if _, err := a.Authorize(ctx, token, "192.0.2.1", apikey.DataWrite); err != keyauth.ErrInsufficientScope {
			t.Fatal(err)
		}
	}
	clk.Set(eleven.Add(5 * time.Hour)) // hours with no calls have no row
	if _, err := a.Authenticate(ctx, token, "192.0.2.1"); err != nil {
		t.Fatal(err)
	}
	if err := a.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	checkHours(t, f, k.ID, map[time.Time]blnk.Counts{
		eleven.Add(-time.Hour):    {Accepted: 3},
		eleven:                    {Scope: 2},
		eleven.Add(5 * time.Hour): {Accepted: 1},
	})
}

// TestUsageAddsUpAcrossServers: two servers on one database count the
// same key in the same hour; the stored counts are the sum.
func TestUsageAddsUpAcrossServers(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t)
	clk := newClock(start)
	k, token := f.addKey(t, keySpec{})
	a := newAuth(t, f.store, keyauth.Config{Now: clk.Now})
	b := newAuth(t, openStore(t, f.dsn), keyauth.Config{Now: clk.Now})
	for i := range 10 {
		srv := a
		if i%2 == 1 {
			srv = b
		}
		if _, err := srv.Authenticate(ctx, token, fmt.Sprintf("192.0.2.%d", i)); err != nil {
			t.Fatal(err)
		}
		if i == 4 {
			if err := a.Flush(ctx); err != nil { // flushes interleave
				t.Fatal(err)
			}
		}
	}
	for _, srv := range []*keyauth.Authenticator{b, a} {
		if err := srv.Flush(ctx); err != nil {
			t.Fatal(err)
		}
	}
	checkHours(t, f, k.ID, map[time.Time]blnk.Counts{start.Truncate(time.Hour): {Accepted: 10}})
	addrs, err := f.store.KeyAddresses(ctx, k.ID, 100)
	if err != nil {
		t.Fatal(err)
	}
	if len(addrs) != 10 {
		t.Errorf("addresses = %v, want the 10 used", addrs)
	}
}

// failing is a store whose RecordUsage fails while down.
type failing struct {
	keyauth.Store
	down  atomic.Bool
	calls atomic.Int32
}

func (s *failing) RecordUsage(ctx context.Context, u blnk.Usage) error {
	s.calls.Add(1)
	if s.down.Load() {
		return errors.New("database unreachable (test)")
	}
	return s.Store.RecordUsage(ctx, u)
}

// TestUsageSurvivesFailedFlush: counts a flush could not write are
// written by the next one, once.
func TestUsageSurvivesFailedFlush(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t)
	clk := newClock(start)
	k, token := f.addKey(t, keySpec{})
	store := &failing{Store: f.store}
	a := newAuth(t, store, keyauth.Config{Now: clk.Now})
	call := func(ip string) {
		t.Helper()
		if _, err := a.Authenticate(ctx, token, ip); err != nil {
			t.Fatal(err)
		}
	}
	call("192.0.2.1")
	clk.Add(time.Second)
	call("192.0.2.2")
	store.down.Store(true)
	if err := a.Flush(ctx); err == nil {
		t.Fatal("Flush with the database down: no error")
	}
	clk.Add(time.Hour) // the failed counts belong to the first hour still
	call("192.0.2.3")
	store.down.Store(false)
	if err := a.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	if err := a.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	hour := start.Truncate(time.Hour)
	checkHours(t, f, k.ID, map[time.Time]blnk.Counts{hour: {Accepted: 2}, hour.Add(time.Hour): {Accepted: 1}})
	checkAddresses(t, f, k.ID, "192.0.2.3", "192.0.2.2", "192.0.2.1")
}

// TestUsageCountsOff: with DisableUsageCounts, last use is recorded and
// nothing is counted.
func TestUsageCountsOff(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t)
	k, token := f.addKey(t, keySpec{})
	a := newAuth(t, f.store, keyauth.Config{DisableUsageCounts: true})
	if _, err := a.Authenticate(ctx, token, "192.0.2.1"); err != nil {
		t.Fatal(err)
	}
	if err := a.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	checkHours(t, f, k.ID, map[time.Time]blnk.Counts{})
	if got := dbLastUsed(t, f, k.ID); got.ip != "192.0.2.1" {
		t.Errorf("last used = %v, want recorded", got)
	}
}

func dbHours(t *testing.T, f *fixture, id string) map[time.Time]blnk.Counts {
	t.Helper()
	rows, err := f.store.KeyUsage(context.Background(), id, time.Time{})
	if err != nil {
		t.Fatal(err)
	}
	out := map[time.Time]blnk.Counts{}
	for _, r := range rows {
		out[r.Hour] = r.Counts
	}
	return out
}

func checkHours(t *testing.T, f *fixture, id string, want map[time.Time]blnk.Counts) {
	t.Helper()
	got := dbHours(t, f, id)
	if len(got) != len(want) {
		t.Errorf("key %s: hours stored %v, want %v", id, got, want)
		return
	}
	for h, c := range want {
		if got[h] != c {
			t.Errorf("key %s, hour %v: %+v, want %+v", id, h, got[h], c)
		}
	}
}

func checkAddresses(t *testing.T, f *fixture, id string, want ...string) {
	t.Helper()
	got, err := f.store.KeyAddresses(context.Background(), id, 100)
	if err != nil {
		t.Fatal(err)
	}
	var ips []string
	for _, u := range got {
		ips = append(ips, u.IP)
	}
	if strings.Join(ips, " ") != strings.Join(want, " ") {
		t.Errorf("key %s: addresses, newest first = %v, want %v", id, ips, want)
	}
}

// failSecond is a store whose second RecordUsage fails, once.
type failSecond struct {
	keyauth.Store
	calls atomic.Int32
}

func (s *failSecond) RecordUsage(ctx context.Context, u blnk.Usage) error {
	if s.calls.Add(1) == 2 {
		return errors.New("database unreachable (test)")
	}
	return s.Store.RecordUsage(ctx, u)
}

// TestUsageFlushInParts: a flush of more keys than a part holds writes
// them in parts; when a part fails, its counts and the later ones are
// written by the next flush, and every count lands exactly once.
func TestUsageFlushInParts(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t)
	clk := newClock(start)
	const n = 2100 // three parts
	var ids []string
	var tokens []string
	for range n {
		k, token := f.addKey(t, keySpec{})
		ids, tokens = append(ids, k.ID), append(tokens, token)
	}
	store := &failSecond{Store: f.store}
	a := newAuth(t, store, keyauth.Config{Now: clk.Now})
	for _, token := range tokens {
		if _, err := a.Authenticate(ctx, token, "192.0.2.1"); err != nil {
			t.Fatal(err)
		}
	}
	if err := a.Flush(ctx); err == nil {
		t.Fatal("Flush with its second part failing: no error")
	}
	if err := a.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	if calls := store.calls.Load(); calls < 4 {
		t.Errorf("%d writes, want the 2,100 keys in parts (at least 2 then 2)", calls)
	}
	hour := start.Truncate(time.Hour)
	for _, i := range []int{0, 999, 1000, 1500, 1999, 2000, n - 1} {
		checkHours(t, f, ids[i], map[time.Time]blnk.Counts{hour: {Accepted: 1}})
		if got := dbLastUsed(t, f, ids[i]); got.ip != "192.0.2.1" {
			t.Errorf("key %d: last used %v", i, got)
		}
	}
}

// TestLastRefused: a refused call is never a use. A key whose every call
// its allowlist refuses stays "never used", and its last refused call
// (time, address, reason) is kept apart, in memory and then by Flush.
func TestLastRefused(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t)
	clk := newClock(start)
	k, token := f.addKey(t, keySpec{scopes: []string{"mcp:read"}, allow: "192.0.2.0/24"})
	rk, revokedToken := f.addKey(t, keySpec{name: "revoked"})
	f.revoke(t, f.store, rk.ID)
	a := newAuth(t, f.store, keyauth.Config{Now: clk.Now})
	ms := func(d time.Duration) time.Time { return start.Add(d).Truncate(time.Millisecond) }

	if _, ok := a.LastRefused(k.ID); ok {
		t.Errorf("LastRefused of a key never called: ok = true, want false")
	}
	for i := range 3 {
		clk.Set(start.Add(time.Duration(i) * time.Minute))
		if _, err := a.Authenticate(ctx, token, "198.51.100.7"); err != keyauth.ErrIPNotAllowed {
			t.Fatalf("call %d: %v, want %v", i, err, keyauth.ErrIPNotAllowed)
		}
	}
	if at, ip, ok := a.LastUsed(k.ID); ok {
		t.Errorf("LastUsed after refused calls only = %v from %q, want none", at, ip)
	}
	want := blnk.Refusal{KeyID: k.ID, At: ms(2 * time.Minute), IP: "198.51.100.7", Reason: blnk.RefusedAddress}
	if got, ok := a.LastRefused(k.ID); !ok || !sameRefusal(got, want) {
		t.Errorf("LastRefused = %+v, %v; want %+v", got, ok, want)
	}
	if err := a.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	if got := dbLastUsed(t, f, k.ID); !got.at.IsZero() {
		t.Errorf("database last used = %v, want none: every call was refused", got)
	}
	checkAddresses(t, f, k.ID)
	checkRefusal(t, f, want)

	// Within a second of the last one, another refusal changes nothing
	// (as touch, a key refused thousands of times a second writes its
	// time once a second); a second later it is recorded, with its reason.
	clk.Set(start.Add(2*time.Minute + 500*time.Millisecond))
	if _, err := a.Authorize(ctx, token, "192.0.2.1", apikey.DataRead); err != keyauth.ErrInsufficientScope {
		t.Fatalf("scope: %v", err)
	}
	if got, _ := a.LastRefused(k.ID); !sameRefusal(got, want) {
		t.Errorf("LastRefused within the second = %+v, want %+v", got, want)
	}
	clk.Set(start.Add(2*time.Minute + time.Second))
	if _, err := a.Authorize(ctx, token, "192.0.2.1", apikey.DataRead); err != keyauth.ErrInsufficientScope {
		t.Fatalf("scope: %v", err)
	}
	want = blnk.Refusal{KeyID: k.ID, At: ms(2*time.Minute + time.Second), IP: "192.0.2.1", Reason: blnk.RefusedScope}
	if got, _ := a.LastRefused(k.ID); !sameRefusal(got, want) {
		t.Errorf("LastRefused a second later = %+v, want %+v", got, want)
	}
	if at, _, ok := a.LastUsed(k.ID); ok {
		t.Errorf("LastUsed after a refused scope = %v, want none", at)
	}

	// An accepted call is the last use, and leaves the last refusal.
	clk.Set(start.Add(3 * time.Minute))
	if _, err := a.Authorize(ctx, token, "192.0.2.1", apikey.MCPRead); err != nil {
		t.Fatal(err)
	}
	if at, ip, ok := a.LastUsed(k.ID); !ok || !at.Equal(ms(3*time.Minute)) || ip != "192.0.2.1" {
		t.Errorf("LastUsed = %v, %q, %v; want %v from 192.0.2.1", at, ip, ok, ms(3*time.Minute))
	}
	if err := a.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	checkRefusal(t, f, want)

	// A flush with no new refusal does not write it again.
	if _, err := f.store.SQL().ExecContext(ctx, `UPDATE api_key_refusals SET at = 1000, ip = 'marker' WHERE key_id = $1`, k.ID); err != nil {
		t.Fatal(err)
	}
	clk.Add(time.Minute)
	if _, err := a.Authorize(ctx, token, "192.0.2.1", apikey.MCPRead); err != nil {
		t.Fatal(err)
	}
	if err := a.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	checkRefusal(t, f, blnk.Refusal{KeyID: k.ID, At: time.UnixMilli(1000).UTC(), IP: "marker", Reason: blnk.RefusedScope})

	// A revoked key's calls are refusals too.
	if _, err := a.Authenticate(ctx, revokedToken, "2001:db8::9"); err != keyauth.ErrRevoked {
		t.Fatalf("revoked: %v", err)
	}
	wantRevoked := blnk.Refusal{KeyID: rk.ID, At: clk.Now().Truncate(time.Millisecond), IP: "2001:db8::9", Reason: blnk.RefusedRevoked}
	if got, ok := a.LastRefused(rk.ID); !ok || !sameRefusal(got, wantRevoked) {
		t.Errorf("LastRefused of the revoked key = %+v, want %+v", got, wantRevoked)
	}
	if err := a.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	checkRefusal(t, f, wantRevoked)
}

// TestRefusedAllocatesNothing: recording a refused call stays off the
// heap, as the accepted path does.
func TestRefusedAllocatesNothing(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t)
	clk := newClock(start)
	_, token := f.addKey(t, keySpec{allow: "192.0.2.0/24"})
	a := newAuth(t, f.store, keyauth.Config{Now: clk.Now})
	allocs := testing.AllocsPerRun(200, func() {
		clk.Add(time.Second) // each call is recorded, not skipped by the throttle
		if _, err := a.Authenticate(ctx, token, "198.51.100.7"); err != keyauth.ErrIPNotAllowed {
			t.Fatal(err)
		}
	})
	if allocs != 0 {
		t.Errorf("a refused call allocates %v times, want 0", allocs)
	}
}

func sameRefusal(a, b blnk.Refusal) bool {
	return a.KeyID == b.KeyID && a.At.Equal(b.At) && a.IP == b.IP && a.Reason == b.Reason
}

func checkRefusal(t *testing.T, f *fixture, want blnk.Refusal) {
	t.Helper()
	got, ok, err := f.store.LastRefused(context.Background(), want.KeyID)
	if err != nil {
		t.Fatal(err)
	}
	if !ok || !sameRefusal(got, want) {
		t.Errorf("database last refused = %+v, %v; want %+v", got, ok, want)
	}
}

// TestBusyKeyWrittenEveryFewFlushes: a key called between every two
// periodic flushes has its last use and counts written by every
// HotFlushes-th flush, not by each; nothing is lost, this server's view
// (LastUsed, Unflushed) stays exact, a key called after a quiet spell, a
// new address and a refusal are written at the next flush, and Flush (at
// shutdown) writes everything.
func TestBusyKeyWrittenEveryFewFlushes(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t)
	clk := newClock(start)
	busy, busyToken := f.addKey(t, keySpec{name: "busy", scopes: []string{"mcp:read"}})
	quiet, quietToken := f.addKey(t, keySpec{name: "quiet"})
	a := newAuth(t, f.store, keyauth.Config{Now: clk.Now})
	hour := start.Truncate(time.Hour)

	call := func(token, ip string) {
		t.Helper()
		clk.Add(1100 * time.Millisecond) // past touch's one second
		if _, err := a.Authenticate(ctx, token, ip); err != nil {
			t.Fatal(err)
		}
	}
	flush := func() {
		t.Helper()
		if err := a.FlushDue(ctx); err != nil {
			t.Fatal(err)
		}
	}
	// Flush 1 writes the busy key's first call; flushes 2 to HotFlushes
	// leave its calls in memory; flush HotFlushes+1 writes them.
	call(busyToken, "192.0.2.1")
	flush()
	firstAt := clk.Now()
	if got := dbLastUsed(t, f, busy.ID); !got.at.Equal(firstAt.Truncate(time.Millisecond)) {
		t.Fatalf("after the first flush, stored last use %v, want %v", got, firstAt)
	}
	var calls int64 = 1
	for i := 2; i <= keyauth.HotFlushes; i++ {
		call(busyToken, "192.0.2.1")
		calls++
		flush()
		if got := dbLastUsed(t, f, busy.ID); !got.at.Equal(firstAt.Truncate(time.Millisecond)) {
			t.Errorf("flush %d: stored last use %v, want the first call's %v still", i, got.at, firstAt)
		}
		checkHours(t, f, busy.ID, map[time.Time]blnk.Counts{hour: {Accepted: 1}})
		// This server's pages stay exact meanwhile.
		if at, _, _ := a.LastUsed(busy.ID); !at.Equal(clk.Now().Truncate(time.Millisecond)) {
			t.Errorf("flush %d: LastUsed %v, want %v", i, at, clk.Now())
		}
		if _, c := a.Unflushed(busy.ID); c.Accepted != calls-1 {
			t.Errorf("flush %d: Unflushed %d accepted, want %d", i, c.Accepted, calls-1)
		}
	}
	// A key called for the first time is written at the next flush, even
	// while the busy one waits.
	call(quietToken, "198.51.100.1")
	call(busyToken, "192.0.2.1")
	calls++
	flush()
	lastAt := clk.Now()
	checkHours(t, f, quiet.ID, map[time.Time]blnk.Counts{hour: {Accepted: 1}})
	if got := dbLastUsed(t, f, busy.ID); !got.at.Equal(lastAt.Truncate(time.Millisecond)) {
		t.Errorf("flush %d: stored last use %v, want %v", keyauth.HotFlushes+1, got.at, lastAt)
	}
	checkHours(t, f, busy.ID, map[time.Time]blnk.Counts{hour: {Accepted: calls}})

	// A new address is written at the next flush, with the call's counts.
	call(busyToken, "192.0.2.7")
	calls++
	flush()
	checkAddresses(t, f, busy.ID, "192.0.2.7", "192.0.2.1")
	checkHours(t, f, busy.ID, map[time.Time]blnk.Counts{hour: {Accepted: calls}})

	// So is a refusal.
	clk.Add(1100 * time.Millisecond)
	if _, err := a.Authorize(ctx, busyToken, "192.0.2.7", apikey.DataRead); err != keyauth.ErrInsufficientScope {
		t.Fatalf("scope: %v", err)
	}
	flush()
	checkHours(t, f, busy.ID, map[time.Time]blnk.Counts{hour: {Accepted: calls, Scope: 1}})

	// Flush writes everything, however recent the last write.
	call(busyToken, "192.0.2.7")
	calls++
	flush()
	checkHours(t, f, busy.ID, map[time.Time]blnk.Counts{hour: {Accepted: calls - 1, Scope: 1}})
	if err := a.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	checkHours(t, f, busy.ID, map[time.Time]blnk.Counts{hour: {Accepted: calls, Scope: 1}})
	if got := dbLastUsed(t, f, busy.ID); !got.at.Equal(clk.Now().Truncate(time.Millisecond)) {
		t.Errorf("after Flush: stored last use %v, want %v", got.at, clk.Now())
	}
}

// TestFailedFlushLeavesKeysDue: a periodic flush that fails leaves every
// key it held due at the next one: a key's last use is not held back as
// if it had been written.
func TestFailedFlushLeavesKeysDue(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t)
	clk := newClock(start)
	k, token := f.addKey(t, keySpec{})
	store := &failing{Store: f.store}
	a := newAuth(t, store, keyauth.Config{Now: clk.Now})
	call := func() {
		t.Helper()
		clk.Add(1100 * time.Millisecond)
		if _, err := a.Authenticate(ctx, token, "192.0.2.1"); err != nil {
			t.Fatal(err)
		}
	}
	call()
	store.down.Store(true)
	if err := a.FlushDue(ctx); err == nil {
		t.Fatal("flush with the database down: no error")
	}
	store.down.Store(false)
	call()
	if err := a.FlushDue(ctx); err != nil {
		t.Fatal(err)
	}
	if got, want := dbLastUsed(t, f, k.ID).at, clk.Now().Truncate(time.Millisecond); !got.Equal(want) {
		t.Errorf("stored last use after the next flush = %v, want %v", got, want)
	}
	checkHours(t, f, k.ID, map[time.Time]blnk.Counts{start.Truncate(time.Hour): {Accepted: 2}})
}
