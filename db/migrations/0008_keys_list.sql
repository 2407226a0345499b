-- The keys list at scale (db/keylist.go): a page of a workspace's keys in
-- one of its orders, continued from a cursor (the sort value and the id of
-- the last row), is a walk along one of these indexes. Sorting by last use
-- reads api_key_usage and sorts the workspace's keys; status and search
-- filters read the workspace's rows.
DROP INDEX api_keys_workspace_created;
CREATE INDEX api_keys_list_created ON api_keys (workspace_id, created_at, id);
CREATE INDEX api_keys_list_name ON api_keys (workspace_id, lower(name), id);
CREATE INDEX api_keys_list_expires ON api_keys (workspace_id, COALESCE(expires_at, 9223372036854775807), id);
-- Counting keys per status in SQL (CountKeys, for workspaces too large
-- for the list's snapshot) reads only this index, not the wide rows.
CREATE INDEX api_keys_list_status ON api_keys (workspace_id, revoked_at, expires_at, rolled_into);
