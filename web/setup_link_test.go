package web_test

import (
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/blnk-cloud/apikeys/web"
)

// TestSetupLink: a server given a setup token (it listens on more than
// loopback) shows the setup form only to the link's token: without it,
// or with a wrong one, a 403 page that says to open the link; the right
// one works, once. Without a token (loopback) /setup needs none.
func TestSetupLink(t *testing.T) {
	const token = "s3cret-setup-token-of-192-bits-x"
	ts := newTestServer(t, serverOpts{config: func(c *web.Config) { c.SetupToken = token }})
	c := ts.client()
	setupForm := url.Values{"workspace": {adminWorkspace}, "email": {adminEmail}, "password": {adminPassword}, "confirm": {adminPassword}}

	for _, tt := range []struct {
		name, target string
		form         url.Values
	}{
		{"GET without a token", "/setup", nil},
		{"GET with a wrong token", "/setup?token=" + strings.ToUpper(token), nil},
		{"GET with an empty token", "/setup?token=", nil},
		{"POST without a token", "/setup", setupForm},
		{"POST with a wrong token", "/setup?token=nope", setupForm},
	} {
		t.Run(tt.name, func(t *testing.T) {
			var r *response
			if tt.form == nil {
				r = c.get(tt.target)
			} else {
				r = c.post(tt.target, tt.form)
			}
			if r.Code != http.StatusForbidden {
				t.Fatalf("status %d, want 403", r.Code)
			}
			d := parse(t, r.Body)
			if got := d.Find("h1").Text(); got != "Open the setup link" {
				t.Errorf("h1 = %q, want Open the setup link", got)
			}
			if d.Find(`form[action="/setup"]`).Length() != 0 {
				t.Errorf("the setup form is shown without the link's token")
			}
			if got := r.Header.Get("Referrer-Policy"); got != "no-referrer" {
				t.Errorf("Referrer-Policy %q, want no-referrer", got)
			}
		})
	}
	// Every page still leads to /setup, which asks for the link.
	if r := c.get("/settings/api-keys"); r.Code != http.StatusSeeOther || r.Header.Get("Location") != "/setup" {
		t.Errorf("keys page before setup: %d to %q, want 303 to /setup", r.Code, r.Header.Get("Location"))
	}
	if n := ts.count("users"); n != 0 {
		t.Fatalf("%d users after refused setups, want 0", n)
	}

	// The link shows the form, which carries the token on.
	r := c.get("/setup?token=" + token)
	if r.Code != http.StatusOK {
		t.Fatalf("GET with the token: %d, want 200", r.Code)
	}
	if v, _ := parse(t, r.Body).Find(`form[action="/setup"] input[type="hidden"][name="token"]`).Attr("value"); v != token {
		t.Errorf("the form carries token %q, want the link's", v)
	}
	// A problem in the form keeps it.
	bad := url.Values{"workspace": {""}, "email": {adminEmail}, "password": {adminPassword}, "confirm": {adminPassword}, "token": {token}}
	r = c.post("/setup", bad)
	if r.Code != http.StatusUnprocessableEntity {
		t.Fatalf("POST with a problem: %d, want 422", r.Code)
	}
	if v, _ := parse(t, r.Body).Find(`input[name="token"]`).Attr("value"); v != token {
		t.Errorf("after a problem the form carries token %q, want the link's", v)
	}
	good := url.Values{"token": {token}}
	for k, v := range setupForm {
		good[k] = v
	}
	r = c.post("/setup", good)
	if r.Code != http.StatusSeeOther || r.Header.Get("Location") != "/settings/api-keys" {
		t.Fatalf("POST with the token: %d to %q, want 303 to /settings/api-keys", r.Code, r.Header.Get("Location"))
	}
	// Once: after setup the link is gone with the page.
	if r := ts.client().get("/setup?token=" + token); r.Code != http.StatusNotFound {
		t.Errorf("the link after setup: %d, want 404", r.Code)
	}
	if r := ts.client().post("/setup", good); r.Code != http.StatusNotFound {
		t.Errorf("a second setup with the link: %d, want 404", r.Code)
	}
	if n := ts.count("users"); n != 1 {
		t.Errorf("%d users, want 1", n)
	}
	if strings.Contains(ts.logs.String(), token) {
		t.Errorf("the server's log holds the setup token")
	}
}

// TestSetupWithoutLink: a server without a setup token (it listens on
// loopback, as `make run`) shows the form to the first visitor, as before.
func TestSetupWithoutLink(t *testing.T) {
	ts := newTestServer(t, serverOpts{})
	c := ts.client()
	r := c.get("/setup")
	if r.Code != http.StatusOK {
		t.Fatalf("GET /setup: %d, want 200", r.Code)
	}
	d := parse(t, r.Body)
	if d.Find(`form[action="/setup"]`).Length() != 1 || d.Find(`input[name="token"]`).Length() != 0 {
		t.Errorf("want the setup form, without a token field")
	}
	c.setup(adminWorkspace, adminEmail, adminPassword)
}
