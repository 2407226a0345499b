package passkeys_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/blnk-cloud/apikeys/db"
	"github.com/blnk-cloud/apikeys/internal/audit"
	"github.com/blnk-cloud/apikeys/internal/blnk"
	"github.com/blnk-cloud/apikeys/internal/derrors"
	"github.com/blnk-cloud/apikeys/internal/passkeys"
	"github.com/blnk-cloud/apikeys/internal/testkit"
)

const origin = "https://dash.example.com"

type fixture struct {
	store *db.DB
	clock *testkit.Clock
	svc   *passkeys.Service
	ann   blnk.User // a person with a workspace
	ws    int64
	bob   blnk.User // another person, another workspace
}

func newFixture(t testing.TB) *fixture {
	t.Helper()
	ctx := context.Background()
	store, err := db.Open(ctx, testkit.DSN(t))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	clock := testkit.NewClock(time.Date(2026, 12, 1, 9, 0, 0, 0, time.UTC))
	rp, o, err := passkeys.ParsePublicURL(origin)
	if err != nil {
		t.Fatal(err)
	}
	svc, err := passkeys.New(passkeys.Config{RPID: rp, Origins: []string{o}, Now: clock.Now}, store, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	ws, ann, err := store.CreateWorkspaceAdmin(ctx, "Acme", "ann@example.com", "x", clock.Now())
	if err != nil {
		t.Fatal(err)
	}
	_, bob, err := store.CreateWorkspaceAdmin(ctx, "Other", "bob@example.com", "x", clock.Now())
	if err != nil {
		t.Fatal(err)
	}
	return &fixture{store: store, clock: clock, svc: svc, ann: ann, ws: ws.ID, bob: bob}
}

// add adds a passkey named name to u with auth, and fails the test if it
// is refused.
func (f *fixture) add(t testing.TB, auth *testkit.Authenticator, u blnk.User, name string) blnk.Passkey {
	t.Helper()
	ctx := context.Background()
	opts, token, err := f.svc.BeginAdd(ctx, u, name)
	if err != nil {
		t.Fatalf("BeginAdd: %v", err)
	}
	resp, err := auth.Create(opts)
	if err != nil {
		t.Fatal(err)
	}
	p, err := f.svc.FinishAdd(ctx, u, token, resp, audit.Actor{UserID: u.ID, Email: u.Email, Kind: audit.User}, f.ws)
	if err != nil {
		t.Fatalf("FinishAdd: %v", err)
	}
	return p
}

func TestParsePublicURL(t *testing.T) {
	tests := []struct {
		raw, rp, origin string
		bad             string // part of the error
	}{
		{raw: "https://dash.example.com", rp: "dash.example.com", origin: "https://dash.example.com"},
		{raw: "https://Dash.Example.com:8443/", rp: "dash.example.com", origin: "https://dash.example.com:8443"},
		{raw: "http://localhost:8080", rp: "localhost", origin: "http://localhost:8080"},
		{raw: "http://dash.localhost", rp: "dash.localhost", origin: "http://dash.localhost"},
		{raw: "http://dash.example.com", bad: "not https"},
		{raw: "http://127.0.0.1:8080", bad: "IP address"},
		{raw: "https://[::1]:8443", bad: "IP address"},
		{raw: "https://10.0.0.2", bad: "IP address"},
		{raw: "dash.example.com", bad: "absolute URL"},
		{raw: "https://dash.example.com/keys", bad: "origin only"},
		{raw: "https://intranet", bad: "full domain"},
		{raw: "ftp://dash.example.com", bad: "https://"},
		{raw: "", bad: "absolute URL"},
	}
	for _, tt := range tests {
		rp, o, err := passkeys.ParsePublicURL(tt.raw)
		if tt.bad != "" {
			if err == nil || !strings.Contains(err.Error(), tt.bad) {
				t.Errorf("ParsePublicURL(%q) = %q, %q, %v; want an error about %q", tt.raw, rp, o, err, tt.bad)
			}
			continue
		}
		if err != nil || rp != tt.rp || o != tt.origin {
			t.Errorf("ParsePublicURL(%q) = %q, %q, %v; want %q, %q", tt.raw, rp, o, err, tt.rp, tt.origin)
		}
	}
}

func TestAddSignInRemove(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	auth := testkit.NewAuthenticator(origin)
	p := f.add(t, auth, f.ann, "  Laptop 💻 ")
	if p.Name != "Laptop 💻" || p.RPID != "dash.example.com" {
		t.Errorf("added %+v", p)
	}
	if n, _ := f.store.CountPasskeys(ctx, f.ann.ID); n != 1 {
		t.Errorf("CountPasskeys = %d, want 1", n)
	}
	handle, err := f.store.FindPasskeyHandle(ctx, f.ann.ID)
	if err != nil || len(handle) != 32 || string(handle) == string(rune(f.ann.ID)) {
		t.Fatalf("handle %x, %v", handle, err)
	}
	if got := auth.Credentials()[0].Handle; string(got) != string(handle) {
		t.Errorf("the authenticator keeps handle %x, the store %x", got, handle)
	}

	f.clock.Advance(time.Hour)
	opts, token, err := f.svc.BeginSignIn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(opts), "allowCredentials") {
		t.Errorf("a discoverable sign-in names credentials: %s", opts)
	}
	resp, err := auth.Get(opts)
	if err != nil {
		t.Fatal(err)
	}
	id, took, err := f.svc.FinishSignIn(ctx, token, resp)
	if err != nil || id != f.ann.ID {
		t.Fatalf("FinishSignIn = %d, %v; want %d", id, err, f.ann.ID)
	}
	t.Logf("verify took %v", took)
	list, _ := f.store.ListPasskeys(ctx, f.ann.ID)
	if len(list) != 1 || !list[0].LastUsedAt.Equal(f.clock.Now()) || list[0].SignCount != 1 {
		t.Errorf("after use: %+v", list)
	}

	// The same answer again: the challenge was used.
	if _, _, err := f.svc.FinishSignIn(ctx, token, resp); !errors.Is(err, blnk.ErrCeremonyGone) {
		t.Errorf("replayed answer: %v, want ErrCeremonyGone", err)
	}

	// Removed by someone else: not found, and still there.
	actor := audit.Actor{UserID: f.bob.ID, Kind: audit.User}
	if _, err := f.svc.Remove(ctx, f.bob.ID, p.ID, actor, f.ws); !errors.Is(err, blnk.ErrNotFound) {
		t.Errorf("bob removes ann's passkey: %v, want not found", err)
	}
	if _, err := f.svc.Remove(ctx, f.ann.ID, "pk_nope", actor, f.ws); !errors.Is(err, blnk.ErrNotFound) {
		t.Errorf("bad id: %v", err)
	}
	if _, err := f.svc.Remove(ctx, f.ann.ID, p.ID, audit.Actor{UserID: f.ann.ID, Kind: audit.User}, f.ws); err != nil {
		t.Fatal(err)
	}
	opts, token, _ = f.svc.BeginSignIn(ctx)
	resp, _ = auth.Get(opts)
	if _, _, err := f.svc.FinishSignIn(ctx, token, resp); !errors.Is(err, blnk.ErrPasskeyRefused) {
		t.Errorf("removed passkey signs in: %v", err)
	}
	page, err := f.store.AuditEvents(ctx, blnk.AuditFilter{WorkspaceID: f.ws}, 0, 0, 50)
	if err != nil {
		t.Fatal(err)
	}
	var actions []string
	for _, ev := range page.Events {
		actions = append(actions, string(ev.Action)+" "+ev.DetailsJSON())
	}
	joined := strings.Join(actions, "\n")
	for _, want := range []string{`passkey.added {"name":"Laptop 💻","passkey":"` + p.ID, `passkey.removed {"name":"Laptop 💻","passkey":"` + p.ID} {
		if !strings.Contains(joined, want) {
			t.Errorf("audit log lacks %s:\n%s", want, joined)
		}
	}
}

