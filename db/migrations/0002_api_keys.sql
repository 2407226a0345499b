-- API keys. The token itself is never stored: only its SHA-256 (hash) and
-- its public prefix ("blnk_" and 8 hex characters).

CREATE TABLE api_keys (
    id           TEXT    PRIMARY KEY,
    workspace_id INT64   NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
    name         TEXT    NOT NULL CHECK (length(name) BETWEEN 1 AND 400),
    prefix       TEXT    NOT NULL CHECK (length(prefix) = 13),
    hash         BYTES   NOT NULL UNIQUE CHECK (length(hash) = 32),
    scopes       TEXT    NOT NULL,
    expires_at   INT64,            -- first instant the key no longer works; NULL: never
    created_at   INT64   NOT NULL,
    created_by   INT64   REFERENCES users (id) ON DELETE SET NULL,
    create_token TEXT    NOT NULL,   -- the create form's one-time token: a resubmitted form finds its key
    revealed_at  INT64,            -- when the one-time reveal page was shown (or could no longer be)
    revoked_at   INT64,
    revoked_by   INT64   REFERENCES users (id) ON DELETE SET NULL,
    UNIQUE (workspace_id, create_token)
);
CREATE INDEX api_keys_workspace_created ON api_keys (workspace_id, created_at);
CREATE INDEX api_keys_prefix ON api_keys (prefix);

-- Every creation and revocation appends a row, in commit order (see
-- db/changes.go), so that other processes or servers sharing this
-- database can follow the changes.
CREATE TABLE api_key_changes (
    seq    SEQ_KEY,
    key_id TEXT    NOT NULL
);

-- The last use of each key, apart from the key: a busy server rewrites
-- thousands of these every few seconds (see internal/keyauth), and narrow
-- rows dirty far fewer pages than the wide api_keys rows would. No foreign
-- key on purpose: checking it would read api_keys at random for every row
-- written, and keys are never deleted.
CREATE TABLE api_key_usage (
    key_id TEXT    PRIMARY KEY,
    at     INT64   NOT NULL,
    ip     TEXT    NOT NULL
) WITHOUT ROWID;
