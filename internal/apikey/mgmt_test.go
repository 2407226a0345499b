package apikey

import (
	"regexp"
	"strings"
	"testing"
)

// TestManagementTokensAreNotKeys: a management token parses as one and
// never as a key, a key never as a token, and a key whose literal is
// swapped (with either checksum) is neither.
func TestManagementTokensAreNotKeys(t *testing.T) {
	re := regexp.MustCompile(MgmtPattern)
	for range 200 {
		tok, err := GenerateManagement()
		if err != nil {
			t.Fatal(err)
		}
		if len(tok) != MgmtTokenLen || !re.MatchString(tok) {
			t.Fatalf("token %q: wrong shape", tok)
		}
		p, err := ParseManagement(tok)
		if err != nil || p != tok[:MgmtPrefixLen] || !IsMgmtPrefix(p) {
			t.Fatalf("ParseManagement(%q) = %q, %v", tok, p, err)
		}
		if _, err := Parse(tok); err == nil {
			t.Fatalf("Parse accepted the management token %q", tok)
		}
		if _, err := Parse(tok[:4] + "_" + tok[6:]); err == nil {
			t.Fatalf("a token with the key literal and its own checksum parsed as a key")
		}
		key, err := Generate()
		if err != nil {
			t.Fatal(err)
		}
		if _, err := ParseManagement(key); err == nil {
			t.Fatalf("ParseManagement accepted the key %q", key)
		}
		if _, err := ParseManagement("blnkm_" + key[5:]); err == nil {
			t.Fatalf("a key with the token literal and a key checksum parsed as a token")
		}
		// Any one character changed is refused.
		b := []byte(tok)
		b[20] ^= 1
		if _, err := ParseManagement(string(b)); err == nil {
			t.Fatalf("a token with a typo parsed")
		}
		// Found in text, and redacted from it.
		if !ContainsToken("x " + tok + " y") {
			t.Fatalf("ContainsToken missed a management token")
		}
		if r := Redact("/p/" + tok); r != "/p/"+tok[:MgmtPrefixLen]+"[redacted]" {
			t.Fatalf("Redact = %q", r)
		}
		if r := Redact(key + " " + tok); strings.Contains(r, tok[MgmtPrefixLen:]) || strings.Contains(r, key[PrefixLen:]) {
			t.Fatalf("Redact left a secret: %q", r)
		}
	}
}
