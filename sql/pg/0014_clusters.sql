-- 0014_clusters (PostgreSQL): Kubernetes clusters and their nodes (issue 12).
--
-- A cluster is a tenant's Kubernetes cluster: its agents (a DaemonSet, one per node)
-- authenticate with the cluster's secret, of which the row holds only the argon2id hash
-- (secret.h, as devices.secret_hash). Deleting one is soft (deleted_at), as for devices:
-- its nodes' sessions keep their device, its devices keep their cluster. A name is
-- unique among a tenant's live clusters.
--
-- A node is a device with cluster_id and node_name (0001); node_name is unique among a
-- cluster's live devices. This adds what a node reports beyond 0001's labels,
-- node_status and resources: unschedulable, versions (a JSON object: kubelet, os_image,
-- kernel, container_runtime), node_reason (why the node's facts are missing or stale:
-- the Kubernetes API's error, NULL when the last read worked) and node_updated_at (the
-- last read). Standalone machines have NULL in all of them.
--
-- Nothing wrote devices.cluster_id or tickets.cluster_id before this (the API refused
-- them), but an imported archive may have carried one: with no clusters yet, each names
-- nothing, so it is cleared before the foreign keys arrive.
CREATE TABLE clusters (
    id          uuid PRIMARY KEY,
    tenant_id   uuid NOT NULL REFERENCES tenants (id),
    name        text NOT NULL CHECK (name <> ''),
    secret_hash text NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now(),
    updated_at  timestamptz NOT NULL DEFAULT now(),
    deleted_at  timestamptz,
    UNIQUE (tenant_id, id)
);
CREATE INDEX clusters_tenant_idx ON clusters (tenant_id, id);
CREATE UNIQUE INDEX clusters_live_name_idx ON clusters (tenant_id, name)
    WHERE deleted_at IS NULL;

UPDATE devices SET cluster_id = NULL, node_name = NULL WHERE cluster_id IS NOT NULL;
UPDATE tickets SET cluster_id = NULL WHERE cluster_id IS NOT NULL;

ALTER TABLE devices
    ADD COLUMN unschedulable   boolean,
    ADD COLUMN versions        jsonb,
    ADD COLUMN node_reason     text,
    ADD COLUMN node_updated_at timestamptz,
    ADD CONSTRAINT devices_node_name_check
        CHECK (cluster_id IS NULL OR (node_name IS NOT NULL AND node_name <> '')),
    ADD FOREIGN KEY (tenant_id, cluster_id) REFERENCES clusters (tenant_id, id);
CREATE UNIQUE INDEX devices_live_node_idx ON devices (cluster_id, node_name)
    WHERE deleted_at IS NULL AND cluster_id IS NOT NULL;
CREATE INDEX devices_tenant_cluster_idx ON devices (tenant_id, cluster_id, id)
    WHERE cluster_id IS NOT NULL;

ALTER TABLE tickets ADD FOREIGN KEY (tenant_id, cluster_id) REFERENCES clusters (tenant_id, id);

DO $$
BEGIN
    GRANT SELECT, INSERT, UPDATE, DELETE ON clusters TO kaiden_app;
    ALTER TABLE clusters ENABLE ROW LEVEL SECURITY;
    ALTER TABLE clusters FORCE ROW LEVEL SECURITY;
    DROP POLICY IF EXISTS tenant_isolation ON clusters;
    CREATE POLICY tenant_isolation ON clusters
        USING (tenant_id = kaiden_rls_tenant() OR kaiden_rls_staff())
        WITH CHECK (tenant_id = kaiden_rls_tenant() OR kaiden_rls_staff());
END
$$;
