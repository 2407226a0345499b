package db

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/blnk-cloud/apikeys/internal/apikey"
	"github.com/blnk-cloud/apikeys/internal/blnk"
)

// The keys list at scale (web/README.md, "The keys list"): a page of a
// workspace's keys, searched, filtered by status and scope, sorted, and
// paged with keyset cursors, so that page 200 costs what page 1 does.

// sortExprs are the SQL expressions of the sort columns. The key's id
// breaks ties, so that the order is total and a cursor is exact.
var sortExprs = map[blnk.ListSort]string{
	blnk.SortCreated:  "k.created_at",
	blnk.SortName:     "lower(k.name)",
	blnk.SortExpires:  "COALESCE(k.expires_at, 9223372036854775807)",
	blnk.SortLastUsed: "COALESCE(u.at, 0)",
}

// statusCond is the SQL condition of a status filter at now, with its
// arguments added to a. It mirrors apikey.Key.Status.
func statusCond(s blnk.ListStatus, now time.Time, a *args) string {
	live := func() string {
		return "k.revoked_at IS NULL AND (k.expires_at IS NULL OR k.expires_at > " + a.add(ms(now)) + ")"
	}
	switch s {
	case blnk.ListActive:
		return live() + " AND k.rolled_into IS NULL"
	case blnk.ListExpiring:
		return live() + " AND k.rolled_into IS NULL AND k.expires_at <= " + a.add(ms(now.Add(blnk.ExpiringWithin)))
	case blnk.ListRolled:
		return live() + " AND k.rolled_into IS NOT NULL"
	case blnk.ListExpired:
		return "k.revoked_at IS NULL AND k.expires_at <= " + a.add(ms(now))
	case blnk.ListRevoked:
		return "k.revoked_at IS NOT NULL"
	}
	return "TRUE"
}

// args collects a query's arguments and names their placeholders.
type args []any

func (a *args) add(v any) string {
	*a = append(*a, v)
	return dollar(len(*a))
}

// searchWhere is the condition of a query's workspace, search, scope and
// owner.
func (d *DB) searchWhere(workspaceID int64, q blnk.ListQuery, a *args) string {
	// contains(haystack, needle): a plain substring test, which both
	// databases run faster than LIKE and which needs no escaping.
	contains := "instr"
	if d.kind == Postgres {
		contains = "strpos"
	}
	var w strings.Builder
	w.WriteString("k.workspace_id = " + a.add(workspaceID))
	if q.Among != nil {
		if len(q.Among) == 0 {
			w.WriteString(" AND FALSE")
		} else {
			marks := make([]string, len(q.Among))
			for i, id := range q.Among {
				marks[i] = a.add(id)
			}
			w.WriteString(" AND k.id IN (" + strings.Join(marks, ", ") + ")")
		}
	}
	if q.Search != "" {
		// Folded as the database's lower() folds the names.
		lower := d.Lower(q.Search)
		p := a.add(lower)
		fmt.Fprintf(&w, ` AND (%s(lower(k.name), %s) > 0 OR k.id = %s`, contains, p, a.add(q.Search))
		if blnk.PrefixSearch(lower) {
			fmt.Fprintf(&w, ` OR %s(k.prefix, %s) > 0`, contains, p)
		}
		w.WriteString(")")
	}
	if q.CreatedBy != 0 {
		// By the index api_keys_creator (workspace_id, created_by).
		w.WriteString(" AND k.created_by = " + a.add(q.CreatedBy))
	}
	if q.Scope != "" {
		// Stored scopes are names joined by single spaces.
		var or []string
		for _, info := range apikey.Scopes() {
			if set, err := apikey.ParseScopes([]string{string(info.Scope)}); err == nil && set.Allows(q.Scope) {
				or = append(or, fmt.Sprintf("%s(' ' || k.scopes || ' ', %s) > 0", contains, a.add(" "+string(info.Scope)+" ")))
			}
		}
		if len(or) == 0 {
			or = []string{"FALSE"}
		}
		w.WriteString(" AND (" + strings.Join(or, " OR ") + ")")
	}
	if q.NonCompliant {
		w.WriteString(" AND " + d.nonCompliant(q.Policy, q.Now, a))
	}
	return w.String()
}

