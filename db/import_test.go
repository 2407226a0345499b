package db

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"testing"
	"time"

	"github.com/blnk-cloud/apikeys/internal/apikey"
	"github.com/blnk-cloud/apikeys/internal/blnk"
	"github.com/blnk-cloud/apikeys/internal/webhook"
)

// importKeys returns n keys of the workspace to import, as next would
// return them, and their tokens by id. Every third expires, the fifth is
// revoked, the seventh has an allowlist, every fourth a last use.
func importKeys(t *testing.T, workspaceID, userID int64, n int) ([]KeyImport, map[string]string) {
	t.Helper()
	keys := make([]KeyImport, n)
	tokens := make(map[string]string, n)
	for i := range keys {
		nk, token := newKey(t, workspaceID, userID, fmt.Sprintf("imported %03d", i), testNow.Add(time.Duration(i)*time.Second))
		k := KeyImport{Key: nk.Key, Hash: nk.Hash, CreatedBy: nk.CreatedBy, CreateToken: nk.CreateToken}
		if i%3 == 0 {
			k.Key.ExpiresAt = testNow.AddDate(1, 0, 0)
		}
		if i == 5 {
			k.Key.RevokedAt = testNow.Add(time.Hour)
		}
		if i%4 == 0 {
			k.Key.LastUsedAt, k.Key.LastUsedIP = testNow.Add(2*time.Hour), fmt.Sprintf("192.0.2.%d", i)
		}
		if i == 7 {
			k.Key.Allowlist = []netip.Prefix{netip.MustParsePrefix("192.0.2.0/24")}
		}
		keys[i] = k
		tokens[k.Key.ID] = token
	}
	return keys, tokens
}

// feed returns a next function for ImportKeys that returns keys, then
// fails with err after the last if err is not nil.
func feed(keys []KeyImport, err error) func() (KeyImport, bool, error) {
	i := 0
	return func() (KeyImport, bool, error) {
		if i == len(keys) {
			if err != nil {
				return KeyImport{}, false, err
			}
			return KeyImport{}, false, nil
		}
		i++
		return keys[i-1], true, nil
	}
}

func TestImportKeys(t *testing.T) {
	ctx := context.Background()
	d, _ := openTestDB(t)
	w, u := newWorkspace(t, d, "Acme", "admin@acme.io")
	nk, _ := newKey(t, w.ID, u.ID, "created", testNow)
	created := createKey(t, d, nk)
	_, seq := authKeys(t, d) // where a running server stands

	const n = 40
	keys, tokens := importKeys(t, w.ID, u.ID, n)
	got, err := d.ImportKeys(ctx, feed(keys, nil))
	if err != nil {
		t.Fatalf("ImportKeys: %v", err)
	}
	if got != n {
		t.Errorf("ImportKeys = %d, want %d", got, n)
	}

	// What a starting server loads: the created key and exactly the
	// imported ones, each as imported.
	all, _ := authKeys(t, d)
	if len(all) != n+1 {
		t.Errorf("AuthKeys reports %d keys, want %d", len(all), n+1)
	}
	if _, ok := all[created.ID]; !ok {
		t.Errorf("AuthKeys lost the created key %s", created.ID)
	}
	for _, k := range keys {
		a, ok := all[k.Key.ID]
		if !ok {
			t.Errorf("AuthKeys misses imported key %s", k.Key.ID)
			continue
		}
		if a.Hash != apikey.HashOf(tokens[k.Key.ID]) || a.Key.Prefix != k.Key.Prefix || a.Key.Name != k.Key.Name {
			t.Errorf("key %s loaded as hash %x prefix %q name %q; want the token's hash, %q, %q",
				k.Key.ID, a.Hash, a.Key.Prefix, a.Key.Name, k.Key.Prefix, k.Key.Name)
		}
		if a.WorkspaceName != "Acme" || a.Key.Scopes != k.Key.Scopes {
			t.Errorf("key %s loaded in workspace %q with scopes %v; want Acme, %v", k.Key.ID, a.WorkspaceName, a.Key.Scopes, k.Key.Scopes)
		}
		if !a.Key.ExpiresAt.Equal(k.Key.ExpiresAt) || !a.Key.RevokedAt.Equal(k.Key.RevokedAt) {
			t.Errorf("key %s loaded expiring %v revoked %v; want %v, %v", k.Key.ID, a.Key.ExpiresAt, a.Key.RevokedAt, k.Key.ExpiresAt, k.Key.RevokedAt)
		}
		// The last use is stored, not loaded (servers read it on the pages).
		if st := mustKey(t, d, w.ID, k.Key.ID); !st.LastUsedAt.Equal(k.Key.LastUsedAt) || st.LastUsedIP != k.Key.LastUsedIP {
			t.Errorf("key %s stored last used %v from %q; want %v, %q", k.Key.ID, st.LastUsedAt, st.LastUsedIP, k.Key.LastUsedAt, k.Key.LastUsedIP)
		}
		if g, w := apikey.FormatAllowlist(a.Key.Allowlist), apikey.FormatAllowlist(k.Key.Allowlist); g != w {
			t.Errorf("key %s loaded with allowlist %q, want %q", k.Key.ID, g, w)
		}
	}

	// What a running server follows: the change log since it loaded
	// holds exactly the imported keys.
	changed, last, err := d.KeyChangesSince(ctx, seq)
	if err != nil {
		t.Fatalf("KeyChangesSince: %v", err)
	}
	if last <= seq {
		t.Errorf("KeyChangesSince(%d) ends at %d: the import appended no change", seq, last)
	}
	seen := map[string]bool{}
	for _, a := range changed {
		if _, ok := tokens[a.Key.ID]; !ok {
			t.Errorf("KeyChangesSince reports %s, which was not imported", a.Key.ID)
		}
		seen[a.Key.ID] = true
	}
	if len(seen) != n {
		t.Errorf("KeyChangesSince reports %d of the %d imported keys", len(seen), n)
	}

	// The dashboard's list shows them, the revoked one revoked.
	listed, err := d.Keys(ctx, w.ID)
	if err != nil {
		t.Fatal(err)
	}
	if len(listed) != n+1 {
		t.Errorf("Keys lists %d keys, want %d", len(listed), n+1)
	}
	for _, k := range listed {
		if want := k.ID == keys[5].Key.ID; !k.RevokedAt.IsZero() != want {
			t.Errorf("listed key %s revoked = %v, want %v", k.Name, !k.RevokedAt.IsZero(), want)
		}
	}
}

