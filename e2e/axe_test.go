package e2e

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/playwright-community/playwright-go"
)

// axeVersion is the release of axe-core (npm) that e2e/setup.sh installs
// and the tests inject into pages.
const axeVersion = "4.14.1"

// axeChecks counts the pages and dialogs axe-core checked in this run.
var axeChecks atomic.Int64

// axePath finds axe.min.js where e2e/setup.sh puts it: AXE_CORE_DIR, else
// the user's cache directory.
var axePath = sync.OnceValues(func() (string, error) {
	dir := os.Getenv("AXE_CORE_DIR")
	if dir == "" {
		cache, err := os.UserCacheDir()
		if err != nil {
			return "", err
		}
		dir = filepath.Join(cache, "blnk-e2e", "axe-core-"+axeVersion)
	}
	p := filepath.Join(dir, "axe.min.js")
	if _, err := os.Stat(p); err != nil {
		return "", fmt.Errorf("axe-core %s is not installed (%v): run e2e/setup.sh or make test-deps", axeVersion, err)
	}
	return p, nil
})

// axeRun runs every axe rule of WCAG 2.2 A and AA, best practices and the
// experimental rules on the whole document; not the AAA ones (we aim at
// AA), nor those axe deprecated.
const axeRun = `async () => {
	const rules = {};
	for (const r of axe.getRules()) {
		rules[r.ruleId] = { enabled: !r.tags.includes("wcag2aaa") && !r.tags.includes("deprecated") };
	}
	const r = await axe.run(document, { rules, resultTypes: ["violations"] });
	return JSON.stringify({
		rules: Object.values(rules).filter(r => r.enabled).length,
		violations: r.violations.map(v => ({
			id: v.id, impact: v.impact, help: v.help, helpUrl: v.helpUrl,
			nodes: v.nodes.map(n => ({ target: n.target.join(" "), html: n.html, summary: n.failureSummary })),
		})),
	});
}`

type axeResult struct {
	Rules      int
	Violations []struct {
		ID, Impact, Help, HelpURL string
		Nodes                     []struct{ Target, HTML, Summary string }
	}
}

// checkA11y runs axe-core on the page as it is now and fails the test on
// any violation, printing each with the elements it concerns. The page's
// context must be made with pageOptions.axe (our CSP forbids the injected
// script otherwise).
func checkA11y(t *testing.T, page playwright.Page, what string) {
	t.Helper()
	path, err := axePath()
	if err != nil {
		t.Fatal(err)
	}
	if loaded, err := page.Evaluate("typeof window.axe === 'object'"); err != nil {
		t.Fatalf("%s: %v", what, err)
	} else if loaded != true {
		if _, err := page.AddScriptTag(playwright.PageAddScriptTagOptions{Path: playwright.String(path)}); err != nil {
			t.Fatalf("%s: inject axe-core: %v", what, err)
		}
	}
	out, err := page.Evaluate(axeRun)
	if err != nil {
		t.Fatalf("%s: axe.run: %v", what, err)
	}
	var res axeResult
	if err := json.Unmarshal([]byte(out.(string)), &res); err != nil {
		t.Fatalf("%s: axe result: %v", what, err)
	}
	if res.Rules < 50 {
		t.Fatalf("%s: axe ran %d rules, want every rule", what, res.Rules)
	}
	axeChecks.Add(1)
	if len(res.Violations) == 0 {
		return
	}
	var b strings.Builder
	fmt.Fprintf(&b, "%s: axe-core found %d kinds of violation (%s):\n", what, len(res.Violations), page.URL())
	for _, v := range res.Violations {
		fmt.Fprintf(&b, "  [%s] %s: %s (%s)\n", v.Impact, v.ID, v.Help, v.HelpURL)
		for _, n := range v.Nodes {
			fmt.Fprintf(&b, "      at %s\n        %s\n        %s\n", n.Target, truncate(n.HTML, 200), strings.ReplaceAll(n.Summary, "\n", "\n        "))
		}
	}
	t.Error(b.String())
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}
