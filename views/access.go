package views

import (
	"context"

	"github.com/blnk-cloud/apikeys/internal/apikey"
	"github.com/blnk-cloud/apikeys/internal/blnk"
)

// Viewer is the signed-in person a page is drawn for: what their role
// lets them do decides which controls are shown (the server checks
// again on every request; a hidden control is only a courtesy).
type Viewer struct {
	UserID int64
	Role   blnk.Role
}

// WithViewer returns ctx carrying the person pages are drawn for.
func WithViewer(ctx context.Context, v Viewer) context.Context {
	return withCarried(ctx, v)
}

// ViewerOf returns the person ctx carries (zero: nobody signed in).
func ViewerOf(ctx context.Context) Viewer {
	return carriedOf[Viewer](ctx)
}

// Can reports whether the person drawn for has p.
func Can(ctx context.Context, p blnk.Permission) bool { return ViewerOf(ctx).Role.Can(p) }

// CanChangeKey reports whether the person drawn for may edit, roll and
// revoke k: any key with PermAnyKey, the keys they created with
// PermCreateKeys.
func CanChangeKey(ctx context.Context, k apikey.Key) bool {
	v := ViewerOf(ctx)
	return v.Role.Can(blnk.PermAnyKey) || (v.Role.Can(blnk.PermCreateKeys) && k.CreatedByID != 0 && k.CreatedByID == v.UserID)
}
