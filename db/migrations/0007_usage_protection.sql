-- Usage and protection: IP allowlists, leak reports, calls per key per
-- hour, the addresses keys are used from, notices sent once per key, and
-- webhooks with their queue of deliveries. Times are Unix milliseconds.

-- A key's IP allowlist: normalised CIDRs joined by commas; '' lets every
-- address in.
ALTER TABLE api_keys ADD COLUMN allowlist TEXT NOT NULL DEFAULT '';
-- A key reported leaked (POST /api/v1/keys/leaked): when, and where and
-- by what the report says it was found.
ALTER TABLE api_keys ADD COLUMN exposed_at INT64;
ALTER TABLE api_keys ADD COLUMN exposed_url TEXT;
ALTER TABLE api_keys ADD COLUMN exposed_source TEXT;

-- Calls per key per hour (hour: the Unix ms of its start, UTC). Every
-- server adds its counts (additive upserts), so they sum over servers.
-- Hours older than 30 days are deleted. No foreign key, as api_key_usage.
CREATE TABLE api_key_usage_hours (
    key_id          TEXT    NOT NULL,
    hour            INT64   NOT NULL,
    accepted        INT64   NOT NULL DEFAULT 0,
    refused_revoked INT64   NOT NULL DEFAULT 0,
    refused_expired INT64   NOT NULL DEFAULT 0,
    refused_scope   INT64   NOT NULL DEFAULT 0,
    refused_address INT64   NOT NULL DEFAULT 0,
    PRIMARY KEY (key_id, hour)
) WITHOUT ROWID;
CREATE INDEX api_key_usage_hours_hour ON api_key_usage_hours (hour);

-- The client addresses each key was used from, with the last time. Rows
-- older than 30 days are deleted.
CREATE TABLE api_key_addresses (
    key_id  TEXT    NOT NULL,
    ip      TEXT    NOT NULL,
    last_at INT64   NOT NULL,
    PRIMARY KEY (key_id, ip)
) WITHOUT ROWID;
CREATE INDEX api_key_addresses_recent ON api_key_addresses (key_id, last_at);
CREATE INDEX api_key_addresses_last ON api_key_addresses (last_at);

-- The sweep for expiry notices reads keys by expiry, across workspaces.
CREATE INDEX api_keys_expires_at ON api_keys (expires_at);

-- Notices that go out once per key, whichever server sees them first:
-- key.expiring 7 days and 1 day ahead, key.expired.
CREATE TABLE api_key_notices (
    key_id TEXT    NOT NULL REFERENCES api_keys (id) ON DELETE CASCADE,
    kind   TEXT    NOT NULL,
    at     INT64   NOT NULL,
    PRIMARY KEY (key_id, kind)
) WITHOUT ROWID;

-- Webhook endpoints. secret is the whsec_ signing secret: it must be
-- stored to sign, and is shown once (secret_shown_at).
CREATE TABLE webhooks (
    id              TEXT    PRIMARY KEY,
    workspace_id    INT64   NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
    url             TEXT    NOT NULL,
    description     TEXT    NOT NULL DEFAULT '',
    secret          TEXT    NOT NULL,
    created_at      INT64   NOT NULL,
    created_by      INT64   REFERENCES users (id) ON DELETE SET NULL,
    create_token    TEXT    NOT NULL,
    secret_shown_at INT64,
    disabled_at     INT64,
    UNIQUE (workspace_id, create_token)
);
CREATE INDEX webhooks_workspace ON webhooks (workspace_id, created_at);

-- The events each endpoint receives.
CREATE TABLE webhook_subscriptions (
    webhook_id TEXT NOT NULL REFERENCES webhooks (id) ON DELETE CASCADE,
    event      TEXT NOT NULL,
    PRIMARY KEY (webhook_id, event)
) WITHOUT ROWID;
CREATE INDEX webhook_subscriptions_event ON webhook_subscriptions (event, webhook_id);

-- What happened, once: its id is the webhook-id header of every delivery
-- of it, its payload the exact body signed.
CREATE TABLE webhook_events (
    id           TEXT    PRIMARY KEY,
    workspace_id INT64   NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
    type         TEXT    NOT NULL,
    payload      TEXT    NOT NULL,
    created_at   INT64   NOT NULL
);
CREATE INDEX webhook_events_created ON webhook_events (created_at);

-- One event to one endpoint: the queue. A server claims due rows
-- (claimed_by, claimed_until), sends them and records the attempt.
-- next_attempt_at is NULL once there is nothing more to do (delivered, or
-- failed for good after its deadline).
CREATE TABLE webhook_deliveries (
    id               SEQ_KEY,
    webhook_id       TEXT    NOT NULL REFERENCES webhooks (id) ON DELETE CASCADE,
    event_id         TEXT    NOT NULL REFERENCES webhook_events (id) ON DELETE CASCADE,
    created_at       INT64   NOT NULL,
    deadline_at      INT64   NOT NULL,
    state            TEXT    NOT NULL CHECK (state IN ('pending', 'delivered', 'failed')),
    next_attempt_at  INT64,
    attempts         INT64   NOT NULL DEFAULT 0,
    claimed_by       TEXT,
    claimed_until    INT64,
    last_attempt_at  INT64,
    last_status      INT64,            -- HTTP status of the last attempt; NULL: no response
    last_error       TEXT    NOT NULL DEFAULT '',
    last_duration_ms INT64,
    last_response    TEXT    NOT NULL DEFAULT '', -- at most 1 KB of the response body
    delivered_at     INT64
);
CREATE INDEX webhook_deliveries_due ON webhook_deliveries (next_attempt_at);
CREATE INDEX webhook_deliveries_webhook ON webhook_deliveries (webhook_id, id);
CREATE INDEX webhook_deliveries_event ON webhook_deliveries (event_id);