// ListKeys returns a page of a workspace's keys.
func (d *DB) ListKeys(ctx context.Context, workspaceID int64, q blnk.ListQuery) (blnk.KeyPage, error) {
	expr, ok := sortExprs[q.Sort]
	if !ok {
		return blnk.KeyPage{}, fmt.Errorf("db: unknown sort %q", q.Sort)
	}
	if q.Limit < 1 {
		return blnk.KeyPage{}, fmt.Errorf("db: list limit %d", q.Limit)
	}
	if !q.After.IsZero() && (q.After.Sort != q.Sort || q.After.Desc != q.Desc) {
		return blnk.KeyPage{}, blnk.ErrBadCursor
	}
	var a args
	where := d.searchWhere(workspaceID, q, &a)
	if q.Status != blnk.AnyStatus {
		where += " AND " + statusCond(q.Status, q.Now, &a)
	}
	// A backward page reads the rows before the cursor in reverse order,
	// then turns them around.
	desc := q.Desc != q.After.Backward
	order, cmp := "ASC", ">"
	if desc {
		order, cmp = "DESC", "<"
	}
	base, baseArgs := where, append(args(nil), a...)
	if !q.After.IsZero() {
		where += " AND " + cursorCond(expr, cmp, q.After, &a)
	}
	// Two steps: the ids of the page, sorted by a narrow query (only the
	// last use is joined, and only to sort by it), then their rows with
	// everything the list shows. Sorting the full rows (five joins each)
	// of a large workspace would cost ten times more.
	join := ""
	if q.Sort == blnk.SortLastUsed {
		join = " LEFT JOIN api_key_usage u ON u.key_id = k.id"
	}
	query := fmt.Sprintf(`SELECT k.id FROM api_keys k%s WHERE %s ORDER BY %s %s, k.id %s LIMIT %d`,
		join, where, expr, order, order, q.Limit+1)
	ids, err := d.strings(ctx, query, a...)
	if err != nil {
		return blnk.KeyPage{}, err
	}
	var page blnk.KeyPage
	if len(ids) > 0 {
		var b args
		marks := make([]string, len(ids))
		for i, id := range ids {
			marks[i] = b.add(id)
		}
		// By primary key only: with the workspace in the condition too,
		// SQLite walked the workspace's index instead (10 times slower);
		// the workspace is checked below instead.
		rows, err := d.sql.QueryContext(ctx, `SELECT `+keyColumns+` WHERE k.id IN (`+strings.Join(marks, ", ")+`)`, b...)
		if err != nil {
			return blnk.KeyPage{}, err
		}
		byID := make(map[string]apikey.Key, len(ids))
		for rows.Next() {
			k, err := scanKey(rows)
			if err != nil {
				rows.Close()
				return blnk.KeyPage{}, err
			}
			if k.WorkspaceID == workspaceID {
				byID[k.ID] = k
			}
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return blnk.KeyPage{}, err
		}
		for _, id := range ids {
			if k, ok := byID[id]; ok {
				page.Keys = append(page.Keys, k)
			}
		}
	}
	more := len(page.Keys) > q.Limit
	if more {
		page.Keys = page.Keys[:q.Limit]
	}
	if q.After.Backward {
		for i, j := 0, len(page.Keys)-1; i < j; i, j = i+1, j-1 {
			page.Keys[i], page.Keys[j] = page.Keys[j], page.Keys[i]
		}
	}
	if len(page.Keys) == 0 {
		return page, nil
	}
	first, last := page.Keys[0], page.Keys[len(page.Keys)-1]
	// Forward: there is a next page if more rows came, a previous one if
	// this page started after a cursor. Backward: the other way around.
	hasNext, hasPrev := more, !q.After.IsZero()
	if q.After.Backward {
		hasNext, hasPrev = true, more
	}
	if hasNext {
		page.Next = cursorAt(q, last, false)
	}
	if hasPrev {
		page.Prev = cursorAt(q, first, true)
		// Where the page is ("51–100 of 1,234"): the keys before its
		// first, counted by the index the page was read by.
		before := "<"
		if q.Desc {
			before = ">"
		}
		cond := base + " AND " + cursorCond(expr, before, cursorAt(q, first, false), &baseArgs)
		var n int
		if err := d.sql.QueryRowContext(ctx, fmt.Sprintf(`SELECT COUNT(*) FROM api_keys k%s WHERE %s`, join, cond), baseArgs...).Scan(&n); err != nil {
			return blnk.KeyPage{}, err
		}
		page.Offset = n
	}
	return page, nil
}

// cursorCond is the condition of the rows after cursor c in the order of
// the sort expression expr (cmp ">" or "<"), its arguments added to a.
func cursorCond(expr, cmp string, c blnk.Cursor, a *args) string {
	// Typed: PostgreSQL cannot infer parameters inside a row.
	var value string
	if c.Sort == blnk.SortName {
		value = "lower(CAST(" + a.add(c.Value) + " AS TEXT))"
	} else {
		n, _ := strconv.ParseInt(c.Value, 10, 64)
		value = "CAST(" + a.add(n) + " AS BIGINT)"
	}
	return fmt.Sprintf("(%s, k.id) %s (%s, CAST(%s AS TEXT))", expr, cmp, value, a.add(c.ID))
}

