package twofactor_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/blnk-cloud/apikeys/db"
	"github.com/blnk-cloud/apikeys/internal/audit"
	"github.com/blnk-cloud/apikeys/internal/blnk"
	"github.com/blnk-cloud/apikeys/internal/testkit"
	"github.com/blnk-cloud/apikeys/internal/twofactor"
)

var secretKey = []byte("0123456789abcdef0123456789abcdef-test")

// fixture is the service on a fresh database with one person, who has
// set up an app with secret at the clock's start.
type fixture struct {
	svc    *twofactor.Service
	store  *db.DB
	clock  *testkit.Clock
	by     twofactor.Actor
	secret string
	codes  []string
}

func newFixture(t testing.TB) *fixture {
	t.Helper()
	ctx := context.Background()
	store, err := db.Open(ctx, testkit.DSN(t))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	clock := testkit.NewClock(time.Date(2026, 3, 10, 12, 0, 0, 0, time.UTC))
	ws, u, err := store.SetupFirstAdmin(ctx, "Acme", "ada@example.com", "hash", clock.Now())
	if err != nil {
		t.Fatal(err)
	}
	svc, err := twofactor.New(store, secretKey, clock.Now, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	secret, err := twofactor.NewSecret()
	if err != nil {
		t.Fatal(err)
	}
	by := twofactor.Actor{Actor: audit.Actor{UserID: u.ID, Email: u.Email, Kind: audit.User}, WorkspaceID: ws.ID, Role: blnk.RoleOwner}
	code, _ := twofactor.Code(secret, clock.Now())
	codes, err := svc.Enable(ctx, by, secret, code)
	if err != nil {
		t.Fatal(err)
	}
	return &fixture{svc: svc, store: store, clock: clock, by: by, secret: secret, codes: codes}
}

func TestSealedAtRestAndBoundToThePerson(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	stored, err := f.store.TOTPFactor(ctx, f.by.UserID)
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(stored.Sealed, []byte(f.secret)) {
		t.Fatal("the secret is stored in plaintext")
	}
	// Another server secret cannot open it: the check fails, not passes.
	other, err := twofactor.New(f.store, []byte("another secret, also 32 bytes long!!"), f.clock.Now, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	f.clock.Advance(30 * time.Second)
	code, _ := twofactor.Code(f.secret, f.clock.Now())
	if _, err := other.Check(ctx, f.by, code); err == nil || errors.Is(err, twofactor.ErrWrongCode) {
		t.Fatalf("another server secret: %v, want an error opening the secret", err)
	}
	if m, err := f.svc.Check(ctx, f.by, code); err != nil || m != twofactor.ByTOTP {
		t.Fatalf("the right code: %v %v", m, err)
	}
}

func TestRecoveryCodesAreSingleUse(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	if len(f.codes) != 10 {
		t.Fatalf("%d codes", len(f.codes))
	}
	seen := map[string]bool{}
	for _, c := range f.codes {
		if len(c) != 11 || c[5] != '-' || seen[c] {
			t.Fatalf("code %q", c)
		}
		seen[c] = true
	}
	if m, err := f.svc.Check(ctx, f.by, f.codes[0]); err != nil || m != twofactor.ByRecovery {
		t.Fatalf("a recovery code: %v %v", m, err)
	}
	if _, err := f.svc.Check(ctx, f.by, f.codes[0]); !errors.Is(err, twofactor.ErrWrongCode) {
		t.Fatalf("the code again: %v", err)
	}
	fs, err := f.store.FindFactors(ctx, f.by.UserID)
	if err != nil || !fs.TOTP || fs.RecoveryLeft != 9 {
		t.Fatalf("factors %+v %v", fs, err)
	}
	for _, bad := range []string{"", "      ", "abcde-fghij", "12345", "1234567", "<b>12345</b>", "１２３４５６"} {
		if _, err := f.svc.Check(ctx, f.by, bad); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}

// BenchmarkCheckTOTP is what a TOTP code adds to a sign-in: the secret
// opened, three candidate codes computed, and the step recorded in the
// database. The clock moves a step per check (a code is accepted once).
func BenchmarkCheckTOTP(b *testing.B) {
	f := newFixture(b)
	ctx := context.Background()
	b.ResetTimer()
	for b.Loop() {
		f.clock.Advance(30 * time.Second)
		code, _ := twofactor.Code(f.secret, f.clock.Now())
		if _, err := f.svc.Check(ctx, f.by, code); err != nil {
			b.Fatal(err)
		}
	}
}
