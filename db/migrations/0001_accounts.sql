-- Workspaces, the people who administer them, and their browser sessions.
-- Times are Unix milliseconds (UTC).

CREATE TABLE workspaces (
    id         ID_KEY,
    name       TEXT    NOT NULL CHECK (length(name) BETWEEN 1 AND 400),
    created_at INT64   NOT NULL
);

CREATE TABLE users (
    id            ID_KEY,
-- sqlite:
    email         TEXT    NOT NULL COLLATE NOCASE UNIQUE CHECK (length(email) BETWEEN 3 AND 254),
-- postgres:
    email         TEXT    NOT NULL UNIQUE CHECK (length(email) BETWEEN 3 AND 254),
-- both:
    password_hash TEXT    NOT NULL,
    created_at    INT64   NOT NULL
);
-- postgres:
-- Emails are stored lowercased (account.CleanEmail); the index on
-- lower(email) makes that a rule, as SQLite's COLLATE NOCASE does.
CREATE UNIQUE INDEX users_email_lower ON users (lower(email));
-- both:

CREATE TABLE memberships (
    workspace_id INT64   NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
    user_id      INT64   NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    role         TEXT    NOT NULL CHECK (role IN ('admin')),
    created_at   INT64   NOT NULL,
    PRIMARY KEY (workspace_id, user_id)
);
CREATE INDEX memberships_user ON memberships (user_id);

-- A browser session: the cookie holds a random token, this table its
-- SHA-256. Deleting the row signs the session out for good.
CREATE TABLE sessions (
    token_hash   BYTES   PRIMARY KEY,
    user_id      INT64   NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    workspace_id INT64   NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
    created_at   INT64   NOT NULL,
    last_seen_at INT64   NOT NULL
) WITHOUT ROWID;
CREATE INDEX sessions_user ON sessions (user_id);

-- Server settings generated once, such as the session secret.
CREATE TABLE settings (
    name  TEXT PRIMARY KEY,
    value BYTES NOT NULL
) WITHOUT ROWID;
