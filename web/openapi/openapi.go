// Package openapi holds the OpenAPI 3.1 description of /api/v1
// (openapi.json), written by hand: the server serves it as it is, and the
// tests (internal/testkit/openapicheck) hold every API response they get
// to it, so that it cannot drift from the code.
//
// It is written in the part of OpenAPI 3.1 that kin-openapi v0.153.0
// validates with its JSON Schema 2020-12 validator: a value that may be
// null has a type array (["string", "null"]) or a oneOf with
// {"type": "null"}, never OpenAPI 3.0's nullable, which 3.1 ignores.
package openapi

import _ "embed"

//go:embed openapi.json
var document []byte

// JSON returns the document. Callers must not change the bytes.
func JSON() []byte { return document }

// MediaType is the document's media type (registered by the OpenAPI
// Initiative with IANA), with the version as its parameter.
const MediaType = "application/vnd.oai.openapi+json;version=3.1"
