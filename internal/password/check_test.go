package password

import (
	"strings"
	"testing"
	"unicode"
	"unicode/utf8"
)

// checkSentence fails unless msg reads as a sentence for people.
func checkSentence(t *testing.T, msg string) {
	t.Helper()
	if r, _ := utf8.DecodeRuneInString(msg); !unicode.IsUpper(r) {
		t.Errorf("error %q does not start with a capital letter", msg)
	}
	if !strings.HasSuffix(msg, ".") {
		t.Errorf("error %q does not end with a period", msg)
	}
	if len(msg) > 120 {
		t.Errorf("error is %d bytes long, want a short sentence: %.200q", len(msg), msg)
	}
}

func TestCheck(t *testing.T) {
	tests := []struct {
		name    string
		pw      string
		wantMsg string // "" when the password is acceptable
	}{
		{"12 characters", "abcdefghijkl", ""},
		{"11 characters", "abcdefghijk", "at least 12"},
		{"empty", "", "at least 12"},
		{"passphrase", "correct horse battery staple", ""},
		{"inner and outer spaces", "  pass phrase  ", ""},
		{"12 two-byte runes", strings.Repeat("é", 12), ""},
		{"11 two-byte runes, 22 bytes", strings.Repeat("é", 11), "at least 12"},
		{"3 emoji, 12 bytes", strings.Repeat("🔑", 3), "at least 12"},
		{"12 emoji", strings.Repeat("🔑", 12), ""},
		{"256 characters", strings.Repeat("p", 256), ""},
		{"256 emoji", strings.Repeat("🔑", 256), ""},
		{"257 characters", strings.Repeat("p", 257), "at most 256"},
		{"huge", strings.Repeat("p", 1_000_000), "at most 256"},
		{"tab", "correct\thorse battery", "control characters"},
		{"newline", "correct horse battery\n", "control characters"},
		{"carriage return", "correct horse\rbattery", "control characters"},
		{"NUL", "correct horse\x00battery", "control characters"},
		{"DEL", "correct horse\x7fbattery", "control characters"},
		{"next line", "correct horse\u0085battery", "control characters"},
		{"invalid UTF-8", strings.Repeat("\xff", 12), "control characters"},
		{"12 spaces", strings.Repeat(" ", 12), "only spaces"},
		{"12 no-break spaces", strings.Repeat("\u00a0", 12), "only spaces"},
		{"12 ideographic spaces", strings.Repeat("\u3000", 12), "only spaces"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := Check(tt.pw)
			if tt.wantMsg == "" {
				if err != nil {
					t.Errorf("Check(%.40q) = %v, want nil", tt.pw, err)
				}
				return
			}
			if err == nil {
				t.Fatalf("Check(%.40q) = nil, want an error", tt.pw)
			}
			checkSentence(t, err.Error())
			if !strings.Contains(err.Error(), tt.wantMsg) {
				t.Errorf("Check(%.40q) = %q, want a message with %q", tt.pw, err, tt.wantMsg)
			}
			if strings.Contains(err.Error(), tt.pw) && tt.pw != "" {
				t.Errorf("error %q repeats the password", err)
			}
		})
	}
}
