package apikey

import (
	"bytes"
	"crypto/sha256"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"math/rand/v2"
	"strings"
	"testing"
)

// The reference implementation below restates the token format from the
// package documentation without using any of the package's code, so that
// the tests check Parse and generate against the contract, not against
// themselves.

// refAlphabet is 0-9, A-Z, a-z, built from ranges rather than copied from
// the package's constant.
var refAlphabet = func() string {
	var b []byte
	for _, r := range [][2]byte{{'0', '9'}, {'A', 'Z'}, {'a', 'z'}} {
		for c := r[0]; c <= r[1]; c++ {
			b = append(b, c)
		}
	}
	return string(b)
}()

// refChecksum returns the base62 CRC-32 (IEEE) of body, zero-padded to 6.
func refChecksum(body string) string {
	return refBase62(uint64(crc32.ChecksumIEEE([]byte(body))))
}

// refBase62 writes n in base62, most significant digit first, zero-padded
// to at least 6 digits.
func refBase62(n uint64) string {
	var digits []byte
	for n > 0 {
		digits = append(digits, refAlphabet[n%62])
		n /= 62
	}
	for len(digits) < 6 {
		digits = append(digits, '0')
	}
	for i, j := 0, len(digits)-1; i < j; i, j = i+1, j-1 {
		digits[i], digits[j] = digits[j], digits[i]
	}
	return string(digits)
}

// refValid reports whether s is a token by the contract: 51 bytes, "blnk_",
// 8 lowercase hex, 38 base62, and the last 6 are the checksum of the first 45.
func refValid(s string) bool {
	if len(s) != 51 || !strings.HasPrefix(s, "blnk_") {
		return false
	}
	for _, c := range []byte(s[5:13]) {
		if !strings.ContainsRune("0123456789abcdef", rune(c)) {
			return false
		}
	}
	for _, c := range []byte(s[13:]) {
		if !strings.ContainsRune(refAlphabet, rune(c)) {
			return false
		}
	}
	return s[45:] == refChecksum(s[:45])
}

// withChecksum returns body (45 bytes) followed by its checksum.
func withChecksum(t testing.TB, body string) string {
	t.Helper()
	if len(body) != 45 {
		t.Fatalf("test body has %d bytes, want 45: %q", len(body), body)
	}
	return body + refChecksum(body)
}

// newToken returns a fresh token from Generate.
func newToken(t testing.TB) string {
	t.Helper()
	tok, err := Generate()
	if err != nil {
		t.Fatalf("Generate: %v", err)
	}
	return tok
}

// replaceAt returns s with the bytes at i replaced by r.
func replaceAt(s string, i int, r string) string {
	return s[:i] + r + s[i+len(r):]
}

const (
	// fixedBody is a token body whose checksum was computed outside Go, with
	// Python: zlib.crc32(body) = 0xeeca76f3, which is "4N7nd5" in base62.
	fixedBody     = "blnk_fdb796a5" + "0123456789ABCDEFGHIJKLMNOPQRSTUV"
	fixedChecksum = "4N7nd5"
	fixedToken    = fixedBody + fixedChecksum
)

func TestChecksumKnownAnswer(t *testing.T) {
	tests := []struct {
		name string
		body string
		crc  uint32 // from Python's zlib.crc32
		want string
	}{
		{"fixed", fixedBody, 0xeeca76f3, fixedChecksum},
		{"all zero", "blnk_00000000" + strings.Repeat("0", 32), 0x63b966f1, "1pE8PZ"},
		{"highest characters", "blnk_ffffffff" + strings.Repeat("z", 32), 0xcae7b154, "3iNbCm"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := crc32.ChecksumIEEE([]byte(tt.body)); got != tt.crc {
				t.Fatalf("crc32.ChecksumIEEE = %#x, want %#x", got, tt.crc)
			}
			if got := refChecksum(tt.body); got != tt.want {
				t.Fatalf("refChecksum = %q, want %q", got, tt.want)
			}
			var dst [checksumLen]byte
			putChecksum(dst[:], []byte(tt.body))
			if got := string(dst[:]); got != tt.want {
				t.Errorf("putChecksum = %q, want %q", got, tt.want)
			}
			prefix, err := Parse(tt.body + tt.want)
			if err != nil {
				t.Fatalf("Parse(%q) = %v, want no error", tt.body+tt.want, err)
			}
			if want := tt.body[:13]; prefix != want {
				t.Errorf("Parse prefix = %q, want %q", prefix, want)
			}
		})
	}
}

