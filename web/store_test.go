package web_test

import (
	"go/ast"
	"go/parser"
	"go/token"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/blnk-cloud/apikeys/db"
	"github.com/blnk-cloud/apikeys/web"
)

// TestWebWritesOnlyThroughServices: the pages read the database through
// web.Store, which has no writing method, and no code of the web package
// calls a method of db.DB that Store leaves out (a write), whatever it
// calls it on. Writes go through the keys, endpoints and accounts
// services, which record the audit events. (The readiness probe's write
// is the one exception: it writes nothing anyone reads.)
func TestWebWritesOnlyThroughServices(t *testing.T) {
	reads := map[string]bool{}
	store := reflect.TypeFor[web.Store]()
	readVerbs := []string{"Key", "List", "Count", "Lower", "Last", "Each", "Webhook", "Has", "Login", "Audit", "Find"}
	for i := range store.NumMethod() {
		name := store.Method(i).Name
		reads[name] = true
		if !hasAnyPrefix(name, readVerbs) {
			t.Errorf("web.Store has %s, which does not read like a read; writes belong to a service", name)
		}
	}
	// The methods of db.DB that change something, by their verbs.
	writeVerbs := []string{"Create", "Delete", "Edit", "Revoke", "Roll", "Record", "Report", "Mark", "Set",
		"Send", "Resend", "Take", "Touch", "Update", "Remove", "Fence", "Prune", "Claim", "Release", "Ensure",
		"Import", "Heartbeat", "Accept", "Add", "Change", "Switch", "Reset"}
	allowed := map[string]bool{"TouchReadiness": true}
	writes := map[string]bool{}
	dbType := reflect.TypeFor[*db.DB]()
	for i := range dbType.NumMethod() {
		if name := dbType.Method(i).Name; !reads[name] && !allowed[name] && hasAnyPrefix(name, writeVerbs) {
			writes[name] = true
		}
	}
	if len(writes) < 20 {
		t.Fatalf("found %d methods of db.DB outside web.Store; has the store moved?", len(writes))
	}
	files, err := filepath.Glob("*.go")
	if err != nil {
		t.Fatal(err)
	}
	fset := token.NewFileSet()
	var checked int
	for _, f := range files {
		if strings.HasSuffix(f, "_test.go") {
			continue
		}
		file, err := parser.ParseFile(fset, f, nil, 0)
		if err != nil {
			t.Fatal(err)
		}
		checked++
		ast.Inspect(file, func(n ast.Node) bool {
			call, ok := n.(*ast.CallExpr)
			if !ok {
				return true
			}
			if sel, ok := call.Fun.(*ast.SelectorExpr); ok && writes[sel.Sel.Name] {
				t.Errorf("%s: web calls %s, a method of db.DB that writes: go through a service", fset.Position(call.Pos()), sel.Sel.Name)
			}
			return true
		})
	}
	if checked < 10 {
		t.Fatalf("checked %d files of the web package; is the test in the right folder?", checked)
	}
}

func hasAnyPrefix(s string, prefixes []string) bool {
	for _, p := range prefixes {
		if strings.HasPrefix(s, p) {
			return true
		}
	}
	return false
}
