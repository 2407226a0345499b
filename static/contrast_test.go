package static

import (
	"math"
	"regexp"
	"strconv"
	"testing"
)

// colourVar is a colour custom property of app.css with its light and its
// dark value: --name: light-dark(#light, #dark);
var colourVar = regexp.MustCompile(`(?m)^\s*(--[a-z0-9-]+):\s*light-dark\((#[0-9a-f]{6}),\s*(#[0-9a-f]{6})\);`)

// TestContrast checks that the colours used together meet WCAG 2.2 AA in
// both themes: 4.5:1 for text, 3:1 for the edges of fields and for focus
// rings (1.4.11). axe checks the text of the pages it sees; this checks
// every pair, including states axe does not reach (hover, disabled, focus).
func TestContrast(t *testing.T) {
	css, err := FS.ReadFile("css/app.css")
	if err != nil {
		t.Fatal(err)
	}
	vars := map[string][2]string{}
	for _, m := range colourVar.FindAllStringSubmatch(string(css), -1) {
		vars[m[1]] = [2]string{m[2], m[3]}
	}
	if len(vars) < 20 {
		t.Fatalf("found %d colour variables in app.css; is the light-dark() list still there?", len(vars))
	}
	text := 4.5
	nonText := 3.0
	surfaces := []string{"--bg", "--surface", "--surface-2", "--surface-hover"}
	var pairs []struct {
		fg, bg string
		min    float64
	}
	add := func(fg string, bgs []string, min float64) {
		for _, bg := range bgs {
			pairs = append(pairs, struct {
				fg, bg string
				min    float64
			}{fg, bg, min})
		}
	}
	add("--text", surfaces, text)
	add("--text-2", surfaces, text)
	add("--text-3", surfaces, text)
	add("--accent", surfaces, text)
	add("--danger", []string{"--surface", "--danger-soft"}, text)
	add("--success", []string{"--surface", "--success-soft"}, text)
	add("--warning", []string{"--surface", "--warning-soft"}, text)
	add("--accent", []string{"--accent-soft"}, text)
	add("--text-2", []string{"--accent-soft", "--danger-soft"}, text)
	add("--text", []string{"--danger-soft", "--success-soft"}, text) // the audit log's before and after
	add("--on-primary", []string{"--primary", "--primary-hover", "--danger-strong", "--danger-strong-hover"}, text)
	add("--avatar-text", []string{"--avatar-bg"}, text)
	add("--toast-text", []string{"--toast-bg"}, text)
	add("--on-primary", []string{"--danger-strong"}, text) // error toasts
	add("--border-input", []string{"--surface", "--surface-2"}, nonText)
	add("--focus-ring", append(surfaces, "--accent-soft", "--danger-soft"), nonText)
	for _, p := range pairs {
		fg, ok1 := vars[p.fg]
		bg, ok2 := vars[p.bg]
		if !ok1 || !ok2 {
			t.Errorf("%s on %s: variable missing from app.css", p.fg, p.bg)
			continue
		}
		for i, theme := range []string{"light", "dark"} {
			if r := contrast(fg[i], bg[i]); r < p.min {
				t.Errorf("%s theme: %s (%s) on %s (%s): contrast %.2f, want at least %.1f", theme, p.fg, fg[i], p.bg, bg[i], r, p.min)
			}
		}
	}
}

// contrast is the WCAG contrast ratio of two #rrggbb colours.
func contrast(a, b string) float64 {
	la, lb := luminance(a), luminance(b)
	if la < lb {
		la, lb = lb, la
	}
	return (la + 0.05) / (lb + 0.05)
}

func luminance(hex string) float64 {
	channel := func(i int) float64 {
		v, _ := strconv.ParseUint(hex[1+2*i:3+2*i], 16, 8)
		c := float64(v) / 255
		if c <= 0.04045 {
			return c / 12.92
		}
		return math.Pow((c+0.055)/1.055, 2.4)
	}
	return 0.2126*channel(0) + 0.7152*channel(1) + 0.0722*channel(2)
}

func TestContrastFormula(t *testing.T) {
	for _, tc := range []struct {
		a, b string
		want float64
	}{
		{"#000000", "#ffffff", 21},
		{"#ffffff", "#ffffff", 1},
		{"#767676", "#ffffff", 4.54},
	} {
		if got := contrast(tc.a, tc.b); math.Abs(got-tc.want) > 0.01 {
			t.Errorf("contrast(%s, %s) = %.3f, want %.2f", tc.a, tc.b, got, tc.want)
		}
	}
}
