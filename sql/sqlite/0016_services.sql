-- 0016_services (SQLite): as sql/pg/0016_services.sql. JSON columns are text that must be
-- valid JSON of the right kind. No row-level security: the store's tenant filter is the
-- only line, and the platform-wide name checks (kaiden_service_host_taken,
-- kaiden_template_in_use on PostgreSQL) are plain queries.
CREATE TABLE cloud_services (
    id                TEXT PRIMARY KEY,
    tenant_id         TEXT NOT NULL REFERENCES tenants (id),
    template_id       TEXT NOT NULL REFERENCES app_templates (id) ON DELETE RESTRICT,
    name              TEXT NOT NULL CHECK (length(name) BETWEEN 1 AND 100),
    reference_id      TEXT NOT NULL
                      CHECK (length(reference_id) BETWEEN 1 AND 63 AND
                             reference_id NOT GLOB '*[^a-z0-9-]*' AND
                             reference_id NOT GLOB '-*' AND reference_id NOT GLOB '*-'),
    subdomain         TEXT NOT NULL
                      CHECK (length(subdomain) BETWEEN 1 AND 63 AND
                             subdomain NOT GLOB '*[^a-z0-9-]*' AND
                             subdomain NOT GLOB '-*' AND subdomain NOT GLOB '*-'),
    custom_domain     TEXT CHECK (custom_domain IS NULL OR
                                  (length(custom_domain) BETWEEN 4 AND 253 AND
                                   custom_domain NOT GLOB '*[^a-z0-9.-]*')),
    domain_status     TEXT NOT NULL DEFAULT 'unverified'
                      CHECK (domain_status IN ('unverified', 'verified')),
    domain_checked_at TEXT,
    chart_version     TEXT NOT NULL CHECK (chart_version <> ''),
    plain_values      TEXT NOT NULL DEFAULT '{}'
                      CHECK (json_valid(plain_values) AND json_type(plain_values) = 'object'),
    secret_values     TEXT,
    secret_names      TEXT NOT NULL DEFAULT '[]'
                      CHECK (json_valid(secret_names) AND json_type(secret_names) = 'array'),
    status            TEXT NOT NULL DEFAULT 'pending'
                      CHECK (status IN ('pending', 'deploying', 'running', 'failed',
                                        'upgrading', 'rolling_back', 'deleting', 'deleted')),
    error             TEXT,
    helm_release      TEXT NOT NULL
                      CHECK (length(helm_release) <= 53 AND helm_release LIKE 'paas-ws-%'),
    namespace         TEXT NOT NULL
                      CHECK (length(namespace) <= 63 AND namespace LIKE 'paas-ws-%'),
    revision          INTEGER NOT NULL DEFAULT 0 CHECK (revision >= 0),
    rollback_to       INTEGER CHECK (rollback_to IS NULL OR rollback_to >= 1),
    pods_ready        INTEGER NOT NULL DEFAULT 0 CHECK (pods_ready >= 0),
    pods_total        INTEGER NOT NULL DEFAULT 0 CHECK (pods_total >= 0),
    op_seq            INTEGER NOT NULL DEFAULT 1 CHECK (op_seq >= 1),
    created_at        TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
    updated_at        TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
    deployed_at       TEXT,
    deleted_at        TEXT,
    CHECK ((status = 'deleted') = (deleted_at IS NOT NULL)),
    UNIQUE (tenant_id, id)
) STRICT;
CREATE INDEX cloud_services_tenant_idx ON cloud_services (tenant_id, id);
CREATE INDEX cloud_services_template_idx ON cloud_services (template_id);
CREATE UNIQUE INDEX cloud_services_live_ref_idx ON cloud_services (tenant_id, reference_id)
    WHERE deleted_at IS NULL;
CREATE UNIQUE INDEX cloud_services_live_subdomain_idx ON cloud_services (subdomain)
    WHERE deleted_at IS NULL;
CREATE UNIQUE INDEX cloud_services_live_domain_idx ON cloud_services (custom_domain)
    WHERE deleted_at IS NULL AND custom_domain IS NOT NULL;

CREATE TABLE service_revisions (
    tenant_id     TEXT NOT NULL,
    service_id    TEXT NOT NULL,
    revision      INTEGER NOT NULL CHECK (revision >= 1),
    status        TEXT NOT NULL CHECK (status <> ''),
    chart_version TEXT NOT NULL DEFAULT '',
    app_version   TEXT NOT NULL DEFAULT '',
    description   TEXT NOT NULL DEFAULT '',
    updated       TEXT,
    plain_values  TEXT NOT NULL DEFAULT '{}'
                  CHECK (json_valid(plain_values) AND json_type(plain_values) = 'object'),
    secret_values TEXT,
    secret_names  TEXT NOT NULL DEFAULT '[]'
                  CHECK (json_valid(secret_names) AND json_type(secret_names) = 'array'),
    created_at    TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
    PRIMARY KEY (service_id, revision),
    FOREIGN KEY (tenant_id, service_id) REFERENCES cloud_services (tenant_id, id)
) STRICT;
CREATE INDEX service_revisions_tenant_idx ON service_revisions (tenant_id, service_id);

-- SQLite cannot add a two-column foreign key to jobs: service_id names a service (any
-- tenant's), and the store writes it only with a service of the job's tenant.
ALTER TABLE jobs ADD COLUMN service_id TEXT REFERENCES cloud_services (id);
ALTER TABLE jobs ADD COLUMN op_seq INTEGER;
CREATE INDEX jobs_service_idx ON jobs (service_id, state, id) WHERE service_id IS NOT NULL;
