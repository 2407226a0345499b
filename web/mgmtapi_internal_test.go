package web

import (
	"net/http/httptest"
	"testing"

	"github.com/labstack/echo/v4"

	"github.com/blnk-cloud/apikeys/internal/blnk"
)

// TestTokenFrom: the accessor the Idempotency-Key middleware keys its
// records by finds the token requireToken let in, and nothing elsewhere.
func TestTokenFrom(t *testing.T) {
	c := echo.New().NewContext(httptest.NewRequest("POST", "/api/v1/keys", nil), httptest.NewRecorder())
	if _, ok := tokenFrom(c); ok {
		t.Fatal("a request without a token has one")
	}
	c.Set(grantKey, blnk.TokenGrant{Token: blnk.Token{ID: "tok_x"}})
	if tok, ok := tokenFrom(c); !ok || tok.ID != "tok_x" {
		t.Fatalf("tokenFrom = %+v, %v", tok, ok)
	}
}
