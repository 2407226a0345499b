package apikey

import (
	"strings"

	"github.com/blnk-cloud/apikeys/internal/derrors"
)

// tokenKind is a kind of secret this product issues: the literal its
// tokens start with, how long they are, and the check that tells one from
// text that only looks like it: API keys ("blnk_") and management
// tokens ("blnkm_"), so that FindToken and everything built on it (names
// that refuse a pasted secret, redaction) find both.
type tokenKind struct {
	literal string
	length  int
	parse   func(string) (prefix string, err error)
}

// tokenKinds returns the kinds of token FindToken looks for.
func tokenKinds() [2]tokenKind {
	return [...]tokenKind{
		{literal: literal, length: TokenLen, parse: Parse},
		{literal: mgmtLiteral, length: MgmtTokenLen, parse: ParseManagement},
	}
}

// FindToken returns where the first token in s is, s[start:end], with its
// display prefix: any substring that parses as a token of a kind this
// product issues (the literal, the shape and a matching checksum),
// wherever it is, inside a word or a URL too. ok is false if s holds
// none. A typo or a part of a key is not found: the checksum must match,
// so that ordinary text is never taken for a key.
func FindToken(s string) (start, end int, prefix string, ok bool) {
	best := -1
	for _, k := range tokenKinds() {
		for off := 0; off+k.length <= len(s); {
			i := strings.Index(s[off:], k.literal)
			if i < 0 || off+i+k.length > len(s) {
				break
			}
			i += off
			if p, err := k.parse(s[i : i+k.length]); err == nil {
				if best < 0 || i < best {
					best, end, prefix = i, i+k.length, p
				}
				break
			}
			off = i + 1
		}
	}
	if best < 0 {
		return 0, 0, "", false
	}
	return best, end, prefix, true
}

// ContainsToken reports whether s holds a token anywhere (FindToken).
func ContainsToken(s string) bool {
	_, _, _, ok := FindToken(s)
	return ok
}

// RedactTokens replaces every token in s (FindToken) with its display
// prefix and "…", for untrusted text that is kept, such as where a leak
// report says it found a key: the public prefix still says which key.
func RedactTokens(s string) string {
	i, j, prefix, ok := FindToken(s)
	if !ok {
		return s
	}
	var b strings.Builder
	for ok {
		b.WriteString(s[:i])
		b.WriteString(prefix)
		b.WriteString("…")
		s = s[j:]
		i, j, prefix, ok = FindToken(s)
	}
	b.WriteString(s)
	return b.String()
}

// ErrLooksLikeKey refuses free text that holds a key: names,
// descriptions, URLs and lists people type are stored, shown, audited
// and sent in webhooks, where a key must never be. Its text is the
// message shown next to the field.
var ErrLooksLikeKey = derrors.Errorf(derrors.EINVALID, "This looks like an API key; never paste keys here.")

// CheckNoToken returns ErrLooksLikeKey if s holds a token (FindToken).
func CheckNoToken(s string) error {
	if ContainsToken(s) {
		return ErrLooksLikeKey
	}
	return nil
}
