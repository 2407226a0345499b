package main

import (
	"bytes"
	"context"
	"crypto/sha256"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/blnk-cloud/apikeys/db"
	"github.com/blnk-cloud/apikeys/internal/audit"
	"github.com/blnk-cloud/apikeys/internal/blnk"
	"github.com/blnk-cloud/apikeys/internal/testkit"
)

// TestMembersCommands: admin create refuses a name that exists, members
// add adds new and existing people with a role, and members list prints
// their ids.
func TestMembersCommands(t *testing.T) {
	dsn := testkit.DSN(t)
	t.Setenv("BLNK_ADMIN_PASSWORD", "correct horse battery staple")
	ctx := context.Background()
	cmd := func(args ...string) (string, error) {
		var out, errOut bytes.Buffer
		err := run(ctx, append(args, "--db", dsn), strings.NewReader(""), &out, &errOut)
		return out.String(), err
	}
	if _, err := cmd("admin", "create", "--workspace", "Acme", "--email", "owner@example.com"); err != nil {
		t.Fatal(err)
	}
	out, err := cmd("admin", "create", "--workspace", "ACME", "--email", "second@example.com")
	if err == nil || !strings.Contains(err.Error(), `a workspace named "ACME" exists already`) || out != "" {
		t.Errorf("a second Acme: %q, %v", out, err)
	}
	if out, err := cmd("members", "add", "--workspace", "acme", "--email", "Viewer@example.com", "--role", "viewer"); err != nil ||
		!strings.Contains(out, "viewer@example.com") || !strings.Contains(out, "a new person") || !strings.Contains(out, "as Viewer") {
		t.Errorf("members add: %q, %v", out, err)
	}
	if _, err := cmd("admin", "create", "--workspace", "Other", "--email", "other@example.com"); err != nil {
		t.Fatal(err)
	}
	if out, err := cmd("members", "add", "--workspace", "Acme", "--email", "other@example.com", "--role", "admin"); err != nil || !strings.Contains(out, "an existing person") {
		t.Errorf("members add of an existing person: %q, %v", out, err)
	}
	for _, tt := range []struct {
		args []string
		want string
	}{
		{[]string{"--workspace", "Acme", "--email", "viewer@example.com", "--role", "member"}, "a member of \"Acme\" already"},
		{[]string{"--workspace", "Nope", "--email", "x@example.com", "--role", "member"}, `no workspace is named "Nope"`},
		{[]string{"--workspace", "Acme", "--email", "x@example.com", "--role", "boss"}, "use owner, admin, member or viewer"},
	} {
		if _, err := cmd(append([]string{"members", "add"}, tt.args...)...); err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("members add %v: %v, want %q", tt.args, err, tt.want)
		}
	}
	out, err = cmd("members", "list", "--workspace", "Acme")
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) != 4 {
		t.Fatalf("members list printed %d lines, want a header and 3:\n%s", len(lines), out)
	}
	for i, want := range []string{"owner@example.com owner", "other@example.com admin", "viewer@example.com viewer"} {
		f := strings.Fields(lines[i+1])
		if len(f) < 3 || f[1]+" "+f[2] != want || strings.Trim(f[0], "0123456789") != "" {
			t.Errorf("line %d: %q, want an id then %q", i+1, lines[i+1], want)
		}
	}
}

// TestMembersResetLink: members reset-link prints a link of the public
// URL that opens the reset page; it needs the public URL and an account.
func TestMembersResetLink(t *testing.T) {
	dsn := testkit.DSN(t)
	t.Setenv("BLNK_ADMIN_PASSWORD", "correct horse battery staple")
	t.Setenv("BLNK_PUBLIC_URL", "")
	ctx := context.Background()
	cmd := func(args ...string) (string, string, error) {
		var out, errOut bytes.Buffer
		err := run(ctx, append(args, "--db", dsn), strings.NewReader(""), &out, &errOut)
		return out.String(), errOut.String(), err
	}
	if _, _, err := cmd("admin", "create", "--workspace", "Acme", "--email", "owner@example.com"); err != nil {
		t.Fatal(err)
	}
	out, msg, err := cmd("members", "reset-link", "--email", "Owner@example.com", "--public-url", "https://keys.example.com/")
	if err != nil {
		t.Fatal(err)
	}
	link := strings.TrimSpace(out)
	if !strings.HasPrefix(link, "https://keys.example.com/password/reset/") || len(link) != len("https://keys.example.com/password/reset/")+43 || strings.Count(out, "\n") != 1 {
		t.Errorf("printed %q, want one link of 256 bits", out)
	}
	if !strings.Contains(msg, "valid for an hour") || strings.Contains(msg, link) {
		t.Errorf("standard error: %q", msg)
	}
	for _, tt := range []struct {
		args []string
		want string
	}{
		{[]string{"--email", "owner@example.com"}, "--public-url (env BLNK_PUBLIC_URL) is needed"},
		{[]string{"--email", "nobody@example.com", "--public-url", "https://keys.example.com"}, "no account has the email nobody@example.com"},
		{[]string{"--email", "owner@example.com", "--public-url", "https://keys.example.com/path"}, "use the dashboard's origin"},
		{[]string{"--email", "not an email", "--public-url", "https://keys.example.com"}, "--email"},
	} {
		if out, _, err := cmd(append([]string{"members", "reset-link"}, tt.args...)...); err == nil || !strings.Contains(err.Error(), tt.want) || out != "" {
			t.Errorf("reset-link %v: %q, %v, want %q", tt.args, out, err, tt.want)
		}
	}
}

