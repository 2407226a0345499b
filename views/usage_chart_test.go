package views

import (
	"strconv"
	"testing"
	"time"
)

func TestAxisMax(t *testing.T) {
	for _, tt := range []struct{ peak, want int64 }{
		{0, 2}, {1, 2}, {2, 2}, {3, 4}, {12, 20}, {34, 40}, {100, 100}, {101, 200}, {8662, 10_000}, {541, 600}, {1_200_000, 2_000_000},
	} {
		if got := axisMax(tt.peak); got != tt.want {
			t.Errorf("axisMax(%d) = %d, want %d", tt.peak, got, tt.want)
		}
	}
}

func TestShort(t *testing.T) {
	for n, want := range map[int64]string{0: "0", 800: "800", 1000: "1k", 5000: "5k", 2500: "2.5k", 10_000: "10k", 2_000_000: "2M", 2_500_000: "2.5M"} {
		if got := Short(n); got != want {
			t.Errorf("Short(%d) = %q, want %q", n, got, want)
		}
	}
}

// TestRefusedVisibleAtSmallRatios: 541 refused calls beside 110,000
// accepted ones (the numbers) still draw bars one can see: the
// refused row has its own scale, and a day with a single refused call
// has a bar of at least minBarHeight.
func TestRefusedVisibleAtSmallRatios(t *testing.T) {
	now := time.Date(2026, 12, 7, 15, 0, 0, 0, time.UTC)
	hours := map[time.Time]Calls{}
	first := UsageSince(now)
	for i := range UsageDays {
		c := Calls{Accepted: 3666}
		switch i {
		case 10:
			c.Address = 300
		case 20:
			c.Scope = 240
		case 25:
			c.Scope = 1
		}
		hours[first.AddDate(0, 0, i)] = c
	}
	u := NewUsage(now, hours, nil)
	if u.Total.Accepted != 109_980 || u.Total.Refused() != 541 {
		t.Fatalf("totals %+v", u.Total)
	}
	bars := u.bars()
	h := func(s string) float64 {
		f, err := strconv.ParseFloat(s, 64)
		if err != nil {
			t.Fatal(err)
		}
		return f
	}
	if got := h(bars[10].RefusedH); got < refusedRow/2 {
		t.Errorf("the day of 300 refused calls: bar %v of %d", got, refusedRow)
	}
	if got := h(bars[25].RefusedH); got < minRefused {
		t.Errorf("the day of 1 refused call: bar %v, want at least %v", got, minRefused)
	}
	if got := h(bars[0].RefusedH); got != 0 {
		t.Errorf("a day without refused calls: bar %v, want none", got)
	}
	top, rtop := u.scales()
	if top != 4000 || rtop != 400 {
		t.Errorf("scales %d and %d, want 4000 and 400", top, rtop)
	}
	if got, want := u.busiestText(), "Busiest day: 3,666 accepted calls, on Dec 7. Most refused: 300 calls, on Nov 18."; got != want {
		t.Errorf("busiestText = %q, want %q", got, want)
	}
}
