package main

import (
	"bytes"
	"context"
	"strings"
	"testing"

	"github.com/blnk-cloud/apikeys/internal/apikey"
	"github.com/blnk-cloud/apikeys/internal/testkit"
)

// TestAdminCreateRefusesKeysAndHiddenCharacters: the command line's one
// name, the workspace's, is checked as the setup form checks it: a key
// pasted into it, or a zero-width character inside it, is refused with
// the message of the form and nothing is created; an emoji joined with
// ZWJ is a name.
func TestAdminCreateRefusesKeysAndHiddenCharacters(t *testing.T) {
	dsn := testkit.DSN(t)
	key, err := apikey.Generate()
	if err != nil {
		t.Fatal(err)
	}
	run := func(workspace, email string) (string, error) {
		var out, errOut bytes.Buffer
		err := adminCreate(context.Background(), []string{"--db", dsn, "--workspace", workspace, "--email", email},
			strings.NewReader("correct horse battery staple\n"), &out, &errOut)
		return out.String(), err
	}
	refused := []struct{ name, workspace, want string }{
		{"a key", key, "--workspace: This looks like an API key; never paste keys here."},
		{"a key in a name", "Acme " + key, "This looks like an API key"},
		{"a zero-width space", "Ac\u200bme", "zero-width characters (U+200B here)"},
		{"tag characters", "Acme\U000E0041", "Unicode tag characters"},
		{"a line separator", "Acme\u2028Corp", "line or paragraph separators"},
	}
	for _, tt := range refused {
		out, err := run(tt.workspace, "admin@example.com")
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s: error %v, want %q in it", tt.name, err, tt.want)
		}
		if out != "" {
			t.Errorf("%s: printed %q, want nothing created", tt.name, out)
		}
	}
	out, err := run("Acme 👩‍💻", "admin@example.com")
	if err != nil || !strings.Contains(out, "created workspace") {
		t.Errorf("an emoji ZWJ sequence: %q, %v; want the workspace created", out, err)
	}
}
