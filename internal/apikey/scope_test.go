package apikey

import (
	"slices"
	"strings"
	"testing"
	"unicode"
	"unicode/utf8"
)

// specific lists the scopes other than All, in display order.
var specific = []Scope{MCPRead, MCPWrite, ProxyRead, ProxyWrite, DataRead, DataWrite}

// known lists every scope, in display order.
var known = append([]Scope{All}, specific...)

// unknownScopes are names no key may hold or ask for.
var unknownScopes = []string{
	"", "admin", "mcp", "mcp:", ":read", "mcp:delete", "mcp:admin", "MCP:READ",
	"Mcp:read", " mcp:read", "mcp:read ", "mcp:read\n", "mcp:read,mcp:write",
	"mcp:read mcp:write", "mcp: read", "mcp_read", "**", "all", "*:read", "data:*",
	"proxy:Write", "<script>", "' OR 1=1 --", "mcp:read\x00", "mcp:reаd", // Cyrillic а
	strings.Repeat("x", 10_000),
}

// checkSentence fails unless msg reads as a sentence for people.
func checkSentence(t *testing.T, msg string) {
	t.Helper()
	if msg == "" {
		t.Fatal("error message is empty")
	}
	if r, _ := utf8.DecodeRuneInString(msg); !unicode.IsUpper(r) {
		t.Errorf("error %q does not start with a capital letter", msg)
	}
	if !strings.HasSuffix(msg, ".") {
		t.Errorf("error %q does not end with a period", msg)
	}
	if strings.Contains(msg, "apikey") {
		t.Errorf("error %q names the package", msg)
	}
}

func TestParseScopes(t *testing.T) {
	tests := []struct {
		name  string
		names []string
		want  []Scope
	}{
		{"all", []string{"*"}, []Scope{All}},
		{"all twice", []string{"*", "*"}, []Scope{All}},
		{"mcp:read", []string{"mcp:read"}, []Scope{MCPRead}},
		{"mcp:write", []string{"mcp:write"}, []Scope{MCPWrite}},
		{"proxy:read", []string{"proxy:read"}, []Scope{ProxyRead}},
		{"proxy:write", []string{"proxy:write"}, []Scope{ProxyWrite}},
		{"data:read", []string{"data:read"}, []Scope{DataRead}},
		{"data:write", []string{"data:write"}, []Scope{DataWrite}},
		{"read and write", []string{"mcp:read", "mcp:write"}, []Scope{MCPRead, MCPWrite}},
		{"out of display order", []string{"data:write", "mcp:read", "proxy:read"}, []Scope{MCPRead, ProxyRead, DataWrite}},
		{"every specific scope", []string{"mcp:read", "mcp:write", "proxy:read", "proxy:write", "data:read", "data:write"}, specific},
		{"duplicates", []string{"data:read", "data:read", "mcp:write", "data:read"}, []Scope{MCPWrite, DataRead}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			set, err := ParseScopes(tt.names)
			if err != nil {
				t.Fatalf("ParseScopes(%q) = %v", tt.names, err)
			}
			if got := set.Scopes(); !slices.Equal(got, tt.want) {
				t.Errorf("ParseScopes(%q).Scopes() = %q, want %q", tt.names, got, tt.want)
			}
			for _, sc := range known {
				if got, want := set.Has(sc), slices.Contains(tt.want, sc); got != want {
					t.Errorf("Has(%q) = %v, want %v", sc, got, want)
				}
			}
		})
	}
}

