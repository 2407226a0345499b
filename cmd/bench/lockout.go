package main

// The lockout attack (go run ./cmd/bench -lockout): someone who knows the
// admin's email sends wrong passwords from one address for a minute (a
// burst of 128 at once, then one every 0.5 s) while the admin's browser,
// which signed in once before and so carries its device cookie, signs in
// every 3 s, and so does a browser that never did, from a third address.
// Each client has its own loopback source address (127.0.0.2, .3, .4),
// which the server reads from the connection.

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"strings"
	"sync"
	"time"
)

const (
	lockoutAttack = 60 * time.Second       // how long the attack lasts
	lockoutEvery  = 500 * time.Millisecond // one wrong password per
	lockoutBurst  = 128                    // wrong passwords at once, at the start
	lockoutOwner  = 3 * time.Second        // the owner signs in every
)

// signInTally is what one client's sign-ins got.
type signInTally struct {
	statuses map[int]int
	errs     int
	slowest  time.Duration
}

func (t *signInTally) add(code int, err error, el time.Duration) {
	if err != nil {
		t.errs++
		return
	}
	t.statuses[code]++
	t.slowest = max(t.slowest, el)
}

func (t *signInTally) total() int {
	n := t.errs
	for _, c := range t.statuses {
		n += c
	}
	return n
}

func runLockout(ctx context.Context, cfg config, stdout, stderr io.Writer) error {
	logf := logTo(stderr)
	start := time.Now()
	const password = "the owner's right password"
	setup, srv, err := newAdminServer(ctx, cfg, "lockout", password, 0, logf)
	if err != nil {
		return err
	}
	defer setup.done()
	stopped := false
	defer func() {
		if !stopped {
			srv.stop()
		}
	}()

	// from returns a client whose connections leave from ip.
	from := func(ip string, jar http.CookieJar) *http.Client {
		d := &net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(ip)}, Timeout: 5 * time.Second}
		return &http.Client{
			Transport: &http.Transport{DialContext: d.DialContext, MaxIdleConnsPerHost: lockoutBurst},
			Jar:       jar, Timeout: 30 * time.Second,
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		}
	}
	signIn := func(c *http.Client, pw string) (int, time.Duration, error) {
		body := url.Values{"email": {benchAdmin}, "password": {pw}}.Encode()
		t0 := time.Now()
		resp, err := c.Post(srv.url+"/login", "application/x-www-form-urlencoded", strings.NewReader(body))
		el := time.Since(t0)
		if err != nil {
			return 0, el, err
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		return resp.StatusCode, el, nil
	}

	jar, _ := cookiejar.New(nil)
	known := from("127.0.0.3", jar)
	if code, _, err := signIn(known, password); err != nil || code != http.StatusSeeOther {
		return fmt.Errorf("the owner's first sign-in: status %d, %v (want 303)", code, err)
	}
	loginURL, _ := url.Parse(srv.url + "/login")
	hasDevice := false
	for _, ck := range jar.Cookies(loginURL) {
		hasDevice = hasDevice || strings.HasPrefix(ck.Name, "blnk_device_")
	}
	newcomer := from("127.0.0.4", nil)
	attacker := from("127.0.0.2", nil)

	logf("attacking for %s: %d wrong passwords at once from 127.0.0.2, then one every %s; the owner signs in every %s", lockoutAttack, lockoutBurst, lockoutEvery, lockoutOwner)
	attack := signInTally{statuses: map[int]int{}}
	var mu sync.Mutex
	var wg sync.WaitGroup
	deadline := time.Now().Add(lockoutAttack)
	for range lockoutBurst {
		wg.Go(func() {
			code, el, err := signIn(attacker, "a wrong password")
			mu.Lock()
			attack.add(code, err, el)
			mu.Unlock()
		})
	}
	wg.Go(func() {
		t := time.NewTicker(lockoutEvery)
		defer t.Stop()
		for time.Now().Before(deadline) {
			<-t.C
			code, el, err := signIn(attacker, "a wrong password")
			mu.Lock()
			attack.add(code, err, el)
			mu.Unlock()
		}
	})
	owner := signInTally{statuses: map[int]int{}}
	fresh := signInTally{statuses: map[int]int{}}
	tick := time.NewTicker(lockoutOwner)
	for time.Now().Before(deadline) {
		<-tick.C
		code, el, err := signIn(known, password)
		owner.add(code, err, el)
		code, el, err = signIn(newcomer, password)
		fresh.add(code, err, el)
	}
	tick.Stop()
	wg.Wait()
	stopped = true
	stopErr := srv.stop()

	w := stdout
	model, ncpu := cpuInfo()
	fmt.Fprintf(w, "## Lockout attack\n\n")
	fmt.Fprintf(w, "%s, %d cores; %s; the real server (default settings, SQLite), client addresses from the connection (127.0.0.2 attacker, 127.0.0.3 the owner's known browser, 127.0.0.4 a new browser). For %s: %d wrong passwords at once, then one every %s from the attacker; the owner's browser (signed in once before: device cookie %v) and the new browser sign in every %s.\n\n",
		time.Now().UTC().Format("2006-01-02 15:04 UTC"), ncpu, model, lockoutAttack, lockoutBurst, lockoutEvery, hasDevice, lockoutOwner)
	fmt.Fprintf(w, "| client | sign-ins | 303 (signed in) | 401 | 429 | 503 | no answer | slowest |\n|---|---:|---:|---:|---:|---:|---:|---:|\n")
	for _, row := range []struct {
		name string
		t    *signInTally
	}{{"attacker (wrong password)", &attack}, {"owner's known browser", &owner}, {"new browser, other address", &fresh}} {
		fmt.Fprintf(w, "| %s | %d | %d | %d | %d | %d | %d | %s |\n", row.name, row.t.total(), row.t.statuses[303], row.t.statuses[401],
			row.t.statuses[429], row.t.statuses[503], row.t.errs, fmtDur(row.t.slowest))
	}
	fmt.Fprintf(w, "\nGoals:\n\n")
	fmt.Fprintf(w, "- %s\n", verdict(owner.statuses[303] == owner.total(), fmt.Sprintf("the known browser signed in %d of %d times, want every time", owner.statuses[303], owner.total())))
	fmt.Fprintf(w, "- %s\n", verdict(fresh.statuses[303] == fresh.total(), fmt.Sprintf("a new browser elsewhere signed in %d of %d times, want every time (one address cannot lock the account)", fresh.statuses[303], fresh.total())))
	fmt.Fprintf(w, "- %s\n", verdict(attack.statuses[401] <= 5+int(lockoutAttack/(20*time.Second))+1, fmt.Sprintf("the attacker's passwords checked: %d, want at most %d (5, then one per 20 s)", attack.statuses[401], 5+int(lockoutAttack/(20*time.Second))+1)))
	var problems []string
	if !hasDevice {
		problems = append(problems, "the owner's first sign-in set no device cookie")
	}
	if stopErr != nil {
		problems = append(problems, fmt.Sprintf("the server did not stop cleanly: %v", stopErr))
	}
	if e := serverErrors(srv.stderr.String()); e != "" {
		problems = append(problems, "the server logged errors:\n"+e)
	}
	writeClosing(w, problems, start)
	return measured(problems)
}