// TestServeEmailFlags: email needs the public URL, a sender, and the
// password in the environment only.
func TestServeEmailFlags(t *testing.T) {
	dsn := testkit.DSN(t)
	t.Setenv("BLNK_PUBLIC_URL", "")
	t.Setenv("BLNK_SMTP_PASSWORD", "")
	for _, tt := range []struct {
		args []string
		env  string
		want string
	}{
		{[]string{"--smtp-url", "smtp://u@mail.example.com", "--smtp-from", "k@example.com"}, "", "--smtp-url needs --public-url"},
		{[]string{"--smtp-url", "smtp://u:pw@mail.example.com", "--smtp-from", "k@example.com", "--public-url", "https://k.example.com"}, "", "BLNK_SMTP_PASSWORD"},
		{[]string{"--smtp-url", "smtp://u@mail.example.com", "--public-url", "https://k.example.com"}, "", "--smtp-from"},
		{[]string{"--public-url", "ftp://k.example.com"}, "", "--public-url"},
		{nil, "secret", "BLNK_SMTP_PASSWORD is set but --smtp-url"},
	} {
		t.Setenv("BLNK_SMTP_PASSWORD", tt.env)
		var out, errOut bytes.Buffer
		err := run(context.Background(), append([]string{"serve", "--db", dsn, "--listen", "127.0.0.1:0"}, tt.args...), strings.NewReader(""), &out, &errOut)
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("serve %v: %v, want an error about %q", tt.args, err, tt.want)
		}
		if strings.Contains(errOut.String()+fmtErr(err), "secret") || strings.Contains(fmtErr(err), ":pw@") {
			t.Errorf("serve %v repeats the password: %v", tt.args, err)
		}
	}
}

func fmtErr(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}

