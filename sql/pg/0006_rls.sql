-- 0006_rls (PostgreSQL): row-level security, the second line of tenant isolation
-- (issue 4; the store's WHERE tenant_id = ... is the first).
--
-- Who connects as whom:
--   - the schema owner (database.owner_dsn) runs `kaiden-api migrate` and owns every table;
--   - the application (kaiden-api serve, helperd, the other admin commands) connects with
--     database.dsn as a LOGIN role that is a member of kaiden_app, owns nothing, and is
--     neither superuser nor BYPASSRLS. kaiden-api serve and helperd warn at start-up when
--     it is (db_rls_check). Creating it is the deployer's step, e.g.
--         CREATE ROLE kaiden_api LOGIN PASSWORD '...' IN ROLE kaiden_app;
--     scripts/pg.sh does it for the throwaway clusters of make run and the tests.
--
-- What a row needs to be seen or written by kaiden_app (one rule, two settings):
--   - kaiden.tenant_id: the tenant of the transaction, SET LOCAL by db_scope_begin for each
--     request; a row of that tenant passes. Unset or '' passes no tenant's rows.
--   - kaiden.staff = 'on': every row passes, those with no tenant (staff users, their
--     logins, tokens and platform-level audit entries) included: the explicit switch for
--     platform staff (set per request by kaiden-api only for staff acting platform-wide,
--     which auth.c audits) and for helperd and the admin commands, which serve every
--     tenant (db_session_set for their whole connection).
-- Rows with a NULL tenant therefore pass only with staff on. FORCE makes the rule apply to
-- the owner too (a superuser or BYPASSRLS role still passes everything: hence the
-- start-up warning). Foreign keys and unique constraints are checked past it, as
-- PostgreSQL always does. The settings are no secret: a role that can run arbitrary SQL
-- can set them; this line stops the application's own mistakes (a query that forgets its
-- tenant), not an attacker holding the application's connection.
--
-- The audit log is append-only for kaiden_app: SELECT and INSERT granted, no UPDATE or
-- DELETE, and no policy that would let one through even if granted later.
--
-- Lookups made before a request's tenant is known (login, token check, tenant by code)
-- go through the SECURITY DEFINER functions of 0004/0005, which run as the owner with
-- kaiden.staff = on for their own duration; kaiden_app gets EXECUTE on every kaiden_*
-- function here.
--
-- A later migration that adds a table grants kaiden_app its privileges on it and, when it
-- holds tenant data, enables and forces row-level security with the same policy.

-- The group role the application's login role is a member of. Roles belong to the
-- cluster, not the database: another database (or a test schema) may have made it.
DO $$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'kaiden_app') THEN
        BEGIN
            CREATE ROLE kaiden_app NOLOGIN;
        EXCEPTION
            WHEN duplicate_object OR unique_violation THEN
                NULL; -- made at the same moment by a concurrent migration
            WHEN insufficient_privilege THEN
                RAISE EXCEPTION 'role kaiden_app does not exist and % may not create it',
                    current_user
                    USING HINT = 'as a superuser: CREATE ROLE kaiden_app NOLOGIN; then '
                                 'run kaiden-api migrate again';
        END;
    END IF;
END
$$;

-- The two settings, read the same way by every policy. Plain SQL functions: the planner
-- inlines them into each policy.
CREATE OR REPLACE FUNCTION kaiden_rls_tenant() RETURNS uuid
    LANGUAGE sql STABLE
AS $$ SELECT nullif(current_setting('kaiden.tenant_id', true), '')::uuid $$;

CREATE OR REPLACE FUNCTION kaiden_rls_staff() RETURNS boolean
    LANGUAGE sql STABLE
AS $$ SELECT coalesce(current_setting('kaiden.staff', true), '') = 'on' $$;

DO $$
DECLARE
    -- Tables of tenant data with their tenant in tenant_id (NULL: staff rows).
    tenant_tables constant text[] := ARRAY['devices', 'sessions', 'api_tokens', 'jobs',
                                           'users', 'logins'];
    -- Tables kaiden_app reads and writes with no row-level security: not tenant data.
    plain_tables constant text[] := ARRAY['login_attempts'];
    t text;
    f regprocedure;
BEGIN
    EXECUTE format('GRANT USAGE ON SCHEMA %I TO kaiden_app', current_schema());
    -- The migration version (health checks compare it), read-only.
    GRANT SELECT ON schema_migrations TO kaiden_app;

    -- tenants: a tenant sees its own row; staff all of them.
    GRANT SELECT, INSERT, UPDATE, DELETE ON tenants TO kaiden_app;
    ALTER TABLE tenants ENABLE ROW LEVEL SECURITY;
    ALTER TABLE tenants FORCE ROW LEVEL SECURITY;
    DROP POLICY IF EXISTS tenant_isolation ON tenants;
    CREATE POLICY tenant_isolation ON tenants
        USING (id = kaiden_rls_tenant() OR kaiden_rls_staff())
        WITH CHECK (id = kaiden_rls_tenant() OR kaiden_rls_staff());

    FOREACH t IN ARRAY tenant_tables LOOP
        EXECUTE format('GRANT SELECT, INSERT, UPDATE, DELETE ON %I TO kaiden_app', t);
        EXECUTE format('ALTER TABLE %I ENABLE ROW LEVEL SECURITY', t);
        EXECUTE format('ALTER TABLE %I FORCE ROW LEVEL SECURITY', t);
        EXECUTE format('DROP POLICY IF EXISTS tenant_isolation ON %I', t);
        EXECUTE format('CREATE POLICY tenant_isolation ON %I '
                       'USING (tenant_id = kaiden_rls_tenant() OR kaiden_rls_staff()) '
                       'WITH CHECK (tenant_id = kaiden_rls_tenant() OR kaiden_rls_staff())',
                       t);
    END LOOP;

    -- audit_log: append-only. Read and add under the same rule; nothing else.
    GRANT SELECT, INSERT ON audit_log TO kaiden_app;
    REVOKE UPDATE, DELETE, TRUNCATE ON audit_log FROM kaiden_app;
    ALTER TABLE audit_log ENABLE ROW LEVEL SECURITY;
    ALTER TABLE audit_log FORCE ROW LEVEL SECURITY;
    DROP POLICY IF EXISTS audit_read ON audit_log;
    DROP POLICY IF EXISTS audit_append ON audit_log;
    CREATE POLICY audit_read ON audit_log FOR SELECT
        USING (tenant_id = kaiden_rls_tenant() OR kaiden_rls_staff());
    CREATE POLICY audit_append ON audit_log FOR INSERT
        WITH CHECK (tenant_id = kaiden_rls_tenant() OR kaiden_rls_staff());

    FOREACH t IN ARRAY plain_tables LOOP
        EXECUTE format('GRANT SELECT, INSERT, UPDATE, DELETE ON %I TO kaiden_app', t);
    END LOOP;

    EXECUTE format('GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA %I TO kaiden_app',
                   current_schema());

    -- The kaiden_* functions: the SECURITY DEFINER lookups and the two above.
    FOR f IN SELECT p.oid::regprocedure FROM pg_proc p
             WHERE p.pronamespace = to_regnamespace(current_schema())
               AND p.proname LIKE 'kaiden\_%' LOOP
        EXECUTE format('GRANT EXECUTE ON FUNCTION %s TO kaiden_app', f);
    END LOOP;
END
$$;
