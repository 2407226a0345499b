package web_test

import (
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"
)

// Anyone who knows an admin's email must not be able to lock the admin
// out (OWASP's device cookie): a browser that signed in to the account
// before is limited by its own failures only, and one address cannot
// fill the account's count.

var (
	rightPassword = url.Values{"email": {adminEmail}, "password": {adminPassword}}
	wrongPassword = url.Values{"email": {adminEmail}, "password": {"not the password"}}
)

// knownBrowser returns a browser at addr that signed in to the admin's
// account once, and so carries its device cookie.
func knownBrowser(t *testing.T, ts *testServer, addr string) *client {
	t.Helper()
	c := ts.client()
	c.remoteAddr = addr
	c.signIn(adminEmail, adminPassword)
	if deviceCookie(c) == nil {
		t.Fatalf("no device cookie after signing in; cookies for /login: %v", c.cookiesFor("/login"))
	}
	return c
}

// deviceCookie returns the client's device cookie, or nil.
func deviceCookie(c *client) *http.Cookie {
	for _, ck := range c.cookiesFor("/login") {
		if strings.HasPrefix(ck.Name, "blnk_device_") {
			return ck
		}
	}
	return nil
}

// stranger returns a browser without cookies at addr.
func stranger(ts *testServer, addr string) *client {
	c := ts.client()
	c.remoteAddr = addr
	return c
}

// lockAccount fails email's password from enough addresses, spread over
// servers, to use up the account's own allowance (25), and checks that a
// browser from yet another address is then refused.
func lockAccount(t *testing.T, email, prefix string, servers ...*testServer) {
	t.Helper()
	form := url.Values{"email": {email}, "password": {"not the password"}}
	n := 0
	for a := 1; a <= 5; a++ {
		for i := 1; i <= 5; i++ {
			ts := servers[n%len(servers)]
			n++
			if r := stranger(ts, prefix+strconv.Itoa(a)+":1").post("/login", form); r.Code != http.StatusUnauthorized {
				t.Fatalf("failure %d from address %d: got %d, want 401", i, a, r.Code)
			}
		}
	}
	for _, ts := range servers {
		if r := stranger(ts, prefix+"99:1").post("/login", form); r.Code != http.StatusTooManyRequests {
			t.Fatalf("after failures from 5 addresses, a sixth address: got %d, want 429 (the account's allowance used up)", r.Code)
		}
	}
}

// TestSignInLockoutBurst: 128 wrong passwords at once from one address
// lock neither the known browser (even at that address) nor a new
// browser elsewhere out.
func TestSignInLockoutBurst(t *testing.T) {
	t.Parallel()
	for _, shared := range []bool{false, true} {
		t.Run("shared "+strconv.FormatBool(shared), func(t *testing.T) {
			t.Parallel()
			ts, _ := newSignedIn(t, serverOpts{sharedLogins: shared})
			const attacker = "203.0.113.7:1234"
			known := knownBrowser(t, ts, "198.51.100.10:1")
			knownBehindAttacker := knownBrowser(t, ts, attacker)

			codes, _ := tally(t, storm(ts, 128, func(int) url.Values { return wrongPassword }, func(int) string { return attacker }))
			if codes[401] != 5 || codes[429] != 123 {
				t.Errorf("128 at once: statuses %v, want 5 × 401 and 123 × 429", codes)
			}

			if r := known.post("/login", rightPassword); r.Code != http.StatusSeeOther {
				t.Errorf("known browser right after the burst: got %d, want 303", r.Code)
			}
			if r := knownBehindAttacker.post("/login", rightPassword); r.Code != http.StatusSeeOther {
				t.Errorf("known browser at the attacker's address: got %d, want 303", r.Code)
			}
			if r := stranger(ts, "198.51.100.99:1").post("/login", rightPassword); r.Code != http.StatusSeeOther {
				t.Errorf("new browser at another address: got %d, want 303 (one address cannot lock the account)", r.Code)
			}
			r := stranger(ts, attacker).post("/login", rightPassword)
			if r.Code != http.StatusTooManyRequests || !strings.HasPrefix(problemText(r.Body), "Too many failed sign-ins.") {
				t.Errorf("new browser at the attacker's address: got %d %q, want 429 Too many failed sign-ins", r.Code, problemText(r.Body))
			}
		})
	}
}

