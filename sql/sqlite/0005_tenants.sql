-- 0005_tenants (SQLite): as sql/pg/0005_tenants.sql.
--
-- tenants.updated_at: SQLite adds a NOT NULL column only with a constant default and
-- cannot change a column afterwards, so the seed's nullable -> backfill -> NOT NULL
-- becomes: add it NOT NULL with the placeholder '' (never left in a row), backfill it
-- from created_at at once, in this same transaction; a row inserted later without it
-- (by hand) gets created_at from the trigger. (Rebuilding the table instead would trip the foreign keys of every row
-- that references a tenant.) No lookup function: SQLite has no row-level security.
ALTER TABLE tenants ADD COLUMN updated_at TEXT NOT NULL DEFAULT '';
UPDATE tenants SET updated_at = created_at WHERE updated_at = '';
CREATE TRIGGER tenants_updated_at_default AFTER INSERT ON tenants
WHEN NEW.updated_at = ''
BEGIN
    UPDATE tenants SET updated_at = NEW.created_at WHERE id = NEW.id;
END;

CREATE INDEX sessions_tenant_started_idx ON sessions (tenant_id, started_at);
