-- Password reset links (issue 17): a random token of which only the
-- SHA-256 is stored; used once, valid for an hour. created_by is the
-- Owner or Admin who made it (NULL: "forgot password" or the command
-- line).
CREATE TABLE password_resets (
    token_hash BYTES   PRIMARY KEY CHECK (length(token_hash) = 32),
    user_id    INT64   NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    created_by INT64   REFERENCES users (id) ON DELETE SET NULL,
    created_at INT64   NOT NULL,
    expires_at INT64   NOT NULL,
    used_at    INT64
) WITHOUT ROWID;
CREATE INDEX password_resets_user ON password_resets (user_id);

-- A person's list of their sessions (issue 18): a public id for each
-- (never the token or its hash), and the browser and address it signed
-- in from. Sessions from before have none of these: they get an id here
-- and show an unknown browser.
ALTER TABLE sessions ADD COLUMN id TEXT;
ALTER TABLE sessions ADD COLUMN user_agent TEXT NOT NULL DEFAULT '' CHECK (length(user_agent) <= 512);
ALTER TABLE sessions ADD COLUMN ip TEXT NOT NULL DEFAULT '' CHECK (length(ip) <= 64);
-- sqlite:
UPDATE sessions SET id = lower(hex(randomblob(16)));
-- postgres:
UPDATE sessions SET id = md5(random()::text || clock_timestamp()::text || encode(token_hash, 'hex'));
-- both:
CREATE UNIQUE INDEX sessions_id ON sessions (id);
