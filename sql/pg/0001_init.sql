-- 0001_init (PostgreSQL): the Phase 1 schema, multi-tenant from the start.
--
-- Every table that holds tenant data has tenant_id; single-tenant installations use the
-- fixed default tenant inserted below. Rows reference other rows through
-- (tenant_id, id) pairs, so a session can never point at another tenant's device and a
-- job never at another tenant's session.
--
-- Ids are UUIDv7 made by the application (ids.h): they sort by creation time, so lists
-- page by id. Time stamps are written by the application as RFC 3339 text; the defaults
-- below serve rows inserted by hand. Enumerations are text with CHECK constraints (the
-- SQLite schema, sql/sqlite/0001_init.sql, has the same columns and checks).
--
-- schema_migrations is created by migrations_apply (common/migrations.c) before this
-- file runs, and this file runs inside the transaction that records it: no BEGIN/COMMIT.
-- Row-level security comes with the migration that adds the non-owner application role.

CREATE TABLE tenants (
    id            uuid PRIMARY KEY,
    code          text NOT NULL UNIQUE CHECK (code <> ''),
    name          text NOT NULL,
    status        text NOT NULL DEFAULT 'active'
                  CHECK (status IN ('active', 'suspended', 'trial')),
    plan          text NOT NULL DEFAULT 'trial'
                  CHECK (plan IN ('trial', 'basic', 'pro', 'enterprise')),
    settings      jsonb NOT NULL DEFAULT '{}',
    quotas        jsonb NOT NULL DEFAULT '{}',
    trial_ends_at timestamptz,
    created_at    timestamptz NOT NULL DEFAULT now()
);

INSERT INTO tenants (id, code, name, status, plan)
VALUES ('00000000-0000-0000-0000-000000000000', 'default', 'Default tenant', 'active',
        'enterprise');

-- A registered machine (Phase 1) or Kubernetes node (Phase 2: cluster_id, node_name,
-- labels, node_status, resources). Deleting one sets deleted_at: its sessions stay.
-- cluster_id gets its foreign key when the clusters table arrives.
CREATE TABLE devices (
    id            uuid PRIMARY KEY,
    tenant_id     uuid NOT NULL REFERENCES tenants (id),
    name          text NOT NULL CHECK (name <> ''),
    secret_hash   text NOT NULL,
    status        text NOT NULL DEFAULT 'offline' CHECK (status IN ('online', 'offline')),
    last_seen     timestamptz,
    hostname      text,
    os            text,
    ip_address    text,
    agent_version text,
    cluster_id    uuid,
    node_name     text,
    labels        jsonb,
    node_status   text,
    resources     jsonb,
    created_at    timestamptz NOT NULL DEFAULT now(),
    updated_at    timestamptz NOT NULL DEFAULT now(),
    deleted_at    timestamptz,
    UNIQUE (tenant_id, id)
);
CREATE INDEX devices_tenant_status_idx ON devices (tenant_id, status, id);

-- One support session: a tunnel to one device for one engineer. status moves
-- pending -> active -> ending -> ended, or to failed from any of the first three; step
-- is helperd's progress within a state. engineer_id and ticket_id get their foreign
-- keys when users and tickets arrive.
CREATE TABLE sessions (
    id            uuid PRIMARY KEY,
    tenant_id     uuid NOT NULL REFERENCES tenants (id),
    device_id     uuid NOT NULL,
    short_id      text NOT NULL UNIQUE,
    status        text NOT NULL DEFAULT 'pending'
                  CHECK (status IN ('pending', 'active', 'ending', 'ended', 'failed')),
    step          text,
    public_url    text,
    ssh_hostname  text,
    tunnel_id     text,
    engineer_name text NOT NULL,
    engineer_id   uuid,
    ticket_id     uuid,
    notes         text,
    error         text,
    ssh_port      integer NOT NULL DEFAULT 22 CHECK (ssh_port BETWEEN 1 AND 65535),
    web_port      integer NOT NULL DEFAULT 8080 CHECK (web_port BETWEEN 1 AND 65535),
    recording_url text,
    started_at    timestamptz NOT NULL DEFAULT now(),
    ended_at      timestamptz,
    created_at    timestamptz NOT NULL DEFAULT now(),
    updated_at    timestamptz NOT NULL DEFAULT now(),
    UNIQUE (tenant_id, id),
    FOREIGN KEY (tenant_id, device_id) REFERENCES devices (tenant_id, id)
);
CREATE INDEX sessions_tenant_device_idx ON sessions (tenant_id, device_id, id);
CREATE INDEX sessions_tenant_status_idx ON sessions (tenant_id, status, id);

-- Bearer tokens: the row holds the SHA-256 of the whole token (secret.h), never the
-- token. user_id gets its foreign key when users arrive (NULL: a tenant-wide token).
CREATE TABLE api_tokens (
    id           uuid PRIMARY KEY,
    tenant_id    uuid NOT NULL REFERENCES tenants (id),
    user_id      uuid,
    name         text NOT NULL,
    token_digest text NOT NULL UNIQUE,
    created_at   timestamptz NOT NULL DEFAULT now(),
    last_used_at timestamptz,
    revoked_at   timestamptz
);
CREATE INDEX api_tokens_tenant_idx ON api_tokens (tenant_id, id);

-- The outbox helperd works from (DESIGN.md): written in the same transaction as the row
-- it acts on. A claim leases the job (locked_by, locked_until); an expired lease makes
-- it claimable again. kind is free text so new job kinds need no schema change.
CREATE TABLE jobs (
    id           uuid PRIMARY KEY,
    tenant_id    uuid NOT NULL REFERENCES tenants (id),
    kind         text NOT NULL CHECK (length(kind) BETWEEN 1 AND 31),
    session_id   uuid,
    state        text NOT NULL DEFAULT 'queued'
                 CHECK (state IN ('queued', 'running', 'done', 'failed')),
    run_after    timestamptz NOT NULL DEFAULT now(),
    attempts     integer NOT NULL DEFAULT 0 CHECK (attempts >= 0),
    locked_by    text,
    locked_until timestamptz,
    last_error   text,
    created_at   timestamptz NOT NULL DEFAULT now(),
    updated_at   timestamptz NOT NULL DEFAULT now(),
    FOREIGN KEY (tenant_id, session_id) REFERENCES sessions (tenant_id, id)
);
CREATE INDEX jobs_due_idx ON jobs (state, run_after);
CREATE INDEX jobs_tenant_idx ON jobs (tenant_id, id);
CREATE INDEX jobs_session_idx ON jobs (tenant_id, session_id);
