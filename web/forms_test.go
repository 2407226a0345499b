package web_test

import (
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/PuerkitoBio/goquery"
	"github.com/blnk-cloud/apikeys/internal/apikey"
	"github.com/blnk-cloud/apikeys/internal/testkit/htmlcheck"
)

// Hostile and odd input, shared by the form tests.
var (
	long      = strings.Repeat("a", 10_000)
	longEmoji = strings.Repeat("🔑", 2_000) // 24 KB URL-encoded: under the 64 KiB limit
	script    = "<script>alert(1)</script>"
	sqlish    = "'; DROP TABLE api_keys; --"
	// pasted is a real key, with its checksum, as someone pastes it into
	// the wrong field.
	pasted = func() string {
		k, err := apikey.Generate()
		if err != nil {
			panic(err)
		}
		return k
	}()
)

// looksLikeKey is the message next to a field a key was pasted into.
const looksLikeKey = "This looks like an API key; never paste keys here."

// checkEscaped fails if the raw script tag is in body, or if sent is
// in the form and its escaped form is not in body.
func checkEscaped(t *testing.T, body string, sent ...string) {
	t.Helper()
	if strings.Contains(body, script) {
		t.Errorf("body has an unescaped %s", script)
	}
	for _, s := range sent {
		if strings.Contains(s, script) && !strings.Contains(body, "&lt;script&gt;alert(1)&lt;/script&gt;") {
			t.Errorf("body lacks the escaped &lt;script&gt; the user sent")
		}
	}
	valid := true
	for _, s := range sent {
		valid = valid && utf8.ValidString(s)
	}
	if valid && !utf8.ValidString(body) {
		t.Errorf("body is not valid UTF-8")
	}
}

func TestSetupRefusesBadInput(t *testing.T) {
	t.Parallel()
	ts := newTestServer(t, serverOpts{})
	c := ts.client()
	good := func(changes ...string) url.Values {
		v := url.Values{"workspace": {"Acme"}, "email": {"admin@example.com"}, "password": {adminPassword}, "confirm": {adminPassword}}
		for i := 0; i+1 < len(changes); i += 2 {
			v.Set(changes[i], changes[i+1])
		}
		return v
	}
	tests := []struct {
		name string
		form url.Values
		want map[string]string // field -> part of its problem
	}{
		{"everything empty", url.Values{}, map[string]string{"workspace": "Enter a workspace name.", "email": "Enter an email address.", "password": "Use at least 12 characters."}},
		{"only spaces", good("workspace", "   ", "email", "  "), map[string]string{"workspace": "Enter a workspace name.", "email": "Enter an email address."}},
		{"10,000-character workspace", good("workspace", long), map[string]string{"workspace": "Use at most 100 characters (this one has 10000)."}},
		{"10,000-character email", good("email", long+"@example.com"), map[string]string{"email": "Enter a valid email address"}},
		{"10,000-character password", good("password", long, "confirm", long), map[string]string{"password": "Use at most 256 characters."}},
		{"2,000 emoji", good("workspace", longEmoji, "email", longEmoji), map[string]string{"workspace": "Use at most 100 characters", "email": "Enter a valid email address"}},
		{"a key as workspace", good("workspace", pasted), map[string]string{"workspace": looksLikeKey}},
		{"a key in workspace", good("workspace", "Acme "+pasted), map[string]string{"workspace": looksLikeKey}},
		{"zero-width space inside workspace", good("workspace", "Ac\u200bme"), map[string]string{"workspace": "zero-width characters (U+200B here)"}},
		{"tag characters in workspace", good("workspace", "Acme\U000E0041"), map[string]string{"workspace": "Unicode tag characters"}},
		{"line separator in workspace", good("workspace", "Acme\u2028Corp"), map[string]string{"workspace": "line or paragraph separators (U+2028 here)"}},
		{"tab in workspace", good("workspace", "Acme\tCorp"), map[string]string{"workspace": "control characters"}},
		{"newline in workspace", good("workspace", "Acme\nCorp"), map[string]string{"workspace": "control characters"}},
		{"escape in workspace", good("workspace", "Acme\x1b[31mCorp"), map[string]string{"workspace": "control characters"}},
		{"right-to-left override in workspace", good("workspace", "Acme\u202eproC"), map[string]string{"workspace": "control characters"}},
		{"zero-width space as workspace", good("workspace", "\u200b"), map[string]string{"workspace": "Workspace name must contain a visible character"}},
		{"control characters in password", good("password", "abc\x01defghijklmn", "confirm", "abc\x01defghijklmn"), map[string]string{"password": "control characters"}},
		{"password of spaces", good("password", strings.Repeat(" ", 12), "confirm", strings.Repeat(" ", 12)), map[string]string{"password": "only spaces"}},
		{"script workspace with a bad email", good("workspace", script, "email", script), map[string]string{"email": "Enter a valid email address"}},
		{"SQL in email", good("email", sqlish), map[string]string{"email": "Enter a valid email address"}},
		{"email with a display name", good("email", "Admin <admin@example.com>"), map[string]string{"email": "Enter a valid email address"}},
		{"email without a domain dot", good("email", "admin@localhost"), map[string]string{"email": "Enter a valid email address"}},
		{"emoji email", good("email", "🔑@🔑"), map[string]string{"email": "Enter a valid email address"}},
		{"mismatched passwords", good("confirm", adminPassword+"!"), map[string]string{"confirm": "The passwords do not match."}},
		{"short password", good("password", "short", "confirm", "short"), map[string]string{"password": "Use at least 12 characters."}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := c.post("/setup", tt.form)
			if r.Code != http.StatusUnprocessableEntity {
				t.Fatalf("status: got %d, want 422", r.Code)
			}
			got := problems(r.Body)
			for field, want := range tt.want {
				if !strings.Contains(got[field], want) {
					t.Errorf("problem of %s: got %q, want %q in it", field, got[field], want)
				}
			}
			for field := range got {
				if _, ok := tt.want[field]; !ok {
					t.Errorf("unexpected problem of %s: %q", field, got[field])
				}
			}
			for _, field := range []string{"workspace", "email"} {
				if v, _ := inputValue(r.Body, "f-"+field); v != tt.form.Get(field) {
					t.Errorf("input %s: got %.40q, want the input kept, %.40q", field, v, tt.form.Get(field))
				}
			}
			for _, field := range []string{"password", "confirm"} {
				if v, _ := inputValue(r.Body, "f-"+field); v != "" {
					t.Errorf("input %s: got %q, want passwords never sent back", field, v)
				}
			}
			checkEscaped(t, r.Body, tt.form.Get("workspace"), tt.form.Get("email"))
			if ck := r.cookie("blnk_session"); ck != nil {
				t.Errorf("refused setup set a session cookie")
			}
			for _, table := range []string{"workspaces", "users", "memberships", "sessions"} {
				if n := ts.count(table); n != 0 {
					t.Errorf("rows in %s: got %d, want 0", table, n)
				}
			}
		})
	}
	if r := c.get("/setup"); r.Code != http.StatusOK {
		t.Errorf("GET /setup after refused setups: got %d, want 200", r.Code)
	}
}

