package apikey

import (
	"strings"

	"github.com/blnk-cloud/apikeys/internal/derrors"
)

// Scope is one permission a key can hold.
type Scope string

// The scopes a key can hold. All stands for every permission there is and
// cannot be combined with others. For each resource, write includes read.
const (
	All        Scope = "*"
	MCPRead    Scope = "mcp:read"
	MCPWrite   Scope = "mcp:write"
	ProxyRead  Scope = "proxy:read"
	ProxyWrite Scope = "proxy:write"
	DataRead   Scope = "data:read"
	DataWrite  Scope = "data:write"
)

// ScopeInfo describes a scope for people choosing one.
type ScopeInfo struct {
	Scope       Scope
	Label       string
	Description string
}

// scopes lists every scope in display order; a scope's bit in a Set is its
// index here.
var scopes = [...]ScopeInfo{
	{All, "All permissions", "Every permission, including scopes added later."},
	{MCPRead, "MCP read", "Let AI agents read workspace data through the MCP server."},
	{MCPWrite, "MCP write", "Let AI agents create and change data through the MCP server. Includes MCP read."},
	{ProxyRead, "Proxy read", "Send read-only requests through the API proxy."},
	{ProxyWrite, "Proxy write", "Send any request through the API proxy. Includes proxy read."},
	{DataRead, "Data read", "Read ledgers, balances and transactions."},
	{DataWrite, "Data write", "Create and change ledgers, balances and transactions. Includes data read."},
}

// Scopes returns every scope with its description, in display order.
func Scopes() []ScopeInfo {
	out := make([]ScopeInfo, len(scopes))
	copy(out, scopes[:])
	return out
}

// Info returns the description of s, and false for an unknown scope.
func Info(s Scope) (ScopeInfo, bool) {
	for _, si := range scopes {
		if si.Scope == s {
			return si, true
		}
	}
	return ScopeInfo{}, false
}

func bit(s Scope) (Set, bool) {
	for i, si := range scopes {
		if si.Scope == s {
			return 1 << i, true
		}
	}
	return 0, false
}

// Set is a valid set of scopes: either All alone or any non-empty set of
// specific scopes. Its zero value holds nothing and allows nothing.
type Set uint16

// allBit is All's bit: All is first in scopes.
const allBit Set = 1 << 0

// ParseScopes validates names as a key's scopes: at least one, no unknown
// scope, All not combined with others. Duplicates are harmless. Like the
// other validators of this package, its errors are sentences for people.
func ParseScopes(names []string) (Set, error) {
	var set Set
	for _, n := range names {
		b, ok := bit(Scope(n))
		if !ok {
			return 0, derrors.Errorf(derrors.EINVALID, "Unknown scope %q. Choose from the list.", truncate(n, 40))
		}
		set |= b
	}
	switch {
	case set == 0:
		return 0, derrors.Errorf(derrors.EINVALID, "Choose at least one scope.")
	case set&allBit != 0 && set != allBit:
		return 0, derrors.Errorf(derrors.EINVALID, "All permissions (*) already includes every scope: choose it alone, or only specific scopes.")
	}
	return set, nil
}

// ParseScopeList parses the space-separated form written by Set.String.
func ParseScopeList(s string) (Set, error) {
	return ParseScopes(strings.Fields(s))
}

// Scopes returns the scopes in the set, in display order.
func (s Set) Scopes() []Scope {
	var out []Scope
	for i, si := range scopes {
		if s&(1<<i) != 0 {
			out = append(out, si.Scope)
		}
	}
	return out
}

// Has reports whether s was granted exactly (not through inclusion).
func (s Set) Has(sc Scope) bool {
	b, ok := bit(sc)
	return ok && s&b != 0
}

// Allows reports whether a key holding s may do what scope want permits:
// All allows everything, and X:write allows X:read. An unknown want is
// never allowed.
func (s Set) Allows(want Scope) bool {
	b, ok := bit(want)
	if !ok || s == 0 {
		return false
	}
	if s&allBit != 0 || s&b != 0 {
		return true
	}
	if res, ok := strings.CutSuffix(string(want), ":read"); ok {
		return s.Has(Scope(res + ":write"))
	}
	return false
}

// String returns the scopes separated by spaces, e.g. "mcp:read mcp:write".
// It runs on every call a gateway forwards (X-Blnk-Scopes), so a set of
// one scope costs no allocation and any other set one.
func (s Set) String() string {
	n, one := 0, -1
	for i, si := range scopes {
		if s&(1<<i) != 0 {
			if one >= 0 {
				n++ // the space
			}
			n += len(si.Scope)
			one = i
		}
	}
	switch {
	case one < 0:
		return ""
	case n == len(scopes[one].Scope):
		return string(scopes[one].Scope)
	}
	var b strings.Builder
	b.Grow(n)
	for i, si := range scopes {
		if s&(1<<i) != 0 {
			if b.Len() > 0 {
				b.WriteByte(' ')
			}
			b.WriteString(string(si.Scope))
		}
	}
	return b.String()
}

// KnownScope reports whether name is a scope this server knows.
func KnownScope(name string) bool {
	_, ok := bit(Scope(name))
	return ok
}

func truncate(s string, n int) string {
	r := []rune(s)
	if len(r) <= n {
		return s
	}
	return string(r[:n]) + "…"
}
