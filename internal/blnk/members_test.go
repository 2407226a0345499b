package blnk

import "testing"

// TestRolesTable checks Role.Can and Role.CanManage against the roles
// table of web/README.md, line by line.
func TestRolesTable(t *testing.T) {
	table := []struct {
		perm Permission
		want map[Role]bool
	}{
		{PermRead, map[Role]bool{RoleOwner: true, RoleAdmin: true, RoleMember: true, RoleViewer: true}},
		{PermCreateKeys, map[Role]bool{RoleOwner: true, RoleAdmin: true, RoleMember: true}},
		{PermAnyKey, map[Role]bool{RoleOwner: true, RoleAdmin: true}},
		{PermWebhooks, map[Role]bool{RoleOwner: true, RoleAdmin: true}},
		{PermMembers, map[Role]bool{RoleOwner: true, RoleAdmin: true}},
		{PermOwners, map[Role]bool{RoleOwner: true}},
	}
	for _, tt := range table {
		for _, r := range Roles() {
			if got := r.Can(tt.perm); got != tt.want[r] {
				t.Errorf("%s.Can(%d) = %v, want %v", r, tt.perm, got, tt.want[r])
			}
		}
	}
	for _, r := range Roles() {
		for _, target := range Roles() {
			want := r == RoleOwner || (r == RoleAdmin && target != RoleOwner)
			if got := r.CanManage(target); got != want {
				t.Errorf("%s.CanManage(%s) = %v, want %v", r, target, got, want)
			}
		}
	}
	if Role("").Can(PermRead) {
		t.Error("no role can read")
	}
	for _, s := range []string{"owner", "Admin", " member ", "VIEWER"} {
		if _, err := ParseRole(s); err != nil {
			t.Errorf("ParseRole(%q): %v", s, err)
		}
	}
	for _, s := range []string{"", "boss", "admins"} {
		if _, err := ParseRole(s); err == nil {
			t.Errorf("ParseRole(%q) accepted", s)
		}
	}
}
