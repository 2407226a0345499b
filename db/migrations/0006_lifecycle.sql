-- The key lifecycle (issue 10): descriptions, the expiry policy a roll
-- keeps, rolls linked both ways, the expiry sweep's mark, and what the
-- audit log's filters and retention need.

-- Notes about the key, up to 1,000 characters ('' when none).
ALTER TABLE api_keys ADD COLUMN description TEXT NOT NULL DEFAULT '' CHECK (length(description) <= 1000);
-- The expiry policy: a key made with "30 days" (60, 90) has 30 here, and
-- its successor after a roll expires 30 days after the roll. NULL: a fixed
-- date (the successor keeps it) or never.
ALTER TABLE api_keys ADD COLUMN expiry_days INTEGER;
-- A roll links the old key and its successor both ways; the old key's
-- expires_at is moved to the end of the overlap then.
ALTER TABLE api_keys ADD COLUMN rolled_from TEXT;
ALTER TABLE api_keys ADD COLUMN rolled_into TEXT;
ALTER TABLE api_keys ADD COLUMN rolled_at INT64;
-- When the expiry sweep recorded key.expired for the key: each key's
-- expiry is recorded once.
ALTER TABLE api_keys ADD COLUMN expired_seen_at INT64;
CREATE INDEX api_keys_expiry_unseen ON api_keys (expires_at) WHERE expired_seen_at IS NULL AND revoked_at IS NULL;

-- The audit log's filters (newest first within each) and retention.
CREATE INDEX audit_events_actor ON audit_events (workspace_id, actor, id);
CREATE INDEX audit_events_action ON audit_events (workspace_id, action, id);
CREATE INDEX audit_events_at ON audit_events (at);

-- Append-only: no statement may change an event, whatever the database
-- user may do. (Retention deletes old ones; nothing else removes them.)
-- sqlite:
CREATE TRIGGER audit_events_append_only BEFORE UPDATE ON audit_events
BEGIN
    SELECT RAISE(ABORT, 'audit_events is append-only');
END;
-- postgres:
CREATE FUNCTION audit_events_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'audit_events is append-only';
END
$$;
CREATE TRIGGER audit_events_append_only BEFORE UPDATE ON audit_events
    FOR EACH ROW EXECUTE FUNCTION audit_events_append_only();
