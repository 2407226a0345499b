// Package password hashes people's passwords with argon2id and checks new
// ones against the policy. Hashes carry their parameters, so that a change
// of cost applies to new passwords and old ones still verify.
package password

import (
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"fmt"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/blnk-cloud/apikeys/internal/derrors"
	"golang.org/x/crypto/argon2"
)

// Hasher hashes passwords with argon2id. Its cost is part of each hash, so
// a later change of cost still verifies old hashes.
type Hasher struct {
	Memory  uint32 // KiB
	Time    uint32 // passes
	Threads uint8
}

// DefaultHasher follows OWASP's argon2id recommendation (19 MiB, 2 passes).
var DefaultHasher = Hasher{Memory: 19 * 1024, Time: 2, Threads: 1}

// FastHasher is for tests only: cheap, so suites that sign in often stay fast.
var FastHasher = Hasher{Memory: 64, Time: 1, Threads: 1}

const keyLen = 32

// Hash returns an encoded argon2id hash of pw in the PHC string format.
func (h Hasher) Hash(pw string) (string, error) {
	salt := make([]byte, 16)
	if _, err := rand.Read(salt); err != nil {
		return "", err
	}
	sum := argon2.IDKey([]byte(pw), salt, h.Time, h.Memory, h.Threads, keyLen)
	b64 := base64.RawStdEncoding
	return fmt.Sprintf("$argon2id$v=%d$m=%d,t=%d,p=%d$%s$%s",
		argon2.Version, h.Memory, h.Time, h.Threads, b64.EncodeToString(salt), b64.EncodeToString(sum)), nil
}

// Verify reports whether pw matches encoded, in time independent of where
// they differ. A malformed hash matches nothing.
func Verify(encoded, pw string) bool {
	parts := strings.Split(encoded, "$")
	if len(parts) != 6 || parts[0] != "" || parts[1] != "argon2id" {
		return false
	}
	// Sscanf ignores what follows the last number and accepts signs, so
	// each part must also read back exactly as Hash writes it.
	var version int
	var m, t uint32
	var p uint8
	if _, err := fmt.Sscanf(parts[2], "v=%d", &version); err != nil || version != argon2.Version ||
		parts[2] != fmt.Sprintf("v=%d", version) {
		return false
	}
	if _, err := fmt.Sscanf(parts[3], "m=%d,t=%d,p=%d", &m, &t, &p); err != nil || m == 0 || t == 0 || p == 0 ||
		parts[3] != fmt.Sprintf("m=%d,t=%d,p=%d", m, t, p) {
		return false
	}
	b64 := base64.RawStdEncoding
	salt, err1 := b64.DecodeString(parts[4])
	want, err2 := b64.DecodeString(parts[5])
	if err1 != nil || err2 != nil || len(want) == 0 {
		return false
	}
	got := argon2.IDKey([]byte(pw), salt, t, m, p, uint32(len(want)))
	return subtle.ConstantTimeCompare(got, want) == 1
}

// DummyHash returns a valid hash of a random password, to verify against
// when an email is unknown so that sign-in takes the same time either way.
func (h Hasher) DummyHash() string {
	var pw [16]byte
	rand.Read(pw[:])
	s, err := h.Hash(base64.RawStdEncoding.EncodeToString(pw[:]))
	if err != nil {
		panic(err) // only rand can fail, and crypto/rand does not
	}
	return s
}

// Limits of a password, in characters.
const (
	Min = 12
	Max = 256
)

// Check applies the password policy to a new password: Min to Max
// characters, no control characters, not only spaces.
func Check(pw string) error {
	n := utf8.RuneCountInString(pw)
	switch {
	case n < Min:
		return derrors.Errorf(derrors.EINVALID, "Use at least %d characters.", Min)
	case n > Max:
		return derrors.Errorf(derrors.EINVALID, "Use at most %d characters.", Max)
	case !utf8.ValidString(pw) || strings.ContainsFunc(pw, unicode.IsControl):
		return derrors.Errorf(derrors.EINVALID, "Password cannot contain control characters.")
	case strings.TrimSpace(pw) == "":
		return derrors.Errorf(derrors.EINVALID, "Password cannot be only spaces.")
	}
	return nil
}
