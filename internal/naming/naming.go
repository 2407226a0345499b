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
	Control                     // a control character, a bidirectional control or U+FFFD
	Invisible                   // no character that shows: only format characters, combining marks and the like
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
	case Invisible:
		return "nothing visible"
	}
	return "unknown reason"
}

// Error says why a name was refused.
type Error struct {
	Reason Reason
	Chars  int // the trimmed name's length in characters (for TooLong)
}

func (e *Error) Error() string { return "naming: " + e.Reason.String() }

// Clean trims name and checks that it can name something: valid UTF-8, 1
// to max characters, no control characters, no bidirectional controls
// (which can make a name display as another one, "invoice\u202Efdp.exe"),
// no U+FFFD (what invalid text became on the way), and at least one
// character that shows: a name made only of zero-width spaces, soft
// hyphens, joiners or combining marks looks empty wherever it is listed.
// Its errors are *Error.
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
	if strings.ContainsFunc(name, isControl) {
		return "", &Error{Reason: Control}
	}
	if !strings.ContainsFunc(name, Visible) {
		return "", &Error{Reason: Invisible}
	}
	return name, nil
}

func isControl(r rune) bool {
	return unicode.IsControl(r) || unicode.Is(unicode.Bidi_Control, r) || r == utf8.RuneError
}

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