// TestSignInLockoutTrickle: one wrong password every 0.5 s from one
// address for 60 s; the known browser, at the same address, signs in
// every 5 s and succeeds every time, and so does a new browser elsewhere.
func TestSignInLockoutTrickle(t *testing.T) {
	t.Parallel()
	for _, shared := range []bool{false, true} {
		t.Run("shared "+strconv.FormatBool(shared), func(t *testing.T) {
			t.Parallel()
			ts, _ := newSignedIn(t, serverOpts{sharedLogins: shared})
			const attacker = "203.0.113.7:1234"
			known := knownBrowser(t, ts, attacker)
			attacks := map[int]int{}
			var tries, knownOK, newOK int
			for step := 1; step <= 120; step++ {
				ts.clock.Advance(500 * time.Millisecond)
				attacks[stranger(ts, attacker).post("/login", wrongPassword).Code]++
				if step%10 != 0 {
					continue
				}
				tries++
				if r := known.post("/login", rightPassword); r.Code == http.StatusSeeOther {
					knownOK++
				}
				if r := stranger(ts, "198.51.100."+strconv.Itoa(step)+":1").post("/login", rightPassword); r.Code == http.StatusSeeOther {
					newOK++
				}
			}
			if knownOK != tries {
				t.Errorf("known browser: %d of %d sign-ins succeeded, want all", knownOK, tries)
			}
			if newOK != tries {
				t.Errorf("new browsers at other addresses: %d of %d sign-ins succeeded, want all", newOK, tries)
			}
			// The attacker was still held: 5, then one per 20 s.
			if attacks[401] > 5+3 || attacks[401]+attacks[429] != 120 {
				t.Errorf("attacker's statuses %v, want at most 8 × 401, the rest 429", attacks)
			}
		})
	}
}

// TestSignInLockoutDeviceCookieIsChecked: with the account locked by
// failures from many addresses, only the account's own, valid, unexpired
// device cookie lets the owner in; a locked-out stranger reads the same
// message whether or not the account exists.
func TestSignInLockoutDeviceCookieIsChecked(t *testing.T) {
	t.Parallel()
	ts, _ := newSignedIn(t, serverOpts{})
	other := ts.addWorkspace("Other", "other@example.com", adminPassword)
	known := knownBrowser(t, ts, "198.51.100.10:1")
	valid, otherCookie := deviceCookie(known), deviceCookie(other)
	if otherCookie == nil || otherCookie.Name == valid.Name {
		t.Fatalf("other account's device cookie: %v, want one of another name than %q", otherCookie, valid.Name)
	}

	lockAccount(t, adminEmail, "203.0.113.", ts)
	lockAccount(t, "nobody@example.com", "203.0.114.", ts)
	locked := stranger(ts, "198.51.100.30:1").post("/login", rightPassword)
	unknown := stranger(ts, "198.51.100.31:1").post("/login", url.Values{"email": {"nobody@example.com"}, "password": {adminPassword}})
	if locked.Code != unknown.Code || problemText(locked.Body) != problemText(unknown.Body) {
		t.Errorf("locked out: existing account %d %q, unknown email %d %q; want the same", locked.Code, problemText(locked.Body), unknown.Code, problemText(unknown.Body))
	}

	parts := strings.Split(valid.Value, ".")
	if len(parts) != 3 {
		t.Fatalf("device cookie %q: want nonce.expiry.signature", valid.Value)
	}
	later, _ := strconv.ParseInt(parts[1], 10, 64)
	// Another nonce: its first character changed (to one it is not: a
	// random nonce starts with "A" one time in 64).
	otherNonce := "A" + parts[0][1:]
	if parts[0][0] == 'A' {
		otherNonce = "B" + parts[0][1:]
	}
	tests := []struct {
		name    string
		cookies []*http.Cookie
	}{
		{"none", []*http.Cookie{}},
		{"another nonce", []*http.Cookie{{Name: valid.Name, Value: otherNonce + "." + parts[1] + "." + parts[2]}}},
		{"a later expiry", []*http.Cookie{{Name: valid.Name, Value: parts[0] + "." + strconv.FormatInt(later+86400, 10) + "." + parts[2]}}},
		{"no signature", []*http.Cookie{{Name: valid.Name, Value: parts[0] + "." + parts[1] + "."}}},
		{"garbage", []*http.Cookie{{Name: valid.Name, Value: "x"}}},
		{"another account's", []*http.Cookie{otherCookie}},
		{"another account's, renamed", []*http.Cookie{{Name: valid.Name, Value: otherCookie.Value}}},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := stranger(ts, "198.51.100."+strconv.Itoa(40+i)+":1").post("/login", rightPassword, withCookies(tt.cookies))
			if r.Code != http.StatusTooManyRequests {
				t.Errorf("got %d, want 429 (no exemption)", r.Code)
			}
		})
	}
	if r := known.post("/login", rightPassword); r.Code != http.StatusSeeOther {
		t.Errorf("the real device cookie: got %d, want 303", r.Code)
	}

	t.Run("expired", func(t *testing.T) {
		ts.clock.Advance(366 * 24 * time.Hour)
		lockAccount(t, adminEmail, "203.0.115.", ts)
		if r := known.post("/login", rightPassword); r.Code != http.StatusTooManyRequests {
			t.Errorf("a device cookie over a year old: got %d, want 429", r.Code)
		}
	})
}

