package web

import (
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/blnk-cloud/apikeys/internal/apikey"
	"github.com/blnk-cloud/apikeys/internal/keyauth"
	"github.com/blnk-cloud/apikeys/web/apiv1"
	"github.com/blnk-cloud/apikeys/web/openapi"
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
	// RolledInto names the key that replaced this one in a roll (null if
	// none): this key stops working at expires_at, the end of the
	// roll's overlap, so clients can notice and switch.
	RolledInto *apiv1.KeyRef `json:"rolled_into"`
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
	if id.RolledInto != "" {
		resp.RolledInto = &apiv1.KeyRef{ID: id.RolledInto, Prefix: id.RolledIntoPrefix}
	}
	return c.JSON(http.StatusOK, resp)
}

// verify is forward authentication for gateways (nginx auth_request,
// Traefik forwardAuth, Caddy forward_auth): 200 when the key is valid and
// holds ?scope (any valid key when no scope is asked), 401 when it is
// missing, malformed, unknown, expired or revoked, or when the caller's
// address failed too often (with Retry-After: gateways turn other
// statuses into errors of their own), 403 when it lacks the scope, 400
// for a scope parameter that is unknown or cannot be read. On success
// X-Blnk-Key-Id, X-Blnk-Workspace-Id and X-Blnk-Scopes name the key for
// the upstream.
func (s *Server) verify(c echo.Context) error {
	r := c.Request()
	scope, ok := verifyScope(r.URL.RawQuery)
	if !ok {
		return keyauth.WriteGatewayError(c, keyauth.ErrUnknownScope, "")
	}
	var id keyauth.Identity
	var err error
	if scope == "" {
		id, err = s.auth.Authenticate(r.Context(), keyauth.Token(r), c.RealIP())
	} else {
		id, err = s.auth.Authorize(r.Context(), keyauth.Token(r), c.RealIP(), scope)
	}
	if err != nil {
		// A management token is never a key: said so, off the hot path.
		if refused, terr := refuseTokens(c); refused {
			return terr
		}
		return keyauth.WriteGatewayError(c, err, scope)
	}
	// This is the hot path: the names are canonical already, so they are
	// assigned without Header.Set's canonicalisation, their values share
	// one allocation (each slice capped, so that an append copies), and
	// the body, plain ASCII, is written by hand.
	ws := strconv.FormatInt(id.WorkspaceID, 10)
	h := c.Response().Header()
	vals := &[4]string{id.KeyID, ws, id.Scopes.String(), echo.MIMEApplicationJSON}
	h["X-Blnk-Key-Id"] = vals[0:1:1]
	h["X-Blnk-Workspace-Id"] = vals[1:2:2]
	h["X-Blnk-Scopes"] = vals[2:3:3]
	h["Content-Type"] = vals[3:4:4]
	body := make([]byte, 0, 80)
	body = append(body, `{"valid":true,"key_id":"`...)
	body = append(body, id.KeyID...)
	body = append(body, `","workspace_id":`...)
	body = append(body, ws...)
	body = append(body, "}\n"...)
	c.Response().WriteHeader(http.StatusOK)
	_, err = c.Response().Write(body)
	return err
}

// verifyScope returns the scope a raw query asks for ("" when none), and
// false when the query cannot be read for certain: a bad escape, a ";"
// (which Go's parser drops with the pair around it), an empty or a
// repeated scope. Those are a gateway's misconfiguration, and must not
// read as "no scope asked", which lets any valid key in. It does not
// build the map of url.Values: this runs on every gateway request.
func verifyScope(raw string) (apikey.Scope, bool) {
	if strings.IndexByte(raw, ';') >= 0 {
		return "", false
	}
	var scope string
	found := false
	for raw != "" {
		var pair string
		pair, raw, _ = strings.Cut(raw, "&")
		k, v, _ := strings.Cut(pair, "=")
		if strings.ContainsAny(pair, "%+") {
			var kerr, verr error
			k, kerr = url.QueryUnescape(k)
			v, verr = url.QueryUnescape(v)
			if kerr != nil || verr != nil {
				return "", false // the key could be "scope"
			}
		}
		if k != "scope" {
			continue
		}
		if found || v == "" {
			return "", false
		}
		scope, found = v, true
	}
	return apikey.Scope(scope), true
}

// exampleMCP is a sample route behind RequireScope(mcp:read), showing how
// this server's own API routes are protected.
func (s *Server) exampleMCP(c echo.Context) error {
	id, _ := keyauth.IdentityFrom(c)
	return c.JSON(http.StatusOK, map[string]any{"ok": true, "key_id": id.KeyID, "scope": apikey.MCPRead})
}

// openAPI serves the OpenAPI 3.1 description of /api/v1 as it is
// embedded: no credentials, since it says nothing about any workspace.
func (s *Server) openAPI(c echo.Context) error {
	return c.Blob(http.StatusOK, openapi.MediaType, openapi.JSON())
}
