-- Management tokens (SPEC "Management API"): a person's token for the
-- JSON API of one workspace. Only the SHA-256 of the secret is stored;
-- the token acts with its person's role at each request (the membership
-- row, joined on every use), so a removal ends it at once.
CREATE TABLE management_tokens (
    id           TEXT    PRIMARY KEY,
    workspace_id INT64   NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
    user_id      INT64   NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    name         TEXT    NOT NULL CHECK (length(name) BETWEEN 1 AND 400),
    prefix       TEXT    NOT NULL CHECK (length(prefix) = 14),
    token_hash   BYTES   NOT NULL UNIQUE CHECK (length(token_hash) = 32),
    scopes       TEXT    NOT NULL,  -- space-separated, sorted
    created_at   INT64   NOT NULL,
    expires_at   INT64   NOT NULL,
    last_used_at INT64,
    last_used_ip TEXT    NOT NULL DEFAULT '',
    revoked_at   INT64
);
CREATE INDEX management_tokens_person ON management_tokens (workspace_id, user_id, created_at);

-- The management token a person acted through ('' for the browser): the
-- audit log shows "EMAIL via token NAME".
ALTER TABLE audit_events ADD COLUMN actor_via TEXT NOT NULL DEFAULT '';
