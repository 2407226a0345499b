package db

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/blnk-cloud/apikeys/internal/blnk"
)

// newWorkspace creates a workspace and its admin, and returns both.
func newWorkspace(t testing.TB, d *DB, name, email string) (blnk.Workspace, blnk.User) {
	t.Helper()
	w, u, err := d.CreateWorkspaceAdmin(context.Background(), name, email, "hash-of-"+email, testNow)
	if err != nil {
		t.Fatalf("CreateWorkspaceAdmin(%q, %q): %v", name, email, err)
	}
	return w, u
}

func TestSetupFirstAdmin(t *testing.T) {
	ctx := context.Background()
	d, _ := openTestDB(t)

	if has, err := d.HasAdmin(ctx); err != nil || has {
		t.Fatalf("HasAdmin before setup = %v, %v; want false, nil", has, err)
	}
	w, u, err := d.SetupFirstAdmin(ctx, "Acme", "admin@acme.io", "pwhash", testNow)
	if err != nil {
		t.Fatalf("SetupFirstAdmin: %v", err)
	}
	if w.ID == 0 || u.ID == 0 {
		t.Errorf("SetupFirstAdmin ids = workspace %d, user %d; want both set", w.ID, u.ID)
	}
	if got, want := w.Name, "Acme"; got != want {
		t.Errorf("workspace name = %q, want %q", got, want)
	}
	if got, want := u.Email, "admin@acme.io"; got != want {
		t.Errorf("user email = %q, want %q", got, want)
	}
	if has, err := d.HasAdmin(ctx); err != nil || !has {
		t.Errorf("HasAdmin after setup = %v, %v; want true, nil", has, err)
	}

	_, _, err = d.SetupFirstAdmin(ctx, "Other", "other@acme.io", "pwhash", testNow)
	if got, want := err, blnk.ErrAlreadySet; !errors.Is(got, want) {
		t.Errorf("second SetupFirstAdmin error = %v, want %v", got, want)
	}
	for table, want := range map[string]int{"workspaces": 1, "users": 1, "memberships": 1} {
		if got := count(t, d, table); got != want {
			t.Errorf("%s rows after a refused second setup = %d, want %d", table, got, want)
		}
	}
}

func TestSetupFirstAdminConcurrent(t *testing.T) {
	ctx := context.Background()
	d, _ := openTestDB(t)
	const n = 16
	errs := make([]error, n)
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := range n {
		wg.Go(func() {
			<-start
			_, _, errs[i] = d.SetupFirstAdmin(ctx, fmt.Sprintf("Workspace %d", i), fmt.Sprintf("admin%d@acme.io", i), "pwhash", testNow)
		})
	}
	close(start)
	wg.Wait()

	ok := 0
	for i, err := range errs {
		switch {
		case err == nil:
			ok++
		case !errors.Is(err, blnk.ErrAlreadySet):
			t.Errorf("setup %d: error %v, want nil or %v", i, err, blnk.ErrAlreadySet)
		}
	}
	if got, want := ok, 1; got != want {
		t.Errorf("%d of %d concurrent setups succeeded, want %d", got, n, want)
	}
	for table, want := range map[string]int{"workspaces": 1, "users": 1, "memberships": 1} {
		if got := count(t, d, table); got != want {
			t.Errorf("%s rows = %d, want %d", table, got, want)
		}
	}
}

func TestCreateWorkspaceAdminEmailTaken(t *testing.T) {
	ctx := context.Background()
	d, _ := openTestDB(t)
	newWorkspace(t, d, "First", "A@x.io")

	tests := []struct {
		name  string
		email string
	}{
		{"same case", "A@x.io"},
		{"lower case", "a@x.io"},
		{"mixed case", "a@X.IO"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, _, err := d.CreateWorkspaceAdmin(ctx, "Second", tt.email, "pwhash", testNow)
			if got, want := err, blnk.ErrEmailTaken; !errors.Is(got, want) {
				t.Errorf("CreateWorkspaceAdmin(%q) error = %v, want %v", tt.email, got, want)
			}
			// The workspace is inserted before the user: the failed
			// transaction must leave no workspace without an admin.
			for table, want := range map[string]int{"workspaces": 1, "users": 1, "memberships": 1} {
				if got := count(t, d, table); got != want {
					t.Errorf("%s rows = %d, want %d (no partial write)", table, got, want)
				}
			}
		})
	}

	// A second workspace with another email is fine.
	newWorkspace(t, d, "Second", "b@x.io")
	if got, want := count(t, d, "workspaces"), 2; got != want {
		t.Errorf("workspaces = %d, want %d", got, want)
	}
}

