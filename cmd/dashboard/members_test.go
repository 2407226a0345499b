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