func TestParseScopesRefused(t *testing.T) {
	tests := []struct {
		name    string
		names   []string
		wantMsg string // a part of the error message
	}{
		{"nil", nil, "at least one"},
		{"empty list", []string{}, "at least one"},
		{"all with one", []string{"*", "mcp:read"}, "choose it alone"},
		{"one with all", []string{"data:write", "*"}, "choose it alone"},
		{"all with every scope", []string{"*", "mcp:read", "mcp:write", "proxy:read", "proxy:write", "data:read", "data:write"}, "choose it alone"},
		{"unknown after valid", []string{"mcp:read", "admin"}, `"admin"`},
		{"unknown before valid", []string{"admin", "mcp:read"}, `"admin"`},
		{"unknown with all", []string{"*", "admin"}, `"admin"`},
	}
	for _, name := range unknownScopes {
		tests = append(tests, struct {
			name    string
			names   []string
			wantMsg string
		}{"unknown " + truncate(name, 20), []string{name}, "Unknown scope"})
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			set, err := ParseScopes(tt.names)
			if err == nil {
				t.Fatalf("ParseScopes(%.60q) = %v, want an error", tt.names, set)
			}
			if set != 0 {
				t.Errorf("ParseScopes(%.60q) set = %v with an error, want 0", tt.names, set)
			}
			msg := err.Error()
			checkSentence(t, msg)
			if !strings.Contains(msg, tt.wantMsg) {
				t.Errorf("error %q does not contain %q", msg, tt.wantMsg)
			}
			if n := utf8.RuneCountInString(msg); n > 120 {
				t.Errorf("error has %d characters, want at most 120: %.200q", n, msg)
			}
		})
	}
}

func TestParseScopesHugeInputNotEchoed(t *testing.T) {
	tests := []struct {
		name string
		in   string
		unit string
	}{
		{"ascii", strings.Repeat("x", 10_000), "x"},
		{"two-byte runes", strings.Repeat("é", 10_000), "é"},
		{"emoji", strings.Repeat("😀", 10_000), "😀"},
		{"html", strings.Repeat("<script>", 1_250), "<script>"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ParseScopes([]string{tt.in})
			if err == nil {
				t.Fatal("ParseScopes accepted a huge scope")
			}
			msg := err.Error()
			if got := strings.Count(msg, tt.unit) * utf8.RuneCountInString(tt.unit); got > 40 {
				t.Errorf("error echoes %d characters of the input, want at most 40: %q", got, msg)
			}
			if !strings.Contains(msg, "…") {
				t.Errorf("error %q does not show that the scope was cut", msg)
			}
			if !utf8.ValidString(msg) {
				t.Errorf("error %q is not valid UTF-8", msg)
			}
		})
	}
}

func TestTruncate(t *testing.T) {
	tests := []struct {
		name string
		in   string
		n    int
		want string
	}{
		{"short", "abc", 40, "abc"},
		{"exact", "abcd", 4, "abcd"},
		{"one over", "abcde", 4, "abcd…"},
		{"runes, not bytes", "ééééé", 4, "éééé…"},
		{"empty", "", 4, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := truncate(tt.in, tt.n); got != tt.want {
				t.Errorf("truncate(%q, %d) = %q, want %q", tt.in, tt.n, got, tt.want)
			}
		})
	}
}

func mustScopes(t *testing.T, names ...string) Set {
	t.Helper()
	set, err := ParseScopes(names)
	if err != nil {
		t.Fatalf("ParseScopes(%q) = %v", names, err)
	}
	return set
}

