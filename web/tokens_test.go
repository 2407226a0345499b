package web_test

import (
	"net/http"
	"strings"
	"testing"

	"github.com/blnk-cloud/apikeys/internal/testkit/htmlcheck"
)

// TestTokenRevokeConfirm: GET /settings/tokens/{id}/revoke names the
// token and asks before revoking it, as a page and, to htmx, as a dialog
// (the row's Revoke opens it); it revokes nothing. Someone else's token
// is 404; a revoked one says there is nothing to revoke.
func TestTokenRevokeConfirm(t *testing.T) {
	tm := newTeamServer(t)
	owner := tm.clients[roleOwner]
	owner.createToken("Deploy pipeline", "keys:read")
	id := tm.tokenID(t, tm.emails[roleOwner])
	path := "/settings/tokens/" + id + "/revoke"

	list := htmlcheck.Parse(t, owner.get("/settings/tokens").Body)
	if got, _ := list.Attr(`#token-`+id+` a[hx-get="`+path+`"][hx-target="#modal-root"]`, "href"); got != path {
		t.Errorf("the row's Revoke: href %q, want %q opening the dialog", got, path)
	}

	page := owner.get(path)
	if page.Code != http.StatusOK {
		t.Fatalf("GET %s: %d", path, page.Code)
	}
	doc := htmlcheck.Parse(t, page.Body)
	if got, want := doc.Text("h1#token-revoke-title"), "Revoke the token “Deploy pipeline”?"; got != want {
		t.Errorf("the page's heading: got %q, want %q", got, want)
	}
	if got, _ := doc.Attr(`form[method="post"]`+`[action="`+path+`"] button[type="submit"]`, "class"); !strings.Contains(got, "button-danger") {
		t.Errorf("no Revoke token button posting to %s", path)
	}
	if doc.Has("dialog") {
		t.Error("the page is a dialog")
	}

	frag := owner.get(path, htmx())
	dlg := htmlcheck.Parse(t, frag.Body)
	if got, _ := dlg.Attr(`dialog[data-modal][role="alertdialog"]`, "aria-labelledby"); got != "token-revoke-title" {
		t.Errorf("htmx: no alertdialog labelled by its heading (%q)\n%s", got, frag.Body)
	}
	if !dlg.Has(`dialog a[data-close][href="/settings/tokens"]`) || dlg.Has("header") {
		t.Errorf("htmx: the dialog's Cancel, and no page around it:\n%s", frag.Body)
	}
	var revoked int
	if err := tm.raw.QueryRow(`SELECT count(*) FROM management_tokens WHERE revoked_at IS NOT NULL`).Scan(&revoked); err != nil || revoked != 0 {
		t.Fatalf("showing the confirmation revoked %d tokens (%v)", revoked, err)
	}

	if r := tm.clients[roleAdmin].get(path); r.Code != http.StatusNotFound {
		t.Errorf("a colleague's token: %d, want 404", r.Code)
	}
	if r := owner.post(path, nil); r.Code != http.StatusSeeOther {
		t.Fatalf("revoke: %d", r.Code)
	}
	again := htmlcheck.Parse(t, owner.get(path).Body)
	if got := again.Text("h1#token-revoke-title"); got != "“Deploy pipeline” no longer works" || again.Has(".confirm-card form") {
		t.Errorf("a revoked token's confirmation: %q", got)
	}
}
