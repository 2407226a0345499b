package db

import (
	"context"
	"fmt"
	"net/netip"
	"slices"
	"testing"
	"time"

	"github.com/blnk-cloud/apikeys/internal/apikey"
	"github.com/blnk-cloud/apikeys/internal/audit"
	"github.com/blnk-cloud/apikeys/internal/blnk"
)

// TestNonCompliantAgrees holds the one rule of the key policies in Go
// (blnk.Policy.NonCompliant, the badges and the counts of the list's
// snapshot) and its copy in SQL (nonCompliant, the list's filter and
// CountKeys) together: for keys of every kind, made by each role and by
// the command line, and several policies, the SQL finds exactly the keys
// Go marks, on the database the test runs on (BLNK_TEST_DB).
func TestNonCompliantAgrees(t *testing.T) {
	ctx := context.Background()
	tm := newTeam(t)
	d := tm.d
	admin, _, err := d.AddMember(ctx, tm.ws.ID, "admin@example.com", "hash", blnk.RoleAdmin, audit.Actor{Kind: audit.CommandLine}, tm.now)
	if err != nil {
		t.Fatal(err)
	}
	viewer, _, err := d.AddMember(ctx, tm.ws.ID, "viewer@example.com", "hash", blnk.RoleViewer, audit.Actor{Kind: audit.CommandLine}, tm.now)
	if err != nil {
		t.Fatal(err)
	}
	creators := []int64{0, tm.owner.ID, admin.ID, tm.member.ID, viewer.ID}
	roles := map[int64]blnk.Role{tm.owner.ID: blnk.RoleOwner, admin.ID: blnk.RoleAdmin, tm.member.ID: blnk.RoleMember, viewer.ID: blnk.RoleViewer}
	scopeSets := [][]string{{"*"}, {"mcp:read"}, {"mcp:write"}, {"data:read", "proxy:read"}, {"data:write"}, {"proxy:write", "mcp:read"}}
	now := tm.now
	expiries := []time.Time{{}, now.Add(-time.Hour), now.Add(20 * 24 * time.Hour), apikey.ExpiryAfterDays(30, now),
		apikey.ExpiryAfterDays(30, now).Add(time.Millisecond), now.Add(400 * 24 * time.Hour)}
	var keys []apikey.Key
	for i := range 180 {
		nk, _ := newKey(t, tm.ws.ID, creators[i%len(creators)], fmt.Sprintf("key %03d", i), now.Add(-time.Duration(i)*time.Minute))
		nk.Key.Scopes = mustScopes(t, scopeSets[i%len(scopeSets)]...)
		nk.Key.ExpiresAt = expiries[(i/2)%len(expiries)]
		if i%4 == 1 {
			nk.Key.Allowlist = []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")}
		}
		k := createKey(t, d, nk)
		if i%11 == 3 {
			if _, err := d.RevokeKey(ctx, tm.ws.ID, k.ID, audit.Actor{}, now); err != nil {
				t.Fatal(err)
			}
		}
		keys = append(keys, mustKey(t, d, tm.ws.ID, k.ID))
	}
	read := mustScopes(t, "mcp:read")
	write, err := blnk.ParseMemberScopes([]string{"mcp:write", "data:read"})
	if err != nil {
		t.Fatal(err)
	}
	entries, err := d.ListEntries(ctx, tm.ws.ID)
	if err != nil {
		t.Fatal(err)
	}
	byID := map[string]blnk.ListEntry{}
	for _, e := range entries {
		byID[e.ID] = e
	}
	for _, p := range []blnk.Policy{
		{},
		{RequireExpiry: true},
		{MaxLifetimeDays: 30},
		{MaxLifetimeDays: 365, RequireExpiry: true},
		{RequireAllowlist: true},
		{MemberScopes: read},
		{MemberScopes: write},
		{MaxLifetimeDays: 30, MemberScopes: write, RequireAllowlist: true},
	} {
		t.Run(fmt.Sprintf("%+v", p), func(t *testing.T) {
			var want []string
			for _, k := range keys {
				goKey := len(p.NonCompliant(k, roles[k.CreatedByID], now)) > 0
				goEntry := p.EntryNonCompliant(byID[k.ID], roles[k.CreatedByID], now)
				if goKey != goEntry {
					t.Errorf("%s: NonCompliant says %v, EntryNonCompliant %v", k.Name, goKey, goEntry)
				}
				if goKey {
					want = append(want, k.ID)
				}
			}
			page, err := d.ListKeys(ctx, tm.ws.ID, blnk.ListQuery{Sort: blnk.SortCreated, Limit: 200, Now: now, Policy: p, NonCompliant: true})
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, k := range page.Keys {
				got = append(got, k.ID)
			}
			slices.Sort(got)
			slices.Sort(want)
			if !slices.Equal(got, want) {
				t.Errorf("SQL finds %d keys, Go marks %d:\nSQL only: %v\nGo only: %v", len(got), len(want), minus(got, want), minus(want, got))
			}
			c, err := d.CountKeys(ctx, tm.ws.ID, blnk.ListQuery{Now: now, Policy: p})
			if err != nil {
				t.Fatal(err)
			}
			if c.NonCompliant != len(want) {
				t.Errorf("CountKeys: %d non-compliant, want %d", c.NonCompliant, len(want))
			}
			if !p.IsZero() && len(want) == 0 {
				t.Errorf("no key breaks %+v: the fixture tests nothing", p)
			}
		})
	}
}

