-- 0004_accounts (PostgreSQL): users, logins, login throttling, the audit log, and API
-- tokens that belong to users (store_auth.h).
--
-- Who is who: admin and engineer are platform staff (users.tenant_id NULL, they serve
-- every tenant); tenant_admin and customer belong to one tenant. Emails are stored
-- lower-cased, unique among staff and within a tenant (one address may exist in two
-- tenants, and as a staff account too: a tenant's login prefers the tenant's own user).
--
-- Upgrading needs no action. Every existing table that holds tenant data has carried
-- tenant_id NOT NULL since 0001, so no rows need a tenant here: nothing goes through the
-- seed's nullable -> backfill with the default tenant -> NOT NULL sequence. The one
-- change to an existing tenant column goes the other way: api_tokens.tenant_id becomes
-- nullable, NULL meaning a staff user's token, which no existing row is.
--
-- sessions.engineer_id gets no foreign key: like audit_log.actor_id it records who it
-- was, and a key would break a tenant's import into another deployment (its sessions
-- name the staff of the deployment it came from; engineer_name keeps the name).
--
-- Lookups made before a request's tenant is known (the token check, the login check,
-- a login's jti, a tenant's code) go through the SECURITY DEFINER functions at the end,
-- so row-level security (a later migration) can stay forced on the tables themselves.
-- The same SELECTs run as plain statements on SQLite (common/store_user.c,
-- store_login.c, store_token.c): keep the two in step.
--
-- Runs inside the transaction that records it (common/migrations.c): no BEGIN/COMMIT.

CREATE TABLE users (
    id            uuid PRIMARY KEY,
    tenant_id     uuid REFERENCES tenants (id),
    email         text NOT NULL
                  CHECK (length(email) BETWEEN 1 AND 254 AND email = lower(email)),
    name          text NOT NULL,
    role          text NOT NULL
                  CHECK (role IN ('admin', 'engineer', 'tenant_admin', 'customer')),
    status        text NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'disabled')),
    password_hash text,
    created_at    timestamptz NOT NULL DEFAULT now(),
    updated_at    timestamptz NOT NULL DEFAULT now(),
    last_login_at timestamptz,
    -- Staff belong to no tenant; everyone else to exactly one.
    CONSTRAINT users_role_tenant_check
        CHECK ((role IN ('admin', 'engineer')) = (tenant_id IS NULL))
);
-- Two partial indexes rather than one on (coalesce(tenant_id, <some id>), email): the
-- default tenant's id would make staff and that tenant share one set of addresses.
CREATE UNIQUE INDEX users_tenant_email_idx ON users (tenant_id, email)
    WHERE tenant_id IS NOT NULL;
CREATE UNIQUE INDEX users_staff_email_idx ON users (email) WHERE tenant_id IS NULL;
CREATE INDEX users_tenant_idx ON users (tenant_id, id);

-- One row a login: its id is the jti of the login token (jwt.h). Logout and disabling
-- the user set revoked_at; deleting the user deletes them. tenant_id is the user's
-- (NULL for staff), copied at login: a user's tenant never changes.
CREATE TABLE logins (
    id         uuid PRIMARY KEY,
    tenant_id  uuid REFERENCES tenants (id),
    user_id    uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    created_at timestamptz NOT NULL DEFAULT now(),
    expires_at timestamptz NOT NULL,
    revoked_at timestamptz
);
CREATE INDEX logins_tenant_idx ON logins (tenant_id, id);
CREATE INDEX logins_user_idx ON logins (user_id, expires_at);

