package htmlcheck_test

import (
	"testing"

	"github.com/blnk-cloud/apikeys/internal/testkit/htmlcheck"
)

func TestFragmentKeepsTableRows(t *testing.T) {
	d := htmlcheck.Parse(t, `<tr id="key-row-a" hx-swap-oob="true"><td data-label="Status"><span class="badge">Revoked</span></td></tr><div id="toast">Done</div>`)
	if got, want := d.Text(`#key-row-a td[data-label="Status"]`), "Revoked"; got != want {
		t.Errorf("status: got %q, want %q", got, want)
	}
	if v, ok := d.Attr("#key-row-a", "hx-swap-oob"); !ok || v != "true" {
		t.Errorf("hx-swap-oob: got %q %v, want true", v, ok)
	}
	if got, want := d.Text("#toast"), "Done"; got != want {
		t.Errorf("toast: got %q, want %q", got, want)
	}
}

func TestPageAndText(t *testing.T) {
	d := htmlcheck.Parse(t, "<!DOCTYPE html><html><body class=app><p>Last <b>used</b>\n  just   now</p><script>x</script></body></html>")
	if got, want := d.Text("body"), "Last used just now"; got != want {
		t.Errorf("text: got %q, want %q", got, want)
	}
	if d.Count("body.app") != 1 {
		t.Errorf("body.app: got %d, want 1", d.Count("body.app"))
	}
	if got := d.Text(htmlcheck.ID(`a"b`)); got != "" {
		t.Errorf("missing id: got %q", got)
	}
}
