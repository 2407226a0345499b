package apikey

import (
	"strings"
	"testing"
	"time"
	"unicode"
	"unicode/utf8"
)

// utc returns midnight UTC at the start of the given date.
func utc(y int, m time.Month, d int) time.Time {
	return time.Date(y, m, d, 0, 0, 0, 0, time.UTC)
}

// The clocks the expiry tests run at. All of them fall on 2026-03-14 in UTC.
var (
	// lateUTC is the last millisecond of the day.
	lateUTC = time.Date(2026, 3, 14, 23, 59, 59, 999_000_000, time.UTC)
	// earlyUTC is the first instant of the day.
	earlyUTC = utc(2026, 3, 14)
	// aheadOfUTC is already 2026-03-15 where the admin sits (UTC+14).
	aheadOfUTC = time.Date(2026, 3, 15, 13, 59, 59, 999_000_000, time.FixedZone("UTC+14", 14*3600))
	// behindUTC is still 2026-03-13 where the admin sits (UTC-12).
	behindUTC = time.Date(2026, 3, 13, 12, 0, 0, 0, time.FixedZone("UTC-12", -12*3600))
)

var clocks = []struct {
	name string
	now  time.Time
}{
	{"late UTC", lateUTC},
	{"early UTC", earlyUTC},
	{"UTC+14", aheadOfUTC},
	{"UTC-12", behindUTC},
}

func TestClocksAreOnTheSameUTCDay(t *testing.T) {
	for _, c := range clocks {
		if got, want := c.now.UTC().Format(DateLayout), "2026-03-14"; got != want {
			t.Errorf("clock %s is on %s in UTC, want %s", c.name, got, want)
		}
	}
}

func TestExpiry(t *testing.T) {
	tests := []struct {
		name   string
		choice string
		date   string
		want   time.Time
	}{
		{"30 days", Expires30d, "", utc(2026, 4, 14)}, // today+30 = 04-13
		{"60 days", Expires60d, "", utc(2026, 5, 14)}, // today+60 = 05-13
		{"90 days", Expires90d, "", utc(2026, 6, 13)}, // today+90 = 06-12
		{"30 days ignores date", Expires30d, "garbage", utc(2026, 4, 14)},
		{"never", ExpiresNever, "", time.Time{}},
		{"never ignores date", ExpiresNever, "2020-01-01", time.Time{}},
		{"tomorrow", ExpiresDate, "2026-03-15", utc(2026, 3, 16)},
		{"day after tomorrow", ExpiresDate, "2026-03-16", utc(2026, 3, 17)},
		{"end of year", ExpiresDate, "2026-12-31", utc(2027, 1, 1)},
		{"leap day", ExpiresDate, "2028-02-29", utc(2028, 3, 1)},
		{"surrounding spaces", ExpiresDate, " 2026-03-15\t", utc(2026, 3, 16)},
		{"ten years ahead", ExpiresDate, "2036-03-14", utc(2036, 3, 15)},
	}
	for _, c := range clocks {
		for _, tt := range tests {
			t.Run(c.name+"/"+tt.name, func(t *testing.T) {
				got, err := Expiry(tt.choice, tt.date, c.now)
				if err != nil {
					t.Fatalf("Expiry(%q, %q, %v) = %v", tt.choice, tt.date, c.now, err)
				}
				if !got.Equal(tt.want) {
					t.Errorf("Expiry(%q, %q, %v) = %v, want %v", tt.choice, tt.date, c.now, got, tt.want)
				}
				if !got.IsZero() && got.Location() != time.UTC {
					t.Errorf("Expiry(%q, %q, %v) is in %v, want UTC", tt.choice, tt.date, c.now, got.Location())
				}
			})
		}
	}
}

