package main

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/blnk-cloud/apikeys/db"
	"github.com/blnk-cloud/apikeys/internal/apikey"
	"github.com/blnk-cloud/apikeys/internal/audit"
	"github.com/blnk-cloud/apikeys/internal/keyauth"
	"github.com/blnk-cloud/apikeys/internal/keys"
	"github.com/blnk-cloud/apikeys/internal/password"
	"github.com/blnk-cloud/apikeys/internal/testkit"
	"github.com/blnk-cloud/apikeys/internal/tokens"
	"github.com/blnk-cloud/apikeys/web"
)

// TestKeysCommandsAsAClient: keys create, list, roll and revoke with
// --server drive a real server (the real router, over HTTP) with the
// management token of BLNK_TOKEN, print what the local commands print,
// and refuse a missing token or an API key in its place.
func TestKeysCommandsAsAClient(t *testing.T) {
	ctx := context.Background()
	dsn := testkit.DSN(t)
	var out, errOut bytes.Buffer
	if err := adminCreate(ctx, []string{"--db", dsn, "--workspace", "Acme", "--email", "ci@example.com"},
		strings.NewReader("correct horse battery staple\n"), &out, &errOut); err != nil {
		t.Fatal(err)
	}
	store, err := db.Open(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	auth, err := keyauth.New(ctx, keyauth.Config{}, store, log)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { auth.Close() })
	srv, err := web.New(web.Config{SessionSecret: []byte("0123456789abcdef0123456789abcdef-client-test"), Passwords: password.FastHasher},
		store, auth, keys.New(keys.Config{}, store, auth, log), log)
	if err != nil {
		t.Fatal(err)
	}
	hs := httptest.NewServer(srv)
	t.Cleanup(hs.Close)

	ws, err := store.FindWorkspace(ctx, "Acme")
	if err != nil {
		t.Fatal(err)
	}
	u, err := store.FindUser(ctx, "ci@example.com")
	if err != nil {
		t.Fatal(err)
	}
	tok, err := tokens.New(store, time.Now, log).Create(ctx, audit.Actor{UserID: u.ID, Email: u.Email, Kind: audit.User},
		tokens.Spec{WorkspaceID: ws.ID, UserID: u.ID, Name: "ci", Scopes: []string{"keys:write"}, Expires: "30d"})
	if err != nil {
		t.Fatal(err)
	}
	t.Setenv("BLNK_SERVER", "")
	t.Setenv("BLNK_TOKEN", tok.Secret)

	cli := func(args ...string) (string, string, error) {
		var o, e bytes.Buffer
		err := run(ctx, args, strings.NewReader(""), &o, &e)
		return o.String(), e.String(), err
	}

	// create: the key alone on standard output.
	o, e, err := cli("keys", "create", "--name", "deploy", "--scopes", "mcp:read,data:write", "--expires", "30d", "--server", hs.URL)
	if err != nil {
		t.Fatalf("create: %v\n%s", err, e)
	}
	key := strings.TrimSpace(o)
	prefix, err := apikey.Parse(key)
	if err != nil || strings.Count(o, "\n") != 1 {
		t.Fatalf("create printed %q, want one key", o)
	}
	if !strings.Contains(e, `created key_`) || !strings.Contains(e, "shown once") {
		t.Fatalf("create said %q", e)
	}
	var kc keyauth.Identity
	if kc, err = auth.Authenticate(ctx, key, "192.0.2.1"); err != nil || kc.Name != "deploy" {
		t.Fatalf("the created key does not work: %v", err)
	}

	// list: the key, by its prefix.
	o, _, err = cli("keys", "list", "--server", hs.URL, "--status", "active")
	if err != nil || !strings.Contains(o, prefix+"...") || !strings.Contains(o, `"deploy"`) || !strings.HasPrefix(o, "ID") {
		t.Fatalf("list: %v\n%s", err, o)
	}

	// roll by prefix: the new key alone on standard output, the local
	// command's lines on standard error.
	o, e, err = cli("keys", "roll", prefix, "--overlap", "1h", "--server", hs.URL)
	if err != nil {
		t.Fatalf("roll: %v\n%s", err, e)
	}
	newKey := strings.TrimSpace(o)
	newPrefix, err := apikey.Parse(newKey)
	if err != nil {
		t.Fatalf("roll printed %q", o)
	}
	rolled := regexp.MustCompile(`^rolled key_[0-9a-z]{20} \(` + prefix + `\.\.\.\) "deploy" in workspace \d+ into key_[0-9a-z]{20} \(` + newPrefix + `\.\.\.\)\nthe old key stops working at \S+ \(in (1 hour|59 minutes|60 minutes)\)\nthe new key above is shown once: store it now\n`)
	if !rolled.MatchString(e) {
		t.Fatalf("roll said:\n%s", e)
	}
	// Rolling the old key again is refused, saying why.
	if _, _, err = cli("keys", "roll", prefix, "--server", hs.URL); err == nil || !strings.Contains(err.Error(), "rolled already") {
		t.Fatalf("second roll: %v", err)
	}

	// revoke, remote and local, say the same.
	o, e, err = cli("keys", "revoke", newPrefix, "--server", hs.URL)
	if err != nil {
		t.Fatalf("revoke: %v\n%s", err, e)
	}
	revoked := regexp.MustCompile(`^revoked key_[0-9a-z]{20} \(blnk_[0-9a-f]{8}\.\.\.\) "deploy" in workspace \d+ at \S+Z\n(confirmed by \d+ of \d+ running servers|no running server has been seen)`)
	if !revoked.MatchString(o) {
		t.Fatalf("remote revoke said:\n%s", o)
	}
	if _, err := auth.Authenticate(ctx, newKey, "192.0.2.1"); err == nil {
		t.Fatalf("the revoked key still works")
	}
	local, _, err := cli("keys", "revoke", prefix, "--db", dsn, "--revoke-wait", "100ms")
	if err != nil && !strings.Contains(err.Error(), "exit") {
		t.Fatalf("local revoke: %v", err)
	}
	if !revoked.MatchString(local) {
		t.Fatalf("local revoke said:\n%s", local)
	}
	o, _, _ = cli("keys", "revoke", newPrefix, "--server", hs.URL)
	if !strings.Contains(o, "was already revoked at") {
		t.Fatalf("revoke twice: %q", o)
	}

	// The events say who, via which token.
	var via string
	if err := store.SQL().QueryRow(`SELECT actor_via FROM audit_events WHERE action = 'key.rolled'`).Scan(&via); err != nil || via != "ci" {
		t.Fatalf("key.rolled via %q (%v)", via, err)
	}

	// Refusals: no token, an API key as the token, an unknown key.
	if _, _, err := cli("keys", "revoke", "blnk_00000000", "--server", hs.URL); err == nil || !strings.Contains(err.Error(), "no key has the id or prefix") {
		t.Fatalf("unknown prefix: %v", err)
	}
	t.Setenv("BLNK_TOKEN", key)
	if _, _, err := cli("keys", "list", "--server", hs.URL); err == nil || !strings.Contains(err.Error(), "API key") {
		t.Fatalf("a key as BLNK_TOKEN: %v", err)
	}
	t.Setenv("BLNK_TOKEN", "")
	if _, _, err := cli("keys", "list", "--server", hs.URL); err == nil || !strings.Contains(err.Error(), "BLNK_TOKEN") {
		t.Fatalf("no BLNK_TOKEN: %v", err)
	}
	if _, _, err := cli("keys", "list", "--server", hs.URL, "--token", tok.Secret); err == nil {
		t.Fatalf("a --token flag was accepted: the token belongs in the environment only")
	}
}