func TestRefChecksumPadding(t *testing.T) {
	// The smallest and largest CRC values pin down the padding and the
	// width: 2^32-1 needs six base62 digits, the first of them at most '4'.
	tests := []struct {
		name string
		n    uint64
		want string
	}{
		{"zero", 0, "000000"},
		{"one", 1, "000001"},
		{"61", 61, "00000z"},
		{"62", 62, "000010"},
		{"max uint32", 1<<32 - 1, "4gfFC3"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := refBase62(tt.n); got != tt.want {
				t.Errorf("refBase62(%d) = %q, want %q", tt.n, got, tt.want)
			}
		})
	}
}

func TestCRCIEEE(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	tests := []struct {
		name string
		data []byte
	}{
		{"empty", nil},
		{"one byte", []byte{0}},
		{"check value", []byte("123456789")}, // 0xcbf43926 by definition
		{"token body", []byte(fixedBody)},
		{"all 0xff", bytes.Repeat([]byte{0xff}, 100)},
	}
	for n := range 130 {
		b := make([]byte, n)
		for i := range b {
			b[i] = byte(r.Uint32())
		}
		tests = append(tests, struct {
			name string
			data []byte
		}{fmt.Sprintf("random %d bytes", n), b})
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			want := crc32.ChecksumIEEE(tt.data)
			if got := crcIEEE(tt.data); got != want {
				t.Errorf("crcIEEE([]byte) = %#x, want %#x", got, want)
			}
			if got := crcIEEE(string(tt.data)); got != want {
				t.Errorf("crcIEEE(string) = %#x, want %#x", got, want)
			}
		})
	}
	if got, want := crcIEEE("123456789"), uint32(0xcbf43926); got != want {
		t.Errorf("crcIEEE(\"123456789\") = %#x, want %#x", got, want)
	}
}

func TestParseValid(t *testing.T) {
	tests := []struct {
		name  string
		token string
	}{
		{"fixed", fixedToken},
		{"all zero", withChecksum(t, "blnk_00000000"+strings.Repeat("0", 32))},
		{"all highest", withChecksum(t, "blnk_ffffffff"+strings.Repeat("z", 32))},
		{"every alphabet class", withChecksum(t, "blnk_09afaf09"+"09AZaz09AZaz09AZaz09AZaz09AZaz09")},
		{"generated", newToken(t)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			prefix, err := Parse(tt.token)
			if err != nil {
				t.Fatalf("Parse(%q) = %v, want no error", tt.token, err)
			}
			if want := tt.token[:13]; prefix != want {
				t.Errorf("Parse(%q) prefix = %q, want %q", tt.token, prefix, want)
			}
			if len(prefix) != PrefixLen {
				t.Errorf("len(prefix) = %d, want %d", len(prefix), PrefixLen)
			}
		})
	}
}

