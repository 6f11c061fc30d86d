-- 0005_tenants (PostgreSQL): tenant administration (issue 4).
--
-- tenants.updated_at, added the seed's way for a column existing rows lack: nullable,
-- backfilled, then NOT NULL. Codes are DNS labels checked by the application
-- (store_tenant.c); they are stored lower-case, so a lookup by code compares lower().
ALTER TABLE tenants ADD COLUMN updated_at timestamptz;
UPDATE tenants SET updated_at = created_at WHERE updated_at IS NULL;
ALTER TABLE tenants ALTER COLUMN updated_at SET DEFAULT now();
ALTER TABLE tenants ALTER COLUMN updated_at SET NOT NULL;

-- Usage counts a tenant's sessions of this month.
CREATE INDEX sessions_tenant_started_idx ON sessions (tenant_id, started_at);

-- The lookup by code across tenants (login, subdomains) is 0004's SECURITY DEFINER
-- kaiden_tenant_by_code(text).
