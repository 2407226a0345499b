-- Several servers on one database (see db/changes.go and db/servers.go).

-- When each key change committed (Unix ms), for people reading the log.
ALTER TABLE api_key_changes ADD COLUMN at BIGINT;

-- Each running server: where it listens, the last key change it applied
-- to its memory, and its last heartbeat.
CREATE TABLE servers (
    id          TEXT   PRIMARY KEY,
    address     TEXT   NOT NULL,
    started_at  BIGINT NOT NULL,
    seen_at     BIGINT NOT NULL,
    applied_seq BIGINT NOT NULL
);

-- How the servers confirmed a revocation: confirmed of servers had
-- applied it after confirm_ms milliseconds (NULL: not measured).
ALTER TABLE api_keys ADD COLUMN revoke_confirmed INTEGER;
ALTER TABLE api_keys ADD COLUMN revoke_servers INTEGER;
ALTER TABLE api_keys ADD COLUMN revoke_confirm_ms BIGINT;

-- Failed sign-ins, shared by every server: a token bucket per email and
-- per client address (internal/throttle).
CREATE TABLE login_throttle (
    key    TEXT             PRIMARY KEY,
    tokens DOUBLE PRECISION NOT NULL,
    at     BIGINT           NOT NULL
);
