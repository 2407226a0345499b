-- The answers to POSTs sent with an Idempotency-Key, per management
-- token, kept 24 hours (blnk.IdempotencyTTL; expired rows are swept, and
-- taken over by a new request with the same key). The row is the lock
-- that keeps several servers from running one request twice: a server
-- inserts it 'running' if absent, runs the request, and stores the answer
-- ('done'). request_hash is the SHA-256 of method, path and body; header
-- is the JSON of the headers a replay needs; body has any secret taken
-- out. Times are Unix ms. No foreign key: tokens may come and go, and the
-- rows expire anyway.
CREATE TABLE idempotency_keys (
    token_id     INT64   NOT NULL,
    idem_key     TEXT    NOT NULL,
    request_hash BYTES   NOT NULL CHECK (length(request_hash) = 32),
    state        TEXT    NOT NULL CHECK (state IN ('running', 'done')),
    status       INTEGER NOT NULL DEFAULT 0,
    header       TEXT    NOT NULL DEFAULT '',
    body         BYTES,
    created_at   INT64   NOT NULL,
    started_at   INT64   NOT NULL,
    PRIMARY KEY (token_id, idem_key)
) WITHOUT ROWID;
CREATE INDEX idempotency_keys_created ON idempotency_keys (created_at);