func TestParseMalformed(t *testing.T) {
	valid := fixedToken
	secret := func(s string) string { // valid body with s put into the secret, re-checksummed
		return withChecksum(t, replaceAt(fixedBody, 20, s))
	}
	tests := []struct {
		name  string
		token string
	}{
		{"empty", ""},
		{"literal only", "blnk_"},
		{"one short", valid[:50]},
		{"one long", valid + "0"},
		{"checksum over 46 bytes", fixedBody + "0" + refChecksum(fixedBody+"0")},
		{"doubled", valid + valid},
		{"trailing newline", valid + "\n"},
		{"trailing CRLF", valid + "\r\n"},
		{"leading space", " " + valid},
		{"trailing space", valid + " "},
		{"newline instead of last char", valid[:50] + "\n"},
		{"Bearer prefix kept", "Bearer " + valid},
		{"dash literal", withChecksum(t, "blnk-"+fixedBody[5:])},
		{"uppercase literal", withChecksum(t, "BLNK_"+fixedBody[5:])},
		{"typo literal", withChecksum(t, "blnx_"+fixedBody[5:])},
		{"other vendor literal", withChecksum(t, "ghp__"+fixedBody[5:])},
		{"whole token uppercase", strings.ToUpper(valid)},
		{"uppercase hex prefix", withChecksum(t, "blnk_FDB796A5"+fixedBody[13:])},
		{"one uppercase hex char", withChecksum(t, replaceAt(fixedBody, 5, "F"))},
		{"non-hex g in prefix", withChecksum(t, replaceAt(fixedBody, 12, "g"))},
		{"non-hex z in prefix", withChecksum(t, replaceAt(fixedBody, 6, "z"))},
		{"dash in prefix", withChecksum(t, replaceAt(fixedBody, 8, "-"))},
		{"dash in secret", secret("-")},
		{"underscore in secret", secret("_")},
		{"plus in secret", secret("+")},
		{"slash in secret", secret("/")},
		{"equals in secret", secret("=")},
		{"dot in secret", secret(".")},
		{"space in secret", secret(" ")},
		{"NUL in secret", secret("\x00")},
		{"DEL in secret", secret("\x7f")},
		{"high byte in secret", secret("\xff")},
		{"e acute in secret", secret("é")},         // 2 bytes, length kept
		{"cyrillic a in secret", secret("а")},      // U+0430 looks like 'a'
		{"fullwidth digit in secret", secret("０")}, // 3 bytes
		{"dash in checksum", valid[:50] + "-"},
		{"underscore in checksum", valid[:45] + "_" + valid[46:]},
		{"plus in checksum", valid[:48] + "+" + valid[49:]},
		{"NUL in checksum", valid[:50] + "\x00"},
		{"last checksum char off by one", valid[:50] + string(valid[50]+1)},
		{"first checksum char off by one", valid[:45] + string(valid[45]+1) + valid[46:]},
		{"checksum all zero", fixedBody + "000000"},
		{"checksum of a different body", fixedBody + refChecksum("blnk_00000000"+strings.Repeat("0", 32))},
		{"checksum of the body without literal", fixedBody + refChecksum(fixedBody[5:])},
		{"one secret char changed", replaceAt(valid, 20, "x")},
		{"two secret chars swapped", valid[:20] + string(valid[21]) + string(valid[20]) + valid[22:]},
		{"one prefix char changed", replaceAt(valid, 5, "0")},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.token == valid || refValid(tt.token) {
				t.Fatalf("test case %q is a valid token", tt.token)
			}
			prefix, err := Parse(tt.token)
			if !errors.Is(err, ErrMalformed) {
				t.Errorf("Parse(%q) error = %v, want ErrMalformed", tt.token, err)
			}
			if prefix != "" {
				t.Errorf("Parse(%q) prefix = %q, want empty", tt.token, prefix)
			}
		})
	}
}

// TestParseSingleByteMutations changes every byte of valid tokens to every
// other byte value: a CRC-32 catches every single-byte error, so none of
// them may parse, and Parse must agree with the reference every time.
func TestParseSingleByteMutations(t *testing.T) {
	tokens := []string{fixedToken, newToken(t), newToken(t), newToken(t)}
	for _, tok := range tokens {
		accepted := 0
		for i := range len(tok) {
			for v := range 256 {
				if byte(v) == tok[i] {
					continue
				}
				mut := replaceAt(tok, i, string([]byte{byte(v)}))
				_, err := Parse(mut)
				if got, want := err == nil, refValid(mut); got != want {
					t.Fatalf("Parse(%q) accepted = %v, want %v (byte %d set to %#x)", mut, got, want, i, v)
				}
				if err == nil {
					accepted++
				}
			}
		}
		if accepted != 0 {
			t.Errorf("%d single-byte mutations of %q parse, want 0", accepted, tok)
		}
	}
}

