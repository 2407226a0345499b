package db

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/blnk-cloud/apikeys/internal/apikey"
)

// BenchmarkListKeys measures the keys list's queries on a workspace of
// 10,000 keys: the first page, a filtered page and the counts.
func BenchmarkListKeys(b *testing.B) {
	d, _ := openTestDB(b)
	w, u := newWorkspace(b, d, "Acme", "admin@acme.io")
	ctx := context.Background()
	for i := range 10_000 {
		nk, _ := newKey(b, w.ID, u.ID, fmt.Sprintf("%s %05d", []string{"Production API Key", "billing worker", "Staging (2025)"}[i%3], i), testNow.Add(-time.Duration(i)*time.Minute))
		if i%10 == 1 {
			nk.Key.ExpiresAt = testNow.Add(time.Duration(1+i%6) * 24 * time.Hour)
		}
		if _, _, err := d.CreateKey(ctx, nk); err != nil {
			b.Fatal(err)
		}
	}
	for _, c := range []struct {
		name string
		q    ListQuery
	}{
		{"first", ListQuery{Sort: SortCreated, Desc: true}},
		{"search+status+scope", ListQuery{Sort: SortCreated, Desc: true, Search: "billing", Status: ListActive, Scope: apikey.MCPRead}},
		{"expiring", ListQuery{Sort: SortExpires, Status: ListExpiring}},
		{"name", ListQuery{Sort: SortName}},
		{"last_used", ListQuery{Sort: SortLastUsed, Desc: true}},
	} {
		c.q.Limit, c.q.Now = 50, testNow
		b.Run("list/"+c.name, func(b *testing.B) {
			for b.Loop() {
				if _, err := d.ListKeys(ctx, w.ID, c.q); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run("count/"+c.name, func(b *testing.B) {
			for b.Loop() {
				if _, err := d.CountKeys(ctx, w.ID, c.q); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