func TestExpiryRefused(t *testing.T) {
	tests := []struct {
		name    string
		choice  string
		date    string
		wantMsg string
	}{
		{"date empty", ExpiresDate, "", "Choose an expiry date"},
		{"date spaces", ExpiresDate, "   ", "Choose an expiry date"},
		{"month 13", ExpiresDate, "2027-13-01", "YYYY-MM-DD"},
		{"day 32", ExpiresDate, "2027-01-32", "YYYY-MM-DD"},
		{"february 30", ExpiresDate, "2027-02-30", "YYYY-MM-DD"},
		{"no leap day", ExpiresDate, "2027-02-29", "YYYY-MM-DD"},
		{"word", ExpiresDate, "tomorrow", "YYYY-MM-DD"},
		{"slashes", ExpiresDate, "01/02/2027", "YYYY-MM-DD"},
		{"one-digit month and day", ExpiresDate, "2027-1-1", "YYYY-MM-DD"},
		{"two-digit year", ExpiresDate, "27-01-01", "YYYY-MM-DD"},
		{"five-digit year", ExpiresDate, "20270-01-01", "YYYY-MM-DD"},
		{"with a time", ExpiresDate, "2027-01-01T00:00:00Z", "YYYY-MM-DD"},
		{"RFC 1123", ExpiresDate, "Fri, 01 Jan 2027 00:00:00 GMT", "YYYY-MM-DD"},
		{"SQL", ExpiresDate, "2027-01-01'; DROP TABLE api_keys; --", "YYYY-MM-DD"},
		{"SQL alone", ExpiresDate, "' OR 1=1 --", "YYYY-MM-DD"},
		{"NUL", ExpiresDate, "2027-01-01\x00", "YYYY-MM-DD"},
		{"today", ExpiresDate, "2026-03-14", "after today"},
		{"yesterday", ExpiresDate, "2026-03-13", "after today"},
		{"a year ago", ExpiresDate, "2025-03-14", "after today"},
		{"past year", ExpiresDate, "1999-12-31", "after today"},
		{"year zero", ExpiresDate, "0000-01-01", "after today"},
		{"ten years and a day", ExpiresDate, "2036-03-15", "at most 10 years"},
		{"year 9999", ExpiresDate, "9999-12-31", "at most 10 years"},
		{"unknown choice", "7d", "", "Choose when"},
		{"empty choice", "", "2026-06-01", "Choose when"},
		{"uppercase choice", "NEVER", "", "Choose when"},
		{"uppercase days", "30D", "", "Choose when"},
		{"choice with space", "30d ", "", "Choose when"},
		{"choice as a date", "2026-06-01", "", "Choose when"},
	}
	for _, c := range clocks {
		for _, tt := range tests {
			t.Run(c.name+"/"+tt.name, func(t *testing.T) {
				got, err := Expiry(tt.choice, tt.date, c.now)
				if err == nil {
					t.Fatalf("Expiry(%q, %q, %v) = %v, want an error", tt.choice, tt.date, c.now, got)
				}
				if !got.IsZero() {
					t.Errorf("Expiry(%q, %q) = %v with an error, want the zero time", tt.choice, tt.date, got)
				}
				checkSentence(t, err.Error())
				if !strings.Contains(err.Error(), tt.wantMsg) {
					t.Errorf("error %q does not contain %q", err, tt.wantMsg)
				}
			})
		}
	}
}

// TestExpiryUsesUTC picks dates that are tomorrow in one place and today
// in another: only the UTC date counts.
func TestExpiryUsesUTC(t *testing.T) {
	tests := []struct {
		name string
		now  time.Time
		date string
		ok   bool
	}{
		{"local today is UTC tomorrow", aheadOfUTC, "2026-03-15", true},
		{"local yesterday is UTC today", aheadOfUTC, "2026-03-14", false},
		{"local tomorrow is UTC today", behindUTC, "2026-03-14", false},
		{"local day after tomorrow is UTC tomorrow", behindUTC, "2026-03-15", true},
		{"UTC tomorrow, at the last instant of today", lateUTC, "2026-03-15", true},
		{"a millisecond later, it is today", lateUTC.Add(time.Millisecond), "2026-03-15", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Expiry(ExpiresDate, tt.date, tt.now)
			if got := err == nil; got != tt.ok {
				t.Errorf("Expiry(date, %q, %v) accepted = %v (%v), want %v", tt.date, tt.now, got, err, tt.ok)
			}
		})
	}
}

// TestExpiryLastValidDay checks that every acceptable date comes back from
// LastValidDay as the date chosen.
func TestExpiryLastValidDay(t *testing.T) {
	for _, c := range clocks {
		first := utc(2026, 3, 15)
		last := utc(2036, 3, 14)
		for day := first; !day.After(last); day = day.AddDate(0, 0, 1) {
			date := day.Format(DateLayout)
			exp, err := Expiry(ExpiresDate, date, c.now)
			if err != nil {
				t.Fatalf("%s: Expiry(date, %q) = %v", c.name, date, err)
			}
			if got := LastValidDay(exp).Format(DateLayout); got != date {
				t.Fatalf("%s: LastValidDay(Expiry(date, %q)) = %s, want %s", c.name, date, got, date)
			}
			if !IsExpired(exp, day.Add(24*time.Hour)) || IsExpired(exp, day.Add(24*time.Hour-time.Nanosecond)) {
				t.Fatalf("%s: a key expiring on %s does not stop working exactly at the end of the day", c.name, date)
			}
		}
	}
}

