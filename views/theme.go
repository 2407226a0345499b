package views

import "context"

// Theme is the colour theme a browser asked for. The zero value follows
// the system's preference (prefers-color-scheme).
type Theme string

// The themes the account menu offers.
const (
	ThemeSystem Theme = ""
	ThemeLight  Theme = "light"
	ThemeDark   Theme = "dark"
)

// ParseTheme reads a theme as the theme form sends it: "light", "dark" or
// "system".
func ParseTheme(s string) (Theme, bool) {
	switch s {
	case "light":
		return ThemeLight, true
	case "dark":
		return ThemeDark, true
	case "system":
		return ThemeSystem, true
	}
	return "", false
}

// Value is the theme as the theme form sends it.
func (t Theme) Value() string {
	if t == ThemeSystem {
		return "system"
	}
	return string(t)
}

// WithTheme returns ctx carrying the theme pages rendered with it use, so
// that every page, the error pages included, is drawn in the right theme
// from its first paint without each handler passing it along.
func WithTheme(ctx context.Context, t Theme) context.Context {
	return withCarried(ctx, t)
}

// ThemeOf returns the theme carried by ctx.
func ThemeOf(ctx context.Context) Theme {
	return carriedOf[Theme](ctx)
}

// colorScheme is the content of the color-scheme meta tag: the browser
// paints its canvas and form controls in it before the stylesheet loads.
func colorScheme(t Theme) string {
	if t == ThemeSystem {
		return "light dark"
	}
	return string(t)
}

func pressed(b bool) string {
	if b {
		return "true"
	}
	return "false"
}

// themeChoices are the buttons of the account menu's theme switch.
var themeChoices = []struct {
	theme Theme
	label string
}{{ThemeLight, "Light"}, {ThemeDark, "Dark"}, {ThemeSystem, "System"}}