// cursorAt is the cursor of the page after (or before) key k.
func cursorAt(q blnk.ListQuery, k apikey.Key, backward bool) blnk.Cursor {
	c := blnk.Cursor{Sort: q.Sort, Desc: q.Desc, Backward: backward, ID: k.ID}
	switch q.Sort {
	case blnk.SortCreated:
		c.Value = strconv.FormatInt(ms(k.CreatedAt), 10)
	case blnk.SortName:
		c.Value = k.Name
	case blnk.SortExpires:
		v := int64(9223372036854775807)
		if !k.ExpiresAt.IsZero() {
			v = ms(k.ExpiresAt)
		}
		c.Value = strconv.FormatInt(v, 10)
	case blnk.SortLastUsed:
		var v int64 // never used
		if !k.LastUsedAt.IsZero() {
			v = ms(k.LastUsedAt)
		}
		c.Value = strconv.FormatInt(v, 10)
	}
	return c
}

// CountKeys counts in SQL the keys a search finds (q's Search, Scope and
// CreatedBy; its status, sort and cursor are ignored) in each status at
// q.Now.
func (d *DB) CountKeys(ctx context.Context, workspaceID int64, q blnk.ListQuery) (blnk.StatusCounts, error) {
	var a args
	where := d.searchWhere(workspaceID, q, &a)
	// One CASE a row puts each key in exactly one bucket, in the order of
	// apikey.Key.Status; Active is the last two.
	query := `SELECT CASE
		WHEN k.revoked_at IS NOT NULL THEN 0
		WHEN k.expires_at <= ` + a.add(ms(q.Now)) + ` THEN 1
		WHEN k.rolled_into IS NOT NULL THEN 2
		WHEN k.expires_at <= ` + a.add(ms(q.Now.Add(blnk.ExpiringWithin))) + ` THEN 3
		ELSE 4 END AS bucket, COUNT(*),
		SUM(CASE WHEN ` + d.nonCompliant(q.Policy, q.Now, &a) + ` THEN 1 ELSE 0 END)
		FROM api_keys k WHERE ` + where + ` GROUP BY bucket`
	rows, err := d.sql.QueryContext(ctx, query, a...)
	if err != nil {
		return blnk.StatusCounts{}, err
	}
	defer rows.Close()
	var n [5]int
	var nc int
	for rows.Next() {
		var bucket, count, breaking int
		if err := rows.Scan(&bucket, &count, &breaking); err != nil {
			return blnk.StatusCounts{}, err
		}
		if bucket >= 0 && bucket < len(n) {
			n[bucket] = count
		}
		nc += breaking
	}
	c := CountsOf(n)
	c.NonCompliant = nc
	return c, rows.Err()
}

// strings runs a query of one text column and returns its values.
func (d *DB) strings(ctx context.Context, query string, args ...any) ([]string, error) {
	return collect(ctx, d.sql, func(row scanner) (s string, err error) {
		return s, row.Scan(&s)
	}, query, args...)
}

// ListEntries returns the list entries of a workspace's keys.
func (d *DB) ListEntries(ctx context.Context, workspaceID int64) ([]blnk.ListEntry, error) {
	return collect(ctx, d.sql, func(row scanner) (blnk.ListEntry, error) {
		var e blnk.ListEntry
		var scopes string
		err := row.Scan(&e.ID, &e.Name, &e.Prefix, &scopes, &e.ExpiresAt, &e.Revoked, &e.Rolled, &e.Allowlisted, &e.CreatedBy)
		if err != nil {
			return e, err
		}
		if e.Scopes, err = apikey.ParseScopeList(scopes); err != nil {
			return e, fmt.Errorf("key %s: stored scopes %q: %v", e.ID, scopes, err)
		}
		return e, nil
	}, `SELECT id, name, prefix, scopes, COALESCE(expires_at, 0),
		revoked_at IS NOT NULL, rolled_into IS NOT NULL, allowlist <> '', COALESCE(created_by, 0)
		FROM api_keys WHERE workspace_id = $1`, workspaceID)
}

// Lower is the case folding of the database's lower(), which the list's
// search uses: SQLite folds ASCII letters only, PostgreSQL every letter.
func (d *DB) Lower(s string) string {
	if d.kind == Postgres {
		return strings.ToLower(s)
	}
	b := []byte(s)
	for i, c := range b {
		if c >= 'A' && c <= 'Z' {
			b[i] = c + 'a' - 'A'
		}
	}
	return string(b)
}

// InStatus reports whether a key of bucket b (see Bucket) is found by the
// status filter s.
func InStatus(b int, s blnk.ListStatus) bool {
	switch s {
	case blnk.ListRevoked:
		return b == 0
	case blnk.ListExpired:
		return b == 1
	case blnk.ListRolled:
		return b == 2
	case blnk.ListExpiring:
		return b == 3
	case blnk.ListActive:
		return b == 3 || b == 4
	}
	return true
}

// CountsOf adds buckets up into counts per status.
func CountsOf(n [5]int) blnk.StatusCounts {
	return blnk.StatusCounts{Revoked: n[0], Expired: n[1], Rolled: n[2], Expiring: n[3], Active: n[3] + n[4],
		All: n[0] + n[1] + n[2] + n[3] + n[4]}
}