func TestAllows(t *testing.T) {
	tests := []struct {
		name string
		set  Set
		want Scope
		ok   bool
	}{
		{"all allows mcp:read", mustScopes(t, "*"), MCPRead, true},
		{"all allows data:write", mustScopes(t, "*"), DataWrite, true},
		{"all allows all", mustScopes(t, "*"), All, true},
		{"write allows read", mustScopes(t, "mcp:write"), MCPRead, true},
		{"write allows write", mustScopes(t, "mcp:write"), MCPWrite, true},
		{"proxy write allows proxy read", mustScopes(t, "proxy:write"), ProxyRead, true},
		{"data write allows data read", mustScopes(t, "data:write"), DataRead, true},
		{"read allows read", mustScopes(t, "data:read"), DataRead, true},
		{"read does not allow write", mustScopes(t, "mcp:read"), MCPWrite, false},
		{"data read does not allow data write", mustScopes(t, "data:read"), DataWrite, false},
		{"mcp write does not allow data read", mustScopes(t, "mcp:write"), DataRead, false},
		{"mcp write does not allow proxy read", mustScopes(t, "mcp:write"), ProxyRead, false},
		{"every specific scope does not allow all", mustScopes(t, "mcp:read", "mcp:write", "proxy:read", "proxy:write", "data:read", "data:write"), All, false},
		{"specific does not allow all", mustScopes(t, "mcp:write"), All, false},
		{"all does not allow unknown", mustScopes(t, "*"), "admin", false},
		{"all does not allow empty", mustScopes(t, "*"), "", false},
		{"all does not allow unknown read", mustScopes(t, "*"), "billing:read", false},
		{"write does not allow unknown read of it", mustScopes(t, "mcp:write"), "mcp:admin", false},
		{"write does not allow uppercase", mustScopes(t, "mcp:write"), "MCP:READ", false},
		{"zero allows nothing", 0, MCPRead, false},
		{"zero does not allow all", 0, All, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.set.Allows(tt.want); got != tt.ok {
				t.Errorf("Set(%q).Allows(%q) = %v, want %v", tt.set, tt.want, got, tt.ok)
			}
		})
	}
}

// TestAllowsEverySet checks Allows for every valid set and every scope
// against the rule as the contract states it.
func TestAllowsEverySet(t *testing.T) {
	sets := []Set{mustScopes(t, "*")}
	for mask := 1; mask < 1<<len(specific); mask++ {
		var names []string
		for i, sc := range specific {
			if mask&(1<<i) != 0 {
				names = append(names, string(sc))
			}
		}
		sets = append(sets, mustScopes(t, names...))
	}
	for _, set := range sets {
		held := set.Scopes()
		for _, want := range known {
			ok := slices.Contains(held, All) || slices.Contains(held, want)
			if res, isRead := strings.CutSuffix(string(want), ":read"); isRead {
				ok = ok || slices.Contains(held, Scope(res+":write"))
			}
			if got := set.Allows(want); got != ok {
				t.Errorf("Set(%q).Allows(%q) = %v, want %v", set, want, got, ok)
			}
		}
		for _, want := range unknownScopes {
			if set.Allows(Scope(want)) {
				t.Errorf("Set(%q).Allows(%.40q) = true, want false", set, want)
			}
		}
	}
}

func TestZeroSet(t *testing.T) {
	var s Set
	for _, sc := range known {
		if s.Allows(sc) {
			t.Errorf("zero Set allows %q", sc)
		}
		if s.Has(sc) {
			t.Errorf("zero Set has %q", sc)
		}
	}
	if got := s.Scopes(); len(got) != 0 {
		t.Errorf("zero Set.Scopes() = %q, want none", got)
	}
	if got := s.String(); got != "" {
		t.Errorf("zero Set.String() = %q, want empty", got)
	}
}

func TestScopeListRoundTrip(t *testing.T) {
	for mask := range 1 << len(specific) {
		var names []string
		for i, sc := range specific {
			if mask&(1<<i) != 0 {
				names = append(names, string(sc))
			}
		}
		t.Run(strings.Join(names, "+"), func(t *testing.T) {
			set, err := ParseScopes(names)
			if mask == 0 {
				if err == nil {
					t.Fatalf("ParseScopes(none) = %v, want an error", set)
				}
				if _, err := ParseScopeList(""); err == nil {
					t.Error("ParseScopeList(\"\") succeeded, want an error")
				}
				return
			}
			if err != nil {
				t.Fatalf("ParseScopes(%q) = %v", names, err)
			}
			str := set.String()
			if want := strings.Join(names, " "); str != want {
				t.Errorf("String() = %q, want %q", str, want)
			}
			back, err := ParseScopeList(str)
			if err != nil {
				t.Fatalf("ParseScopeList(%q) = %v", str, err)
			}
			if back != set {
				t.Errorf("ParseScopeList(%q) = %v, want %v", str, back, set)
			}
			reversed := slices.Clone(names)
			slices.Reverse(reversed)
			messy := "\t " + strings.Join(reversed, "  \n") + " "
			if back, err := ParseScopeList(messy); err != nil || back != set {
				t.Errorf("ParseScopeList(%q) = %v, %v; want %v", messy, back, err, set)
			}
		})
	}
	t.Run("all", func(t *testing.T) {
		set := mustScopes(t, "*")
		if got := set.String(); got != "*" {
			t.Errorf("String() = %q, want %q", got, "*")
		}
		if back, err := ParseScopeList(set.String()); err != nil || back != set {
			t.Errorf("ParseScopeList(%q) = %v, %v; want %v", set.String(), back, err, set)
		}
	})
}