func TestLoginByEmail(t *testing.T) {
	ctx := context.Background()
	d, _ := openTestDB(t)
	w, u := newWorkspace(t, d, "Acme", "Admin@Acme.io")
	newWorkspace(t, d, "Other", "other@acme.io")

	tests := []struct {
		name    string
		email   string
		wantErr error
	}{
		{"as stored", "Admin@Acme.io", nil},
		{"lower case", "admin@acme.io", nil},
		{"upper case", "ADMIN@ACME.IO", nil},
		{"unknown", "nobody@acme.io", blnk.ErrNotFound},
		{"empty", "", blnk.ErrNotFound},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			l, err := d.LoginByEmail(ctx, tt.email)
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("LoginByEmail(%q) error = %v, want %v", tt.email, err, tt.wantErr)
			}
			if tt.wantErr != nil {
				return
			}
			if got, want := l.User.ID, u.ID; got != want {
				t.Errorf("user id = %d, want %d", got, want)
			}
			if got, want := l.Workspace.ID, w.ID; got != want {
				t.Errorf("workspace id = %d, want %d", got, want)
			}
			if got, want := l.Workspace.Name, "Acme"; got != want {
				t.Errorf("workspace name = %q, want %q", got, want)
			}
			if got, want := l.PasswordHash, "hash-of-Admin@Acme.io"; got != want {
				t.Errorf("password hash = %q, want %q", got, want)
			}
			if got, want := l.User.CreatedAt, testNow.Truncate(time.Millisecond); !got.Equal(want) {
				t.Errorf("user created at = %v, want %v", got, want)
			}
		})
	}
}

func sessionHash(s string) []byte {
	h := sha256.Sum256([]byte(s))
	return h[:]
}

func TestSessions(t *testing.T) {
	ctx := context.Background()
	d, _ := openTestDB(t)
	w, u := newWorkspace(t, d, "Acme", "admin@acme.io")
	tok := sessionHash("session-1")

	if err := d.CreateSession(ctx, tok, u.ID, w.ID, testNow); err != nil {
		t.Fatalf("CreateSession: %v", err)
	}
	s, err := d.SessionByToken(ctx, tok)
	if err != nil {
		t.Fatalf("SessionByToken: %v", err)
	}
	if got, want := s.User.ID, u.ID; got != want {
		t.Errorf("session user = %d, want %d", got, want)
	}
	if got, want := s.User.Email, "admin@acme.io"; got != want {
		t.Errorf("session email = %q, want %q", got, want)
	}
	if got, want := s.Workspace.ID, w.ID; got != want {
		t.Errorf("session workspace = %d, want %d", got, want)
	}
	if got, want := s.Workspace.Name, "Acme"; got != want {
		t.Errorf("session workspace name = %q, want %q", got, want)
	}
	if got, want := s.CreatedAt, testNow.Truncate(time.Millisecond); !got.Equal(want) {
		t.Errorf("session created at = %v, want %v", got, want)
	}
	if got, want := s.LastSeenAt, s.CreatedAt; !got.Equal(want) {
		t.Errorf("session last seen = %v, want %v", got, want)
	}

	if _, err := d.SessionByToken(ctx, sessionHash("other")); !errors.Is(err, blnk.ErrNotFound) {
		t.Errorf("SessionByToken(unknown) error = %v, want %v", err, blnk.ErrNotFound)
	}

	later := testNow.Add(7 * time.Minute)
	if err := d.TouchSession(ctx, tok, later); err != nil {
		t.Fatalf("TouchSession: %v", err)
	}
	s, err = d.SessionByToken(ctx, tok)
	if err != nil {
		t.Fatalf("SessionByToken after touch: %v", err)
	}
	if got, want := s.LastSeenAt, later.Truncate(time.Millisecond); !got.Equal(want) {
		t.Errorf("last seen after touch = %v, want %v", got, want)
	}
	if got, want := s.CreatedAt, testNow.Truncate(time.Millisecond); !got.Equal(want) {
		t.Errorf("created at after touch = %v, want %v (unchanged)", got, want)
	}

	if err := d.DeleteSession(ctx, tok); err != nil {
		t.Fatalf("DeleteSession: %v", err)
	}
	if _, err := d.SessionByToken(ctx, tok); !errors.Is(err, blnk.ErrNotFound) {
		t.Errorf("SessionByToken after delete error = %v, want %v", err, blnk.ErrNotFound)
	}
	if err := d.DeleteSession(ctx, tok); err != nil {
		t.Errorf("second DeleteSession: %v, want nil", err)
	}
}

