package blnk

import (
	"strings"
	"testing"
	"unicode"
	"unicode/utf8"
)

// checkSentence fails unless msg reads as a sentence for people.
func checkSentence(t *testing.T, msg string) {
	t.Helper()
	if r, _ := utf8.DecodeRuneInString(msg); !unicode.IsUpper(r) {
		t.Errorf("error %q does not start with a capital letter", msg)
	}
	if !strings.HasSuffix(msg, ".") {
		t.Errorf("error %q does not end with a period", msg)
	}
	if len(msg) > 120 {
		t.Errorf("error is %d bytes long, want a short sentence: %.200q", len(msg), msg)
	}
}

// emailOfLen returns a plain address of exactly n bytes (n >= 10).
func emailOfLen(n int) string {
	const domain = "@example.com"
	return strings.Repeat("a", n-len(domain)) + domain
}

func TestCleanEmail(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want string
	}{
		{"plain", "ada@example.com", "ada@example.com"},
		{"trimmed", "  ada@example.com\t", "ada@example.com"},
		{"trailing newline", "ada@example.com\n", "ada@example.com"},
		{"lowercased", "Ada.Lovelace@Example.COM", "ada.lovelace@example.com"},
		{"short", "a@b.c", "a@b.c"},
		{"plus tag", "ada+dashboard@example.com", "ada+dashboard@example.com"},
		{"subdomains", "ops@mail.eu.example.co.uk", "ops@mail.eu.example.co.uk"},
		{"apostrophe", "o'brien@example.ie", "o'brien@example.ie"},
		{"digits and dashes", "ci-bot-2@my-company.io", "ci-bot-2@my-company.io"},
		{"unicode local part", "José@example.com", "josé@example.com"},
		{"punycode domain", "a@xn--e1afmkfd.xn--p1ai", "a@xn--e1afmkfd.xn--p1ai"},
		{"254 bytes", emailOfLen(254), emailOfLen(254)},
		{"254 bytes after trimming", "  " + emailOfLen(254) + "  ", emailOfLen(254)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := CleanEmail(tt.in)
			if err != nil {
				t.Fatalf("CleanEmail(%q) = %v", tt.in, err)
			}
			if got != tt.want {
				t.Errorf("CleanEmail(%q) = %q, want %q", tt.in, got, tt.want)
			}
		})
	}
}

func TestCleanEmailRefused(t *testing.T) {
	tests := []struct {
		name string
		in   string
	}{
		{"empty", ""},
		{"spaces", "   "},
		{"display name", "Ada <a@b.c>"},
		{"quoted display name", `"Ada Lovelace" <ada@example.com>`},
		{"angle brackets", "<ada@example.com>"},
		{"comment", "ada@example.com (Ada)"},
		{"comment in local part", "ada(x)@example.com"},
		{"two addresses", "ada@example.com, grace@example.com"},
		{"space in local part", "ada lovelace@example.com"},
		{"space in domain", "ada@exam ple.com"},
		{"quoted local part with space", `"ada lovelace"@example.com`},
		{"no at", "ada.example.com"},
		{"two ats", "ada@@example.com"},
		{"nothing before at", "@example.com"},
		{"nothing after at", "ada@"},
		{"no dot in domain", "ada@localhost"},
		{"no dot, short", "a@b"},
		{"trailing dot", "ada@example.com."},
		{"leading dot in domain", "ada@.example.com"},
		{"double dot", "ada..lovelace@example.com"},
		{"semicolon", "ada@example.com;"},
		{"255 bytes", emailOfLen(255)},
		{"huge", emailOfLen(100_000)},
		{"NUL", "ada@example.com\x00"},
		{"inner NUL", "ada\x00@example.com"},
		{"inner newline", "ada\n@example.com"},
		{"header injection", "ada@example.com\r\nBcc: eve@example.com"},
		{"inner tab", "ada\t@example.com"},
		{"DEL", "ada\x7f@example.com"},
		{"right-to-left override", "ada\u202e@example.com"},
		{"left-to-right isolate", "ada@exa\u2066mple.com"},
		{"invalid UTF-8", "ad\xffa@example.com"},
		{"html", "<script>@example.com"},
		{"sql", "' OR 1=1 --@example.com"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := CleanEmail(tt.in)
			if err == nil {
				t.Fatalf("CleanEmail(%.60q) = %q, want an error", tt.in, got)
			}
			if got != "" {
				t.Errorf("CleanEmail(%.60q) = %q with an error, want empty", tt.in, got)
			}
			checkSentence(t, err.Error())
		})
	}
}