func TestHashOf(t *testing.T) {
	a, b := newToken(t), newToken(t)
	tests := []struct {
		name  string
		token string
	}{
		{"generated", a},
		{"fixed", fixedToken},
		{"empty", ""},
		{"longer than a token", strings.Repeat(fixedToken, 3)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got, want := HashOf(tt.token), Hash(sha256.Sum256([]byte(tt.token))); got != want {
				t.Errorf("HashOf(%q) = %x, want %x", tt.token, got, want)
			}
		})
	}
	t.Run("empty known answer", func(t *testing.T) {
		h := HashOf("")
		if got, want := h[:4], []byte{0xe3, 0xb0, 0xc4, 0x42}; !bytes.Equal(got, want) {
			t.Errorf("HashOf(\"\") starts with %x, want %x", got, want)
		}
	})
	t.Run("different tokens", func(t *testing.T) {
		if HashOf(a) == HashOf(b) {
			t.Errorf("HashOf(%q) == HashOf(%q)", a, b)
		}
		if HashOf(fixedToken) == HashOf(replaceAt(fixedToken, 20, "x")) {
			t.Errorf("HashOf does not change with one character")
		}
	})
	t.Run("stable", func(t *testing.T) {
		if HashOf(a) != HashOf(strings.Clone(a)) {
			t.Errorf("HashOf(%q) differs between calls", a)
		}
	})
}

// seqReader yields 0, 1, 2, ..., 255, 0, 1, ... forever.
type seqReader struct{ n byte }

func (r *seqReader) Read(p []byte) (int, error) {
	for i := range p {
		p[i] = r.n
		r.n++
	}
	return len(p), nil
}

// failAfter yields n bytes from r, then fails with err.
type failAfter struct {
	r   io.Reader
	n   int
	err error
}

func (f *failAfter) Read(p []byte) (int, error) {
	if f.n <= 0 {
		return 0, f.err
	}
	if len(p) > f.n {
		p = p[:f.n]
	}
	n, err := f.r.Read(p)
	f.n -= n
	return n, err
}

func TestGenerateDeterministic(t *testing.T) {
	// Rejected bytes (>= 248) in the secret are skipped, never folded.
	skipping := append([]byte{0xde, 0xad, 0xbe, 0xef}, bytes.Repeat([]byte{0xff, 0x05, 248, 61, 250, 62}, 32)...)
	tests := []struct {
		name string
		r    io.Reader
		want string // without the checksum
	}{
		{
			// Prefix from bytes 0-3, secret from bytes 4-35, i.e. the
			// alphabet from index 4.
			name: "counting bytes",
			r:    &seqReader{},
			want: "blnk_00010203" + "456789ABCDEFGHIJKLMNOPQRSTUVWXYZ",
		},
		{
			name: "rejected bytes skipped",
			r:    bytes.NewReader(skipping),
			want: "blnk_deadbeef" + strings.Repeat("5z0", 11)[:32],
		},
		{
			name: "all zero",
			r:    bytes.NewReader(make([]byte, 4+64)),
			want: "blnk_00000000" + strings.Repeat("0", 32),
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := generate(tt.r)
			if err != nil {
				t.Fatalf("generate: %v", err)
			}
			if want := withChecksum(t, tt.want); got != want {
				t.Errorf("generate = %q, want %q", got, want)
			}
			if _, err := Parse(got); err != nil {
				t.Errorf("Parse(generate()) = %v", err)
			}
		})
	}
}

func TestGenerateReaderFails(t *testing.T) {
	errBroken := errors.New("broken reader")
	tests := []struct {
		name string
		r    io.Reader
	}{
		{"fails at once", &failAfter{r: &seqReader{}, n: 0, err: errBroken}},
		{"fails in the prefix", &failAfter{r: &seqReader{}, n: 2, err: errBroken}},
		{"fails in the secret", &failAfter{r: &seqReader{}, n: 4 + 10, err: errBroken}},
		{"ends in the prefix", bytes.NewReader([]byte{1, 2})},
		{"ends after the prefix", bytes.NewReader([]byte{1, 2, 3, 4})},
		{"ends in the secret", bytes.NewReader(make([]byte, 4+63))},
		{"only rejected bytes, then ends", bytes.NewReader(append(make([]byte, 4), bytes.Repeat([]byte{0xff}, 64*3)...))},
		{"empty", bytes.NewReader(nil)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := generate(tt.r)
			if err == nil {
				t.Fatalf("generate = %q, want an error", got)
			}
			if got != "" {
				t.Errorf("generate = %q with error %v, want an empty token", got, err)
			}
		})
	}
}

