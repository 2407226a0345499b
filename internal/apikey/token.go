// Package apikey is the API key itself: the token format (generate, parse,
// checksum), the hash stored in place of the token, scopes, expiry and the
// validation of a key's name. It uses the standard library only.
//
// A token looks like
//
//	blnk_fdb796a5 Xq3...32 base62 chars... 0aZ9kQ
//	|    |        |                        |
//	|    prefix   secret                   checksum
//	literal
//
// written without spaces: "blnk_" + 8 lowercase hex characters (the public
// prefix shown in lists) + 32 base62 characters of secret + 6 base62
// characters of checksum, 51 characters in all. The prefix and the secret
// are random (32 + 190.5 bits); the checksum is the CRC-32 (IEEE) of the
// first 45 characters written in base62, zero-padded to 6 characters. The
// checksum lets a server refuse typos and garbage without a database read;
// it is not a secret and proves nothing about authenticity.
package apikey

import (
	"crypto/rand"
	"crypto/sha256"
	"errors"
	"hash/crc32"
	"io"
	"strings"
)

// Lengths of the parts of a token.
const (
	literal     = "blnk_"
	prefixHex   = 8
	secretLen   = 32
	checksumLen = 6

	// PrefixLen is the length of the display prefix, "blnk_" and 8 hex
	// characters, e.g. "blnk_fdb796a5".
	PrefixLen = len(literal) + prefixHex
	// TokenLen is the length of a whole token.
	TokenLen = PrefixLen + secretLen + checksumLen
)

// Pattern is a regular expression (RE2 and PCRE syntax alike) that
// matches a token in text, for secret scanners such as gitleaks: the
// literal, 8 lowercase hex characters and 38 base62 characters, not part
// of a longer word. It cannot check the checksum; Parse does.
const Pattern = `\bblnk_[0-9a-f]{8}[0-9A-Za-z]{38}\b`

// base62 is the alphabet of the secret and the checksum, in ASCII order.
const base62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"

const hexDigits = "0123456789abcdef"

// ErrMalformed is returned by Parse for anything that is not a well-formed
// token with a matching checksum. Callers get one error for every defect on
// purpose: an API must not tell a typo from an unknown key.
var ErrMalformed = errors.New("apikey: malformed token")

// Hash is the SHA-256 digest of a whole token: the only form in which a
// token is stored and looked up. Tokens carry about 220 random bits, so a
// fast hash is enough; a slow password hash would only slow down every API
// call without making a stolen database any more useful.
type Hash [sha256.Size]byte

// HashOf returns the hash under which token is stored.
func HashOf(token string) Hash {
	// Copying a token into an array keeps this free of allocations: the
	// compiler puts a []byte(token) of more than 32 bytes on the heap.
	var buf [TokenLen]byte
	if len(token) <= len(buf) {
		return sha256.Sum256(buf[:copy(buf[:], token)])
	}
	return sha256.Sum256([]byte(token))
}

// Generate returns a new random token read from crypto/rand.
func Generate() (string, error) {
	return generate(rand.Reader)
}

// generate builds a token from the random bytes of r.
func generate(r io.Reader) (string, error) {
	buf := make([]byte, TokenLen)
	n := copy(buf, literal)

	var p [prefixHex / 2]byte
	if _, err := io.ReadFull(r, p[:]); err != nil {
		return "", err
	}
	for _, b := range p {
		buf[n], buf[n+1] = hexDigits[b>>4], hexDigits[b&0x0f]
		n += 2
	}

	// Rejection sampling keeps every base62 character equally likely:
	// 248 is the largest multiple of 62 that fits in a byte.
	var chunk [64]byte
	for n < PrefixLen+secretLen {
		if _, err := io.ReadFull(r, chunk[:]); err != nil {
			return "", err
		}
		for _, b := range chunk {
			if b >= 248 {
				continue
			}
			buf[n] = base62[b%62]
			n++
			if n == PrefixLen+secretLen {
				break
			}
		}
	}

	putChecksum(buf[n:], buf[:n])
	return string(buf), nil
}

// putChecksum writes the base62 CRC-32 of body into dst (6 bytes).
func putChecksum(dst, body []byte) {
	sum := crcIEEE(body)
	for i := checksumLen - 1; i >= 0; i-- {
		dst[i] = base62[sum%62]
		sum /= 62
	}
}

// Parse checks that s is a well-formed token whose checksum matches and
// returns its display prefix ("blnk_" and 8 hex characters). It does no I/O
// and allocates nothing, so a server can refuse garbage before any lookup.
func Parse(s string) (prefix string, err error) {
	if len(s) != TokenLen || !prefixed(s, literal) || !base62From(s, PrefixLen) || !endsInChecksum(s, crcIEEE(s[:TokenLen-checksumLen])) {
		return "", ErrMalformed
	}
	return s[:PrefixLen], nil
}

// prefixed reports whether s starts with literal and prefixHex lowercase
// hex characters: a display prefix, of a key or a management token.
func prefixed(s, literal string) bool {
	if len(s) < len(literal)+prefixHex || s[:len(literal)] != literal {
		return false
	}
	for i := len(literal); i < len(literal)+prefixHex; i++ {
		if !isHex(s[i]) {
			return false
		}
	}
	return true
}

// base62From reports whether s is base62 from index i on.
func base62From(s string, i int) bool {
	for ; i < len(s); i++ {
		if !isBase62(s[i]) {
			return false
		}
	}
	return true
}

// endsInChecksum reports whether s ends in the base62 of sum, checksumLen
// characters.
func endsInChecksum(s string, sum uint32) bool {
	for i := len(s) - 1; i >= len(s)-checksumLen; i-- {
		if s[i] != base62[sum%62] {
			return false
		}
		sum /= 62
	}
	return true
}

// crcIEEE is crc32.ChecksumIEEE of a string or bytes, computed a byte at a
// time with crc32's table. crc32.ChecksumIEEE([]byte(s)) would copy s to
// the heap (crc32 hands its argument to assembly through a function
// variable), and Parse runs on every API request, on any input.
func crcIEEE[T string | []byte](b T) uint32 {
	crc := ^uint32(0)
	for i := 0; i < len(b); i++ {
		crc = crc32.IEEETable[byte(crc)^b[i]] ^ crc>>8
	}
	return ^crc
}

func isBase62(c byte) bool {
	return c >= '0' && c <= '9' || c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z'
}

// Redact replaces anything in s that looks like a key or a management
// token (the literal and hex prefix followed by at least 10 base62
// characters) with its display prefix and "[redacted]", for text that is
// logged or echoed, such as a URL path a client pasted a key into.
func Redact(s string) string {
	return redact(redact(s, literal, PrefixLen), mgmtLiteral, MgmtPrefixLen)
}

// redact is Redact for the tokens of one literal, whose display prefix
// is prefixLen long.
func redact(s, literal string, prefixLen int) string {
	i := strings.Index(s, literal)
	if i < 0 {
		return s
	}
	var b strings.Builder
	for i >= 0 {
		j := i + len(literal)
		for j < len(s) && j < i+prefixLen && isHex(s[j]) {
			j++
		}
		k := j
		for k < len(s) && isBase62(s[k]) {
			k++
		}
		end := i + len(literal)
		if j == i+prefixLen && k-j >= 10 {
			b.WriteString(s[:j])
			b.WriteString("[redacted]")
			end = k
		} else {
			b.WriteString(s[:end])
		}
		s = s[end:]
		i = strings.Index(s, literal)
	}
	b.WriteString(s)
	return b.String()
}

func isHex(c byte) bool { return c >= '0' && c <= '9' || c >= 'a' && c <= 'f' }
