-- 0001_init (SQLite): the Phase 1 schema, multi-tenant from the start.
--
-- The same tables, columns, checks and indexes as sql/pg/0001_init.sql, in SQLite's
-- types: ids (UUIDv7 text, made by the application) and time stamps (RFC 3339 UTC text
-- with milliseconds, "2026-11-23T03:45:56.123Z", which sorts and compares as text) are
-- TEXT; JSON columns are TEXT checked with json_valid; integers are INTEGER. Tables are
-- STRICT so a value of the wrong type is refused as PostgreSQL would refuse it.
--
-- Every tenant table has tenant_id, and rows reference other rows through
-- (tenant_id, id) pairs. The default tenant is inserted here. Foreign keys need
-- PRAGMA foreign_keys = ON, which db_open sets on every connection.
--
-- schema_migrations is created by migrations_apply (common/migrations.c) before this
-- file runs, and this file runs inside the transaction that records it: no BEGIN/COMMIT.

CREATE TABLE tenants (
    id            TEXT PRIMARY KEY,
    code          TEXT NOT NULL UNIQUE CHECK (code <> ''),
    name          TEXT NOT NULL,
    status        TEXT NOT NULL DEFAULT 'active'
                  CHECK (status IN ('active', 'suspended', 'trial')),
    plan          TEXT NOT NULL DEFAULT 'trial'
                  CHECK (plan IN ('trial', 'basic', 'pro', 'enterprise')),
    settings      TEXT NOT NULL DEFAULT '{}' CHECK (json_valid(settings)),
    quotas        TEXT NOT NULL DEFAULT '{}' CHECK (json_valid(quotas)),
    trial_ends_at TEXT,
    created_at    TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
) STRICT;

INSERT INTO tenants (id, code, name, status, plan)
VALUES ('00000000-0000-0000-0000-000000000000', 'default', 'Default tenant', 'active',
        'enterprise');

-- A registered machine or Kubernetes node; deleting one sets deleted_at.
CREATE TABLE devices (
    id            TEXT PRIMARY KEY,
    tenant_id     TEXT NOT NULL REFERENCES tenants (id),
    name          TEXT NOT NULL CHECK (name <> ''),
    secret_hash   TEXT NOT NULL,
    status        TEXT NOT NULL DEFAULT 'offline' CHECK (status IN ('online', 'offline')),
    last_seen     TEXT,
    hostname      TEXT,
    os            TEXT,
    ip_address    TEXT,
    agent_version TEXT,
    cluster_id    TEXT,
    node_name     TEXT,
    labels        TEXT CHECK (labels IS NULL OR json_valid(labels)),
    node_status   TEXT,
    resources     TEXT CHECK (resources IS NULL OR json_valid(resources)),
    created_at    TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
    updated_at    TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
    deleted_at    TEXT,
    UNIQUE (tenant_id, id)
) STRICT;
CREATE INDEX devices_tenant_status_idx ON devices (tenant_id, status, id);

-- One support session (states as in the PostgreSQL file).
CREATE TABLE sessions (
    id            TEXT PRIMARY KEY,
    tenant_id     TEXT NOT NULL REFERENCES tenants (id),
    device_id     TEXT NOT NULL,
    short_id      TEXT NOT NULL UNIQUE,
    status        TEXT NOT NULL DEFAULT 'pending'
                  CHECK (status IN ('pending', 'active', 'ending', 'ended', 'failed')),
    step          TEXT,
    public_url    TEXT,
    ssh_hostname  TEXT,
    tunnel_id     TEXT,
    engineer_name TEXT NOT NULL,
    engineer_id   TEXT,
    ticket_id     TEXT,
    notes         TEXT,
    error         TEXT,
    ssh_port      INTEGER NOT NULL DEFAULT 22 CHECK (ssh_port BETWEEN 1 AND 65535),
    web_port      INTEGER NOT NULL DEFAULT 8080 CHECK (web_port BETWEEN 1 AND 65535),
    recording_url TEXT,
    started_at    TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
    ended_at      TEXT,
    created_at    TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
    updated_at    TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
    UNIQUE (tenant_id, id),
    FOREIGN KEY (tenant_id, device_id) REFERENCES devices (tenant_id, id)
) STRICT;
CREATE INDEX sessions_tenant_device_idx ON sessions (tenant_id, device_id, id);
CREATE INDEX sessions_tenant_status_idx ON sessions (tenant_id, status, id);

-- Bearer tokens: SHA-256 of the whole token only.
CREATE TABLE api_tokens (
    id           TEXT PRIMARY KEY,
    tenant_id    TEXT NOT NULL REFERENCES tenants (id),
    user_id      TEXT,
    name         TEXT NOT NULL,
    token_digest TEXT NOT NULL UNIQUE,
    created_at   TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
    last_used_at TEXT,
    revoked_at   TEXT
) STRICT;
CREATE INDEX api_tokens_tenant_idx ON api_tokens (tenant_id, id);

-- The outbox helperd works from; a claim leases a job (locked_by, locked_until).
CREATE TABLE jobs (
    id           TEXT PRIMARY KEY,
    tenant_id    TEXT NOT NULL REFERENCES tenants (id),
    kind         TEXT NOT NULL CHECK (length(kind) BETWEEN 1 AND 31),
    session_id   TEXT,
    state        TEXT NOT NULL DEFAULT 'queued'
                 CHECK (state IN ('queued', 'running', 'done', 'failed')),
    run_after    TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
    attempts     INTEGER NOT NULL DEFAULT 0 CHECK (attempts >= 0),
    locked_by    TEXT,
    locked_until TEXT,
    last_error   TEXT,
    created_at   TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
    updated_at   TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
    FOREIGN KEY (tenant_id, session_id) REFERENCES sessions (tenant_id, id)
) STRICT;
CREATE INDEX jobs_due_idx ON jobs (state, run_after);
CREATE INDEX jobs_tenant_idx ON jobs (tenant_id, id);
CREATE INDEX jobs_session_idx ON jobs (tenant_id, session_id);
