package naming

import (
	"errors"
	"strings"
	"testing"
	"unicode/utf8"
)

func TestClean(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want string
	}{
		{"plain", "CI key", "CI key"},
		{"trimmed", "  prod \n", "prod"},
		{"max characters", strings.Repeat("é", 10), strings.Repeat("é", 10)},
		{"emoji ZWJ sequence", "👩‍💻", "👩‍💻"},
		{"flag", "🇫🇷", "🇫🇷"},
		{"combined accent", "e\u0301", "e\u0301"},
		{"emoji ZWJ sequences", "👨‍👩‍👧 ❤️‍🔥", "👨‍👩‍👧 ❤️‍🔥"},
		{"ZWJ sequence with a skin tone", "👩🏽‍🚀", "👩🏽‍🚀"},
		{"ZWJ sequence to a symbol", "👩‍⚕️", "👩‍⚕️"},
		{"emoji with a variation selector", "❤\ufe0f", "❤\ufe0f"},
		{"japanese", "本番", "本番"},
		{"hangul", "한국", "한국"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Clean(tt.in, 10)
			if err != nil || got != tt.want {
				t.Errorf("Clean(%q) = %q, %v; want %q", tt.in, got, err, tt.want)
			}
		})
	}
}

func TestCleanRefused(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want Reason
	}{
		{"invalid UTF-8", "a\xffb", Invalid},
		{"empty", "", Empty},
		{"white space", " \t\u00a0\u3000\u2003 ", Empty},
		{"too long", strings.Repeat("a", 11), TooLong},
		{"NUL", "a\x00", Control},
		{"tab", "a\tb", Control},
		{"right-to-left override", "a\u202eb", Bidi},
		{"right-to-left mark alone", "\u200f", Bidi},
		{"first strong isolate", "a\u2068b", Bidi},
		{"line separator inside", "a\u2028b", Separator},
		{"paragraph separator inside", "a\u2029b", Separator},
		{"tag characters inside", "ok\U000E0041\U000E0042", Tag},
		{"cancel tag inside", "ok\U000E007F", Tag},
		{"zero-width space inside", "a\u200bb", ZeroWidth},
		{"zero-width non-joiner inside", "a\u200cb", ZeroWidth},
		{"zero-width joiner between letters", "a\u200db", ZeroWidth},
		{"zero-width joiner after an emoji", "👩\u200db", ZeroWidth},
		{"zero-width joiner before an emoji", "a\u200d💻", ZeroWidth},
		{"zero-width joiner at the end", "👩\u200d", ZeroWidth},
		{"word joiner inside", "a\u2060b", ZeroWidth},
		{"byte order mark inside", "a\ufeffb", ZeroWidth},
		{"replacement character", "\ufffd", Control},
		{"zero-width space", "\u200b", Invisible},
		{"zero-width spaces", "\u200b\u200b\u200b", Invisible},
		{"word joiner", "\u2060", Invisible},
		{"byte order mark", "\ufeff", Invisible},
		{"soft hyphen", "\u00ad\u00ad", Invisible},
		{"zero-width joiners", "\u200d\u200c", Invisible},
		{"mongolian vowel separator", "\u180e", Invisible},
		{"tag characters", "\U000E0041\U000E0042", Invisible},
		{"combining mark alone", "\u0301", Invisible},
		{"combining marks", "\u0301\u0308\u20dd", Invisible},
		{"variation selector alone", "\ufe0f", Invisible},
		{"combining grapheme joiner", "\u034f", Invisible},
		{"hangul filler", "\u3164", Invisible},
		{"halfwidth hangul filler", "\uffa0", Invisible},
		{"braille blank", "\u2800\u2800", Invisible},
		{"mixed invisibles and spaces", " \u200b \u00ad\u0301 \ufeff ", Invisible},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Clean(tt.in, 10)
			var ne *Error
			if !errors.As(err, &ne) {
				t.Fatalf("Clean(%q) = %q, %v; want a *naming.Error", tt.in, got, err)
			}
			if got != "" || ne.Reason != tt.want {
				t.Errorf("Clean(%q) = %q, reason %v; want \"\", %v", tt.in, got, ne.Reason, tt.want)
			}
		})
	}
	_, err := Clean(strings.Repeat("🔑", 12), 10)
	if ne := (*Error)(nil); !errors.As(err, &ne) || ne.Chars != 12 {
		t.Errorf("too long: got %v, want Chars 12", err)
	}
}

// FuzzClean checks what Clean promises about the names it accepts.
func FuzzClean(f *testing.F) {
	for _, s := range []string{"prod", " a ", "", "a\tb", "👩‍💻", "\u202e", "\xff", "\u200b", "\u0301a", strings.Repeat("a", 101)} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in string) {
		got, err := Clean(in, 100)
		if err != nil {
			return
		}
		if got != strings.TrimSpace(in) {
			t.Errorf("Clean(%q) = %q, want the input trimmed", in, got)
		}
		if n := utf8.RuneCountInString(got); n < 1 || n > 100 || !utf8.ValidString(got) {
			t.Errorf("Clean(%q) = %q: %d characters or invalid UTF-8", in, got, n)
		}
		if strings.ContainsFunc(got, isControl) || !strings.ContainsFunc(got, Visible) {
			t.Errorf("Clean(%q) = %q: a control character, or nothing visible", in, got)
		}
	})
}
