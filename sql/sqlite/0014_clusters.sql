-- 0014_clusters (SQLite): as sql/pg/0014_clusters.sql. SQLite cannot add a foreign key
-- to a column that exists (devices.cluster_id, tickets.cluster_id are 0001's and
-- 0011's): the store checks that a cluster_id names a cluster of the tenant, and the
-- archive's import refuses one that does not. No row-level security: the store's tenant
-- filter is the only line.
CREATE TABLE clusters (
    id          TEXT PRIMARY KEY,
    tenant_id   TEXT NOT NULL REFERENCES tenants (id),
    name        TEXT NOT NULL CHECK (name <> ''),
    secret_hash TEXT NOT NULL,
    created_at  TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
    updated_at  TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
    deleted_at  TEXT,
    UNIQUE (tenant_id, id)
) STRICT;
CREATE INDEX clusters_tenant_idx ON clusters (tenant_id, id);
CREATE UNIQUE INDEX clusters_live_name_idx ON clusters (tenant_id, name)
    WHERE deleted_at IS NULL;

UPDATE devices SET cluster_id = NULL, node_name = NULL WHERE cluster_id IS NOT NULL;
UPDATE tickets SET cluster_id = NULL WHERE cluster_id IS NOT NULL;

ALTER TABLE devices ADD COLUMN unschedulable INTEGER
    CHECK (unschedulable IS NULL OR unschedulable IN (0, 1));
ALTER TABLE devices ADD COLUMN versions TEXT CHECK (versions IS NULL OR json_valid(versions));
ALTER TABLE devices ADD COLUMN node_reason TEXT;
ALTER TABLE devices ADD COLUMN node_updated_at TEXT;
CREATE UNIQUE INDEX devices_live_node_idx ON devices (cluster_id, node_name)
    WHERE deleted_at IS NULL AND cluster_id IS NOT NULL;
CREATE INDEX devices_tenant_cluster_idx ON devices (tenant_id, cluster_id, id)
    WHERE cluster_id IS NOT NULL;