func TestGenerateMany(t *testing.T) {
	const n = 10_000
	tokens := make(map[string]bool, n)
	prefixes := make(map[string]bool, n)
	secretCount := make(map[byte]int)
	hexCount := make(map[byte]int)
	for range n {
		tok := newToken(t)
		if TokenLen != 51 || len(tok) != 51 {
			t.Fatalf("len(%q) = %d, want 51", tok, len(tok))
		}
		if tokens[tok] {
			t.Fatalf("token %q generated twice", tok)
		}
		tokens[tok] = true
		prefix, err := Parse(tok)
		if err != nil {
			t.Fatalf("Parse(%q) = %v", tok, err)
		}
		if !refValid(tok) {
			t.Fatalf("token %q does not follow the format", tok)
		}
		if want := tok[:13]; prefix != want {
			t.Fatalf("Parse(%q) prefix = %q, want %q", tok, prefix, want)
		}
		prefixes[prefix] = true
		for _, c := range []byte(tok[5:13]) {
			hexCount[c]++
		}
		for _, c := range []byte(tok[13:45]) {
			secretCount[c]++
		}
	}
	t.Logf("%d tokens, %d distinct prefixes", len(tokens), len(prefixes))

	// A biased sampler (b%62 without rejection) would make '0'-'7' about
	// 25% more frequent; 8% is more than 5 standard deviations of chance.
	checkUniform := func(name string, count map[byte]int, alphabet string, total int) {
		t.Helper()
		want := float64(total) / float64(len(alphabet))
		if len(count) != len(alphabet) {
			t.Errorf("%s: %d distinct characters, want %d", name, len(count), len(alphabet))
		}
		for _, c := range []byte(alphabet) {
			if got := float64(count[c]); got < want*0.92 || got > want*1.08 {
				t.Errorf("%s: %q appears %v times, want about %.0f", name, c, got, want)
			}
		}
	}
	checkUniform("prefix", hexCount, "0123456789abcdef", n*8)
	checkUniform("secret", secretCount, refAlphabet, n*32)
}

func TestParseAllocs(t *testing.T) {
	if raceEnabled {
		t.Skip("the race detector changes allocations")
	}
	tok := newToken(t)
	bad := replaceAt(tok, 20, "x")
	tests := []struct {
		name string
		f    func()
	}{
		{"Parse valid", func() { Parse(tok) }},
		{"Parse bad checksum", func() { Parse(bad) }},
		{"HashOf", func() { HashOf(tok) }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := testing.AllocsPerRun(100, tt.f); got != 0 {
				t.Errorf("allocations per call = %v, want 0", got)
			}
		})
	}
}

