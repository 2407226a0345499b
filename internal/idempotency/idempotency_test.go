package idempotency_test

import (
	"bytes"
	"strings"
	"testing"

	"github.com/blnk-cloud/apikeys/internal/idempotency"
)

// TestRedact: every "secret" string, at any depth, becomes null and the
// object gets the note; other bodies stay as they are.
func TestRedact(t *testing.T) {
	tests := []struct{ name, in, want string }{
		{"top level", `{"id":"key_1","secret":"blnk_x"}`, `{"id":"key_1","note":"` + idempotency.SecretNote + `","secret":null}` + "\n"},
		{"nested", `{"key":{"secret":"s"},"n":12345678901234567890}`, `{"key":{"secret":null},"n":12345678901234567890,"note":"` + idempotency.SecretNote + `"}` + "\n"},
		{"in an array", `{"data":[{"secret":"s"}]}`, `{"data":[{"secret":null}],"note":"` + idempotency.SecretNote + `"}` + "\n"},
		{"no secret", `{"id":"key_1"}`, `{"id":"key_1"}`},
		{"a null secret", `{"secret":null}`, `{"secret":null}`},
		{"not an object", `[{"secret":"s"}]`, `[{"secret":"s"}]`},
		{"not JSON", `secret`, `secret`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := idempotency.Redact([]byte(tt.in)); string(got) != tt.want {
				t.Errorf("got  %s\nwant %s", got, tt.want)
			}
		})
	}
}

func TestCheckKey(t *testing.T) {
	for _, ok := range []string{"a", strings.Repeat("x", 255), "ci-run-42/attempt 1", "é✓"} {
		if err := idempotency.CheckKey(ok); err != nil {
			t.Errorf("CheckKey(%q): %v, want nil", ok, err)
		}
	}
	for _, bad := range []string{"", strings.Repeat("x", 256), "a\nb", "a\tb", "a\x00", "a\x7f", "a\u0085", "\xff"} {
		if err := idempotency.CheckKey(bad); err == nil {
			t.Errorf("CheckKey(%q): nil, want an error", bad)
		}
	}
}

// TestHash: method, path and body each tell requests apart, and their
// boundaries too.
func TestHash(t *testing.T) {
	base := idempotency.Hash("POST", "/api/v1/keys", []byte(`{}`))
	for _, other := range [][]byte{
		idempotency.Hash("PUT", "/api/v1/keys", []byte(`{}`)),
		idempotency.Hash("POST", "/api/v1/keys/key_1/roll", []byte(`{}`)),
		idempotency.Hash("POST", "/api/v1/keys", []byte(`{ }`)),
		idempotency.Hash("POST", "/api/v1/keys{}", nil),
	} {
		if bytes.Equal(base, other) {
			t.Errorf("two requests hash alike")
		}
	}
}
