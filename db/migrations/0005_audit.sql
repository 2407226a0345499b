-- The audit log (internal/audit): append-only. Each event is written in
-- the same transaction as the change it records. workspace_id is NULL for
-- events of no workspace (a failed sign-in with an unknown email). The
-- application needs only INSERT and SELECT on it (and DELETE for
-- --audit-retention): REVOKE UPDATE, DELETE may be applied.
CREATE TABLE audit_events (
    id            SEQ_KEY,
    workspace_id  INT64   REFERENCES workspaces (id) ON DELETE CASCADE,
    at            INT64   NOT NULL,
    action        TEXT    NOT NULL,
    actor         TEXT    NOT NULL,  -- the user's email, or the actor kind
    actor_kind    TEXT    NOT NULL,  -- user, command line, leak report, system
    actor_user_id INT64,           -- no foreign key: the log outlives users
    ip            TEXT    NOT NULL DEFAULT '',
    key_id        TEXT,
    key_prefix    TEXT,
    details       TEXT    NOT NULL DEFAULT '{}'  -- JSON object
);
CREATE INDEX audit_events_workspace ON audit_events (workspace_id, id);
CREATE INDEX audit_events_key ON audit_events (workspace_id, key_id, id);
