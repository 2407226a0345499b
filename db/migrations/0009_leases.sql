-- Leases (db/servers.go): until when each server may answer API calls
-- from its memory, in Unix ms of the database's clock (0: no lease).
ALTER TABLE servers ADD COLUMN lease_until BIGINT NOT NULL DEFAULT 0;

-- How many servers had not applied a revocation but had stopped trusting
-- their memory (their lease ran out) when it was answered.
ALTER TABLE api_keys ADD COLUMN revoke_lapsed INTEGER;
