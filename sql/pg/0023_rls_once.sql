-- 0023_rls_once (PostgreSQL): every row-level security policy reads its two settings once
-- per statement instead of once per row (issue 14).
--
-- Until now each policy called kaiden_rls_tenant() and kaiden_rls_staff() (0006) bare.
-- They are plain STABLE SQL functions, so the planner inlined them, and the executor
-- evaluated current_setting() and the text-to-uuid cast for every row it looked at: on
-- `GET /devices?limit=50` a tenth of the backend's work. Written as scalar subqueries,
-- (SELECT kaiden_rls_tenant()) and (SELECT kaiden_rls_staff()), each becomes an InitPlan:
-- evaluated at most once per execution of the statement (on first use, so not at all
-- when no row is met), its value reused for every row.
--
-- Nothing else changes: the same functions, settings and tenant/staff logic, the same
-- USING and WITH CHECK of each policy, the same commands and roles (ALTER POLICY keeps
-- them). The settings cannot change while one statement runs: the application sets them
-- by statements of their own (db_scope_begin, db_session_set), and the SECURITY DEFINER
-- functions that turn staff on (SET kaiden.staff = 'on') run their queries as statements
-- of their own, planned and executed inside that setting. Each execution of a prepared
-- statement evaluates its InitPlans afresh.
--
-- One difference in failure only: with kaiden.tenant_id set to something that is not a
-- UUID (the application refuses to set one: db_scope_begin), the planner used to fail on
-- the cast while estimating the inlined expression, so every statement on a tenant table
-- failed. Now a statement fails, with the same error (invalid input syntax for type
-- uuid), when it first checks a row or writes one; one that meets no row returns none.
-- Either way no row passes.
--
-- A later policy is written the same way: the settings only through
-- (SELECT kaiden_rls_tenant()) and (SELECT kaiden_rls_staff()). tests/unit/check_rls.c
-- fails on one that is not.

DO $$
DECLARE
    -- Every table whose policy tenant_isolation is the rule on tenant_id (0006, 0011,
    -- 0012, 0014, 0016). tenants has it on id, below.
    tenant_tables constant text[] := ARRAY['devices', 'sessions', 'api_tokens', 'jobs',
                                           'users', 'logins', 'tickets', 'ticket_comments',
                                           'ticket_counters', 'webhooks', 'webhook_events',
                                           'webhook_deliveries', 'clusters',
                                           'cloud_services', 'service_revisions'];
    t text;
BEGIN
    ALTER POLICY tenant_isolation ON tenants
        USING (id = (SELECT kaiden_rls_tenant()) OR (SELECT kaiden_rls_staff()))
        WITH CHECK (id = (SELECT kaiden_rls_tenant()) OR (SELECT kaiden_rls_staff()));

    FOREACH t IN ARRAY tenant_tables LOOP
        EXECUTE format('ALTER POLICY tenant_isolation ON %I '
                       'USING (tenant_id = (SELECT kaiden_rls_tenant()) '
                       'OR (SELECT kaiden_rls_staff())) '
                       'WITH CHECK (tenant_id = (SELECT kaiden_rls_tenant()) '
                       'OR (SELECT kaiden_rls_staff()))',
                       t);
    END LOOP;

    -- audit_log (0006, 0007): read under the rule, append under it, and the throttled
    -- count updated by staff only.
    ALTER POLICY audit_read ON audit_log
        USING (tenant_id = (SELECT kaiden_rls_tenant()) OR (SELECT kaiden_rls_staff()));
    ALTER POLICY audit_append ON audit_log
        WITH CHECK (tenant_id = (SELECT kaiden_rls_tenant()) OR (SELECT kaiden_rls_staff()));
    ALTER POLICY audit_throttled_count ON audit_log
        USING (action = 'auth.login_throttled' AND (SELECT kaiden_rls_staff()))
        WITH CHECK (action = 'auth.login_throttled' AND (SELECT kaiden_rls_staff()));

    -- server_keys (0018): staff only.
    ALTER POLICY staff_only ON server_keys
        USING ((SELECT kaiden_rls_staff())) WITH CHECK ((SELECT kaiden_rls_staff()));
END
$$;
