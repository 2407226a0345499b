-- The last refused call of each key, apart from its last use: "last
-- used" is the last accepted call, and a key whose every call is refused
-- (by its allowlist, say) must not look in use. at is Unix ms; reason is
-- revoked, expired, scope or address. No foreign key, as api_key_usage.
CREATE TABLE api_key_refusals (
    key_id TEXT    PRIMARY KEY,
    at     INT64   NOT NULL,
    ip     TEXT    NOT NULL,
    reason TEXT    NOT NULL
) WITHOUT ROWID;
