package blnk_test

import (
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
)

const module = "github.com/blnk-cloud/apikeys/"

// floors says which of the module's packages each package may import: the
// README's layout, as a test. A package not listed may import anything
// below the adapters.
var floors = map[string][]string{
	// Vocabulary.
	"internal/derrors":  {},
	"internal/naming":   {},
	"internal/audit":    {},
	"internal/apikey":   {"internal/derrors", "internal/naming"},
	"internal/webhook":  {"internal/apikey", "internal/derrors", "internal/naming"},
	"internal/password": {"internal/derrors"},
	"internal/blnk":     {"internal/apikey", "internal/audit", "internal/webhook", "internal/derrors", "internal/naming"},
	// Engines: the vocabulary only.
	"internal/throttle": {"internal/blnk"},
	"internal/keyauth":  {"internal/apikey", "internal/blnk", "internal/throttle", "internal/audit", "internal/derrors"},
	"internal/delivery": {"internal/blnk", "internal/webhook", "internal/apikey", "internal/audit"},
	// Services: the vocabulary, never the database, the web or an engine.
	"internal/keys":      {"internal/apikey", "internal/audit", "internal/blnk", "internal/derrors", "internal/webhook"},
	"internal/endpoints": {"internal/audit", "internal/blnk", "internal/webhook", "internal/derrors"},
	"internal/accounts":  {"internal/audit", "internal/blnk", "internal/derrors", "internal/password"},
	"internal/twofactor": {"internal/audit", "internal/blnk", "internal/derrors"},
	"internal/members":   {"internal/apikey", "internal/audit", "internal/blnk", "internal/derrors"},
	// The email adapter: the standard library and its SMTP client only.
	"internal/mail":        {},
	"internal/idempotency": {"internal/blnk", "internal/derrors"},
	"internal/tokens":      {"internal/apikey", "internal/audit", "internal/blnk", "internal/derrors", "internal/naming"},
	"internal/passkeys":    {"internal/audit", "internal/blnk", "internal/derrors"},
	// Adapters: the database knows only the vocabulary.
	"db":    {"internal/apikey", "internal/audit", "internal/blnk", "internal/webhook", "internal/derrors", "internal/naming"},
	"views": {"internal/apikey", "internal/audit", "internal/blnk", "internal/webhook", "internal/derrors", "internal/password", "static"},
}

// TestFloors reads the imports of every package's non-test files and
// fails on any import of the module's own packages that its floor does
// not allow: the vocabulary imports no adapter, engine or service; the
// database no engine or service; the services no database; the views
// neither. And no command imports the views.
func TestFloors(t *testing.T) {
	root := filepath.Join("..", "..")
	checked := 0
	for pkg, allowed := range floors {
		for _, imp := range imports(t, filepath.Join(root, pkg)) {
			checked++
			if !slices.Contains(allowed, imp) {
				t.Errorf("%s imports %s, which its floor does not allow (README: Layout)", pkg, imp)
			}
		}
	}
	for _, cmd := range []string{"cmd/dashboard", "cmd/bench", "cmd/webhook-receiver"} {
		for _, imp := range imports(t, filepath.Join(root, cmd)) {
			checked++
			if imp == "views" || imp == "internal/keyauth" && cmd != "cmd/dashboard" {
				t.Errorf("%s imports %s", cmd, imp)
			}
		}
	}
	if checked < 30 {
		t.Fatalf("checked %d imports; are the paths right?", checked)
	}
}

// imports returns the module's packages that dir's non-test Go files
// import, without the module's path.
func imports(t *testing.T, dir string) []string {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	fset := token.NewFileSet()
	for _, e := range entries {
		name := e.Name()
		if !strings.HasSuffix(name, ".go") || strings.HasSuffix(name, "_test.go") {
			continue
		}
		f, err := parser.ParseFile(fset, filepath.Join(dir, name), nil, parser.ImportsOnly)
		if err != nil {
			t.Fatal(err)
		}
		for _, is := range f.Imports {
			p, _ := strconv.Unquote(is.Path.Value)
			if rest, ok := strings.CutPrefix(p, module); ok && !slices.Contains(out, rest) {
				out = append(out, rest)
			}
		}
	}
	return out
}