func TestLastValidDay(t *testing.T) {
	tests := []struct {
		name      string
		expiresAt time.Time
		want      time.Time
	}{
		{"midnight", utc(2027, 2, 1), utc(2027, 1, 31)},
		{"one nanosecond past midnight", utc(2027, 2, 1).Add(time.Nanosecond), utc(2027, 2, 1)},
		{"midday", time.Date(2027, 2, 1, 12, 0, 0, 0, time.UTC), utc(2027, 2, 1)},
		{"new year", utc(2027, 1, 1), utc(2026, 12, 31)},
		{"after a leap day", utc(2028, 3, 1), utc(2028, 2, 29)},
		{"other zone", time.Date(2027, 2, 1, 10, 0, 0, 0, time.FixedZone("UTC+10", 10*3600)), utc(2027, 1, 31)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := LastValidDay(tt.expiresAt)
			if !got.Equal(tt.want) || got.Location() != time.UTC {
				t.Errorf("LastValidDay(%v) = %v, want %v", tt.expiresAt, got, tt.want)
			}
		})
	}
	for _, choice := range []string{Expires30d, Expires60d, Expires90d} {
		t.Run(choice, func(t *testing.T) {
			exp, err := Expiry(choice, "", lateUTC)
			if err != nil {
				t.Fatal(err)
			}
			days := map[string]int{Expires30d: 30, Expires60d: 60, Expires90d: 90}[choice]
			if got, want := LastValidDay(exp), utc(2026, 3, 14).AddDate(0, 0, days); !got.Equal(want) {
				t.Errorf("LastValidDay(Expiry(%q)) = %v, want %v", choice, got, want)
			}
		})
	}
}

func TestIsExpired(t *testing.T) {
	exp := utc(2027, 1, 1)
	tests := []struct {
		name      string
		expiresAt time.Time
		now       time.Time
		want      bool
	}{
		{"exact instant", exp, exp, true},
		{"exact instant in another zone", exp, exp.In(time.FixedZone("UTC-5", -5*3600)), true},
		{"one nanosecond before", exp, exp.Add(-time.Nanosecond), false},
		{"one nanosecond after", exp, exp.Add(time.Nanosecond), true},
		{"long before", exp, exp.AddDate(-1, 0, 0), false},
		{"long after", exp, exp.AddDate(1, 0, 0), true},
		{"never, now", time.Time{}, exp, false},
		{"never, far future", time.Time{}, utc(9999, 12, 31), false},
		{"never, zero now", time.Time{}, time.Time{}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := IsExpired(tt.expiresAt, tt.now); got != tt.want {
				t.Errorf("IsExpired(%v, %v) = %v, want %v", tt.expiresAt, tt.now, got, tt.want)
			}
		})
	}
}

func TestKeyStatus(t *testing.T) {
	now := utc(2027, 1, 1)
	tests := []struct {
		name string
		key  Key
		want Status
	}{
		{"never expires", Key{}, Active},
		{"expires later", Key{ExpiresAt: now.Add(time.Nanosecond)}, Active},
		{"expires now", Key{ExpiresAt: now}, Expired},
		{"expired", Key{ExpiresAt: now.AddDate(0, 0, -1)}, Expired},
		{"revoked", Key{RevokedAt: now.AddDate(0, 0, -1)}, Revoked},
		{"revoked, expires later", Key{RevokedAt: now, ExpiresAt: now.AddDate(1, 0, 0)}, Revoked},
		{"revoked and expired", Key{RevokedAt: now.AddDate(0, 0, -2), ExpiresAt: now.AddDate(0, 0, -1)}, Revoked},
		{"expired, then revoked", Key{ExpiresAt: now.AddDate(0, 0, -2), RevokedAt: now.AddDate(0, 0, -1)}, Revoked},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.key.Status(now); got != tt.want {
				t.Errorf("Status() = %q, want %q", got, tt.want)
			}
			if got := tt.key.Role(); got != Member {
				t.Errorf("Role() = %q, want %q", got, Member)
			}
		})
	}
}

