-- Signing in safely (issue 18): a second factor per person, the Owner's
-- switch that requires one, and sudo mode per session. Times are Unix
-- milliseconds (UTC).

-- A person's TOTP factor (RFC 6238), set up once confirmed by a first
-- code. secret is the base32 secret sealed with AES-256-GCM under a key
-- derived from the server's session secret (never stored in plaintext);
-- last_step is the time step of the last code accepted: a code is
-- accepted only for a later step, so none is used twice.
CREATE TABLE totp_factors (
    user_id    INT64   PRIMARY KEY REFERENCES users (id) ON DELETE CASCADE,
    secret     BYTES   NOT NULL CHECK (length(secret) BETWEEN 28 AND 200),
    last_step  INT64   NOT NULL,
    created_at INT64   NOT NULL
);

-- Recovery codes: ten per person with a TOTP factor, each used once.
-- Only an HMAC-SHA256 of each (keyed from the server's secret) is kept.
CREATE TABLE recovery_codes (
    user_id   INT64   NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    code_hash BYTES   NOT NULL CHECK (length(code_hash) = 32),
    used_at   INT64,
    PRIMARY KEY (user_id, code_hash)
);

-- The Owner's switch: 1 when every member must have a second factor.
ALTER TABLE workspaces ADD COLUMN require_two_factor INT64 NOT NULL DEFAULT 0 CHECK (require_two_factor IN (0, 1));

-- When the session last gave a password or a second factor (sign-in
-- included): dangerous actions need one within 10 minutes.
ALTER TABLE sessions ADD COLUMN sudo_at INT64;
