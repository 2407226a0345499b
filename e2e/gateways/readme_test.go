package gateways

import (
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// gatewayFiles are the configurations these tests run, and the language
// of the fenced blocks that show them.
var gatewayFiles = []struct{ file, lang string }{
	{"nginx-blnk.conf", "nginx"},
	{"Caddyfile", "caddyfile"},
}

// TestREADMEShowsTheseFiles: the configurations this directory's README
// shows are the files these tests run, character for character, and no
// other page of the repository shows a copy that differs, so the docs and
// the tests cannot drift.
func TestREADMEShowsTheseFiles(t *testing.T) {
	readme, err := os.ReadFile("README.md")
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range gatewayFiles {
		b, err := os.ReadFile(f.file)
		if err != nil {
			t.Fatal(err)
		}
		block := "```" + f.lang + "\n" + string(b) + "```\n"
		if !strings.Contains(string(readme), block) {
			t.Errorf("e2e/gateways/README.md does not show %s as it is: paste the file, whole, in a ```%s block", f.file, f.lang)
		}
	}
}

// TestNoPageShowsAnOldCopy: a block of any markdown file that starts as
// one of the configurations does (its first line) is the whole file, as
// it is. A copy pasted elsewhere and left behind fails here.
func TestNoPageShowsAnOldCopy(t *testing.T) {
	pages := markdownFiles(t, "../..")
	if len(pages) < 2 {
		t.Fatalf("found %d markdown files under the repository's root, want the README and more", len(pages))
	}
	shown := 0
	for _, f := range gatewayFiles {
		b, err := os.ReadFile(f.file)
		if err != nil {
			t.Fatal(err)
		}
		want := string(b)
		first, _, _ := strings.Cut(want, "\n")
		for _, page := range pages {
			text, err := os.ReadFile(page)
			if err != nil {
				t.Fatal(err)
			}
			for _, blk := range fencedBlocks(string(text)) {
				if !strings.HasPrefix(blk.body, first+"\n") {
					continue
				}
				shown++
				if blk.lang != f.lang || blk.body != want {
					t.Errorf("%s shows a ```%s block that starts as %s but is not the file as it is: show the file whole, or link to e2e/gateways/README.md", strings.TrimPrefix(page, "../../"), blk.lang, f.file)
				}
			}
		}
	}
	if shown < len(gatewayFiles) {
		t.Errorf("found %d blocks showing the configurations, want at least %d (one each)", shown, len(gatewayFiles))
	}
}

// markdownFiles returns the *.md files under root, leaving out hidden
// directories and installed packages.
func markdownFiles(t *testing.T, root string) []string {
	t.Helper()
	var pages []string
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			if name := d.Name(); path != root && (strings.HasPrefix(name, ".") || name == "node_modules" || name == "artifacts") {
				return filepath.SkipDir
			}
			return nil
		}
		if strings.HasSuffix(path, ".md") {
			pages = append(pages, path)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return pages
}

// block is a fenced code block of a markdown page: its language and the
// lines between the fences, each ending in a newline.
type block struct{ lang, body string }

// fencedBlocks returns the ``` blocks of a markdown text.
func fencedBlocks(text string) []block {
	var blocks []block
	var cur *block
	for _, line := range strings.SplitAfter(text, "\n") {
		trimmed := strings.TrimRight(line, "\n")
		switch {
		case cur == nil && strings.HasPrefix(trimmed, "```"):
			cur = &block{lang: strings.TrimSpace(strings.TrimPrefix(trimmed, "```"))}
		case cur != nil && trimmed == "```":
			blocks = append(blocks, *cur)
			cur = nil
		case cur != nil:
			cur.body += line
		}
	}
	return blocks
}
