package views

import (
	"slices"
	"time"

	"github.com/blnk-cloud/apikeys/internal/blnk"
)

// TokensPath is Settings > Management tokens.
const TokensPath = "/settings/tokens"

// NavTokens is Page.Nav for the tokens page.
const NavTokens = "tokens"

// TokenForm is the create form of a management token as typed.
type TokenForm struct {
	Name      string
	Scopes    []string
	Expires   string // blnk.TokenExpires30d, ...90d, ...365d or ...Date
	ExpiresOn string // YYYY-MM-DD, for the date choice
	Problems  Problems
}

// HasScope reports whether the form has scope s ticked.
func (f TokenForm) HasScope(s blnk.TokenScope) bool { return slices.Contains(f.Scopes, string(s)) }

// Tokens is what the tokens page shows: the person's tokens in this
// workspace, the create form, and a new token's secret, once.
type Tokens struct {
	Tokens []blnk.Token
	Form   TokenForm
	// Created is the token just made and Secret its secret, shown on
	// this one answer; zero otherwise.
	Created blnk.Token
	Secret  string
	Now     time.Time
}

// tokenFields are the create form's fields in their order, for the
// error summary; the expiry's problem links to the date field when the
// date is what is wrong.
func tokenFields(f TokenForm) []fieldRef {
	expires := "f-expires"
	if f.Expires == blnk.TokenExpiresDate {
		expires = "f-expires_on"
	}
	return []fieldRef{{"name", "f-name"}, {"scopes", "f-scopes"}, {"expires", expires}}
}

// TokenRevokeURL is where a token is revoked.
func TokenRevokeURL(id string) string { return TokensPath + "/" + id + "/revoke" }

func tokenScopesText(t blnk.Token) string {
	s := ""
	for i, sc := range t.Scopes {
		if i > 0 {
			s += ", "
		}
		s += string(sc)
	}
	return s
}