func TestCleanName(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want string
	}{
		{"plain", "CI deploy key", "CI deploy key"},
		{"one character", "x", "x"},
		{"trimmed", "  prod  ", "prod"},
		{"trimmed tabs and newlines", "\tprod\r\n", "prod"},
		{"trimmed next line", "\u0085prod\u0085", "prod"},
		{"inner spaces kept", "a  b", "a  b"},
		{"100 ascii", strings.Repeat("a", 100), strings.Repeat("a", 100)},
		{"100 after trimming", "  " + strings.Repeat("a", 100) + "  ", strings.Repeat("a", 100)},
		{"100 emoji", strings.Repeat("😀", 100), strings.Repeat("😀", 100)},
		{"100 accented", strings.Repeat("é", 100), strings.Repeat("é", 100)},
		{"emoji ZWJ sequence", "👩‍💻 laptop key", "👩‍💻 laptop key"},
		{"flag", "🇫🇷 team", "🇫🇷 team"},
		{"html", "<script>alert(1)</script>", "<script>alert(1)</script>"},
		{"html attribute", `"><img src=x onerror=alert(1)>`, `"><img src=x onerror=alert(1)>`},
		{"sql", "'; DROP TABLE api_keys; --", "'; DROP TABLE api_keys; --"},
		{"sql or", "' OR 1=1 --", "' OR 1=1 --"},
		{"template syntax", "{{.Secret}} ${jndi:x}", "{{.Secret}} ${jndi:x}"},
		{"japanese", "本番キー", "本番キー"},
		{"arabic", "مفتاح الإنتاج", "مفتاح الإنتاج"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := CleanName(tt.in)
			if err != nil {
				t.Fatalf("CleanName(%q) = %v", tt.in, err)
			}
			if got != tt.want {
				t.Errorf("CleanName(%q) = %q, want %q", tt.in, got, tt.want)
			}
		})
	}
}

func TestCleanNameRefused(t *testing.T) {
	tests := []struct {
		name    string
		in      string
		wantMsg string
	}{
		{"empty", "", "Enter a name"},
		{"spaces", "   ", "Enter a name"},
		{"whitespace", " \t\r\n\u00a0\u3000 ", "Enter a name"},
		{"101 ascii", strings.Repeat("a", 101), "at most 100"},
		{"101 emoji", strings.Repeat("😀", 101), "at most 100"},
		{"huge", strings.Repeat("a", 1_000_000), "at most 100"},
		{"tab", "a\tb", "control characters"},
		{"newline", "a\nb", "control characters"},
		{"carriage return", "a\rb", "control characters"},
		{"NUL", "a\x00b", "control characters"},
		{"trailing NUL", "ab\x00", "control characters"},
		{"escape", "a\x1b[31mb", "control characters"},
		{"DEL", "a\x7fb", "control characters"},
		{"next line", "a\u0085b", "control characters"},
		{"right-to-left override", "invoice\u202Efdp.exe", "control characters"},
		{"left-to-right embedding", "a\u202Ab", "control characters"},
		{"left-to-right isolate", "a\u2066b\u2069", "control characters"},
		{"pop directional isolate", "a\u2069b", "control characters"},
		{"right-to-left mark", "a\u200Fb", "control characters"},
		{"arabic letter mark", "a\u061Cb", "control characters"},
		{"invalid UTF-8", "a\xffb", "valid text"},
		{"truncated UTF-8", "caf\xc3", "valid text"},
		{"overlong UTF-8", "\xc0\xaf", "valid text"},
		{"surrogate half", "\xed\xa0\x80", "valid text"},
		{"replacement character", "a\uFFFDb", "control characters"},
		{"zero-width space", "\u200B", "a visible character"},
		{"zero-width spaces around a space", "\u200B \u200B", "a visible character"},
		{"invisible format characters", "\u2060\uFEFF\u00AD\u200D", "a visible character"},
		{"combining marks alone", "\u0301\u0308", "a visible character"},
		{"hangul filler", "\u3164", "a visible character"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := CleanName(tt.in)
			if err == nil {
				t.Fatalf("CleanName(%.60q) = %q, want an error", tt.in, got)
			}
			if got != "" {
				t.Errorf("CleanName(%.60q) = %q with an error, want empty", tt.in, got)
			}
			checkSentence(t, err.Error())
			if !strings.Contains(err.Error(), tt.wantMsg) {
				t.Errorf("error %q does not contain %q", err, tt.wantMsg)
			}
			if len(err.Error()) > 120 {
				t.Errorf("error is %d bytes long, want a short sentence", len(err.Error()))
			}
		})
	}
}