func TestRefused(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	auth := testkit.NewAuthenticator(origin)
	f.add(t, auth, f.ann, "Ann's key")
	bobAuth := testkit.NewAuthenticator(origin)
	f.add(t, bobAuth, f.bob, "Bob's key")

	t.Run("bad names", func(t *testing.T) {
		for _, name := range []string{"", "   ", "a\x00b", "tab\there", "rtl\u202Eexe", "zero\u200Bwidth", strings.Repeat("n", 101), "\u200B"} {
			_, _, err := f.svc.BeginAdd(ctx, f.ann, name)
			if derrors.Code(err) != derrors.EINVALID {
				t.Errorf("BeginAdd(%q) = %v, want invalid", name, err)
			}
		}
		if n, _ := f.store.CountPasskeys(ctx, f.ann.ID); n != 1 {
			t.Errorf("passkeys after bad names: %d", n)
		}
	})
	t.Run("wrong origin", func(t *testing.T) {
		evil := testkit.NewAuthenticator("https://dash.example.com.evil.test")
		opts, token, _ := f.svc.BeginAdd(ctx, f.ann, "phished")
		resp, _ := evil.Create(opts)
		if _, err := f.svc.FinishAdd(ctx, f.ann, token, resp, audit.Actor{}, f.ws); !errors.Is(err, blnk.ErrPasskeyRefused) {
			t.Errorf("add from another origin: %v", err)
		}
		auth.Origin = "https://evil.test"
		defer func() { auth.Origin = origin }()
		opts, token, _ = f.svc.BeginSignIn(ctx)
		resp, _ = auth.Get(opts)
		if _, _, err := f.svc.FinishSignIn(ctx, token, resp); !errors.Is(err, blnk.ErrPasskeyRefused) {
			t.Errorf("sign-in from another origin: %v", err)
		}
	})
	t.Run("another person's ceremony", func(t *testing.T) {
		opts, token, _ := f.svc.BeginAdd(ctx, f.ann, "mine")
		resp, _ := bobAuth.Create(opts)
		if _, err := f.svc.FinishAdd(ctx, f.bob, token, resp, audit.Actor{}, f.ws); !errors.Is(err, blnk.ErrCeremonyGone) {
			t.Errorf("bob finishes ann's ceremony: %v", err)
		}
	})
	t.Run("second factor with another person's passkey", func(t *testing.T) {
		opts, token, err := f.svc.BeginSecondFactor(ctx, f.ann.ID)
		if err != nil {
			t.Fatal(err)
		}
		var o struct {
			PublicKey struct{ Challenge string } `json:"publicKey"`
		}
		json.Unmarshal(opts, &o)
		resp, _ := bobAuth.Sign(bobAuth.Credentials()[0], o.PublicKey.Challenge)
		if _, err := f.svc.FinishSecondFactor(ctx, f.ann.ID, token, resp); !errors.Is(err, blnk.ErrPasskeyRefused) {
			t.Errorf("bob's passkey as ann's second factor: %v", err)
		}
		// Ann's own passkey, for Bob's pending sign-in: the ceremony is Ann's.
		opts, token, _ = f.svc.BeginSecondFactor(ctx, f.ann.ID)
		resp, _ = auth.Get(opts)
		if _, err := f.svc.FinishSecondFactor(ctx, f.bob.ID, token, resp); !errors.Is(err, blnk.ErrCeremonyGone) {
			t.Errorf("ann's ceremony finished for bob: %v", err)
		}
		opts, token, _ = f.svc.BeginSecondFactor(ctx, f.ann.ID)
		resp, _ = auth.Get(opts)
		if _, err := f.svc.FinishSecondFactor(ctx, f.ann.ID, token, resp); err != nil {
			t.Errorf("ann's own passkey: %v", err)
		}
		if _, _, err := f.svc.BeginSecondFactor(ctx, 999999); !errors.Is(err, blnk.ErrNotFound) {
			t.Errorf("a person without passkeys: %v", err)
		}
	})
	t.Run("a sign-in ceremony cannot add", func(t *testing.T) {
		opts, token, _ := f.svc.BeginSignIn(ctx)
		resp, _ := auth.Get(opts)
		if _, err := f.svc.FinishAdd(ctx, f.ann, token, resp, audit.Actor{}, f.ws); !errors.Is(err, blnk.ErrCeremonyGone) {
			t.Errorf("sign-in token used to add: %v", err)
		}
	})
	t.Run("expired", func(t *testing.T) {
		opts, token, _ := f.svc.BeginSignIn(ctx)
		f.clock.Advance(passkeys.DefaultCeremonyTTL)
		resp, _ := auth.Get(opts)
		if _, _, err := f.svc.FinishSignIn(ctx, token, resp); !errors.Is(err, blnk.ErrCeremonyGone) {
			t.Errorf("after 5 minutes: %v", err)
		}
	})
	t.Run("unknown token", func(t *testing.T) {
		for _, token := range []string{"", "nope", strings.Repeat("x", 1000)} {
			if _, _, err := f.svc.FinishSignIn(ctx, token, []byte(`{}`)); !errors.Is(err, blnk.ErrCeremonyGone) {
				t.Errorf("token %.10q: %v", token, err)
			}
		}
	})
	t.Run("garbage answer", func(t *testing.T) {
		for _, body := range []string{"", "{}", "null", `{"id":"AAAA","type":"public-key","response":{}}`, strings.Repeat("[", 10000)} {
			_, token, _ := f.svc.BeginSignIn(ctx)
			if _, _, err := f.svc.FinishSignIn(ctx, token, []byte(body)); !errors.Is(err, blnk.ErrPasskeyRefused) {
				t.Errorf("answer %.20q: %v", body, err)
			}
		}
	})
	t.Run("copied authenticator", func(t *testing.T) {
		auth.Credentials()[0].Count = 0 // the copy's counter lags behind
		opts, token, _ := f.svc.BeginSignIn(ctx)
		resp, _ := auth.Get(opts)
		_, _, err := f.svc.FinishSignIn(ctx, token, resp)
		if !errors.Is(err, blnk.ErrPasskeyRefused) {
			t.Errorf("sign count went back: %v", err)
		}
	})
}

// BenchmarkFinishSignIn measures what a passkey adds to a sign-in on
// the server: taking the ceremony, checking the signature, writing the
// sign count back (the browser's time is not counted).
func BenchmarkFinishSignIn(b *testing.B) {
	f := newFixture(b)
	ctx := context.Background()
	auth := testkit.NewAuthenticator(origin)
	f.add(b, auth, f.ann, "bench")
	var verify time.Duration
	for b.Loop() {
		b.StopTimer()
		opts, token, err := f.svc.BeginSignIn(ctx)
		if err != nil {
			b.Fatal(err)
		}
		resp, err := auth.Get(opts)
		if err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
		_, took, err := f.svc.FinishSignIn(ctx, token, resp)
		if err != nil {
			b.Fatal(err)
		}
		verify += took
	}
	b.ReportMetric(float64(verify.Microseconds())/float64(b.N), "verify-µs/op")
}