func TestParseScopeListRefused(t *testing.T) {
	tests := []struct {
		name string
		in   string
	}{
		{"empty", ""},
		{"spaces", "   "},
		{"all with others", "* mcp:read"},
		{"commas", "mcp:read,mcp:write"},
		{"unknown", "mcp:read admin"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if set, err := ParseScopeList(tt.in); err == nil {
				t.Errorf("ParseScopeList(%q) = %v, want an error", tt.in, set)
			}
		})
	}
}

func TestKnownScope(t *testing.T) {
	for _, sc := range known {
		if !KnownScope(string(sc)) {
			t.Errorf("KnownScope(%q) = false, want true", sc)
		}
	}
	for _, name := range unknownScopes {
		if KnownScope(name) {
			t.Errorf("KnownScope(%.40q) = true, want false", name)
		}
	}
}

func TestScopesAndInfo(t *testing.T) {
	infos := Scopes()
	var got []Scope
	for _, si := range infos {
		got = append(got, si.Scope)
		if si.Label == "" || !strings.HasSuffix(si.Description, ".") {
			t.Errorf("scope %q has label %q and description %q, want both, as a sentence", si.Scope, si.Label, si.Description)
		}
		info, ok := Info(si.Scope)
		if !ok || info != si {
			t.Errorf("Info(%q) = %v, %v; want %v, true", si.Scope, info, ok, si)
		}
	}
	if !slices.Equal(got, known) {
		t.Errorf("Scopes() = %q, want %q", got, known)
	}
	infos[0].Label = "changed"
	if Scopes()[0].Label == "changed" {
		t.Error("changing the result of Scopes() changed the package's list")
	}
	if info, ok := Info("admin"); ok {
		t.Errorf("Info(\"admin\") = %v, true; want false", info)
	}
}

func BenchmarkAllows(b *testing.B) {
	benchmarks := []struct {
		name  string
		names []string
		want  Scope
	}{
		{"all", []string{"*"}, DataWrite},
		{"exact", []string{"data:read"}, DataRead},
		{"write includes read", []string{"mcp:write"}, MCPRead},
		{"denied", []string{"mcp:read"}, DataRead},
		{"unknown", []string{"mcp:write"}, "billing:read"},
	}
	for _, bb := range benchmarks {
		b.Run(bb.name, func(b *testing.B) {
			set, err := ParseScopes(bb.names)
			if err != nil {
				b.Fatal(err)
			}
			b.ReportAllocs()
			for b.Loop() {
				set.Allows(bb.want)
			}
		})
	}
}

// TestSetStringAllocs: String runs on every call a gateway forwards
// (X-Blnk-Scopes), so one scope costs no allocation and more one.
func TestSetStringAllocs(t *testing.T) {
	if raceEnabled {
		t.Skip("the race detector changes allocations")
	}
	tests := []struct {
		name   string
		scopes string
		want   float64
	}{
		{"all", "*", 0},
		{"one", "data:write", 0},
		{"two", "mcp:read mcp:write", 1},
		{"every specific", "mcp:read mcp:write proxy:read proxy:write data:read data:write", 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			set := mustScopes(t, strings.Fields(tt.scopes)...)
			if got := set.String(); got != tt.scopes {
				t.Errorf("String() = %q, want %q", got, tt.scopes)
			}
			if got := testing.AllocsPerRun(100, func() { _ = set.String() }); got != tt.want {
				t.Errorf("allocations per call = %v, want %v", got, tt.want)
			}
		})
	}
}
