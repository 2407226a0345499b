package apikey

import (
	"strings"
	"testing"
	"time"
)

func TestCleanDescription(t *testing.T) {
	tests := []struct {
		name, in, want, problem string
	}{
		{"empty", "", "", ""},
		{"spaces", " \n\t ", "", ""},
		{"trimmed", "  notes \n", "notes", ""},
		{"line breaks kept, CRLF as LF", "one\r\ntwo\n\tthree", "one\ntwo\n\tthree", ""},
		{"1,000 characters", strings.Repeat("ü", 1000), strings.Repeat("ü", 1000), ""},
		{"1,001 characters", strings.Repeat("ü", 1001), "", "Use at most 1000 characters (this one has 1001)."},
		{"NUL", "a\x00b", "", "control characters"},
		{"escape", "a\x1b[2Jb", "", "control characters"},
		{"bidi override", "a\u202eb", "", "control characters"},
		{"bidi isolate", "a\u2066b", "", "control characters"},
		{"invalid UTF-8", "a\xffb", "", "valid text"},
		{"replacement character", "a\ufffdb", "", "control characters"},
		{"only zero-width", "\u200b\u200c\u200d\ufeff", "", "visible character"},
		{"only combining marks", "\u0301\u0301", "", "visible character"},
		{"zero-width inside text", "a\u200bb", "", "zero-width characters (U+200B here)"},
		{"emoji ZWJ sequence", "on call: 👩‍💻", "on call: 👩‍💻", ""},
		{"tag characters", "notes\U000E0069\U000E0067", "", "Unicode tag characters"},
		{"line separator", "one\u2028two", "", "line or paragraph separators (U+2028 here)"},
	}
	for _, tt := range tests {
		got, err := CleanDescription(tt.in)
		switch {
		case tt.problem == "" && err != nil:
			t.Errorf("%s: error %v", tt.name, err)
		case tt.problem != "" && (err == nil || !strings.Contains(err.Error(), tt.problem)):
			t.Errorf("%s: error %v, want %q", tt.name, err, tt.problem)
		case got != tt.want:
			t.Errorf("%s: got %q, want %q", tt.name, got, tt.want)
		}
	}
}

func TestParseOverlap(t *testing.T) {
	for in, want := range map[string]time.Duration{"now": 0, "0": 0, " 1h ": time.Hour, "24h": 24 * time.Hour, "7d": 7 * 24 * time.Hour} {
		o, err := ParseOverlap(in)
		if err != nil || o.Duration() != want {
			t.Errorf("ParseOverlap(%q) = %v (%v), %v; want %v", in, o, o.Duration(), err, want)
		}
	}
	for _, in := range []string{"", "2h", "1d", "-1h", "24H", "forever", "7d7d"} {
		if o, err := ParseOverlap(in); err == nil {
			t.Errorf("ParseOverlap(%q) = %v, want an error", in, o)
		}
	}
}

func TestRollEndAndSuccessorExpiry(t *testing.T) {
	now := time.Date(2026, 3, 20, 15, 30, 0, 0, time.UTC)
	if got := RollEnd(time.Time{}, now, Overlap24h); !got.Equal(now.Add(24 * time.Hour)) {
		t.Errorf("never-expiring key, 24h: %v", got)
	}
	soon := now.Add(2 * time.Hour)
	if got := RollEnd(soon, now, Overlap7d); !got.Equal(soon) {
		t.Errorf("key expiring before the overlap ends: %v, want its expiry", got)
	}
	if got := RollEnd(soon, now, OverlapNow); !got.Equal(now) {
		t.Errorf("now: %v", got)
	}
	created := time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC)
	thirty, _ := Expiry(Expires30d, "", created)
	k := Key{ExpiresAt: thirty, ExpiryDays: ExpiryDays(Expires30d)}
	if got, want := SuccessorExpiry(k, now), time.Date(2026, 4, 20, 0, 0, 0, 0, time.UTC); !got.Equal(want) {
		t.Errorf("30-day key rolled on Mar 20: %v, want %v (through Apr 19)", got, want)
	}
	if got := ExpiryAfterDays(30, created); !got.Equal(thirty) {
		t.Errorf("ExpiryAfterDays(30) = %v, want what the create form gives, %v", got, thirty)
	}
	dated := Key{ExpiresAt: time.Date(2027, 1, 1, 0, 0, 0, 0, time.UTC)}
	if got := SuccessorExpiry(dated, now); !got.Equal(dated.ExpiresAt) {
		t.Errorf("dated key: %v", got)
	}
	if got := SuccessorExpiry(Key{}, now); !got.IsZero() {
		t.Errorf("never: %v", got)
	}
	for choice, days := range map[string]int{Expires30d: 30, Expires60d: 60, Expires90d: 90, ExpiresDate: 0, ExpiresNever: 0} {
		if ExpiryDays(choice) != days {
			t.Errorf("ExpiryDays(%s) = %d", choice, ExpiryDays(choice))
		}
	}
}

func TestStatusRolled(t *testing.T) {
	now := time.Date(2026, 3, 20, 15, 30, 0, 0, time.UTC)
	end := now.Add(time.Hour)
	k := Key{RolledInto: "key_x", ExpiresAt: end}
	for _, tt := range []struct {
		at    time.Time
		key   Key
		want  Status
		works bool
	}{
		{now, k, Rolled, true},
		{end.Add(-time.Millisecond), k, Rolled, true},
		{end, k, Expired, false},
		{now, Key{RolledInto: "key_x", ExpiresAt: end, RevokedAt: now}, Revoked, false},
		{now, Key{}, Active, true},
	} {
		if got := tt.key.Status(tt.at); got != tt.want || tt.key.Works(tt.at) != tt.works {
			t.Errorf("Status at %v = %s (works %v), want %s (%v)", tt.at, got, tt.key.Works(tt.at), tt.want, tt.works)
		}
	}
}
