package openapicheck

import (
	"bytes"
	"encoding/json"
)

// decodeJSON decodes one JSON value, numbers as float64 as the schema
// validator expects.
func decodeJSON(b []byte, v any) error {
	d := json.NewDecoder(bytes.NewReader(b))
	return d.Decode(v)
}
