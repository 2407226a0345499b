-- Several servers on one database (see db/changes.go and db/servers.go).

-- When each key change committed (Unix ms), for people reading the log.
ALTER TABLE api_key_changes ADD COLUMN at INT64;

-- Each running server: where it listens, the last key change it applied
-- to its memory, and its last heartbeat.
CREATE TABLE servers (
    id          TEXT    PRIMARY KEY,
    address     TEXT    NOT NULL,
    started_at  INT64   NOT NULL,
    seen_at     INT64   NOT NULL,
    applied_seq INT64   NOT NULL
) WITHOUT ROWID;

-- Failed sign-ins, shared by every server: a token bucket per email and
-- per client address (internal/throttle).
CREATE TABLE login_throttle (
    key    TEXT    PRIMARY KEY,
    tokens FLOAT64 NOT NULL,
    at     INT64   NOT NULL
) WITHOUT ROWID;

-- How the servers confirmed a revocation: confirmed of servers had
-- applied it after confirm_ms milliseconds (NULL: not measured).
ALTER TABLE api_keys ADD COLUMN revoke_confirmed INTEGER;
ALTER TABLE api_keys ADD COLUMN revoke_servers INTEGER;
ALTER TABLE api_keys ADD COLUMN revoke_confirm_ms INT64;