func TestDeleteStaleSessions(t *testing.T) {
	ctx := context.Background()
	d, _ := openTestDB(t)
	w, u := newWorkspace(t, d, "Acme", "admin@acme.io")
	const (
		idle     = 30 * time.Minute
		lifetime = 24 * time.Hour
	)
	now := testNow.Add(48 * time.Hour)

	type session struct {
		name      string
		createdAt time.Time
		lastSeen  time.Time
		wantKept  bool
	}
	sessions := []session{
		{"fresh", now.Add(-time.Hour), now.Add(-time.Minute), true},
		{"idle", now.Add(-time.Hour), now.Add(-idle - time.Millisecond), false},
		{"just within idle", now.Add(-time.Hour), now.Add(-idle), true},
		{"too old but active", now.Add(-lifetime - time.Millisecond), now.Add(-time.Second), false},
		{"just within lifetime", now.Add(-lifetime), now.Add(-time.Second), true},
	}
	for _, s := range sessions {
		tok := sessionHash(s.name)
		if err := d.CreateSession(ctx, tok, u.ID, w.ID, s.createdAt); err != nil {
			t.Fatalf("CreateSession(%s): %v", s.name, err)
		}
		if err := d.TouchSession(ctx, tok, s.lastSeen); err != nil {
			t.Fatalf("TouchSession(%s): %v", s.name, err)
		}
	}

	n, err := d.DeleteStaleSessions(ctx, now.Add(-idle), now.Add(-lifetime))
	if err != nil {
		t.Fatalf("DeleteStaleSessions: %v", err)
	}
	if got, want := n, int64(2); got != want {
		t.Errorf("DeleteStaleSessions deleted %d, want %d", got, want)
	}
	for _, s := range sessions {
		t.Run(s.name, func(t *testing.T) {
			_, err := d.SessionByToken(ctx, sessionHash(s.name))
			if got, want := err == nil, s.wantKept; got != want {
				t.Errorf("session kept = %v (err %v), want %v", got, err, want)
			}
		})
	}
}

func TestEnsureSetting(t *testing.T) {
	ctx := context.Background()
	d, _ := openTestDB(t)

	got, err := d.EnsureSetting(ctx, "session_secret", []byte("first"))
	if err != nil {
		t.Fatalf("EnsureSetting: %v", err)
	}
	if want := []byte("first"); !bytes.Equal(got, want) {
		t.Errorf("first EnsureSetting = %q, want %q", got, want)
	}
	got, err = d.EnsureSetting(ctx, "session_secret", []byte("second"))
	if err != nil {
		t.Fatalf("second EnsureSetting: %v", err)
	}
	if want := []byte("first"); !bytes.Equal(got, want) {
		t.Errorf("second EnsureSetting = %q, want %q (first value wins)", got, want)
	}
	got, err = d.EnsureSetting(ctx, "other", []byte("x"))
	if err != nil || !bytes.Equal(got, []byte("x")) {
		t.Errorf("EnsureSetting(other) = %q, %v; want %q, nil", got, err, "x")
	}
}

func TestTouchReadiness(t *testing.T) {
	ctx := context.Background()
	d, _ := openTestDB(t)
	for _, at := range []time.Time{time.UnixMilli(1000), time.UnixMilli(2000)} {
		if err := d.TouchReadiness(ctx, at); err != nil {
			t.Fatalf("TouchReadiness(%v): %v", at, err)
		}
		var got []byte
		if err := d.sql.QueryRowContext(ctx, `SELECT value FROM settings WHERE name = $1`, "readiness_checked_at").Scan(&got); err != nil {
			t.Fatal(err)
		}
		if want := strconv.FormatInt(at.UnixMilli(), 10); string(got) != want {
			t.Errorf("after TouchReadiness(%v): stored %q, want %q", at, got, want)
		}
	}
}

func TestEnsureSettingConcurrent(t *testing.T) {
	ctx := context.Background()
	d, _ := openTestDB(t)
	const n = 16
	got := make([][]byte, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := range n {
		wg.Go(func() {
			<-start
			got[i], errs[i] = d.EnsureSetting(ctx, "secret", fmt.Appendf(nil, "value-%d", i))
		})
	}
	close(start)
	wg.Wait()
	for i := range n {
		if errs[i] != nil {
			t.Fatalf("caller %d: %v", i, errs[i])
		}
		if !bytes.Equal(got[i], got[0]) {
			t.Errorf("caller %d got %q, caller 0 got %q: want the same value", i, got[i], got[0])
		}
	}
	if got, want := count(t, d, "settings"), 1; got != want {
		t.Errorf("settings rows = %d, want %d", got, want)
	}
}
