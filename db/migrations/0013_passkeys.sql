-- Passkeys (WebAuthn, issue 18). A person's user handle is random, one
-- per person, never their id: authenticators keep it, and a discoverable
-- sign-in names the person by it.
CREATE TABLE passkey_handles (
    user_id INT64   PRIMARY KEY REFERENCES users (id) ON DELETE CASCADE,
    handle  BYTES   NOT NULL UNIQUE CHECK (length(handle) = 32)
);

-- One row a passkey. credential is the library's record (JSON: public
-- key, flags, attestation), kept whole so that it validates as it was
-- made; sign_count is written back on every use. A credential belongs to
-- the relying party (rp_id) it was made for.
CREATE TABLE passkeys (
    id            TEXT    PRIMARY KEY,
    user_id       INT64   NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    rp_id         TEXT    NOT NULL CHECK (length(rp_id) BETWEEN 1 AND 253),
    credential_id BYTES   NOT NULL CHECK (length(credential_id) BETWEEN 1 AND 1023),
    name          TEXT    NOT NULL CHECK (length(name) BETWEEN 1 AND 400),
    credential    BYTES   NOT NULL,
    sign_count    INT64   NOT NULL DEFAULT 0,
    created_at    INT64   NOT NULL,
    last_used_at  INT64,
    UNIQUE (rp_id, credential_id)
);
CREATE INDEX passkeys_user ON passkeys (user_id, created_at);

-- A ceremony under way (add a passkey, sign in with one): the options'
-- challenge and what else the library needs to check the answer, kept
-- here and not in the browser. The browser holds a random token in a
-- cookie, this table its SHA-256; finishing deletes the row, so a
-- challenge is answered once.
CREATE TABLE passkey_ceremonies (
    token_hash BYTES   PRIMARY KEY CHECK (length(token_hash) = 32),
    kind       TEXT    NOT NULL CHECK (kind IN ('register', 'login', 'second_factor')),
    user_id    INT64   REFERENCES users (id) ON DELETE CASCADE,
    data       BYTES   NOT NULL,
    expires_at INT64   NOT NULL
) WITHOUT ROWID;
CREATE INDEX passkey_ceremonies_expiry ON passkey_ceremonies (expires_at);