func TestSignInRefusesBadInput(t *testing.T) {
	t.Parallel()
	ts, _ := newSignedIn(t, serverOpts{})
	tests := []struct {
		name        string
		email, pass string
		wantCode    int
		wantProblem string
		wantEmail   string // kept in the form
	}{
		{"empty", "", "", 422, "Enter your email and password.", ""},
		{"no password", adminEmail, "", 422, "Enter your email and password.", adminEmail},
		{"no email", "", adminPassword, 422, "Enter your email and password.", ""},
		{"10,000-character email", long, adminPassword, 401, "The email or password is not right.", long[:254]},
		{"10,000-character password", adminEmail, long, 401, "The email or password is not right.", adminEmail},
		{"2,000 emoji", longEmoji, longEmoji, 401, "The email or password is not right.", ""},
		{"control characters", "ad\x01min@example.com\x1b", "pass\tword\n", 401, "The email or password is not right.", "ad\x01min@example.com\x1b"},
		{"script", script, script, 401, "The email or password is not right.", script},
		{"SQL", sqlish, sqlish, 401, "The email or password is not right.", sqlish},
		{"SQL in the password of a real account", adminEmail, "' OR '1'='1", 401, "The email or password is not right.", adminEmail},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := ts.count("sessions")
			r := ts.client().post("/login", url.Values{"email": {tt.email}, "password": {tt.pass}}, fromAddr("192.0.2."+strconv.Itoa(100+i)+":1"))
			if r.Code != tt.wantCode {
				t.Errorf("status: got %d, want %d", r.Code, tt.wantCode)
			}
			if got := problemText(r.Body); got != tt.wantProblem {
				t.Errorf("problem: got %q, want %q", got, tt.wantProblem)
			}
			v, _ := inputValue(r.Body, "f-email")
			if tt.wantEmail != "" && v != tt.wantEmail {
				t.Errorf("email input: got %.40q, want %.40q", v, tt.wantEmail)
			}
			if v, _ := inputValue(r.Body, "f-password"); v != "" {
				t.Errorf("password input: got %q, want it empty", v)
			}
			checkEscaped(t, r.Body, tt.email)
			if got := ts.count("sessions"); got != before {
				t.Errorf("sessions: got %d, want %d", got, before)
			}
		})
	}
}