func minus(a, b []string) []string {
	var out []string
	for _, x := range a {
		if !slices.Contains(b, x) {
			out = append(out, x)
		}
	}
	return out
}

// TestSetKeyPolicy: the policies are stored and read back, policy.changed
// holds what changed before and after, and a save that changes nothing
// writes nothing.
func TestSetKeyPolicy(t *testing.T) {
	ctx := context.Background()
	tm := newTeam(t)
	d := tm.d
	p, err := d.KeyPolicy(ctx, tm.ws.ID)
	if err != nil || !p.IsZero() {
		t.Fatalf("KeyPolicy of a new workspace: %+v, %v", p, err)
	}
	scopes, _ := blnk.ParseMemberScopes([]string{"mcp:read", "data:write"})
	want := blnk.Policy{MaxLifetimeDays: 90, RequireExpiry: true, MemberScopes: scopes, RequireAllowlist: true}
	by := audit.Actor{UserID: tm.owner.ID, Email: "owner@example.com", Kind: audit.User}
	before, changed, err := d.SetKeyPolicy(ctx, tm.ws.ID, want, by, tm.now)
	if err != nil || !changed || !before.IsZero() {
		t.Fatalf("SetKeyPolicy: before %+v, changed %v, %v", before, changed, err)
	}
	got, err := d.KeyPolicy(ctx, tm.ws.ID)
	if err != nil {
		t.Fatal(err)
	}
	if got.Rules() != want || got.UpdatedBy != "owner@example.com" || !got.UpdatedAt.Equal(tm.now) {
		t.Fatalf("KeyPolicy: got %+v, want %+v by owner@example.com", got, want)
	}
	if _, changed, err := d.SetKeyPolicy(ctx, tm.ws.ID, want, by, tm.now); err != nil || changed {
		t.Fatalf("the same policies again: changed %v, %v", changed, err)
	}
	want.MaxLifetimeDays, want.MemberScopes = 0, 0
	if _, changed, err := d.SetKeyPolicy(ctx, tm.ws.ID, want, by, tm.now); err != nil || !changed {
		t.Fatalf("SetKeyPolicy: changed %v, %v", changed, err)
	}
	page, err := d.AuditEvents(ctx, blnk.AuditFilter{WorkspaceID: tm.ws.ID, Action: audit.PolicyChanged}, 0, 0, 10)
	if err != nil {
		t.Fatal(err)
	}
	if len(page.Events) != 2 {
		t.Fatalf("%d policy.changed events, want 2", len(page.Events))
	}
	if got, want := page.Events[0].DetailsJSON(), `{"after":{"max_lifetime_days":null,"member_scopes":"*"},"before":{"max_lifetime_days":90,"member_scopes":"mcp:read data:write"}}`; got != want {
		t.Errorf("policy.changed details:\n got %s\nwant %s", got, want)
	}
}
