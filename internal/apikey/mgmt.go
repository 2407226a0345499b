package apikey

import (
	"crypto/rand"
	"errors"
	"hash/crc32"
	"io"
)

// A management token (SPEC "Management API") has the shape of a key with
// its own literal and its own checksum:
//
//	blnkm_ + 8 lowercase hex (the display prefix) + 32 base62 of secret + 6 base62 of checksum
//
// 52 characters. The checksum is the CRC-32C (Castagnoli), not the
// CRC-32 (IEEE) of keys, of everything before it, in base62: a key's
// body with its literal changed does not carry a valid token checksum,
// and the literals differ in length and letters, so a key never parses
// as a token (Parse refuses "blnkm_", ParseManagement refuses "blnk_").
const (
	mgmtLiteral = "blnkm_"
	// MgmtPrefixLen is the length of a token's display prefix,
	// "blnkm_" and 8 hex characters.
	MgmtPrefixLen = len(mgmtLiteral) + prefixHex
	// MgmtTokenLen is the length of a whole management token.
	MgmtTokenLen = MgmtPrefixLen + secretLen + checksumLen
)

// MgmtPattern matches a management token in text, for secret scanners.
const MgmtPattern = `\bblnkm_[0-9a-f]{8}[0-9A-Za-z]{38}\b`

// ErrNotMgmtToken is returned by ParseManagement for anything that is not
// a well-formed management token with a matching checksum.
var ErrNotMgmtToken = errors.New("apikey: malformed management token")

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

func crcMgmt(b []byte) uint32 { return crc32.Checksum(b, castagnoli) }

// GenerateManagement returns a new random management token.
func GenerateManagement() (string, error) { return generateManagement(rand.Reader) }

func generateManagement(r io.Reader) (string, error) {
	// The random part is drawn as a key's is, then given the token's
	// literal and checksum.
	key, err := generate(r)
	if err != nil {
		return "", err
	}
	buf := make([]byte, MgmtTokenLen)
	n := copy(buf, mgmtLiteral)
	n += copy(buf[n:], key[len(literal):PrefixLen+secretLen])
	sum := crcMgmt(buf[:n])
	for i := MgmtTokenLen - 1; i >= n; i-- {
		buf[i] = base62[sum%62]
		sum /= 62
	}
	return string(buf), nil
}

// ParseManagement checks that s is a well-formed management token whose
// checksum matches and returns its display prefix ("blnkm_" and 8 hex
// characters). It does no I/O.
func ParseManagement(s string) (prefix string, err error) {
	if len(s) != MgmtTokenLen || !prefixed(s, mgmtLiteral) || !base62From(s, MgmtPrefixLen) {
		return "", ErrNotMgmtToken
	}
	var body [MgmtTokenLen - checksumLen]byte
	copy(body[:], s)
	if !endsInChecksum(s, crcMgmt(body[:])) {
		return "", ErrNotMgmtToken
	}
	return s[:MgmtPrefixLen], nil
}

// IsMgmtPrefix reports whether s is a management token's display prefix.
func IsMgmtPrefix(s string) bool {
	return len(s) == MgmtPrefixLen && prefixed(s, mgmtLiteral)
}
