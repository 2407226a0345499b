package views

import (
	"bytes"
	"context"
	"strings"
	"testing"
	"time"

	"github.com/PuerkitoBio/goquery"

	"github.com/blnk-cloud/apikeys/internal/blnk"
)

func TestDevice(t *testing.T) {
	for _, tt := range []struct{ ua, want string }{
		{"Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/142.0.0.0 Safari/537.36", "Chrome on Windows"},
		{"Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/142.0.0.0 Safari/537.36 Edg/142.0.0.0", "Edge on Windows"},
		{"Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.5 Safari/605.1.15", "Safari on macOS"},
		{"Mozilla/5.0 (Macintosh; Intel Mac OS X 14.5; rv:140.0) Gecko/20100101 Firefox/140.0", "Firefox on macOS"},
		{"Mozilla/5.0 (X11; Linux x86_64; rv:140.0) Gecko/20100101 Firefox/140.0", "Firefox on Linux"},
		{"Mozilla/5.0 (iPhone; CPU iPhone OS 18_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.5 Mobile/15E148 Safari/604.1", "Safari on iPhone"},
		{"Mozilla/5.0 (iPhone; CPU iPhone OS 18_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) CriOS/142.0 Mobile/15E148 Safari/604.1", "Chrome on iPhone"},
		{"Mozilla/5.0 (Linux; Android 15; Pixel 9) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/142.0.0.0 Mobile Safari/537.36", "Chrome on Android"},
		{"Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) HeadlessChrome/142.0.0.0 Safari/537.36", "Chrome on Linux"},
		{"Mozilla/5.0 (X11; CrOS x86_64 14541.0.0) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/142.0.0.0 Safari/537.36", "Chrome on ChromeOS"},
		{"Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/142.0.0.0 Safari/537.36 OPR/120.0.0.0", "Opera on Windows"},
		{"curl/8.5.0", "curl"},
		{"", "Unknown browser"},
		{"something (Linux)", "A browser on Linux"},
	} {
		if got := Device(tt.ua); got != tt.want {
			t.Errorf("Device(%q) = %q, want %q", tt.ua, got, tt.want)
		}
	}
}

// TestSessionsSignedInDate: the Signed in column says the day, as the
// other tables do ("Dec 7, 2026"), the exact time on hover and in
// <time datetime>: the whole time squeezed the Device column at 1024 px.
func TestSessionsSignedInDate(t *testing.T) {
	at := time.Date(2026, 12, 7, 20, 44, 29, 0, time.UTC)
	s := Sessions{Now: at.Add(3 * time.Hour), Back: SessionsPath, Sessions: []blnk.SessionInfo{
		{ID: "a", UserAgent: "curl/8.5.0", IP: "203.0.113.9", Workspace: "Acme", CreatedAt: at, LastSeenAt: at.Add(time.Hour)},
		{ID: "b", UserAgent: "curl/8.5.0", Workspace: "Acme", CreatedAt: at, LastSeenAt: at, Current: true},
	}}
	var b bytes.Buffer
	if err := SessionsSection(s).Render(context.Background(), &b); err != nil {
		t.Fatal(err)
	}
	d, err := goquery.NewDocumentFromReader(&b)
	if err != nil {
		t.Fatal(err)
	}
	cells := d.Find(`table.sessions td[data-label="Signed in"]`)
	if cells.Length() != 2 {
		t.Fatalf("%d Signed in cells, want 2", cells.Length())
	}
	cells.Each(func(i int, td *goquery.Selection) {
		tm := td.Find("time")
		if got := strings.TrimSpace(td.Text()); got != "Dec 7, 2026" {
			t.Errorf("row %d: Signed in says %q, want %q", i, got, "Dec 7, 2026")
		}
		if got, _ := tm.Attr("datetime"); got != "2026-12-07T20:44:29Z" {
			t.Errorf("row %d: datetime %q", i, got)
		}
		if got, _ := tm.Attr("title"); got != "Dec 7, 2026 20:44:29 UTC" {
			t.Errorf("row %d: title %q, want the exact time", i, got)
		}
	})
}