// FuzzCleanName checks what CleanName promises about the names it accepts.
func FuzzCleanName(f *testing.F) {
	for _, s := range []string{"prod", " a ", "", "a\tb", "👩‍💻", "\u202e", "\xff", strings.Repeat("a", 101), "\u0085x"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in string) {
		got, err := CleanName(in)
		if err != nil {
			return
		}
		if got != strings.TrimSpace(in) {
			t.Errorf("CleanName(%q) = %q, want the input trimmed", in, got)
		}
		if n := utf8.RuneCountInString(got); n < 1 || n > MaxNameLen || !utf8.ValidString(got) {
			t.Errorf("CleanName(%q) = %q: %d characters or invalid UTF-8", in, got, n)
		}
		for _, r := range got {
			if unicode.IsControl(r) || unicode.Is(unicode.Bidi_Control, r) {
				t.Errorf("CleanName(%q) = %q, which holds %U", in, got, r)
			}
		}
	})
}

func TestNewID(t *testing.T) {
	const crockford = "0123456789abcdefghjkmnpqrstvwxyz"
	seen := make(map[string]bool)
	for range 10_000 {
		id := NewID()
		if len(id) != 24 || !strings.HasPrefix(id, "key_") {
			t.Fatalf("NewID() = %q, want \"key_\" and 20 characters", id)
		}
		if i := strings.IndexFunc(id[4:], func(r rune) bool { return !strings.ContainsRune(crockford, r) }); i >= 0 {
			t.Fatalf("NewID() = %q holds %q, outside Crockford's base32", id, id[4+i])
		}
		if !ValidID(id) {
			t.Fatalf("ValidID(%q) = false for a new id", id)
		}
		if seen[id] {
			t.Fatalf("NewID() returned %q twice", id)
		}
		seen[id] = true
	}
}

func TestValidID(t *testing.T) {
	tests := []struct {
		name string
		id   string
		want bool
	}{
		{"example", "key_3kq9x0c1m7f2a8d4w6e5", true},
		{"all zero", "key_" + strings.Repeat("0", 20), true},
		{"all z", "key_" + strings.Repeat("z", 20), true},
		{"empty", "", false},
		{"prefix only", "key_", false},
		{"one short", "key_" + strings.Repeat("a", 19), false},
		{"one long", "key_" + strings.Repeat("a", 21), false},
		{"no prefix", strings.Repeat("a", 24), false},
		{"uppercase prefix", "KEY_" + strings.Repeat("a", 20), false},
		{"uppercase body", "key_" + strings.Repeat("A", 20), false},
		{"one uppercase", "key_3kq9x0c1m7f2a8d4w6E5", false},
		{"other prefix", "api_" + strings.Repeat("a", 20), false},
		{"dash prefix", "key-" + strings.Repeat("a", 20), false},
		{"a token", fixedToken, false},
		{"a token prefix", "blnk_fdb796a5", false},
		{"path traversal", "../x", false},
		{"path traversal, right length", "key_../../../etc/passw", false},
		{"slash", "key_aaaaaaaaa/aaaaaaaaaa", false},
		{"dot", "key_aaaaaaaaa.aaaaaaaaaa", false},
		{"percent", "key_aaaaaaaa%2faaaaaaaa", false},
		{"dash", "key_aaaaaaaaa-aaaaaaaaaa", false},
		{"underscore", "key_aaaaaaaaa_aaaaaaaaaa", false},
		{"space", "key_aaaaaaaaa aaaaaaaaaa", false},
		{"trailing newline", "key_" + strings.Repeat("a", 19) + "\n", false},
		{"NUL", "key_" + strings.Repeat("a", 19) + "\x00", false},
		{"non-ASCII", "key_" + strings.Repeat("a", 18) + "é", false},
		{"html", "key_<script>alert(1)</s", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := ValidID(tt.id); got != tt.want {
				t.Errorf("ValidID(%q) = %v, want %v", tt.id, got, tt.want)
			}
		})
	}
}

// The ids of tokens, passkeys and webhook endpoints share the key id's
// shape under their own prefix.
func TestRandomIDShaped(t *testing.T) {
	for _, prefix := range []string{"tok_", "pk_", "wh_", "msg_"} {
		id := RandomID(prefix)
		if !IDShaped(id, prefix) {
			t.Errorf("IDShaped(%q, %q) = false for RandomID(%q)", id, prefix, prefix)
		}
		for _, bad := range []string{
			"key_" + id[len(prefix):],              // another prefix
			id[:len(id)-1],                         // one short
			id + "a",                               // one long
			prefix + strings.Repeat("A", 20),       // uppercase
			prefix + strings.Repeat("a", 19) + "-", // outside [0-9a-z]
		} {
			if IDShaped(bad, prefix) {
				t.Errorf("IDShaped(%q, %q) = true", bad, prefix)
			}
		}
	}
}