func TestImportKeysAllOrNothing(t *testing.T) {
	ctx := context.Background()
	d, _ := openTestDB(t)
	w, u := newWorkspace(t, d, "Acme", "admin@acme.io")
	keys, _ := importKeys(t, w.ID, u.ID, 10)

	// next fails after ten keys: none is stored.
	boom := errors.New("boom")
	if _, err := d.ImportKeys(ctx, feed(keys, boom)); !errors.Is(err, boom) {
		t.Fatalf("ImportKeys with a failing next = %v, want %v", err, boom)
	}
	// A form token used twice in a workspace: none is stored.
	dup, _ := importKeys(t, w.ID, u.ID, 3)
	dup[2].CreateToken = dup[0].CreateToken
	if _, err := d.ImportKeys(ctx, feed(dup, nil)); err == nil {
		t.Fatal("ImportKeys of two keys with one form token succeeded")
	}
	all, seq := authKeys(t, d)
	if len(all) != 0 || seq != 0 {
		t.Errorf("after failed imports: %d keys, change %d; want none", len(all), seq)
	}
	if n, err := d.ImportKeys(ctx, feed(nil, nil)); n != 0 || err != nil {
		t.Errorf("ImportKeys of nothing = %d, %v; want 0, nil", n, err)
	}
}

// TestImportEvents: events queued in bulk get a delivery to each enabled
// endpoint that subscribes to their type, and none elsewhere.
func TestImportEvents(t *testing.T) {
	ctx := context.Background()
	d, _ := openTestDB(t)
	ws, _, err := d.CreateWorkspaceAdmin(ctx, "Events", "events@example.com", "x", testNow)
	if err != nil {
		t.Fatal(err)
	}
	for _, events := range [][]webhook.EventType{{webhook.KeyCreated}, {webhook.KeyRevoked}} {
		if _, _, err := d.CreateWebhook(ctx, blnk.NewWebhook{Endpoint: webhook.Endpoint{ID: webhook.NewID(), WorkspaceID: ws.ID,
			URL: "https://example.com/hook", Events: events, CreatedAt: testNow}, Secret: webhook.NewSecret(), CreateToken: webhook.NewID()}); err != nil {
			t.Fatal(err)
		}
	}
	payloads := [][]byte{[]byte(`{"n":1}`), []byte(`{"n":2}`), []byte(`{"n":3}`)}
	if n, err := d.ImportEvents(ctx, ws.ID, webhook.KeyCreated, testNow, payloads); err != nil || n != 3 {
		t.Fatalf("ImportEvents = %d, %v; want 3", n, err)
	}
	if n, err := d.CountDeliveries(ctx, webhook.Pending); err != nil || n != 3 {
		t.Errorf("pending deliveries = %d, %v; want 3 (one endpoint subscribes to key.created)", n, err)
	}
	if n, err := d.CountDeliveries(ctx, webhook.Delivered); err != nil || n != 0 {
		t.Errorf("delivered = %d, %v; want 0", n, err)
	}
}