// TestSignInLockoutKnownBrowserFails: wrong passwords from the known
// browser lock that browser, and only it.
func TestSignInLockoutKnownBrowserFails(t *testing.T) {
	t.Parallel()
	ts, _ := newSignedIn(t, serverOpts{})
	const office = "198.51.100.10:1"
	known := knownBrowser(t, ts, office)
	colleague := knownBrowser(t, ts, office)
	for i := 1; i <= 5; i++ {
		if r := known.post("/login", wrongPassword); r.Code != http.StatusUnauthorized {
			t.Fatalf("failure %d: got %d, want 401", i, r.Code)
		}
	}
	r := known.post("/login", rightPassword)
	if r.Code != http.StatusTooManyRequests {
		t.Fatalf("known browser after 5 failures of its own: got %d, want 429", r.Code)
	}
	wait, _ := strconv.Atoi(r.Header.Get("Retry-After"))
	if r := colleague.post("/login", rightPassword); r.Code != http.StatusSeeOther {
		t.Errorf("another known browser at the same address: got %d, want 303", r.Code)
	}
	if r := stranger(ts, office).post("/login", rightPassword); r.Code != http.StatusSeeOther {
		t.Errorf("a new browser at the same address: got %d, want 303", r.Code)
	}
	ts.clock.Advance(time.Duration(wait) * time.Second)
	if r := known.post("/login", rightPassword); r.Code != http.StatusSeeOther {
		t.Errorf("known browser after Retry-After (%ds): got %d, want 303", wait, r.Code)
	}
}

// TestSignInLockoutSeveralServers: two servers on one database share the
// counts and accept each other's device cookies.
func TestSignInLockoutSeveralServers(t *testing.T) {
	t.Parallel()
	a, _ := newSignedIn(t, serverOpts{sharedLogins: true})
	b := newTestServer(t, serverOpts{dsn: a.dbPath, sharedLogins: true})
	known := knownBrowser(t, a, "198.51.100.10:1")
	knownAtB := &client{t: t, ts: b, jar: known.jar, remoteAddr: known.remoteAddr}

	// Failures spread over both servers lock the account on both for
	// browsers without the device cookie (lockAccount checks it) ...
	lockAccount(t, adminEmail, "203.0.113.", a, b)
	// ... and a burst at B from one address on top of that,
	tally(t, storm(b, 128, func(int) url.Values { return wrongPassword }, func(int) string { return "203.0.113.7:1234" }))
	// but the browser that signed in at A is let in by B.
	if r := knownAtB.post("/login", rightPassword); r.Code != http.StatusSeeOther {
		t.Errorf("known browser at server B: got %d, want 303", r.Code)
	}
	if r := known.post("/login", rightPassword); r.Code != http.StatusSeeOther {
		t.Errorf("known browser at server A: got %d, want 303", r.Code)
	}
	forged := &http.Cookie{Name: deviceCookie(known).Name, Value: "forged.1.AAAA"}
	if r := stranger(b, "198.51.100.20:1").post("/login", rightPassword, withCookies([]*http.Cookie{forged})); r.Code != http.StatusTooManyRequests {
		t.Errorf("forged device cookie at server B: got %d, want 429", r.Code)
	}
}

// TestSignInLockoutIPv6: an IPv6 host holds a whole /64; guesses from
// addresses of one /64 are counted as from one address, or a new address
// per guess would escape every per-address count.
func TestSignInLockoutIPv6(t *testing.T) {
	t.Parallel()
	ts, _ := newSignedIn(t, serverOpts{})
	for i := 1; i <= 5; i++ {
		if r := stranger(ts, "[2001:db8:1:2::"+strconv.Itoa(i)+"]:1").post("/login", wrongPassword); r.Code != http.StatusUnauthorized {
			t.Fatalf("failure %d: got %d, want 401", i, r.Code)
		}
	}
	if r := stranger(ts, "[2001:db8:1:2:ffff::9]:1").post("/login", rightPassword); r.Code != http.StatusTooManyRequests {
		t.Errorf("another address of the same /64: got %d, want 429", r.Code)
	}
	if r := stranger(ts, "[2001:db8:1:3::1]:1").post("/login", rightPassword); r.Code != http.StatusSeeOther {
		t.Errorf("an address of another /64: got %d, want 303", r.Code)
	}
}
