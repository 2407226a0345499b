package gateways

import (
	"os"
	"strings"
	"testing"
)

// TestREADMEShowsTheseFiles: the configurations the README shows are the
// files these tests run, character for character, so the two cannot drift.
func TestREADMEShowsTheseFiles(t *testing.T) {
	readme, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range []struct{ file, lang string }{
		{"nginx-blnk.conf", "nginx"},
		{"Caddyfile", "caddyfile"},
	} {
		b, err := os.ReadFile(f.file)
		if err != nil {
			t.Fatal(err)
		}
		block := "```" + f.lang + "\n" + string(b) + "```\n"
		if !strings.Contains(string(readme), block) {
			t.Errorf("README.md does not show e2e/gateways/%s as it is: paste the file, whole, in a ```%s block", f.file, f.lang)
		}
	}
}