// TestMembersResetTwoFactor: members reset-2fa asks for the email again,
// then removes the person's authenticator app, recovery codes and
// passkeys and ends their sessions, audited by the command line in each
// workspace of theirs; another person's factors stay.
func TestMembersResetTwoFactor(t *testing.T) {
	dsn := testkit.DSN(t)
	t.Setenv("BLNK_ADMIN_PASSWORD", "correct horse battery staple")
	ctx := context.Background()
	cmd := func(stdin string, args ...string) (string, string, error) {
		var out, errOut bytes.Buffer
		err := run(ctx, append(args, "--db", dsn), strings.NewReader(stdin), &out, &errOut)
		return out.String(), errOut.String(), err
	}
	for _, ws := range []struct{ name, email string }{{"Acme", "owner@example.com"}, {"Other", "other@example.com"}} {
		if _, _, err := cmd("", "admin", "create", "--workspace", ws.name, "--email", ws.email); err != nil {
			t.Fatal(err)
		}
	}
	if _, _, err := cmd("", "members", "add", "--workspace", "Other", "--email", "owner@example.com", "--role", "admin"); err != nil {
		t.Fatal(err)
	}
	store, err := db.Open(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	now := time.Now().UTC().Truncate(time.Millisecond)
	// Both people get an app with codes, passkeys and sessions.
	factorsOf := func(email string, passkeys int) blnk.User {
		t.Helper()
		u, err := store.FindUser(ctx, email)
		if err != nil {
			t.Fatal(err)
		}
		l, err := store.LoginByUserID(ctx, u.ID)
		if err != nil {
			t.Fatal(err)
		}
		ev := audit.Event{WorkspaceID: l.Workspace.ID, At: now, Action: audit.TwoFactorEnabled, Actor: audit.Actor{Kind: audit.User, UserID: u.ID}}
		if err := store.EnableTOTP(ctx, blnk.TOTPFactor{UserID: u.ID, Sealed: bytes.Repeat([]byte("s"), 40), LastStep: 1, CreatedAt: now}, [][]byte{hash32(email + "1"), hash32(email + "2")}, ev); err != nil {
			t.Fatal(err)
		}
		if _, err := store.EnsurePasskeyHandle(ctx, u.ID, hash32(email)); err != nil {
			t.Fatal(err)
		}
		for i := 0; i < passkeys; i++ {
			p := blnk.Passkey{ID: blnk.NewPasskeyID(), UserID: u.ID, RPID: "keys.example.com", CredentialID: []byte(fmt.Sprint(email, i)),
				Name: fmt.Sprint("Laptop ", i), Credential: []byte("{}"), CreatedAt: now}
			if err := store.CreatePasskey(ctx, p, audit.Event{WorkspaceID: l.Workspace.ID, At: now, Action: audit.PasskeyAdded, Actor: ev.Actor}); err != nil {
				t.Fatal(err)
			}
		}
		for i := 0; i < 2; i++ {
			if err := store.CreateSessionFrom(ctx, hash32(fmt.Sprint("session of ", email, i)), u.ID, l.Workspace.ID, now, blnk.SessionClient{}); err != nil {
				t.Fatal(err)
			}
		}
		return u
	}
	owner := factorsOf("owner@example.com", 2)
	other := factorsOf("other@example.com", 1)
	count := func(q string, args ...any) int {
		t.Helper()
		var n int
		if err := store.SQL().QueryRow(q, args...).Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n
	}
	sessions := func(u blnk.User) int { return count(`SELECT count(*) FROM sessions WHERE user_id = $1`, u.ID) }

	// Not confirmed: nothing changes.
	for _, stdin := range []string{"", "other@example.com\n", "owner@example\n"} {
		out, msg, err := cmd(stdin, "members", "reset-2fa", "--email", "Owner@example.com")
		if err == nil || !strings.Contains(err.Error(), "not confirmed") || out != "" {
			t.Errorf("confirmed with %q: %q, %v", stdin, out, err)
		}
		if !strings.Contains(msg, "their authenticator app and its recovery codes (2 left) and 2 passkeys of owner@example.com") {
			t.Errorf("the question: %q", msg)
		}
	}
	if f, _ := store.FindFactors(ctx, owner.ID); !f.TOTP || f.Passkeys != 2 || sessions(owner) != 2 {
		t.Fatalf("changed without confirmation: %+v, %d sessions", f, sessions(owner))
	}

	out, _, err := cmd(" OWNER@example.com \n", "members", "reset-2fa", "--email", "owner@example.com")
	if err != nil {
		t.Fatal(err)
	}
	if want := fmt.Sprintf("removed from owner@example.com (user %d): the authenticator app and its recovery codes, 2 passkeys; 2 sessions ended\n", owner.ID); out != want {
		t.Errorf("printed %q, want %q", out, want)
	}
	if f, _ := store.FindFactors(ctx, owner.ID); f.TOTP || f.RecoveryLeft != 0 || f.Passkeys != 0 || sessions(owner) != 0 {
		t.Errorf("left after the reset: %+v, %d sessions", f, sessions(owner))
	}
	if f, _ := store.FindFactors(ctx, other.ID); !f.TOTP || f.RecoveryLeft != 2 || f.Passkeys != 1 || sessions(other) != 2 {
		t.Errorf("another person's factors changed: %+v, %d sessions", f, sessions(other))
	}
	// Audited by the command line, once in each of the owner's two
	// workspaces (per passkey for passkey.removed).
	for _, tt := range []struct {
		action audit.Action
		want   int
	}{{audit.TwoFactorDisabled, 2}, {audit.PasskeyRemoved, 4}, {audit.SessionRevoked, 2}} {
		n := count(`SELECT count(*) FROM audit_events WHERE action = $1 AND actor_kind = $2 AND details LIKE '%owner@example.com%'`, string(tt.action), string(audit.CommandLine))
		ws := count(`SELECT count(DISTINCT workspace_id) FROM audit_events WHERE action = $1`, string(tt.action))
		if n != tt.want || ws != 2 {
			t.Errorf("%s: %d events in %d workspaces, want %d in 2", tt.action, n, ws, tt.want)
		}
	}

	// Again: nothing to remove. --yes asks nothing.
	if out, _, err := cmd("", "members", "reset-2fa", "--email", "owner@example.com"); err != nil || !strings.Contains(out, "has no second factor") {
		t.Errorf("a second reset: %q, %v", out, err)
	}
	if out, _, err := cmd("", "members", "reset-2fa", "--email", "other@example.com", "--yes"); err != nil || !strings.Contains(out, "1 passkey; 2 sessions ended") {
		t.Errorf("--yes: %q, %v", out, err)
	}
	if _, _, err := cmd("", "members", "reset-2fa", "--email", "nobody@example.com"); err == nil || !strings.Contains(err.Error(), "no account has the email") {
		t.Errorf("an unknown email: %v", err)
	}
}

func hash32(s string) []byte {
	sum := sha256.Sum256([]byte(s))
	return sum[:]
}