// FuzzParse checks Parse against the reference: it never panics, accepts
// exactly the inputs the reference accepts (so never a token whose checksum
// it did not generate), and returns the first 13 bytes as the prefix.
func FuzzParse(f *testing.F) {
	valid := []string{
		fixedToken,
		withChecksum(f, "blnk_00000000"+strings.Repeat("0", 32)),
		withChecksum(f, "blnk_ffffffff"+strings.Repeat("z", 32)),
		newToken(f),
	}
	for _, v := range valid {
		f.Add(v)
		f.Add(v[:50])
		f.Add(v + "\n")
		f.Add(" " + v)
		f.Add(strings.ToUpper(v))
		f.Add(v[:45] + "000000")
		f.Add(replaceAt(v, 20, "-"))
		f.Add(replaceAt(v, 5, "G"))
		f.Add(withChecksum(f, "blnk-"+v[5:45]))
	}
	f.Add("")
	f.Add("blnk_")
	f.Add(strings.Repeat("\x00", 51))
	f.Add(strings.Repeat("é", 25) + "a")

	f.Fuzz(func(t *testing.T, s string) {
		prefix, err := Parse(s)
		want := refValid(s)
		if err != nil {
			if want {
				t.Fatalf("Parse(%q) = %v, want no error", s, err)
			}
			if !errors.Is(err, ErrMalformed) || prefix != "" {
				t.Fatalf("Parse(%q) = %q, %v; want \"\", ErrMalformed", s, prefix, err)
			}
			return
		}
		if !want {
			t.Fatalf("Parse(%q) accepted a token the reference refuses", s)
		}
		if len(s) != 51 || !strings.HasPrefix(s, "blnk_") || s[45:] != refChecksum(s[:45]) {
			t.Fatalf("Parse(%q) accepted a token with a wrong length, literal or checksum", s)
		}
		if prefix != s[:13] {
			t.Fatalf("Parse(%q) prefix = %q, want %q", s, prefix, s[:13])
		}
	})
}

// FuzzSingleByteMutation builds a valid token from the fuzzer's randomness,
// changes one byte and checks that Parse agrees with the reference; since
// CRC-32 catches every single-byte error, the reference always refuses.
func FuzzSingleByteMutation(f *testing.F) {
	f.Add([]byte(""), uint8(0), byte('x'))
	f.Add([]byte("a"), uint8(50), byte('0'))
	f.Add([]byte("b"), uint8(4), byte('-'))
	f.Add([]byte("c"), uint8(12), byte('A'))
	f.Add([]byte("d"), uint8(45), byte(0))
	f.Fuzz(func(t *testing.T, seed []byte, pos uint8, b byte) {
		tok, err := generate(rand.NewChaCha8(sha256.Sum256(seed)))
		if err != nil {
			t.Fatalf("generate: %v", err)
		}
		if !refValid(tok) {
			t.Fatalf("generate = %q, not a valid token", tok)
		}
		i := int(pos) % len(tok)
		if tok[i] == b {
			return
		}
		mut := replaceAt(tok, i, string([]byte{b}))
		_, err = Parse(mut)
		if got, want := err == nil, refValid(mut); got != want {
			t.Fatalf("Parse(%q) accepted = %v, want %v", mut, got, want)
		}
		if err == nil {
			t.Fatalf("Parse(%q) accepted a single-byte change of %q", mut, tok)
		}
	})
}

func BenchmarkParse(b *testing.B) {
	tok := newToken(b)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Parse(tok); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkHashOf(b *testing.B) {
	tok := newToken(b)
	b.ReportAllocs()
	for b.Loop() {
		HashOf(tok)
	}
}

func BenchmarkGenerate(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Generate(); err != nil {
			b.Fatal(err)
		}
	}
}

func TestRedact(t *testing.T) {
	tok, err := Generate()
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name, in, want string
	}{
		{"nothing", "/settings/api-keys", "/settings/api-keys"},
		{"whole token", "/api/v1/" + tok, "/api/v1/" + tok[:PrefixLen] + "[redacted]"},
		{"twice", tok + "/" + tok, tok[:PrefixLen] + "[redacted]/" + tok[:PrefixLen] + "[redacted]"},
		{"prefix only", "/x/" + tok[:PrefixLen] + "...", "/x/" + tok[:PrefixLen] + "..."},
		{"truncated secret", tok[:PrefixLen+12], tok[:PrefixLen] + "[redacted]"},
		{"literal only", "blnk_", "blnk_"},
		{"not hex", "blnk_zzzzzzzzabcdefghijklmnop", "blnk_zzzzzzzzabcdefghijklmnop"},
		{"literal then token", "blnk_blnk_" + tok, "blnk_blnk_" + tok[:PrefixLen] + "[redacted]"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := Redact(tt.in); got != tt.want {
				t.Errorf("Redact(%q) = %q, want %q", tt.in, got, tt.want)
			}
		})
	}
}
