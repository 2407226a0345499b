-- Key policies (issue 17): each workspace's rules for its keys, set by
-- its Owners. No row: no rule. member_scopes are scope names separated
-- by spaces, '*' for every scope. Booleans are 0 or 1 (INTEGER on both
-- engines, so that the schemas match).
CREATE TABLE key_policies (
    workspace_id      INT64   PRIMARY KEY REFERENCES workspaces (id) ON DELETE CASCADE,
    max_lifetime_days INTEGER CHECK (max_lifetime_days BETWEEN 1 AND 3650),
    require_expiry    INTEGER NOT NULL DEFAULT 0 CHECK (require_expiry IN (0, 1)),
    member_scopes     TEXT    NOT NULL DEFAULT '*' CHECK (length(member_scopes) BETWEEN 1 AND 200),
    require_allowlist INTEGER NOT NULL DEFAULT 0 CHECK (require_allowlist IN (0, 1)),
    updated_at        INT64   NOT NULL,
    updated_by        INT64   REFERENCES users (id) ON DELETE SET NULL
);
