// Package naming checks the names people give things in the dashboard (API
// keys, workspaces): text shown to other people, in lists, logs and audit
// trails, which must look like what it is. Callers put its reasons in
// words for their own field.
package naming

import (
	"strings"
	"unicode"
	"unicode/utf8"
)

// Reason is why a name is refused.
type Reason int

// The reasons, in the order Clean checks them.
const (
	Invalid   Reason = iota + 1 // not valid UTF-8
	Empty                       // nothing but white space
	TooLong                     // more characters than allowed
	Control                     // a control character or U+FFFD
	Bidi                        // a bidirectional control (U+202A–U+202E, U+2066–U+2069, ...)
	Invisible                   // no character that shows: only format characters, combining marks and the like
	Separator                   // a line or paragraph separator (U+2028, U+2029)
	Tag                         // a Unicode tag character (U+E0000–U+E007F)
	ZeroWidth                   // a zero-width character (U+200B–U+200D, U+2060, U+FEFF) but a joiner inside an emoji
)

func (r Reason) String() string {
	switch r {
	case Invalid:
		return "not valid UTF-8"
	case Empty:
		return "empty"
	case TooLong:
		return "too long"
	case Control:
		return "control character"
	case Bidi:
		return "bidirectional control character"
	case Invisible:
		return "nothing visible"
	case Separator:
		return "line or paragraph separator"
	case Tag:
		return "tag character"
	case ZeroWidth:
		return "zero-width character"
	}
	return "unknown reason"
}

// Error says why a name was refused.
type Error struct {
	Reason Reason
	Chars  int  // the trimmed name's length in characters (for TooLong)
	Rune   rune // the character refused (for Control, Bidi, Separator, Tag, ZeroWidth)
}

func (e *Error) Error() string { return "naming: " + e.Reason.String() }

// Clean trims name and checks that it can name something: valid UTF-8, 1
// to max characters, no control characters, no bidirectional controls
// (which can make a name display as another one, "invoice\u202Efdp.exe"),
// no U+FFFD (what invalid text became on the way), at least one
// character that shows (a name made only of zero-width spaces, soft
// hyphens, joiners or combining marks looks empty wherever it is listed),
// and no hidden characters inside (Hidden): "prod\u200Bkey" looks like
// "prodkey" and is another name. Its errors are *Error.
func Clean(name string, max int) (string, error) {
	if !utf8.ValidString(name) {
		return "", &Error{Reason: Invalid}
	}
	name = strings.TrimSpace(name)
	switch n := utf8.RuneCountInString(name); {
	case n == 0:
		return "", &Error{Reason: Empty}
	case n > max:
		return "", &Error{Reason: TooLong, Chars: n}
	}
	if i := strings.IndexFunc(name, isControl); i >= 0 {
		r, _ := utf8.DecodeRuneInString(name[i:])
		return "", &Error{Reason: Control, Rune: r}
	}
	if i := strings.IndexFunc(name, isBidi); i >= 0 {
		r, _ := utf8.DecodeRuneInString(name[i:])
		return "", &Error{Reason: Bidi, Rune: r}
	}
	if !strings.ContainsFunc(name, Visible) {
		return "", &Error{Reason: Invisible}
	}
	if err := Hidden(name); err != nil {
		return "", err
	}
	return name, nil
}

func isControl(r rune) bool {
	return unicode.IsControl(r) || r == utf8.RuneError
}

func isBidi(r rune) bool { return unicode.Is(unicode.Bidi_Control, r) }

// Hidden returns an *Error if s holds a character that changes how text
// reads without showing itself, which makes look-alikes of names and
// hides text from the people who read it: a bidirectional control (Bidi),
// a line or paragraph separator U+2028, U+2029 (Separator: a line break
// that most fields do not show as one), a Unicode tag character
// (Tag: invisible ASCII, used to smuggle text to language models), or a
// zero-width space, joiner or non-joiner, word joiner or U+FEFF
// (ZeroWidth). A zero-width joiner is allowed between two emoji, where
// it joins them into one (👩‍💻); that is its only use in names. Control
// characters are left to the caller (descriptions keep line breaks).
// Valid UTF-8 is assumed.
func Hidden(s string) error {
	var prev rune
	for i, r := range s {
		switch {
		case isBidi(r):
			return &Error{Reason: Bidi, Rune: r}
		case r == '\u2028' || r == '\u2029':
			return &Error{Reason: Separator, Rune: r}
		case r >= 0xE0000 && r <= 0xE007F:
			return &Error{Reason: Tag, Rune: r}
		case r == '\u200D':
			next, _ := utf8.DecodeRuneInString(s[i+len("\u200D"):])
			if !(emojiBeforeJoiner(prev) && emoji(next)) {
				return &Error{Reason: ZeroWidth, Rune: r}
			}
		case r == '\u200B' || r == '\u200C' || r == '\u2060' || r == '\uFEFF':
			return &Error{Reason: ZeroWidth, Rune: r}
		}
		prev = r
	}
	return nil
}

// emoji reports whether r is a pictographic character, as far as emoji
// ZWJ sequences use them: the blocks of Unicode's Extended_Pictographic
// property (which the unicode package does not have), a little wider.
func emoji(r rune) bool {
	switch {
	case r >= 0x1F000 && r <= 0x1FAFF, // pictographs, emoticons, transport, supplemental symbols
		r >= 0x2600 && r <= 0x27BF, // miscellaneous symbols (♀ ♂ ⚕), dingbats (❤)
		r >= 0x2190 && r <= 0x21FF, // arrows
		r >= 0x2300 && r <= 0x23FF, // miscellaneous technical (⌛)
		r >= 0x2B00 && r <= 0x2BFF, // arrows and stars (⬛ ⭐)
		r == 0x00A9 || r == 0x00AE || r == 0x203C || r == 0x2049 || r == 0x2122 || r == 0x3030 || r == 0x303D:
		return true
	}
	return false
}

// emojiBeforeJoiner reports whether r may end the emoji before a joiner:
// an emoji, or the variation selector that asks for its emoji form
// (U+FE0F, in "❤️‍🔥"). Skin tone modifiers are emoji themselves.
func emojiBeforeJoiner(r rune) bool { return r == '\uFE0F' || emoji(r) }

// Visible reports whether r shows on its own: it is not white space, a
// format character (Cf: zero-width space U+200B, word joiner U+2060,
// U+FEFF, soft hyphen U+00AD, ...), a combining mark (Mn, Me, which only
// change the character before them), a code point Unicode says to ignore
// when it cannot be shown (Hangul fillers, ...) or the blank Braille
// pattern U+2800.
func Visible(r rune) bool {
	return !unicode.IsSpace(r) && !unicode.In(r, unicode.Cf, unicode.Mn, unicode.Me, unicode.Other_Default_Ignorable_Code_Point) &&
		r != '\u2800'
}
