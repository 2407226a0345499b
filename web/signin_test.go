package web_test

import (
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/blnk-cloud/apikeys/internal/password"
	"github.com/blnk-cloud/apikeys/web"
)

// hashCounter counts the password hashes a server verifies, and how many
// ran at once at most.
type hashCounter struct {
	total, running, peak atomic.Int64
	delay                time.Duration // each hash takes at least this long
}

// install makes ts's server verify passwords through h.
func (h *hashCounter) install(ts *testServer) {
	web.SetVerifyPassword(ts.srv, func(hash, pw string) bool {
		h.total.Add(1)
		n := h.running.Add(1)
		defer h.running.Add(-1)
		for {
			p := h.peak.Load()
			if n <= p || h.peak.CompareAndSwap(p, n) {
				break
			}
		}
		time.Sleep(h.delay)
		return password.Verify(hash, pw)
	})
}

// storm sends n sign-ins at once, each built by form(i), from addr(i),
// and returns the responses.
func storm(ts *testServer, n int, form func(i int) url.Values, addr func(i int) string) []*response {
	out := make([]*response, n)
	var wg sync.WaitGroup
	gate := make(chan struct{})
	for i := range n {
		c := ts.client()
		wg.Go(func() {
			<-gate
			out[i] = c.post("/login", form(i), fromAddr(addr(i)))
		})
	}
	close(gate)
	wg.Wait()
	return out
}

// tally counts responses by status and checks that every 429 and 503
// carries a Retry-After, returning the largest.
func tally(t *testing.T, rs []*response) (codes map[int]int, retryAfter time.Duration) {
	t.Helper()
	codes = map[int]int{}
	for _, r := range rs {
		codes[r.Code]++
		if r.Code == http.StatusTooManyRequests || r.Code == http.StatusServiceUnavailable {
			secs, err := strconv.Atoi(r.Header.Get("Retry-After"))
			if err != nil || secs <= 0 {
				t.Errorf("%d without a positive Retry-After (got %q)", r.Code, r.Header.Get("Retry-After"))
			}
			retryAfter = max(retryAfter, time.Duration(secs)*time.Second)
		}
	}
	return codes, retryAfter
}

// TestSignInStorm sends wrong passwords from one address all at once:
// exactly the allowance is evaluated (5 per email, 20 per address), the
// rest are 429 with Retry-After without a hash, and once the wait is
// over, guesses that arrive together are bounded again (one more).
func TestSignInStorm(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name      string
		email     func(i int) string
		allowance int
		shared    bool
	}{
		{"one email", func(int) string { return adminEmail }, 5, false},
		{"many emails", func(i int) string { return "user" + strconv.Itoa(i) + "@example.com" }, 20, false},
		{"one email, counted in the database", func(int) string { return adminEmail }, 5, true},
		{"many emails, counted in the database", func(i int) string { return "user" + strconv.Itoa(i) + "@example.com" }, 20, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			ts, _ := newSignedIn(t, serverOpts{sharedLogins: tt.shared})
			var hashes hashCounter
			hashes.install(ts)
			from := func(int) string { return "203.0.113.7:1234" }
			wrong := func(i int) url.Values {
				return url.Values{"email": {tt.email(i)}, "password": {"wrong password " + strconv.Itoa(i)}}
			}
			logsBefore := strings.Count(ts.logs.String(), `msg="sign-in failed"`)

			codes, wait := tally(t, storm(ts, 128, wrong, from))
			if got := hashes.total.Load(); got != int64(tt.allowance) {
				t.Errorf("128 at once: %d passwords hashed, want %d", got, tt.allowance)
			}
			if codes[401] != tt.allowance || codes[429] != 128-tt.allowance {
				t.Errorf("128 at once: statuses %v, want %d × 401 and %d × 429", codes, tt.allowance, 128-tt.allowance)
			}
			if got := strings.Count(ts.logs.String(), `msg="sign-in failed"`) - logsBefore; got != tt.allowance {
				t.Errorf("sign-in failures logged: got %d, want %d", got, tt.allowance)
			}

			// The lockout ends after Retry-After: then one more guess, not
			// as many as arrive together.
			ts.clock.Advance(wait)
			codes, _ = tally(t, storm(ts, 32, wrong, from))
			if got := hashes.total.Load(); got != int64(tt.allowance)+1 {
				t.Errorf("32 at once after the wait: %d hashed in all, want %d", got, tt.allowance+1)
			}
			if codes[401] != 1 || codes[429] != 31 {
				t.Errorf("32 at once after the wait: statuses %v, want 1 × 401 and 31 × 429", codes)
			}
		})
	}
}

