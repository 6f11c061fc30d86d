-- 0013_lookups (SQLite): as sql/pg/0013_lookups.sql, without kaiden_staff_user (SQLite
-- has no row-level security: the store reads staff users directly).
CREATE INDEX webhook_deliveries_event_idx ON webhook_deliveries (event_id);
CREATE INDEX sessions_tenant_ticket_idx ON sessions (tenant_id, ticket_id, id)
    WHERE ticket_id IS NOT NULL;
