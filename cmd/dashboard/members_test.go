package main

import (
	"bytes"
	"context"
	"strings"
	"testing"

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
