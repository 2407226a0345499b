-- People in several workspaces, one role in each (issue 17): Owner,
-- Admin, Member, Viewer. Each existing admin becomes the Owner of their
-- workspace. SQLite cannot change a CHECK constraint, so there the table
-- is made again (nothing refers to it).
-- sqlite:
CREATE TABLE memberships_v2 (
    workspace_id INT64   NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
    user_id      INT64   NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    role         TEXT    NOT NULL CHECK (role IN ('owner', 'admin', 'member', 'viewer')),
    created_at   INT64   NOT NULL,
    PRIMARY KEY (workspace_id, user_id)
);
INSERT INTO memberships_v2 (workspace_id, user_id, role, created_at)
    SELECT workspace_id, user_id, 'owner', created_at FROM memberships;
DROP TABLE memberships;
ALTER TABLE memberships_v2 RENAME TO memberships;
CREATE INDEX memberships_user ON memberships (user_id);
-- postgres:
ALTER TABLE memberships DROP CONSTRAINT memberships_role_check;
UPDATE memberships SET role = 'owner';
ALTER TABLE memberships ADD CONSTRAINT memberships_role_check CHECK (role IN ('owner', 'admin', 'member', 'viewer'));
-- both:

-- A person's display name ('' when none was given) and last sign-in,
-- for the members page.
ALTER TABLE users ADD COLUMN name TEXT NOT NULL DEFAULT '' CHECK (length(name) <= 400);
ALTER TABLE users ADD COLUMN last_signed_in_at INT64;

-- Who created each key is api_keys.created_by (NULL: the command line);
-- the members page lists a person's keys by it, and a removal hands them
-- over by changing it.
CREATE INDEX api_keys_creator ON api_keys (workspace_id, created_by);

-- Invitations: a link with a random token, of which only the SHA-256 is
-- stored; accepted once, revocable, expiring after 7 days.
CREATE TABLE invitations (
    id           TEXT    PRIMARY KEY,
    workspace_id INT64   NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
    email        TEXT    NOT NULL CHECK (length(email) BETWEEN 3 AND 254),
    role         TEXT    NOT NULL CHECK (role IN ('owner', 'admin', 'member', 'viewer')),
    token_hash   BYTES   NOT NULL UNIQUE CHECK (length(token_hash) = 32),
    invited_by   INT64   REFERENCES users (id) ON DELETE SET NULL,
    created_at   INT64   NOT NULL,
    expires_at   INT64   NOT NULL,
    accepted_at  INT64,
    accepted_by  INT64   REFERENCES users (id) ON DELETE SET NULL,
    revoked_at   INT64
);
CREATE INDEX invitations_workspace ON invitations (workspace_id, created_at);
