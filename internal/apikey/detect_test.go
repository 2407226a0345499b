package apikey

import (
	"errors"
	"strings"
	"testing"
)

// TestFindToken: a key is found wherever it is, inside words, URLs and
// other text, and only a whole key with its checksum is.
func TestFindToken(t *testing.T) {
	k, err := Generate()
	if err != nil {
		t.Fatal(err)
	}
	k2, err := Generate()
	if err != nil {
		t.Fatal(err)
	}
	wrongSum := k[:TokenLen-1] + string(base62[(strings.IndexByte(base62, k[TokenLen-1])+1)%62])
	found := []struct{ name, text string }{
		{"alone", k},
		{"in a sentence", "the key is " + k + " for prod"},
		{"inside a word", "x" + k + "y"},
		{"after an underscore", "my_" + k},
		{"in a URL query", "https://hooks.example.com/in?token=" + k},
		{"in a URL path", "https://hooks.example.com/" + k + "/in"},
		{"after a near miss", "blnk_" + k[5:20] + " " + k},
		{"after its own literal", "blnk_" + k},
		{"two keys", k + "," + k2},
	}
	for _, tt := range found {
		i, j, prefix, ok := FindToken(tt.text)
		if !ok || tt.text[i:j] != k && tt.text[i:j] != k2 || prefix != tt.text[i:i+PrefixLen] {
			t.Errorf("%s: FindToken = %d, %d, %q, %v; want the key", tt.name, i, j, prefix, ok)
		}
		if !errors.Is(CheckNoToken(tt.text), ErrLooksLikeKey) {
			t.Errorf("%s: CheckNoToken = nil, want ErrLooksLikeKey", tt.name)
		}
	}
	missed := []struct{ name, text string }{
		{"empty", ""},
		{"plain text", "Production key for the billing service"},
		{"prefix only", k[:PrefixLen] + "..."},
		{"wrong checksum", wrongSum},
		{"one character short", k[:TokenLen-1]},
		{"upper-case literal", "BLNK_" + k[5:]},
		{"space inside", k[:20] + " " + k[20:]},
		{"the literal at the end", "ends with blnk_"},
	}
	for _, tt := range missed {
		if _, _, _, ok := FindToken(tt.text); ok {
			t.Errorf("%s: FindToken found a key in %q", tt.name, tt.text)
		}
		if err := CheckNoToken(tt.text); err != nil {
			t.Errorf("%s: CheckNoToken = %v, want nil", tt.name, err)
		}
	}
	if got, want := RedactTokens("a "+k+" b "+k2), "a "+k[:PrefixLen]+"… b "+k2[:PrefixLen]+"…"; got != want {
		t.Errorf("RedactTokens = %q, want %q", got, want)
	}
	if got := RedactTokens(wrongSum); got != wrongSum {
		t.Errorf("RedactTokens of a near miss = %q, want it unchanged", got)
	}
}

// TestFreeTextRefusesKeys: every free-text field of a key refuses a key
// pasted into it, with the one message.
func TestFreeTextRefusesKeys(t *testing.T) {
	k, err := Generate()
	if err != nil {
		t.Fatal(err)
	}
	const msg = "This looks like an API key; never paste keys here."
	checks := map[string]func(string) error{
		"name":        func(s string) error { _, err := CleanName(s); return err },
		"description": func(s string) error { _, err := CleanDescription(s); return err },
		"allowlist":   func(s string) error { _, err := CleanAllowlist(s); return err },
	}
	for field, check := range checks {
		for _, text := range []string{k, "prod " + k, "10.0.0.0/8\n" + k} {
			if err := check(text); err == nil || err.Error() != msg {
				t.Errorf("%s %.30q...: error %v, want %q", field, text, err, msg)
			}
		}
	}
	if _, err := CleanName("prod " + k[:PrefixLen]); err != nil {
		t.Errorf("a name with a key's prefix: %v, want it accepted", err)
	}
}

// TestCleanAllowlistRefusesEveryAddress: 0.0.0.0/0 and ::/0 look like a
// restriction and are none; the message says to leave the list empty.
func TestCleanAllowlistRefusesEveryAddress(t *testing.T) {
	for _, text := range []string{"0.0.0.0/0", "10.0.0.0/8, 0.0.0.0/0", "::/0", "0.0.0.0/0\n::/0", "1.2.3.4/0", "::ffff:0.0.0.0/96"} {
		_, err := CleanAllowlist(text)
		if err == nil || !strings.Contains(err.Error(), "leave the allowlist empty to allow every address") {
			t.Errorf("CleanAllowlist(%q): %v, want the every-address message", text, err)
		}
	}
	for _, text := range []string{"", "0.0.0.0/1", "10.0.0.0/8", "2001:db8::/32"} {
		if _, err := CleanAllowlist(text); err != nil {
			t.Errorf("CleanAllowlist(%q): %v, want it accepted", text, err)
		}
	}
}
