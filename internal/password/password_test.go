package password

import (
	"encoding/base64"
	"fmt"
	"regexp"
	"strings"
	"testing"
)

// phc matches an argon2id hash in the PHC string format, capturing the
// cost, the salt and the key.
var phc = regexp.MustCompile(`^\$argon2id\$v=19\$m=(\d+),t=(\d+),p=(\d+)\$([A-Za-z0-9+/]+)\$([A-Za-z0-9+/]+)$`)

// mustHash hashes pw with h.
func mustHash(t *testing.T, h Hasher, pw string) string {
	t.Helper()
	s, err := h.Hash(pw)
	if err != nil {
		t.Fatalf("Hash: %v", err)
	}
	return s
}

// checkWellFormed fails unless encoded is an argon2id hash with h's cost,
// a 16-byte salt and a 32-byte key.
func checkWellFormed(t *testing.T, h Hasher, encoded string) {
	t.Helper()
	m := phc.FindStringSubmatch(encoded)
	if m == nil {
		t.Fatalf("hash %q is not in the PHC argon2id format", encoded)
	}
	if got, want := m[1]+","+m[2]+","+m[3], fmt.Sprintf("%d,%d,%d", h.Memory, h.Time, h.Threads); got != want {
		t.Errorf("hash %q has cost m,t,p = %s, want %s", encoded, got, want)
	}
	b64 := base64.RawStdEncoding
	if salt, err := b64.DecodeString(m[4]); err != nil || len(salt) != 16 {
		t.Errorf("hash %q: salt of %d bytes (%v), want 16", encoded, len(salt), err)
	}
	if key, err := b64.DecodeString(m[5]); err != nil || len(key) != 32 {
		t.Errorf("hash %q: key of %d bytes (%v), want 32", encoded, len(key), err)
	}
}

func TestHashVerify(t *testing.T) {
	tests := []struct {
		name  string
		pw    string
		wrong []string
	}{
		{"ascii", "correct horse battery staple", []string{"correct horse battery stapl", "Correct horse battery staple", "correct horse battery staple ", ""}},
		{"unicode", "pässwörd-🔑-密码", []string{"passwörd-🔑-密码", "pässwörd-🔑-密"}},
		{"empty", "", []string{" ", "\x00"}},
		{"long", strings.Repeat("p", 256), []string{strings.Repeat("p", 255), strings.Repeat("p", 257)}},
		{"NUL inside", "a\x00b", []string{"a", "a\x00c"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := FastHasher
			encoded := mustHash(t, h, tt.pw)
			checkWellFormed(t, h, encoded)
			if !Verify(encoded, tt.pw) {
				t.Errorf("Verify(Hash(%.20q), %.20q) = false, want true", tt.pw, tt.pw)
			}
			for _, w := range tt.wrong {
				if Verify(encoded, w) {
					t.Errorf("Verify(Hash(%.20q), %.20q) = true, want false", tt.pw, w)
				}
			}
			if strings.Contains(encoded, tt.pw) && tt.pw != "" {
				t.Errorf("hash %q holds the password", encoded)
			}
		})
	}
}

func TestHashSalted(t *testing.T) {
	const pw = "correct horse battery staple"
	a, b := mustHash(t, FastHasher, pw), mustHash(t, FastHasher, pw)
	if a == b {
		t.Errorf("two hashes of the same password are equal: %q", a)
	}
	if !Verify(a, pw) || !Verify(b, pw) {
		t.Errorf("Verify of either hash = %v, %v; want true, true", Verify(a, pw), Verify(b, pw))
	}
}

func TestVerifyOtherCost(t *testing.T) {
	// A change of cost must still verify hashes made with the old one.
	const pw = "correct horse battery staple"
	for _, h := range []Hasher{
		{Memory: 128, Time: 2, Threads: 2},
		{Memory: 8, Time: 3, Threads: 1},
		{Memory: 256, Time: 1, Threads: 4},
	} {
		t.Run(fmt.Sprintf("m=%d,t=%d,p=%d", h.Memory, h.Time, h.Threads), func(t *testing.T) {
			encoded := mustHash(t, h, pw)
			checkWellFormed(t, h, encoded)
			if !Verify(encoded, pw) {
				t.Errorf("Verify(%q) = false, want true", encoded)
			}
			if Verify(encoded, pw+"!") {
				t.Errorf("Verify(%q, wrong) = true, want false", encoded)
			}
		})
	}
}

func TestDefaultHasher(t *testing.T) {
	const pw = "correct horse battery staple"
	encoded := mustHash(t, DefaultHasher, pw)
	checkWellFormed(t, DefaultHasher, encoded)
	if !strings.HasPrefix(encoded, "$argon2id$v=19$m=19456,t=2,p=1$") {
		t.Errorf("hash %q does not have OWASP's cost", encoded)
	}
	if !Verify(encoded, pw) {
		t.Errorf("Verify(%q) = false, want true", encoded)
	}
	if Verify(encoded, "correct horse battery stapler") {
		t.Errorf("Verify(%q, wrong) = true, want false", encoded)
	}
}