// checkedScopes returns the scopes ticked in a create form.
func checkedScopes(body string) []string {
	var out []string
	htmlcheck.Read(body).Find(`fieldset#f-scopes input[type="checkbox"][name="scopes"][checked]`).Each(func(_ int, in *goquery.Selection) {
		v, _ := in.Attr("value")
		out = append(out, v)
	})
	return out
}

func TestCreateKeyRefusesBadInput(t *testing.T) {
	t.Parallel()
	ts, c := newSignedIn(t, serverOpts{})
	c.create("Existing key") // so that the list is not empty and counts are not all zero
	form := func(changes ...any) url.Values {
		v := url.Values{"name": {"Good name"}, "scopes": {"mcp:read"}, "expires": {"30d"}, "form_token": {formToken()}}
		for i := 0; i+1 < len(changes); i += 2 {
			k := changes[i].(string)
			switch x := changes[i+1].(type) {
			case string:
				v.Set(k, x)
			case []string:
				v[k] = x
			case nil:
				v.Del(k)
			}
		}
		return v
	}
	tests := []struct {
		name string
		form url.Values
		want map[string]string
	}{
		{"empty name", form("name", ""), map[string]string{"name": "Enter a name for the key."}},
		{"name of spaces", form("name", "   \u00a0 "), map[string]string{"name": "Enter a name for the key."}},
		{"no name field", form("name", nil), map[string]string{"name": "Enter a name for the key."}},
		{"101 characters", form("name", strings.Repeat("x", 101)), map[string]string{"name": "Use at most 100 characters (this one has 101)."}},
		{"10,000 characters", form("name", long), map[string]string{"name": "Use at most 100 characters (this one has 10000)."}},
		{"2,000 emoji", form("name", longEmoji), map[string]string{"name": "Use at most 100 characters (this one has 2000)."}},
		{"bell", form("name", "prod\x07key"), map[string]string{"name": "control characters"}},
		{"a key as name", form("name", pasted), map[string]string{"name": looksLikeKey}},
		{"a key in the name", form("name", "prod "+pasted+" backup"), map[string]string{"name": looksLikeKey}},
		{"a key in the description", form("description", "old one: "+pasted), map[string]string{"description": looksLikeKey}},
		{"a key in the allowlist", form("allowlist", "10.0.0.0/8\n"+pasted), map[string]string{"allowlist": looksLikeKey}},
		{"every IPv4 address", form("allowlist", "0.0.0.0/0"), map[string]string{"allowlist": "leave the allowlist empty to allow every address"}},
		{"every IPv6 address", form("allowlist", "2001:db8::/32, ::/0"), map[string]string{"allowlist": "::/0 allows every IPv6 address"}},
		{"zero-width space inside", form("name", "prod\u200bkey"), map[string]string{"name": "zero-width characters (U+200B here)"}},
		{"zero-width joiner between letters", form("name", "prod\u200dkey"), map[string]string{"name": "zero-width characters (U+200D here)"}},
		{"word joiner inside", form("name", "prod\u2060key"), map[string]string{"name": "zero-width characters (U+2060 here)"}},
		{"byte order mark inside", form("name", "prod\ufeffkey"), map[string]string{"name": "zero-width characters (U+FEFF here)"}},
		{"tag characters inside", form("name", "prod\U000E0069\U000E0067key"), map[string]string{"name": "Unicode tag characters"}},
		{"line separator inside", form("name", "prod\u2028key"), map[string]string{"name": "line or paragraph separators (U+2028 here)"}},
		{"paragraph separator inside", form("name", "prod\u2029key"), map[string]string{"name": "line or paragraph separators (U+2029 here)"}},
		{"first strong isolate", form("name", "prod\u2068key"), map[string]string{"name": "bidirectional control characters (U+2068 here)"}},
		{"zero-width space in the description", form("description", "see\u200bdocs"), map[string]string{"description": "zero-width characters"}},
		{"tag characters in the description", form("description", "notes\U000E0041"), map[string]string{"description": "Unicode tag characters"}},
		{"tab", form("name", "prod\tkey"), map[string]string{"name": "control characters"}},
		{"newline", form("name", "prod\nkey"), map[string]string{"name": "control characters"}},
		{"escape sequence", form("name", "prod\x1b[2Jkey"), map[string]string{"name": "control characters"}},
		{"bidi override", form("name", "prod\u202ekey"), map[string]string{"name": "bidirectional control characters (U+202E here)"}},
		{"zero-width spaces", form("name", "\u200b\u200b"), map[string]string{"name": "Name must contain a visible character"}},
		{"invisible characters", form("name", "\u2060\ufeff\u00ad\u0301"), map[string]string{"name": "Name must contain a visible character"}},
		{"script name without scopes", form("name", script, "scopes", nil), map[string]string{"scopes": "Choose at least one scope."}},
		{"SQL name with an unknown scope", form("name", sqlish, "scopes", []string{"admin"}), map[string]string{"scopes": `Unknown scope "admin"`}},
		{"emoji name with a past date", form("name", "🔑 Prod 🚀", "expires", "date", "expires_on", "2020-01-01"), map[string]string{"expires": "Choose a date after today."}},
		{"today", form("expires", "date", "expires_on", "2026-03-10"), map[string]string{"expires": "Choose a date after today."}},
		{"more than ten years ahead", form("expires", "date", "expires_on", "2036-03-11"), map[string]string{"expires": "at most 10 years"}},
		{"date in another format", form("expires", "date", "expires_on", "31/12/2026"), map[string]string{"expires": "YYYY-MM-DD"}},
		{"date choice without a date", form("expires", "date", "expires_on", ""), map[string]string{"expires": "Choose an expiry date, or Never."}},
		{"date of script", form("expires", "date", "expires_on", script), map[string]string{"expires": "YYYY-MM-DD"}},
		{"scopes=123", form("scopes", "123"), map[string]string{"scopes": `Unknown scope "123"`}},
		{"expires=[]", form("expires", "[]"), map[string]string{"expires": "Choose when the key expires."}},
		{"no expiry choice", form("expires", nil), map[string]string{"expires": "Choose when the key expires."}},
		{"scopes[]=mcp:read", form("scopes", nil, "scopes[]", "mcp:read"), map[string]string{"scopes": "Choose at least one scope."}},
		{"empty scope", form("scopes", ""), map[string]string{"scopes": "Unknown scope"}},
		{"upper-case scope", form("scopes", "MCP:READ"), map[string]string{"scopes": "Unknown scope"}},
		{"* with another scope", form("scopes", []string{"*", "mcp:read"}), map[string]string{"scopes": "choose it alone"}},
		{"10,000-character scope", form("scopes", long), map[string]string{"scopes": "Unknown scope"}},
		{"everything wrong", form("name", "", "scopes", []string{"nope"}, "expires", "forever"), map[string]string{"name": "Enter a name", "scopes": "Unknown scope", "expires": "Choose when the key expires."}},
	}
	for _, tt := range tests {
		for _, mode := range []string{"page", "htmx"} {
			t.Run(tt.name+"/"+mode, func(t *testing.T) {
				before := ts.counts()
				var opts []opt
				if mode == "htmx" {
					opts = append(opts, htmx())
				}
				r := c.post("/settings/api-keys", tt.form, opts...)
				if r.Code != http.StatusUnprocessableEntity {
					t.Fatalf("status: got %d, want 422\n%.500s", r.Code, r.Body)
				}
				if r.Header.Get("Location") != "" || r.Header.Get("HX-Redirect") != "" {
					t.Errorf("a refused form redirects")
				}
				if ck := r.cookie("blnk_reveal"); ck != nil {
					t.Errorf("a refused form set a reveal cookie")
				}
				switch mode {
				case "htmx":
					d := parse(t, r.Body)
					if top := d.Children(); top.Length() != 1 || !top.Is("form#create-key-form") || htmlcheck.Text(d.Selection) != htmlcheck.Text(top) {
						t.Errorf("htmx body: want the form alone, got %.200s", r.Body)
					}
				case "page":
					if !isFullPage(r.Body) || !parse(t, r.Body).Has("main form#create-key-form") {
						t.Errorf("body: want a whole page with the form")
					}
				}
				got := problems(r.Body)
				for field, want := range tt.want {
					if !strings.Contains(got[field], want) {
						t.Errorf("problem of %s: got %q, want %q in it", field, got[field], want)
					}
				}
				for field := range got {
					if _, ok := tt.want[field]; !ok {
						t.Errorf("unexpected problem of %s: %q", field, got[field])
					}
				}
				if v, _ := inputValue(r.Body, "f-name"); v != tt.form.Get("name") && utf8.ValidString(tt.form.Get("name")) {
					t.Errorf("name input: got %.40q, want the input kept, %.40q", v, tt.form.Get("name"))
				}
				if v, _ := inputValue(r.Body, "f-expires_on"); v != tt.form.Get("expires_on") {
					t.Errorf("date input: got %q, want %q", v, tt.form.Get("expires_on"))
				}
				if v, _ := inputValueByName(r.Body, "form_token"); v != tt.form.Get("form_token") {
					t.Errorf("form token: got %q, want the same token, %q", v, tt.form.Get("form_token"))
				}
				var known []string
				for _, s := range tt.form["scopes"] {
					if apikey.KnownScope(s) {
						known = append(known, s)
					}
				}
				if got := checkedScopes(r.Body); strings.Join(got, " ") != strings.Join(known, " ") {
					t.Errorf("ticked scopes: got %q, want %q", got, known)
				}
				checkEscaped(t, r.Body, tt.form.Get("name"), tt.form.Get("expires_on"))
				ts.checkCounts(t, before)
			})
		}
	}
}

