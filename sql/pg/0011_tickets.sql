-- 0011_tickets (PostgreSQL): tickets and their comments (issue 11).
--
-- number is TKT-YYYYMMDD-NNN: per tenant, per UTC day, from 001, consecutive, never
-- reused. ticket_counters holds the last number given for each (tenant, day); the store
-- takes the next one with INSERT ... ON CONFLICT DO UPDATE ... RETURNING in the same
-- transaction as the ticket, so concurrent creates queue on the counter row and a rolled
-- back create gives its number back with it (numbers stay consecutive). Counter rows are
-- never deleted (a number is never reused). sessions.ticket_id (0001) stays a plain uuid.
-- cluster_id is a plain uuid until clusters arrive.
CREATE TABLE tickets (
    id          uuid PRIMARY KEY,
    tenant_id   uuid NOT NULL REFERENCES tenants (id),
    number      text NOT NULL,
    device_id   uuid,
    cluster_id  uuid,
    title       text NOT NULL,
    description text NOT NULL DEFAULT '',
    priority    text NOT NULL DEFAULT 'normal'
                CHECK (priority IN ('low', 'normal', 'high', 'urgent')),
    status      text NOT NULL DEFAULT 'open'
                CHECK (status IN ('open', 'in_progress', 'resolved', 'closed')),
    assigned_to uuid,
    created_by  uuid,
    created_at  timestamptz NOT NULL DEFAULT now(),
    updated_at  timestamptz NOT NULL DEFAULT now(),
    resolved_at timestamptz,
    UNIQUE (tenant_id, number),
    UNIQUE (tenant_id, id),
    FOREIGN KEY (tenant_id, device_id) REFERENCES devices (tenant_id, id)
);
CREATE INDEX tickets_tenant_idx ON tickets (tenant_id, id);
CREATE INDEX tickets_tenant_status_idx ON tickets (tenant_id, status, id);
CREATE INDEX tickets_tenant_priority_idx ON tickets (tenant_id, priority, id);
CREATE INDEX tickets_tenant_assigned_idx ON tickets (tenant_id, assigned_to, id);
CREATE INDEX tickets_tenant_device_idx ON tickets (tenant_id, device_id, id);

CREATE TABLE ticket_comments (
    id          uuid PRIMARY KEY,
    tenant_id   uuid NOT NULL REFERENCES tenants (id),
    ticket_id   uuid NOT NULL,
    type        text NOT NULL DEFAULT 'comment'
                CHECK (type IN ('comment', 'system', 'status_change')),
    internal    boolean NOT NULL DEFAULT false,
    author_id   uuid,
    author_name text NOT NULL DEFAULT '',
    body        text NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now(),
    FOREIGN KEY (tenant_id, ticket_id) REFERENCES tickets (tenant_id, id) ON DELETE CASCADE
);
CREATE INDEX ticket_comments_ticket_idx ON ticket_comments (tenant_id, ticket_id, id);

CREATE TABLE ticket_counters (
    id        uuid PRIMARY KEY,
    tenant_id uuid NOT NULL REFERENCES tenants (id),
    day       text NOT NULL CHECK (day ~ '^[0-9]{8}$'),
    last      integer NOT NULL CHECK (last >= 1),
    UNIQUE (tenant_id, day)
);

DO $$
DECLARE
    t text;
BEGIN
    FOREACH t IN ARRAY ARRAY['tickets', 'ticket_comments', 'ticket_counters'] LOOP
        EXECUTE format('GRANT SELECT, INSERT, UPDATE, DELETE ON %I TO kaiden_app', t);
        EXECUTE format('ALTER TABLE %I ENABLE ROW LEVEL SECURITY', t);
        EXECUTE format('ALTER TABLE %I FORCE ROW LEVEL SECURITY', t);
        EXECUTE format('DROP POLICY IF EXISTS tenant_isolation ON %I', t);
        EXECUTE format('CREATE POLICY tenant_isolation ON %I '
                       'USING (tenant_id = kaiden_rls_tenant() OR kaiden_rls_staff()) '
                       'WITH CHECK (tenant_id = kaiden_rls_tenant() OR kaiden_rls_staff())',
                       t);
    END LOOP;
END
$$;
