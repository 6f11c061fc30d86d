-- 0013_lookups (PostgreSQL): what issue 11's reads need beyond 0011 and 0012.
--
-- kaiden_staff_user: a staff member by id for a request acting in a tenant (whom a
-- ticket may be assigned to, the name a staff member's comment carries). It was first
-- written into 0011 after 0011 had shipped: a database migrated then would never get it,
-- so it is here (OR REPLACE: a development database that ran that 0011 has it already).
--
-- webhook_deliveries (event_id): the sweep's prune deletes events no delivery refers
-- to, and each delete looks its deliveries up for ON DELETE CASCADE; the only index
-- with event_id started with webhook_id (measured: 5,000 orphans among 40,000
-- deliveries, 5.7 s without, 27 ms with).
--
-- sessions (tenant_id, ticket_id): a ticket's sessions (GET /tickets/{id},
-- GET /sessions?ticket_id=) without reading the tenant's every session.
CREATE INDEX webhook_deliveries_event_idx ON webhook_deliveries (event_id);
CREATE INDEX sessions_tenant_ticket_idx ON sessions (tenant_id, ticket_id, id)
    WHERE ticket_id IS NOT NULL;

-- A staff member by id, for a request acting in a tenant: whom a ticket may be assigned
-- to (an active admin or engineer) and the name a staff member's comment carries. Staff
-- rows have no tenant, so a tenant's scope cannot see them: a SECURITY DEFINER lookup
-- (as kaiden_email_reserved), which gives out no more than a comment shows.
CREATE OR REPLACE FUNCTION kaiden_staff_user(p_id uuid)
RETURNS TABLE (id uuid, name text, role text, status text)
LANGUAGE plpgsql STABLE SECURITY DEFINER SET kaiden.staff = 'on'
AS $$
#variable_conflict use_column
BEGIN
RETURN QUERY
SELECT u.id, u.name, u.role, u.status FROM users u WHERE u.id = $1 AND u.tenant_id IS NULL;
END
$$;

DO $$
BEGIN
    EXECUTE format('ALTER FUNCTION kaiden_staff_user(uuid) SET search_path = %I, pg_temp',
                   current_schema());
    REVOKE ALL ON FUNCTION kaiden_staff_user(uuid) FROM PUBLIC;
    GRANT EXECUTE ON FUNCTION kaiden_staff_user(uuid) TO kaiden_app;
END
$$;
