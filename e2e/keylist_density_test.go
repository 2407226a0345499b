package e2e

import (
	"context"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/playwright-community/playwright-go"

	"github.com/blnk-cloud/apikeys/internal/apikey"
	"github.com/blnk-cloud/apikeys/internal/audit"
	"github.com/blnk-cloud/apikeys/internal/blnk"
)

// manyKeys stores 200 realistic keys (long names, emoji, active,
// expiring, expired, revoked) and rolls 6 of them, so that every status
// and the rolled rows' notes are on the first page.
func manyKeys(t *testing.T, a *app) (ids []string) {
	t.Helper()
	keys := realisticKeys(200)
	for i := range keys {
		if i%11 == 5 {
			keys[i].expires = time.Now().Add(-time.Duration(i) * time.Hour) // expired
		}
	}
	_, ids = storeKeys(t, a, keys)
	store, login := openAsAdmin(t, a)
	defer store.Close()
	ctx := context.Background()
	for _, i := range []int{199, 194, 188, 180, 176, 170} {
		if keys[i].revoked || !keys[i].expires.IsZero() && keys[i].expires.Before(time.Now()) {
			continue
		}
		now := time.Now()
		_, err := store.RollKey(ctx, blnk.Roll{
			WorkspaceID: login.Workspace.ID, ID: ids[i], Now: now, Overlap: apikey.Overlap24h, FormToken: apikey.NewID(),
			Actor: audit.Actor{UserID: login.User.ID, Kind: audit.User}, Revealed: true,
			Successor: func(old apikey.Key) (blnk.NewKey, error) {
				token, err := apikey.Generate()
				if err != nil {
					return blnk.NewKey{}, err
				}
				prefix, _ := apikey.Parse(token)
				return blnk.NewKey{
					Key: apikey.Key{ID: apikey.NewID(), WorkspaceID: old.WorkspaceID, Name: old.Name, Prefix: prefix,
						Scopes: old.Scopes, CreatedAt: now},
					Hash: apikey.HashOf(token), CreatedBy: login.User.ID,
				}, nil
			},
		})
		must(t, err)
	}
	return ids
}

// densityFacts measures the list as a reader sees it: the rows wholly in
// the viewport, the tallest rolled row and the tallest other row, the
// page's height and whether it scrolls sideways.
const densityFacts = `() => {
	const de = document.documentElement;
	const rows = Array.from(document.querySelectorAll("#keys-results tbody tr"));
	const h = window.innerHeight;
	let visible = 0, rolled = 0, other = 0;
	for (const r of rows) {
		const b = r.getBoundingClientRect();
		if (b.top >= 0 && b.bottom <= h) visible++;
		if (r.querySelector(".roll-note")) rolled = Math.max(rolled, b.height);
		else other = Math.max(other, b.height);
	}
	// A table wider than its card spills out of it (the card does not
	// clip it, so that a row's menu shows whole).
	const table = document.querySelector("#keys-results table"), card = document.querySelector(".list-card");
	const spill = table && card ? table.getBoundingClientRect().right - card.getBoundingClientRect().right : 0;
	const wide = Array.from(document.querySelectorAll("body *")).filter(e => e.getBoundingClientRect().right > de.clientWidth + 1).slice(0, 5).map(e => e.tagName + "." + e.className).join(" ");
	return {wide, spill, rows: rows.length, visible, rolled, other, pageHeight: de.scrollHeight,
		sideways: de.scrollWidth > de.clientWidth, banner: !!document.getElementById("expiring-banner")};
}`

// TestKeyListDensity: with 200 realistic keys, at least 10 rows are in
// view at 1440x900 with the expiring banner shown; a rolled row is no
// taller than the others; a phone shows 50 keys as compact cards; no
// width scrolls sideways.
func TestKeyListDensity(t *testing.T) {
	t.Parallel()
	a := startApp(t)
	a.createAdmin(t, "Northwind Logistics International", "ada@acme.test", "correct horse battery")
	manyKeys(t, a)

	facts := func(t *testing.T, o pageOptions, height int) map[string]any {
		t.Helper()
		page := newPage(t, a, o)
		must(t, page.SetViewportSize(o.width, height))
		signIn(t, page, "ada@acme.test", "correct horse battery")
		must(t, expect.Locator(page.Locator("#keys-results tbody tr")).ToHaveCount(50))
		v, err := page.Evaluate(densityFacts)
		must(t, err)
		f := v.(map[string]any)
		t.Logf("%dx%d: %v", o.width, height, f)
		if _, err := page.Screenshot(playwright.PageScreenshotOptions{
			Path:       playwright.String(filepath.Join(artifacts, fmt.Sprintf("density-%d-%v.png", o.width, o.dark))),
			Animations: playwright.ScreenshotAnimationsDisabled,
		}); err != nil {
			t.Errorf("screenshot: %v", err)
		}
		if f["sideways"] == true {
			t.Errorf("%d px: the page scrolls sideways", o.width)
		}
		if toFloat(f["spill"]) > 0.5 {
			t.Errorf("%d px: the table spills %v px out of its card", o.width, f["spill"])
		}
		return f
	}

	t.Run("desktop", func(t *testing.T) {
		f := facts(t, pageOptions{width: 1440}, 900)
		if f["banner"] != true {
			t.Fatal("no expiring banner: the seed should have keys expiring soon")
		}
		// Before the dense list: 5 rows, then 7. Issue 20's goal: 10.
		if n := toFloat(f["visible"]); n < 10 {
			t.Errorf("rows wholly visible at 1440x900: %v, want at least 10", n)
		}
		if toFloat(f["rolled"]) == 0 {
			t.Fatal("no rolled row on the first page")
		}
		// Before: 155 px against 87. The goal is no taller; the roll's
		// note on the name's line adds one short line at most.
		if toFloat(f["rolled"]) > 1.3*toFloat(f["other"]) {
			t.Errorf("rolled row %v px tall, others up to %v px", f["rolled"], f["other"])
		}
	})
	t.Run("phone", func(t *testing.T) {
		f := facts(t, pageOptions{width: 390, mobile: true}, 844)
		// Before: 8,216 px, then 7,984. Cards of two or three short
		// lines make 5,020 (issue 20: about 5,000).
		if h := toFloat(f["pageHeight"]); h > 5300 {
			t.Errorf("phone page of 50 keys: %v px tall, want at most 5,300", h)
		}
	})
	for _, w := range []int{390, 1024, 1280, 1440, 1920} {
		for _, dark := range []bool{false, true} {
			t.Run(fmt.Sprintf("width-%d-dark-%v", w, dark), func(t *testing.T) {
				facts(t, pageOptions{width: w, mobile: w < 500, dark: dark}, 900)
			})
		}
	}
}
