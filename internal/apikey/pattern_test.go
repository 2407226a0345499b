package apikey

import (
	"os"
	"regexp"
	"strings"
	"testing"
)

// TestPatternMatchesGeneratedKeys: the regular expression scanners get
// finds every key we make, alone and inside the text keys leak in.
func TestPatternMatchesGeneratedKeys(t *testing.T) {
	re := regexp.MustCompile(Pattern)
	for range 2000 {
		k, err := Generate()
		if err != nil {
			t.Fatal(err)
		}
		for _, text := range []string{
			k,
			"BLNK_KEY=" + k,
			`export BLNK_KEY="` + k + `"`,
			"Authorization: Bearer " + k + "\n",
			`{"key":"` + k + `"}`,
			"key: '" + k + "' # prod",
			"https://example.com/?token=" + k + "&x=1",
		} {
			got := re.FindAllString(text, -1)
			if len(got) != 1 || got[0] != k {
				t.Fatalf("Pattern in %q found %q, want [%s]", text, got, k)
			}
		}
	}
}

// TestPatternNearMisses: text that is not a key is not reported.
func TestPatternNearMisses(t *testing.T) {
	re := regexp.MustCompile(Pattern)
	k, err := Generate()
	if err != nil {
		t.Fatal(err)
	}
	upperHex := k[:5] + strings.ToUpper(k[5:13]) + k[13:]
	if upperHex == k {
		upperHex = k[:5] + "ABCDEF01" + k[13:]
	}
	misses := []struct{ name, text string }{
		{"one character short", k[:len(k)-1]},
		{"one character long", k + "a"},
		{"other literal", "blnq_" + k[5:]},
		{"upper-case literal", "BLNK_" + k[5:]},
		{"upper-case hex prefix", upperHex},
		{"non-hex prefix", k[:5] + "g0000000" + k[13:]},
		{"dash in the secret", k[:20] + "-" + k[21:]},
		{"inside a longer word", "x" + k},
		{"after an underscore", "my_" + k},
		{"prefix only", k[:13] + "..."},
		{"the display prefix and redaction", k[:13] + "[redacted]"},
		{"spaces inside", k[:20] + " " + k[20:]},
	}
	for _, m := range misses {
		t.Run(m.name, func(t *testing.T) {
			if got := re.FindString(m.text); got != "" {
				t.Errorf("Pattern matched %q in %q", got, m.text)
			}
		})
	}
}

// TestREADMEShowsThePattern keeps web/README.md's regular expression and
// gitleaks rule equal to Pattern.
func TestREADMEShowsThePattern(t *testing.T) {
	b, err := os.ReadFile("../../web/README.md")
	if err != nil {
		t.Fatal(err)
	}
	readme := string(b)
	for _, want := range []string{
		"```\n" + Pattern + "\n```",
		"regex = '''" + Pattern + "'''",
		`keywords = ["blnk_"]`,
	} {
		if !strings.Contains(readme, want) {
			t.Errorf("web/README.md does not contain %s", want)
		}
	}
}