func TestCreateKeyWithAFormTokenOfTheWrongShape(t *testing.T) {
	t.Parallel()
	ts, c := newSignedIn(t, serverOpts{})
	for i, tok := range []string{"", "short", script, strings.Repeat("z", 32), long} {
		f := keyForm("Odd token "+strconv.Itoa(i), "never")
		f.Set("form_token", tok)
		r := c.post("/settings/api-keys", f)
		if r.Code != http.StatusSeeOther {
			t.Errorf("form_token %.20q: got %d, want 303 (a fresh token is used)", tok, r.Code)
		}
	}
	if got, want := ts.count("api_keys"), 5; got != want {
		t.Errorf("api_keys: got %d, want %d", got, want)
	}
}

func TestFormBodiesOverTheLimitAre413(t *testing.T) {
	t.Parallel()
	ts, c := newSignedIn(t, serverOpts{})
	k := c.create("Kept")
	fresh := newTestServer(t, serverOpts{})
	big := "name=" + strings.Repeat("a", 65<<10) + "&scopes=*&expires=never"
	tests := []struct {
		name string
		ts   *testServer
		c    *client
		path string
	}{
		{"setup", fresh, fresh.client(), "/setup"},
		{"sign in", ts, ts.client(), "/login"},
		{"create key", ts, c, "/settings/api-keys"},
	}
	for _, tt := range tests {
		for _, chunked := range []bool{false, true} {
			name := tt.name + "/with Content-Length"
			var body io.Reader = strings.NewReader(big)
			if chunked {
				name = tt.name + "/chunked"
				body = io.MultiReader(strings.NewReader(big)) // no known length
			}
			t.Run(name, func(t *testing.T) {
				before := tt.ts.counts()
				r := tt.c.post(tt.path, nil, rawBody(body, "application/x-www-form-urlencoded"))
				if r.Code != http.StatusRequestEntityTooLarge {
					t.Errorf("status: got %d, want 413", r.Code)
				}
				if got := parse(t, r.Body).Text(".error-card p.muted"); got != "What you sent is too large." {
					t.Errorf("body: want the 413 message")
				}
				tt.ts.checkCounts(t, before)
			})
		}
	}
	// Revoking and signing out read no form: a body of unknown length is
	// never read, so only a declared length is refused.
	for _, path := range []string{"/settings/api-keys/" + k.ID + "/revoke", "/logout"} {
		t.Run(path, func(t *testing.T) {
			before := ts.counts()
			r := c.post(path, nil, rawBody(strings.NewReader(big), "application/x-www-form-urlencoded"))
			if r.Code != http.StatusRequestEntityTooLarge {
				t.Errorf("status: got %d, want 413", r.Code)
			}
			ts.checkCounts(t, before)
		})
	}
	if r := c.api("/api/v1/whoami", k.Token); r.Code != http.StatusOK {
		t.Errorf("whoami: got %d, want 200 (the key is not revoked)", r.Code)
	}
	if r := c.get("/settings/api-keys"); r.Code != http.StatusOK {
		t.Errorf("list: got %d, want 200 (still signed in)", r.Code)
	}
	// Just under the limit is read, and refused for what it says.
	under := "name=" + strings.Repeat("a", 60<<10) + "&scopes=*&expires=never"
	r := c.post("/settings/api-keys", nil, rawBody(strings.NewReader(under), "application/x-www-form-urlencoded"))
	if r.Code != http.StatusUnprocessableEntity {
		t.Errorf("60 KiB form: got %d, want 422", r.Code)
	}
}
