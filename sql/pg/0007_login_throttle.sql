-- 0007_login_throttle (PostgreSQL): login throttling counted before the password is
-- checked, one audit row per throttled burst, and staff emails taken before tenants'.
--
-- login_throttle replaces login_attempts (one row an attempt, counted after the fact,
-- which let parallel guesses slip past the limit). One row a key: 'account:<email>'
-- (lower-cased; whatever tenant a login names, so the lock is the account's) or
-- 'address:<client address>'. A key's window starts at its first counted attempt and
-- lasts auth.failure_window; a reservation is one INSERT ... ON CONFLICT DO UPDATE on
-- the key's row (common/store_login.c), so parallel logins count one after another.
-- Not tenant data: no tenant_id and no row-level security; kaiden_app reads and writes
-- it. Rows whose window has ended are pruned as new attempts come.
--
-- Runs inside the transaction that records it (common/migrations.c): no BEGIN/COMMIT.

DROP TABLE login_attempts;

CREATE TABLE login_throttle (
    key          text PRIMARY KEY CHECK (length(key) BETWEEN 1 AND 1100),
    window_start timestamptz NOT NULL,
    attempts     bigint NOT NULL CHECK (attempts >= 0)
);
CREATE INDEX login_throttle_window_idx ON login_throttle (window_start);
GRANT SELECT, INSERT, UPDATE, DELETE ON login_throttle TO kaiden_app;

-- A throttled burst is one audit row per tenant, key and window (auth.login_throttled,
-- details: reason, key, window_start, count, last_at), so an anonymous client cannot grow
-- the append-only log by the request: its count goes up instead. The unique index makes
-- "one" exact; the count is raised only through kaiden_audit_throttled below (kaiden_app
-- has no UPDATE on audit_log, and this policy lets the owner change only these rows).
CREATE UNIQUE INDEX audit_log_throttled_idx
    ON audit_log ((coalesce(tenant_id::text, '-')), (details->>'key'), (details->>'window_start'))
    WHERE action = 'auth.login_throttled';
CREATE POLICY audit_throttled_count ON audit_log FOR UPDATE
    USING (action = 'auth.login_throttled' AND kaiden_rls_staff())
    WITH CHECK (action = 'auth.login_throttled' AND kaiden_rls_staff());

-- Records one throttled attempt: a new row for the burst, or one more in its count.
-- The body runs as plain SQL on SQLite (common/store_audit.c): keep the two in step.
CREATE FUNCTION kaiden_audit_throttled(p_id uuid, p_tenant uuid, p_email text, p_addr text,
                                       p_request_id text, p_key text, p_window text,
                                       p_now timestamptz)
RETURNS void
LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET kaiden.staff = 'on'
AS $$
BEGIN
INSERT INTO audit_log AS a (id, tenant_id, actor_email, action, target_type, remote_addr,
                            request_id, details, created_at)
VALUES (p_id, p_tenant, p_email, 'auth.login_throttled', 'user', p_addr, p_request_id,
        jsonb_build_object('reason', 'throttled', 'key', p_key, 'window_start', p_window,
                           'count', 1, 'last_at', p_now),
        p_now)
ON CONFLICT ((coalesce(tenant_id::text, '-')), (details->>'key'), (details->>'window_start'))
    WHERE action = 'auth.login_throttled'
DO UPDATE SET details = a.details ||
    jsonb_build_object('count', (a.details->>'count')::bigint + 1, 'last_at', p_now);
END
$$;

-- Staff emails are reserved: a tenant user may not take one (p_staff false: is there a
-- staff user with it?), nor staff a tenant user's (p_staff true: is there a tenant user
-- with it?). Across tenants, so it is a SECURITY DEFINER lookup: a tenant admin's scope
-- cannot see staff rows.
CREATE FUNCTION kaiden_email_reserved(p_email text, p_staff boolean)
RETURNS boolean
LANGUAGE plpgsql STABLE SECURITY DEFINER SET kaiden.staff = 'on'
AS $$
BEGIN
RETURN EXISTS (SELECT 1 FROM users u
               WHERE u.email = lower(p_email) AND (u.tenant_id IS NULL) <> p_staff);
END
$$;

-- The login check's candidate: staff first now. A login that names a tenant still finds
-- staff, and a tenant user with a staff member's email (made before the rule above, or
-- imported) can no longer shadow the staff account there.
CREATE OR REPLACE FUNCTION kaiden_auth_user(p_email text, p_tenant uuid)
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
ORDER BY u.tenant_id IS NOT NULL LIMIT 1;
END
$$;

-- As in 0004: a pinned search_path (CREATE OR REPLACE dropped kaiden_auth_user's), no
-- EXECUTE for PUBLIC, EXECUTE for the application.
DO $$
DECLARE
    f text;
BEGIN
    FOREACH f IN ARRAY ARRAY['kaiden_auth_user(text, uuid)',
                             'kaiden_audit_throttled(uuid, uuid, text, text, text, text, text, timestamptz)',
                             'kaiden_email_reserved(text, boolean)']
    LOOP
        EXECUTE format('ALTER FUNCTION %s SET search_path = %I, pg_temp', f,
                       current_schema());
        EXECUTE format('REVOKE ALL ON FUNCTION %s FROM PUBLIC', f);
        EXECUTE format('GRANT EXECUTE ON FUNCTION %s TO kaiden_app', f);
    END LOOP;
END
$$;
