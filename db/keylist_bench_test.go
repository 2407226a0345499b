package db

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/blnk-cloud/apikeys/internal/apikey"
	"github.com/blnk-cloud/apikeys/internal/blnk"
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
		q    blnk.ListQuery
	}{
		{"first", blnk.ListQuery{Sort: blnk.SortCreated, Desc: true}},
		{"search+status+scope", blnk.ListQuery{Sort: blnk.SortCreated, Desc: true, Search: "billing", Status: blnk.ListActive, Scope: apikey.MCPRead}},
		{"expiring", blnk.ListQuery{Sort: blnk.SortExpires, Status: blnk.ListExpiring}},
		{"name", blnk.ListQuery{Sort: blnk.SortName}},
		{"last_used", blnk.ListQuery{Sort: blnk.SortLastUsed, Desc: true}},
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