// TestSignInHashesAreBounded sends sign-ins from many addresses, which
// the throttle lets through: no more hashes run at once than configured.
func TestSignInHashesAreBounded(t *testing.T) {
	t.Parallel()
	ts, _ := newSignedIn(t, serverOpts{config: func(cfg *web.Config) {
		cfg.PasswordChecks = 2
		cfg.PasswordWait = time.Minute // all get their turn: this test is about the bound
	}})
	hashes := hashCounter{delay: 10 * time.Millisecond}
	hashes.install(ts)
	codes, _ := tally(t, storm(ts, 40,
		func(i int) url.Values {
			return url.Values{"email": {"user" + strconv.Itoa(i) + "@example.com"}, "password": {"wrong password"}}
		},
		func(i int) string { return "198.51.100." + strconv.Itoa(i+1) + ":1" }))
	if codes[401] != 40 {
		t.Errorf("statuses %v, want 40 × 401", codes)
	}
	if got := hashes.total.Load(); got != 40 {
		t.Errorf("hashes: got %d, want 40", got)
	}
	if got := hashes.peak.Load(); got > 2 || got < 1 {
		t.Errorf("hashes at once: at most %d, want 1 or 2", got)
	}
}

// TestSignInWhileHashesAreBusy: a sign-in that finds every hash slot taken
// waits PasswordWait, then gets 503 with Retry-After; the attempt does
// not count against the throttle.
func TestSignInWhileHashesAreBusy(t *testing.T) {
	t.Parallel()
	ts, _ := newSignedIn(t, serverOpts{config: func(cfg *web.Config) {
		cfg.PasswordWait = 50 * time.Millisecond
	}})
	var hashes hashCounter
	hashes.install(ts)
	c := ts.client()
	wrong := url.Values{"email": {adminEmail}, "password": {"not the password"}}

	release := web.OccupyPasswordChecks(ts.srv)
	for i := 0; i < 10; i++ {
		t0 := time.Now()
		r := c.post("/login", url.Values{"email": {adminEmail}, "password": {adminPassword}})
		if r.Code != http.StatusServiceUnavailable {
			t.Fatalf("sign-in with every hash slot taken: got %d, want 503", r.Code)
		}
		if el := time.Since(t0); el < 50*time.Millisecond {
			t.Errorf("answered after %v, want after waiting PasswordWait (50ms)", el)
		}
		if got := r.Header.Get("Retry-After"); got == "" {
			t.Errorf("503 without Retry-After")
		}
		if got, want := problemText(r.Body), "Too many people are signing in right now. Wait a few seconds, then try again."; got != want {
			t.Errorf("problem: got %q, want %q", got, want)
		}
		if v, _ := inputValue(r.Body, "f-email"); v != adminEmail {
			t.Errorf("email input: got %q, want it kept", v)
		}
		if ck := r.cookie("blnk_session"); ck != nil && ck.MaxAge >= 0 {
			t.Errorf("a refused sign-in set a session cookie")
		}
	}
	release()
	if got := hashes.total.Load(); got != 0 {
		t.Errorf("hashes while busy: got %d, want 0", got)
	}

	// The ten refused attempts were given back: the allowance is whole.
	for i := 1; i <= 5; i++ {
		if r := c.post("/login", wrong); r.Code != http.StatusUnauthorized {
			t.Fatalf("failure %d after the busy spell: got %d, want 401", i, r.Code)
		}
	}
	if r := c.post("/login", wrong); r.Code != http.StatusTooManyRequests {
		t.Errorf("sixth failure: got %d, want 429", r.Code)
	}

	t.Run("setup", func(t *testing.T) {
		ts := newTestServer(t, serverOpts{config: func(cfg *web.Config) { cfg.PasswordWait = 20 * time.Millisecond }})
		c := ts.client()
		form := url.Values{"workspace": {adminWorkspace}, "email": {adminEmail}, "password": {adminPassword}, "confirm": {adminPassword}}
		release := web.OccupyPasswordChecks(ts.srv)
		r := c.post("/setup", form)
		release()
		if r.Code != http.StatusServiceUnavailable || r.Header.Get("Retry-After") == "" {
			t.Errorf("setup with every hash slot taken: got %d (Retry-After %q), want 503 with Retry-After", r.Code, r.Header.Get("Retry-After"))
		}
		if got := ts.count("users"); got != 0 {
			t.Errorf("users after a refused setup: got %d, want 0", got)
		}
		c.setup(adminWorkspace, adminEmail, adminPassword)
	})
}

// TestSignInSuccessGivesTheAttemptBack: signing in right does not use up
// the address's allowance, and forgives the email's failures.
func TestSignInSuccessGivesTheAttemptBack(t *testing.T) {
	t.Parallel()
	ts, _ := newSignedIn(t, serverOpts{})
	office := "198.51.100.9:1"
	for i := 0; i < 30; i++ { // more than the address's 20
		ts.client().post("/login", url.Values{"email": {adminEmail}, "password": {adminPassword}}, fromAddr(office))
	}
	c := ts.client()
	c.remoteAddr = office
	c.signIn(adminEmail, adminPassword)
	wrong := url.Values{"email": {adminEmail}, "password": {"not the password"}}
	for i := 1; i <= 4; i++ {
		if r := c.post("/login", wrong); r.Code != http.StatusUnauthorized {
			t.Fatalf("failure %d: got %d, want 401", i, r.Code)
		}
	}
	c.signIn(adminEmail, adminPassword)
	for i := 1; i <= 5; i++ {
		if r := ts.client().post("/login", wrong, fromAddr(office)); r.Code != http.StatusUnauthorized {
			t.Fatalf("failure %d after a success: got %d, want 401 (failures forgiven)", i, r.Code)
		}
	}
}
