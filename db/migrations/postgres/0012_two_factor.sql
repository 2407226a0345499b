-- Signing in safely (issue 18): a second factor per person, the Owner's
-- switch that requires one, and sudo mode per session. The same schema
-- as SQLite's.

CREATE TABLE totp_factors (
    user_id    BIGINT PRIMARY KEY REFERENCES users (id) ON DELETE CASCADE,
    secret     BYTEA  NOT NULL CHECK (length(secret) BETWEEN 28 AND 200),
    last_step  BIGINT NOT NULL,
    created_at BIGINT NOT NULL
);

CREATE TABLE recovery_codes (
    user_id   BIGINT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    code_hash BYTEA  NOT NULL CHECK (length(code_hash) = 32),
    used_at   BIGINT,
    PRIMARY KEY (user_id, code_hash)
);

ALTER TABLE workspaces ADD COLUMN require_two_factor BIGINT NOT NULL DEFAULT 0 CHECK (require_two_factor IN (0, 1));

ALTER TABLE sessions ADD COLUMN sudo_at BIGINT;
