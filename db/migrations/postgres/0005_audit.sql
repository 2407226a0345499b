-- The audit log (internal/audit): append-only. Each event is written in
-- the same transaction as the change it records. workspace_id is NULL for
-- events of no workspace (a failed sign-in with an unknown email). The
-- application needs only INSERT and SELECT on it (and DELETE for
-- --audit-retention): REVOKE UPDATE, DELETE may be applied.
CREATE TABLE audit_events (
    id            BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    workspace_id  BIGINT REFERENCES workspaces (id) ON DELETE CASCADE,
    at            BIGINT NOT NULL,
    action        TEXT   NOT NULL,
    actor         TEXT   NOT NULL,
    actor_kind    TEXT   NOT NULL,
    actor_user_id BIGINT,
    ip            TEXT   NOT NULL DEFAULT '',
    key_id        TEXT,
    key_prefix    TEXT,
    details       TEXT   NOT NULL DEFAULT '{}'
);
CREATE INDEX audit_events_workspace ON audit_events (workspace_id, id);
CREATE INDEX audit_events_key ON audit_events (workspace_id, key_id, id);
