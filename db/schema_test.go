package db

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/blnk-cloud/apikeys/internal/testkit"
)

// column is what the two dialects must agree on about a column.
type column struct {
	kind    string // "integer", "text", "bytes", "real"
	notNull bool
	primary bool
}

// TestSchemasMatch migrates a fresh SQLite database and a fresh
// PostgreSQL schema and compares them table by table, column by column:
// the migrations are written once but rendered per dialect, with sections
// for one dialect only (migrations/README.md), and a column added to one
// only would otherwise be found by a user of the other.
func TestSchemasMatch(t *testing.T) {
	ctx := context.Background()
	lite, _ := openSQLiteDB(t)
	pg, err := Open(ctx, testkit.PostgresDSN(t))
	if err != nil {
		t.Fatalf("Open PostgreSQL: %v", err)
	}
	t.Cleanup(func() { pg.Close() })

	liteSchema := sqliteSchema(t, lite)
	pgSchema := postgresSchema(t, pg)
	if len(liteSchema) < 10 {
		t.Fatalf("SQLite schema has %d tables; did the migrations run?", len(liteSchema))
	}
	for _, table := range union(liteSchema, pgSchema) {
		l, inLite := liteSchema[table]
		p, inPG := pgSchema[table]
		switch {
		case !inLite:
			t.Errorf("table %s exists on PostgreSQL only", table)
			continue
		case !inPG:
			t.Errorf("table %s exists on SQLite only", table)
			continue
		}
		for _, col := range union(l, p) {
			lc, inL := l[col]
			pc, inP := p[col]
			switch {
			case !inL:
				t.Errorf("%s.%s exists on PostgreSQL only", table, col)
			case !inP:
				t.Errorf("%s.%s exists on SQLite only", table, col)
			case lc != pc:
				t.Errorf("%s.%s: SQLite %+v, PostgreSQL %+v", table, col, lc, pc)
			}
		}
	}
}

func union[V any](a, b map[string]V) []string {
	var keys []string
	for k := range a {
		keys = append(keys, k)
	}
	for k := range b {
		if _, ok := a[k]; !ok {
			keys = append(keys, k)
		}
	}
	slices.Sort(keys)
	return keys
}

func sqliteSchema(t *testing.T, d *DB) map[string]map[string]column {
	t.Helper()
	ctx := context.Background()
	rows, err := d.SQL().QueryContext(ctx, `SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'`)
	if err != nil {
		t.Fatal(err)
	}
	var tables []string
	for rows.Next() {
		var name string
		if err := rows.Scan(&name); err != nil {
			t.Fatal(err)
		}
		tables = append(tables, name)
	}
	rows.Close()
	schema := map[string]map[string]column{}
	for _, table := range tables {
		cols := map[string]column{}
		rows, err := d.SQL().QueryContext(ctx, `SELECT name, type, "notnull", pk FROM pragma_table_info(?)`, table)
		if err != nil {
			t.Fatal(err)
		}
		for rows.Next() {
			var name, typ string
			var notNull, pk int
			if err := rows.Scan(&name, &typ, &notNull, &pk); err != nil {
				t.Fatal(err)
			}
			cols[name] = column{kind: kindOf(t, table, name, typ), notNull: notNull == 1 || pk > 0, primary: pk > 0}
		}
		rows.Close()
		schema[table] = cols
	}
	return schema
}

func postgresSchema(t *testing.T, d *DB) map[string]map[string]column {
	t.Helper()
	ctx := context.Background()
	rows, err := d.SQL().QueryContext(ctx, `
		SELECT c.table_name, c.column_name, c.data_type, c.is_nullable = 'NO',
		       EXISTS (SELECT 1 FROM information_schema.table_constraints tc
		               JOIN information_schema.key_column_usage k
		                 ON k.constraint_name = tc.constraint_name AND k.table_schema = tc.table_schema
		               WHERE tc.constraint_type = 'PRIMARY KEY' AND tc.table_schema = c.table_schema
		                 AND tc.table_name = c.table_name AND k.column_name = c.column_name)
		FROM information_schema.columns c
		JOIN information_schema.tables tb ON tb.table_schema = c.table_schema AND tb.table_name = c.table_name
		WHERE c.table_schema = current_schema() AND tb.table_type = 'BASE TABLE'`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	schema := map[string]map[string]column{}
	for rows.Next() {
		var table, name, typ string
		var notNull, pk bool
		if err := rows.Scan(&table, &name, &typ, &notNull, &pk); err != nil {
			t.Fatal(err)
		}
		if schema[table] == nil {
			schema[table] = map[string]column{}
		}
		schema[table][name] = column{kind: kindOf(t, table, name, typ), notNull: notNull, primary: pk}
	}
	return schema
}

// kindOf maps a declared type of either dialect to the kind of value the
// code stores in it.
func kindOf(t *testing.T, table, col, typ string) string {
	switch strings.ToLower(typ) {
	case "integer", "int", "bigint", "smallint", "boolean":
		// Booleans are integers 0/1 on SQLite; the Go code scans both
		// the same way.
		return "integer"
	case "text", "character varying", "varchar":
		return "text"
	case "blob", "bytea":
		return "bytes"
	case "real", "double precision", "numeric":
		return "real"
	}
	t.Errorf("%s.%s: unknown type %q", table, col, typ)
	return fmt.Sprintf("unknown(%s)", typ)
}
