package db

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/blnk-cloud/apikeys/internal/audit"
	"github.com/blnk-cloud/apikeys/internal/blnk"
)

// TestResetPasswordOnce: a reset link used by many requests at once
// changes the password once; the others are told it was used; every
// session of the person ends, and the person's other links stop working.
func TestResetPasswordOnce(t *testing.T) {
	ctx := context.Background()
	d, _ := openTestDB(t)
	w, u := newWorkspace(t, d, "Acme", "admin@acme.io")
	for _, s := range []string{"a", "b"} {
		if err := d.CreateSessionFrom(ctx, sessionHash(s), u.ID, w.ID, testNow, blnk.SessionClient{UserAgent: "ua " + s, IP: "192.0.2.1"}); err != nil {
			t.Fatal(err)
		}
	}
	link, other := blnk.TokenHash("link"), blnk.TokenHash("other")
	for _, h := range [][]byte{link, other} {
		if err := d.CreatePasswordReset(ctx, blnk.NewPasswordReset{UserID: u.ID, TokenHash: h, CreatedAt: testNow, ExpiresAt: testNow.Add(time.Hour),
			Actor: audit.Actor{Kind: audit.CommandLine}}); err != nil {
			t.Fatal(err)
		}
	}
	var wg sync.WaitGroup
	results := make([]error, 8)
	for i := range results {
		wg.Go(func() {
			_, results[i] = d.ResetPassword(ctx, blnk.PasswordChange{TokenHash: link, PasswordHash: "new-hash", Now: testNow.Add(time.Minute)})
		})
	}
	wg.Wait()
	ok := 0
	for _, err := range results {
		switch {
		case err == nil:
			ok++
		case errors.Is(err, blnk.ErrResetUsed):
		default:
			t.Errorf("ResetPassword: %v", err)
		}
	}
	if ok != 1 {
		t.Errorf("%d uses succeeded, want 1", ok)
	}
	if n := count(t, d, "sessions"); n != 0 {
		t.Errorf("%d sessions left", n)
	}
	if _, err := d.ResetPassword(ctx, blnk.PasswordChange{TokenHash: other, PasswordHash: "x", Now: testNow.Add(time.Minute)}); !errors.Is(err, blnk.ErrResetUsed) {
		t.Errorf("the person's other link: %v, want used", err)
	}
	l, err := d.LoginByEmail(ctx, "admin@acme.io")
	if err != nil || l.PasswordHash != "new-hash" {
		t.Errorf("password hash %q, %v", l.PasswordHash, err)
	}
	// Expired, and unknown.
	late := blnk.TokenHash("late")
	if err := d.CreatePasswordReset(ctx, blnk.NewPasswordReset{UserID: u.ID, TokenHash: late, CreatedAt: testNow, ExpiresAt: testNow.Add(time.Hour)}); err != nil {
		t.Fatal(err)
	}
	if _, err := d.ResetPassword(ctx, blnk.PasswordChange{TokenHash: late, PasswordHash: "y", Now: testNow.Add(time.Hour)}); !errors.Is(err, blnk.ErrResetExpired) {
		t.Errorf("an expired link: %v", err)
	}
	if _, err := d.ResetPassword(ctx, blnk.PasswordChange{TokenHash: blnk.TokenHash("nope"), PasswordHash: "y", Now: testNow}); !errors.Is(err, blnk.ErrResetInvalid) {
		t.Errorf("an unknown link: %v", err)
	}
}