-- Login throttling: failures per account key ("<tenant id or ->" + ' ' + lower-cased
-- email) and per source address over a window. Not tenant data (the tenant is in the
-- key), so no tenant_id; rows older than a day are pruned as new ones arrive.
CREATE TABLE login_attempts (
    id          uuid PRIMARY KEY,
    account_key text NOT NULL,
    remote_addr text,
    ok          integer NOT NULL CHECK (ok IN (0, 1)),
    created_at  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX login_attempts_account_idx ON login_attempts (account_key, created_at)
    WHERE ok = 0;
CREATE INDEX login_attempts_addr_idx ON login_attempts (remote_addr, created_at)
    WHERE ok = 0;
CREATE INDEX login_attempts_created_idx ON login_attempts (created_at);

-- Append-only record of who did what (store_auth.h lists the actions). tenant_id NULL:
-- a platform-level action. No foreign keys: an entry outlives its tenant, actor and
-- target. credential_id is the login (jti) or API token the actor used; tenant.access
-- (staff acting in a tenant) is recorded once per credential and tenant, which the
-- unique index enforces (INSERT ... ON CONFLICT DO NOTHING).
CREATE TABLE audit_log (
    id            uuid PRIMARY KEY,
    tenant_id     uuid,
    actor_id      uuid,
    actor_email   text,
    actor_role    text,
    credential_id uuid,
    action        text NOT NULL CHECK (length(action) BETWEEN 1 AND 64),
    target_type   text,
    target_id     uuid,
    remote_addr   text,
    request_id    text,
    details       jsonb CHECK (details IS NULL OR jsonb_typeof(details) = 'object'),
    created_at    timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX audit_log_tenant_idx ON audit_log (tenant_id, id);
CREATE INDEX audit_log_tenant_action_idx ON audit_log (tenant_id, action, id);
CREATE UNIQUE INDEX audit_log_tenant_access_idx ON audit_log (tenant_id, credential_id)
    WHERE action = 'tenant.access';

-- API tokens of users. kind says what a token is for good: a 'service' token (no user,
-- acts as its tenant) or a 'user' token. Deleting a user revokes their tokens (the
-- store) and the key sets user_id NULL, keeping the rows; kind keeps such a token from
-- ever reading as a service token. Until now no code wrote user_id, so a row carrying
-- one can only have been made by hand and names no user: it is revoked as a user token
-- whose user is gone.
ALTER TABLE api_tokens ADD COLUMN kind text NOT NULL DEFAULT 'service'
    CHECK (kind IN ('service', 'user'));
UPDATE api_tokens SET kind = 'user', user_id = NULL, revoked_at = coalesce(revoked_at, now())
    WHERE user_id IS NOT NULL;
ALTER TABLE api_tokens ADD COLUMN expires_at timestamptz;
ALTER TABLE api_tokens ALTER COLUMN tenant_id DROP NOT NULL;
ALTER TABLE api_tokens ADD CONSTRAINT api_tokens_user_id_fkey
    FOREIGN KEY (user_id) REFERENCES users (id) ON DELETE SET NULL;
-- A service token has a tenant and no user; a user token has the user's tenant (NULL
-- for staff) and its user until the user is deleted.
ALTER TABLE api_tokens ADD CONSTRAINT api_tokens_kind_user_check
    CHECK (kind = 'user' OR (user_id IS NULL AND tenant_id IS NOT NULL));
CREATE INDEX api_tokens_user_idx ON api_tokens (user_id, id);

-- ---- lookups across tenants ---------------------------------------------------------
-- SECURITY DEFINER: they run as the owner of the tables (the role that migrates), and
-- SET kaiden.staff = 'on' for their duration, which lets them through row-level security
-- forced even on the owner. Each returns facts; the caller (the store) decides (password,
-- digest, expiry, status). Their first six columns are the same in each: the store reads
-- an identity from them (store_auth_row.h). PL/pgSQL, not SQL: a SQL function with SET
-- clauses is planned again on every call (it cannot be inlined), which made the token
-- check a third of the cost of an API request; PL/pgSQL keeps its plans per connection
-- (measured with pgbench: 21,600 vs 74,000 calls/s).

-- The login check's candidate: the active user with that email in the tenant, or among
-- staff; the tenant's own user first. $2 NULL: staff only.
CREATE FUNCTION kaiden_auth_user(p_email text, p_tenant uuid)
RETURNS TABLE (user_id uuid, tenant_id uuid, email text, role text, user_status text,
               tenant_status text, password_hash text)
LANGUAGE plpgsql STABLE SECURITY DEFINER SET kaiden.staff = 'on'
AS $$
#variable_conflict use_column
BEGIN
RETURN QUERY
SELECT u.id AS user_id, u.tenant_id, u.email, u.role, u.status AS user_status,
       t.status AS tenant_status, u.password_hash
FROM users u LEFT JOIN tenants t ON t.id = u.tenant_id
WHERE u.email = lower($1) AND (u.tenant_id = $2 OR u.tenant_id IS NULL)
  AND u.status = 'active'
ORDER BY u.tenant_id IS NULL LIMIT 1;
END
$$;

-- A login (jti) and its user as they are now.
CREATE FUNCTION kaiden_auth_login(p_jti uuid)
RETURNS TABLE (user_id uuid, tenant_id uuid, email text, role text, user_status text,
               tenant_status text, expires_at timestamptz, revoked_at timestamptz)
LANGUAGE plpgsql STABLE SECURITY DEFINER SET kaiden.staff = 'on'
AS $$
#variable_conflict use_column
BEGIN
RETURN QUERY
SELECT l.user_id, u.tenant_id, u.email, u.role, u.status AS user_status,
       t.status AS tenant_status, l.expires_at, l.revoked_at
FROM logins l JOIN users u ON u.id = l.user_id
LEFT JOIN tenants t ON t.id = u.tenant_id
WHERE l.id = $1;
END
$$;

-- An API token and whom it acts as: a service token its tenant, a user token its user
-- (role, tenant and status as they are now; all NULL once the user is deleted).
CREATE FUNCTION kaiden_auth_token(p_id uuid)
RETURNS TABLE (user_id uuid, tenant_id uuid, email text, role text, user_status text,
               tenant_status text, token_digest text, expires_at timestamptz,
               revoked_at timestamptz, last_used_at timestamptz)
LANGUAGE plpgsql STABLE SECURITY DEFINER SET kaiden.staff = 'on'
AS $$
#variable_conflict use_column
BEGIN
RETURN QUERY
SELECT k.user_id,
       CASE WHEN k.kind = 'service' THEN k.tenant_id ELSE u.tenant_id END AS tenant_id,
       u.email,
       CASE WHEN k.kind = 'service' THEN 'service' ELSE u.role END AS role,
       CASE WHEN k.kind = 'service' THEN 'active' ELSE u.status END AS user_status,
       t.status AS tenant_status, k.token_digest, k.expires_at, k.revoked_at,
       k.last_used_at
FROM api_tokens k LEFT JOIN users u ON u.id = k.user_id
LEFT JOIN tenants t
       ON t.id = CASE WHEN k.kind = 'service' THEN k.tenant_id ELSE u.tenant_id END
WHERE k.id = $1;
END
$$;

-- Records a token's use ($2: now) unless it was recorded after $3 (a minute ago).
CREATE FUNCTION kaiden_auth_token_used(p_id uuid, p_now timestamptz, p_since timestamptz)
RETURNS void
LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET kaiden.staff = 'on'
AS $$
#variable_conflict use_column
BEGIN
UPDATE api_tokens SET last_used_at = $2
WHERE id = $1 AND (last_used_at IS NULL OR last_used_at < $3);
END
$$;

-- A tenant by its code, case-insensitively (login's tenant_code, subdomains).
CREATE FUNCTION kaiden_tenant_by_code(p_code text)
RETURNS TABLE (id uuid, status text)
LANGUAGE plpgsql STABLE SECURITY DEFINER SET kaiden.staff = 'on'
AS $$
#variable_conflict use_column
BEGIN
RETURN QUERY
SELECT t.id, t.status FROM tenants t WHERE lower(t.code) = lower($1);
END
$$;

-- A SECURITY DEFINER function must not let its caller choose what its names mean: pin
-- search_path to the schema this migration runs in (the unit tests give each test its
-- own), with pg_temp last, since a temporary table would otherwise shadow the real ones
-- (pg_temp is searched first unless it is named). And only the roles granted it may
-- call one: the application role gets EXECUTE where it is created.
DO $$
DECLARE
    f text;
BEGIN
    FOREACH f IN ARRAY ARRAY['kaiden_auth_user(text, uuid)', 'kaiden_auth_login(uuid)',
                             'kaiden_auth_token(uuid)',
                             'kaiden_auth_token_used(uuid, timestamptz, timestamptz)',
                             'kaiden_tenant_by_code(text)']
    LOOP
        EXECUTE format('ALTER FUNCTION %s SET search_path = %I, pg_temp', f,
                       current_schema());
        EXECUTE format('REVOKE ALL ON FUNCTION %s FROM PUBLIC', f);
    END LOOP;
END
$$;
