-- 0004_accounts (SQLite): users, logins, login throttling, the audit log, and API tokens
-- that belong to users: the same tables, columns, checks and indexes as
-- sql/pg/0004_accounts.sql, whose comments give the reasons. Upgrading needs no action:
-- existing tenant data has carried tenant_id NOT NULL since 0001 (no backfill needed),
-- and api_tokens is rebuilt below with its rows.
--
-- SQLite has no SECURITY DEFINER functions and no row-level security: the store runs
-- the bodies of PostgreSQL's kaiden_auth_* functions as plain SELECTs.
--
-- Runs inside the transaction that records it (common/migrations.c): no BEGIN/COMMIT.

CREATE TABLE users (
    id            TEXT PRIMARY KEY,
    tenant_id     TEXT REFERENCES tenants (id),
    email         TEXT NOT NULL
                  CHECK (length(email) BETWEEN 1 AND 254 AND email = lower(email)),
    name          TEXT NOT NULL,
    role          TEXT NOT NULL
                  CHECK (role IN ('admin', 'engineer', 'tenant_admin', 'customer')),
    status        TEXT NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'disabled')),
    password_hash TEXT,
    created_at    TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
    updated_at    TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
    last_login_at TEXT,
    CONSTRAINT users_role_tenant_check
        CHECK ((role IN ('admin', 'engineer')) = (tenant_id IS NULL))
) STRICT;
CREATE UNIQUE INDEX users_tenant_email_idx ON users (tenant_id, email)
    WHERE tenant_id IS NOT NULL;
CREATE UNIQUE INDEX users_staff_email_idx ON users (email) WHERE tenant_id IS NULL;
CREATE INDEX users_tenant_idx ON users (tenant_id, id);

CREATE TABLE logins (
    id         TEXT PRIMARY KEY,
    tenant_id  TEXT REFERENCES tenants (id),
    user_id    TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    created_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
    expires_at TEXT NOT NULL,
    revoked_at TEXT
) STRICT;
CREATE INDEX logins_tenant_idx ON logins (tenant_id, id);
CREATE INDEX logins_user_idx ON logins (user_id, expires_at);

CREATE TABLE login_attempts (
    id          TEXT PRIMARY KEY,
    account_key TEXT NOT NULL,
    remote_addr TEXT,
    ok          INTEGER NOT NULL CHECK (ok IN (0, 1)),
    created_at  TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
) STRICT;
CREATE INDEX login_attempts_account_idx ON login_attempts (account_key, created_at)
    WHERE ok = 0;
CREATE INDEX login_attempts_addr_idx ON login_attempts (remote_addr, created_at)
    WHERE ok = 0;
CREATE INDEX login_attempts_created_idx ON login_attempts (created_at);

CREATE TABLE audit_log (
    id            TEXT PRIMARY KEY,
    tenant_id     TEXT,
    actor_id      TEXT,
    actor_email   TEXT,
    actor_role    TEXT,
    credential_id TEXT,
    action        TEXT NOT NULL CHECK (length(action) BETWEEN 1 AND 64),
    target_type   TEXT,
    target_id     TEXT,
    remote_addr   TEXT,
    request_id    TEXT,
    details       TEXT
                  CHECK (details IS NULL OR (json_valid(details) AND
                                             json_type(details) = 'object')),
    created_at    TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
) STRICT;
CREATE INDEX audit_log_tenant_idx ON audit_log (tenant_id, id);
CREATE INDEX audit_log_tenant_action_idx ON audit_log (tenant_id, action, id);
CREATE UNIQUE INDEX audit_log_tenant_access_idx ON audit_log (tenant_id, credential_id)
    WHERE action = 'tenant.access';

-- api_tokens: tenant_id loses NOT NULL and user_id gains a foreign key, which SQLite's
-- ALTER TABLE cannot do, so the table is rebuilt (https://sqlite.org/lang_altertable.html,
-- "Making Other Kinds Of Table Schema Changes"): a new table in the final shape, the rows
-- copied, the old table dropped, the new one renamed, its indexes made again. Nothing
-- references api_tokens, so foreign keys can stay on (they cannot be switched off inside
-- the migration's transaction anyway). Columns keep PostgreSQL's order (0001's, then
-- kind and expires_at as ALTER TABLE appends them there). A row with a user_id (never
-- written by earlier code, so it names no user) becomes a revoked user token, as on
-- PostgreSQL.
CREATE TABLE api_tokens_new (
    id           TEXT PRIMARY KEY,
    tenant_id    TEXT REFERENCES tenants (id),
    user_id      TEXT REFERENCES users (id) ON DELETE SET NULL,
    name         TEXT NOT NULL,
    token_digest TEXT NOT NULL UNIQUE,
    created_at   TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
    last_used_at TEXT,
    revoked_at   TEXT,
    kind         TEXT NOT NULL DEFAULT 'service' CHECK (kind IN ('service', 'user')),
    expires_at   TEXT,
    CONSTRAINT api_tokens_kind_user_check
        CHECK (kind = 'user' OR (user_id IS NULL AND tenant_id IS NOT NULL))
) STRICT;
INSERT INTO api_tokens_new (id, tenant_id, user_id, name, token_digest, created_at,
                            last_used_at, revoked_at, kind, expires_at)
SELECT id, tenant_id, NULL, name, token_digest, created_at, last_used_at,
       CASE WHEN user_id IS NULL THEN revoked_at
            ELSE coalesce(revoked_at, strftime('%Y-%m-%dT%H:%M:%fZ', 'now')) END,
       CASE WHEN user_id IS NULL THEN 'service' ELSE 'user' END,
       NULL
FROM api_tokens;
DROP TABLE api_tokens;
ALTER TABLE api_tokens_new RENAME TO api_tokens;
CREATE INDEX api_tokens_tenant_idx ON api_tokens (tenant_id, id);
CREATE INDEX api_tokens_user_idx ON api_tokens (user_id, id);