func TestVerifyMalformed(t *testing.T) {
	const pw = "correct horse battery staple"
	good := mustHash(t, FastHasher, pw)
	parts := strings.Split(good, "$") // "", "argon2id", "v=19", "m=..", salt, key
	with := func(i int, s string) string {
		p := append([]string(nil), parts...)
		p[i] = s
		return strings.Join(p, "$")
	}
	tests := []struct {
		name    string
		encoded string
	}{
		{"empty", ""},
		{"variant only", "$argon2id$"},
		{"password in clear", pw},
		{"dollars", "$$$$$"},
		{"bcrypt", "$2a$10$N9qo8uLOickgx2ZMRZoMyeIjZAgcfl7p92ldGxad68LJZdL17lhWy"},
		{"argon2i", with(1, "argon2i")},
		{"argon2d", with(1, "argon2d")},
		{"uppercase variant", with(1, "ARGON2ID")},
		{"version 16", with(2, "v=16")},
		{"version 20", with(2, "v=20")},
		{"version missing", with(2, "")},
		{"version not a number", with(2, "v=x")},
		{"m=0", with(3, "m=0,t=1,p=1")},
		{"t=0", with(3, "m=64,t=0,p=1")},
		{"p=0", with(3, "m=64,t=1,p=0")},
		{"p too large for a byte", with(3, "m=64,t=1,p=256")},
		{"negative m", with(3, "m=-1,t=1,p=1")},
		{"version with junk", with(2, "v=19x")},
		{"version with a sign", with(2, "v=+19")},
		{"version with a space", with(2, "v= 19")},
		{"cost with junk", with(3, "m=64,t=1,p=1,x=2")},
		{"cost with a sign", with(3, "m=+64,t=1,p=1")},
		{"cost with a leading zero", with(3, "m=064,t=1,p=1")},
		{"cost missing", with(3, "")},
		{"cost reordered", with(3, "t=1,m=64,p=1")},
		{"cost garbage", with(3, "m=x,t=y,p=z")},
		{"salt garbage", with(4, "!!!not base64!!!")},
		{"salt padded", with(4, parts[4]+"==")},
		{"key garbage", with(5, "@@@@")},
		{"key padded", with(5, parts[5]+"=")},
		{"key empty", with(5, "")},
		{"key truncated", with(5, parts[5][:len(parts[5])-4])},
		{"key of another password", with(5, strings.Split(mustHash(t, FastHasher, "other"), "$")[5])},
		{"salt of another hash", with(4, strings.Split(mustHash(t, FastHasher, pw), "$")[4])},
		{"cost changed", with(3, "m=128,t=1,p=1")},
		{"extra part", good + "$x"},
		{"missing part", strings.Join(parts[:5], "$")},
		{"leading space", " " + good},
		{"no leading dollar", strings.TrimPrefix(good, "$")},
		{"unicode", "$argon2id$v=19$m=64,t=1,p=1$sälz$kéy"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.encoded == good {
				t.Fatal("test case is the good hash")
			}
			if Verify(tt.encoded, pw) {
				t.Errorf("Verify(%q) = true, want false", tt.encoded)
			}
			if Verify(tt.encoded, "") {
				t.Errorf("Verify(%q, \"\") = true, want false", tt.encoded)
			}
		})
	}
	if !Verify(good, pw) {
		t.Errorf("Verify(%q) = false for the hash the cases derive from", good)
	}
}

func TestDummyHash(t *testing.T) {
	for _, h := range []Hasher{FastHasher, DefaultHasher} {
		t.Run(fmt.Sprintf("m=%d", h.Memory), func(t *testing.T) {
			a, b := h.DummyHash(), h.DummyHash()
			checkWellFormed(t, h, a)
			if a == b {
				t.Errorf("two dummy hashes are equal: %q", a)
			}
			for _, pw := range []string{"", "password", "correct horse battery staple", a} {
				if Verify(a, pw) {
					t.Errorf("Verify(DummyHash(), %.20q) = true, want false", pw)
				}
			}
		})
	}
}

func BenchmarkVerify(b *testing.B) {
	for _, bb := range []struct {
		name string
		h    Hasher
	}{{"fast", FastHasher}, {"default", DefaultHasher}} {
		b.Run(bb.name, func(b *testing.B) {
			encoded, err := bb.h.Hash("correct horse battery staple")
			if err != nil {
				b.Fatal(err)
			}
			b.ReportAllocs()
			for b.Loop() {
				Verify(encoded, "correct horse battery staple")
			}
		})
	}
}
