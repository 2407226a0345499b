// Package openapicheck holds HTTP exchanges of the tests to the OpenAPI
// document of /api/v1 (web/openapi): a response the document does not
// describe (a field missing, renamed or of another type, a status or a
// required header it does not list) fails the test that got it, so the
// description cannot drift from the code. It uses kin-openapi's
// openapi3filter, which validates OpenAPI 3.1 documents with a JSON Schema
// 2020-12 validator.
package openapicheck

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync/atomic"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"
	"github.com/getkin/kin-openapi/routers/gorillamux"

	"github.com/blnk-cloud/apikeys/web/openapi"
)

// Checker validates exchanges against one loaded document and counts
// them. It is safe for concurrent use.
type Checker struct {
	doc    *openapi3.T
	router routers.Router
	errors *openapi3.Schema // the Error schema, for answers of no documented route
	n      atomic.Int64
}

// New loads and validates the embedded document.
func New() (*Checker, error) {
	return Load(openapi.JSON())
}

// Load loads and validates the document doc (New's, or a changed copy in
// this package's tests).
func Load(doc []byte) (*Checker, error) {
	ctx := context.Background()
	loader := openapi3.NewLoader()
	t, err := loader.LoadFromData(doc)
	if err != nil {
		return nil, fmt.Errorf("load the OpenAPI document: %w", err)
	}
	if err := t.Validate(ctx); err != nil {
		return nil, fmt.Errorf("the OpenAPI document is not valid: %w", err)
	}
	if !t.IsOpenAPI31OrLater() {
		return nil, errors.New("the OpenAPI document is not 3.1")
	}
	r, err := gorillamux.NewRouter(t)
	if err != nil {
		return nil, fmt.Errorf("route the OpenAPI document: %w", err)
	}
	es := t.Components.Schemas["Error"]
	if es == nil {
		return nil, errors.New("the OpenAPI document has no Error schema")
	}
	return &Checker{doc: t, router: r, errors: es.Value}, nil
}

// Doc returns the loaded document.
func (c *Checker) Doc() *openapi3.T { return c.doc }

// Count returns how many responses Check has validated.
func (c *Checker) Count() int { return int(c.n.Load()) }

// Exchange is a request the server got and what it answered.
type Exchange struct {
	Request     *http.Request // its Body is not read: RequestBody holds it
	RequestBody []byte
	Status      int
	Header      http.Header
	Body        []byte
}

// Check validates an exchange under /api/ (others are not the document's,
// and are neither checked nor counted):
//   - the response must be one the document lists for the operation: its
//     status, its required headers, and a body of the content type and
//     the schema given;
//   - a request the server accepted (a status below 400) must be valid as
//     the document describes it (parameters, body, credentials); requests
//     it refused are refusals the tests make on purpose;
//   - an answer to a path or method the document does not have must be a
//     4xx or 5xx with the Error body.
//
// A HEAD request is checked as its GET, without the body.
func (c *Checker) Check(ctx context.Context, x Exchange) error {
	if !strings.HasPrefix(x.Request.URL.Path, "/api/") {
		return nil
	}
	c.n.Add(1)
	req := x.Request.Clone(ctx)
	head := req.Method == http.MethodHead
	if head {
		req.Method = http.MethodGet
	}
	req.Body = io.NopCloser(bytes.NewReader(x.RequestBody))
	route, params, err := c.router.FindRoute(req)
	if err != nil {
		if x.Status < 400 {
			return fmt.Errorf("%s %s: %d, but the OpenAPI document has no such operation (%v)", x.Request.Method, x.Request.URL.Path, x.Status, err)
		}
		if head {
			return nil
		}
		return c.checkErrorBody(x)
	}
	opts := &openapi3filter.Options{
		IncludeResponseStatus: true,
		ExcludeResponseBody:   head,
		AuthenticationFunc:    authenticate,
		MultiError:            true,
	}
	in := &openapi3filter.RequestValidationInput{Request: req, PathParams: params, Route: route, Options: opts}
	if x.Status < 400 {
		if err := openapi3filter.ValidateRequest(ctx, in); err != nil {
			return fmt.Errorf("%s %s: the server answered %d to a request the OpenAPI document says is invalid: %w", x.Request.Method, x.Request.URL.Path, x.Status, err)
		}
	}
	out := &openapi3filter.ResponseValidationInput{
		RequestValidationInput: in,
		Status:                 x.Status,
		Header:                 x.Header,
		Body:                   io.NopCloser(bytes.NewReader(x.Body)),
		Options:                opts,
	}
	if err := openapi3filter.ValidateResponse(ctx, out); err != nil {
		return fmt.Errorf("%s %s: the %d response does not match the OpenAPI document: %w\nbody: %s", x.Request.Method, x.Request.URL.Path, x.Status, err, clip(x.Body))
	}
	return nil
}

// checkErrorBody checks an answer of no documented operation: the API's
// error, as JSON.
func (c *Checker) checkErrorBody(x Exchange) error {
	if ct := x.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
		return fmt.Errorf("%s %s: %d with Content-Type %q, want the JSON error", x.Request.Method, x.Request.URL.Path, x.Status, ct)
	}
	var v any
	if err := decodeJSON(x.Body, &v); err != nil {
		return fmt.Errorf("%s %s: %d: the body is not JSON: %w", x.Request.Method, x.Request.URL.Path, x.Status, err)
	}
	if err := c.errors.VisitJSON(v, openapi3.EnableJSONSchema2020()); err != nil {
		return fmt.Errorf("%s %s: %d: the body is not the Error schema: %w\nbody: %s", x.Request.Method, x.Request.URL.Path, x.Status, err, clip(x.Body))
	}
	return nil
}

// authenticate says whether a request carries the credentials a security
// scheme of the document names: a key (blnk_) or a management token
// (blnkm_) as the scheme's bearerFormat says, in the header it says.
// Whether the credentials are good is the server's business.
func authenticate(_ context.Context, in *openapi3filter.AuthenticationInput) error {
	s := in.SecurityScheme
	h := in.RequestValidationInput.Request.Header
	switch {
	case s.Type == "http" && s.Scheme == "bearer":
		// The scheme's name is case-insensitive (RFC 9110, section 11.1).
		auth := h.Get("Authorization")
		if len(auth) < 7 || !strings.EqualFold(auth[:7], "Bearer ") {
			return errors.New("no Authorization: Bearer")
		}
		tok := auth[7:]
		if want := strings.TrimSuffix(s.BearerFormat, "..."); !strings.HasPrefix(tok, want) {
			return fmt.Errorf("the bearer token is not a %s", s.BearerFormat)
		}
		return nil
	case s.Type == "apiKey" && s.In == "header":
		if h.Get(s.Name) == "" {
			return fmt.Errorf("no %s header", s.Name)
		}
		return nil
	}
	return fmt.Errorf("security scheme %s %s is not checked here", s.Type, s.Scheme)
}

func clip(b []byte) string {
	if len(b) > 2000 {
		return string(b[:2000]) + "…"
	}
	return string(b)
}
