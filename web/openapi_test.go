package web_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"slices"
	"strings"
	"testing"

	"github.com/blnk-cloud/apikeys/web"
	"github.com/blnk-cloud/apikeys/web/openapi"
)

// TestOpenAPIDocumentIsServed: GET /api/v1/openapi.json answers the
// embedded document, without credentials, as OpenAPI's media type.
func TestOpenAPIDocumentIsServed(t *testing.T) {
	ts := newTestServer(t, serverOpts{})
	c := ts.client()
	for _, method := range []string{http.MethodGet, http.MethodHead} {
		r := c.do(method, "/api/v1/openapi.json", nil, noCookies())
		if r.Code != http.StatusOK {
			t.Fatalf("%s: got %d, want 200\n%s", method, r.Code, r.Body)
		}
		if got, want := r.Header.Get("Content-Type"), "application/vnd.oai.openapi+json;version=3.1"; got != want {
			t.Errorf("%s Content-Type: got %q, want %q", method, got, want)
		}
		if method == http.MethodHead {
			continue
		}
		if !bytes.Equal([]byte(r.Body), openapi.JSON()) {
			t.Errorf("the body is not the embedded document")
		}
		var doc struct {
			OpenAPI string         `json:"openapi"`
			Paths   map[string]any `json:"paths"`
		}
		if err := json.Unmarshal([]byte(r.Body), &doc); err != nil {
			t.Fatal(err)
		}
		if doc.OpenAPI != "3.1.0" {
			t.Errorf("openapi: got %q, want 3.1.0", doc.OpenAPI)
		}
	}
}

// notYetServed are the operations the document describes that this
// server does not have yet (none: keep it for the next ones).
var notYetServed = []string{}

// TestOpenAPIDescribesEveryRoute: every route under /api/v1 is an
// operation of the document (HEAD as its GET), and every operation is a
// route (but those not served yet, said so in notYetServed).
func TestOpenAPIDescribesEveryRoute(t *testing.T) {
	ts := newTestServer(t, serverOpts{})
	chk, err := openAPI()
	if err != nil {
		t.Fatal(err)
	}
	documented := map[string]bool{}
	for path, item := range chk.Doc().Paths.Map() {
		for method := range item.Operations() {
			documented[method+" "+path] = true
		}
	}
	served := map[string]bool{}
	for _, r := range web.Routes(ts.srv) {
		if !strings.HasPrefix(r.Path, "/api/v1/") || r.Method == http.MethodHead {
			continue
		}
		op := r.Method + " " + echoToOpenAPI(r.Path)
		served[op] = true
		if !documented[op] {
			t.Errorf("%s is served but the OpenAPI document does not describe it", op)
		}
	}
	if len(served) < 5 {
		t.Fatalf("found %d API routes; has the API moved?", len(served))
	}
	for op := range documented {
		switch {
		case served[op] && slices.Contains(notYetServed, op):
			t.Errorf("%s is served now: take it out of notYetServed", op)
		case !served[op] && !slices.Contains(notYetServed, op):
			t.Errorf("the OpenAPI document describes %s, which is not served", op)
		}
	}
}

// echoToOpenAPI writes Echo's path parameters (:id) as OpenAPI's ({id}).
func echoToOpenAPI(path string) string {
	parts := strings.Split(path, "/")
	for i, p := range parts {
		if name, ok := strings.CutPrefix(p, ":"); ok {
			parts[i] = "{" + name + "}"
		}
	}
	return strings.Join(parts, "/")
}

// TestMain says how many API responses the tests held to the OpenAPI
// document (go test -v shows it).
func TestMain(m *testing.M) {
	code := m.Run()
	if chk, err := openAPI(); err == nil {
		fmt.Printf("openapicheck: %d API responses validated against the OpenAPI document\n", chk.Count())
	}
	os.Exit(code)
}
