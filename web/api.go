package web

import (
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/blnk-cloud/apikeys/internal/apikey"
	"github.com/blnk-cloud/apikeys/internal/keyauth"
)

// whoamiResponse is what GET /api/v1/whoami says about the caller's key.
type whoamiResponse struct {
	ID        string          `json:"id"`
	Name      string          `json:"name"`
	Prefix    string          `json:"prefix"`
	Scopes    []apikey.Scope  `json:"scopes"`
	Role      apikey.Role     `json:"role"`
	Workspace workspaceObject `json:"workspace"`
	CreatedAt time.Time       `json:"created_at"`
	ExpiresAt *time.Time      `json:"expires_at"` // null: never
}

type workspaceObject struct {
	ID   int64  `json:"id"`
	Name string `json:"name"`
}

// whoami describes the key the request was made with; RequireKey let it in.
func (s *Server) whoami(c echo.Context) error {
	id, _ := keyauth.IdentityFrom(c)
	resp := whoamiResponse{
		ID:        id.KeyID,
		Name:      id.Name,
		Prefix:    id.Prefix,
		Scopes:    id.Scopes.Scopes(),
		Role:      apikey.Member,
		Workspace: workspaceObject{ID: id.WorkspaceID, Name: id.Workspace},
		CreatedAt: id.CreatedAt.UTC(),
	}
	if !id.ExpiresAt.IsZero() {
		t := id.ExpiresAt.UTC()
		resp.ExpiresAt = &t
	}
	c.Response().Header().Set("Cache-Control", "no-store")
	return c.JSON(http.StatusOK, resp)
}

// verify is forward authentication for gateways (nginx auth_request,
// Traefik forwardAuth, Caddy forward_auth): 200 when the key is valid and
// holds ?scope (any valid key when no scope is asked), 401 when it is
// missing, malformed, unknown, expired or revoked, 403 when it lacks the
// scope, 400 for an unknown scope, 429 after too many failures. On success
// the X-Blnk-* headers name the key for the upstream.
func (s *Server) verify(c echo.Context) error {
	r := c.Request()
	scope := apikey.Scope(r.URL.Query().Get("scope"))
	var id keyauth.Identity
	var err error
	if scope == "" {
		id, err = s.keys.Authenticate(r.Context(), keyauth.Token(r), c.RealIP())
	} else {
		id, err = s.keys.Authorize(r.Context(), keyauth.Token(r), c.RealIP(), scope)
	}
	if err != nil {
		return keyauth.WriteError(c, err, scope)
	}
	h := c.Response().Header()
	h.Set("Cache-Control", "no-store")
	h.Set("X-Blnk-Key-Id", id.KeyID)
	h.Set("X-Blnk-Key-Prefix", id.Prefix)
	h.Set("X-Blnk-Workspace-Id", strconv.FormatInt(id.WorkspaceID, 10))
	h.Set("X-Blnk-Scopes", id.Scopes.String())
	h.Set("X-Blnk-Role", string(apikey.Member))
	// Written by hand: every value is plain ASCII, and this is the hot path.
	var b strings.Builder
	b.WriteString(`{"valid":true,"key_id":"`)
	b.WriteString(id.KeyID)
	b.WriteString(`","workspace_id":`)
	b.WriteString(strconv.FormatInt(id.WorkspaceID, 10))
	b.WriteString(`}`)
	return c.Blob(http.StatusOK, echo.MIMEApplicationJSON, []byte(b.String()))
}

// exampleMCP is a sample route behind RequireScope(mcp:read), showing how
// this server's own API routes are protected.
func (s *Server) exampleMCP(c echo.Context) error {
	id, _ := keyauth.IdentityFrom(c)
	c.Response().Header().Set("Cache-Control", "no-store")
	return c.JSON(http.StatusOK, map[string]any{"ok": true, "key_id": id.KeyID, "scope": apikey.MCPRead})
}