// FuzzCleanEmail checks what CleanEmail promises about the addresses it
// accepts.
func FuzzCleanEmail(f *testing.F) {
	for _, s := range []string{"ada@example.com", "Ada <a@b.c>", "a@b", " A@B.C ", "a\u202e@b.c", "\"a b\"@c.d"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in string) {
		got, err := CleanEmail(in)
		if err != nil {
			return
		}
		if got != strings.ToLower(got) || len(got) > MaxEmail || !utf8.ValidString(got) {
			t.Errorf("CleanEmail(%q) = %q: not lowercase, too long or invalid", in, got)
		}
		if strings.ContainsFunc(got, func(r rune) bool {
			return unicode.IsSpace(r) || unicode.IsControl(r) || unicode.Is(unicode.Bidi_Control, r) || r == '<' || r == '>'
		}) {
			t.Errorf("CleanEmail(%q) = %q, which holds a space, control or bracket", in, got)
		}
		if again, err := CleanEmail(got); err != nil || again != got {
			t.Errorf("CleanEmail(%q) = %q, %v; want it unchanged", got, again, err)
		}
	})
}

func TestCleanWorkspaceName(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want string
	}{
		{"plain", "Acme Payments", "Acme Payments"},
		{"trimmed", "  Acme\n", "Acme"},
		{"one character", "A", "A"},
		{"100 characters", strings.Repeat("w", 100), strings.Repeat("w", 100)},
		{"100 emoji", strings.Repeat("🏦", 100), strings.Repeat("🏦", 100)},
		{"emoji ZWJ sequence", "👩‍💻 Team", "👩‍💻 Team"},
		{"html kept as is", "<b>Acme</b>", "<b>Acme</b>"},
		{"sql kept as is", "Acme'; DROP TABLE workspaces; --", "Acme'; DROP TABLE workspaces; --"},
		{"accents", "Société Générale", "Société Générale"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := CleanWorkspaceName(tt.in)
			if err != nil {
				t.Fatalf("CleanWorkspaceName(%q) = %v", tt.in, err)
			}
			if got != tt.want {
				t.Errorf("CleanWorkspaceName(%q) = %q, want %q", tt.in, got, tt.want)
			}
		})
	}
}

func TestCleanWorkspaceNameRefused(t *testing.T) {
	tests := []struct {
		name string
		in   string
	}{
		{"empty", ""},
		{"whitespace", " \t\n\u00a0 "},
		{"101 characters", strings.Repeat("w", 101)},
		{"101 emoji", strings.Repeat("🏦", 101)},
		{"huge", strings.Repeat("w", 1_000_000)},
		{"tab", "Acme\tPayments"},
		{"newline", "Acme\nPayments"},
		{"NUL", "Acme\x00"},
		{"escape", "Acme\x1b[2J"},
		{"DEL", "Ac\x7fme"},
		{"next line", "Ac\u0085me"},
		{"right-to-left override", "Acme\u202eyap"},
		{"first isolate", "Acme\u2066x"},
		{"pop isolate", "Acme\u2069x"},
		{"invalid UTF-8", "Acme\xff"},
		{"zero-width space", "\u200b"},
		{"invisible format characters", "\u2060\ufeff\u00ad"},
		{"combining marks alone", " \u0301\u20dd "},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := CleanWorkspaceName(tt.in)
			if err == nil {
				t.Fatalf("CleanWorkspaceName(%.60q) = %q, want an error", tt.in, got)
			}
			if got != "" {
				t.Errorf("CleanWorkspaceName(%.60q) = %q with an error, want empty", tt.in, got)
			}
			checkSentence(t, err.Error())
		})
	}
}
