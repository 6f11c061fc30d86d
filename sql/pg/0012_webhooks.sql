-- 0012_webhooks (PostgreSQL): signed webhooks (issue 11).
--
-- webhooks: a tenant's (tenant_id set; its tenant admins manage it) or platform-wide
-- (tenant_id NULL; staff manage it, it hears every tenant's events). events is a JSON
-- array of event types (text). secret_sealed is the signing secret sealed with a key
-- derived from auth.jwt_secret (common/webhook_secret.h): helperd opens it to sign; a
-- database dump alone does not give it away. status 'disabled' with disabled_reason when
-- a day of failures disabled it (or an admin did); failing_since is when the oldest
-- delivery still failing first failed (NULL: healthy). locked_by / locked_until: the
-- lease a helperd takes on the hook while it delivers, so that deliveries to one hook go
-- one at a time, in order, whatever the number of helperds.
CREATE TABLE webhooks (
    id              uuid PRIMARY KEY,
    tenant_id       uuid REFERENCES tenants (id),
    url             text NOT NULL CHECK (length(url) BETWEEN 1 AND 2048),
    description     text NOT NULL DEFAULT '',
    events          text NOT NULL,
    secret_sealed   text NOT NULL,
    status          text NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'disabled')),
    disabled_reason text,
    failing_since   timestamptz,
    locked_by       text,
    locked_until    timestamptz,
    created_by      uuid,
    created_at      timestamptz NOT NULL DEFAULT now(),
    updated_at      timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX webhooks_tenant_idx ON webhooks (tenant_id, id);

-- One row per event that at least one hook wanted: body is the exact JSON delivered
-- ({id, type, created_at, tenant_id, data}), written once, so every retry sends (and
-- signs) the same bytes. tenant_id: the tenant the event happened in.
CREATE TABLE webhook_events (
    id         uuid PRIMARY KEY,
    tenant_id  uuid NOT NULL REFERENCES tenants (id),
    type       text NOT NULL CHECK (length(type) BETWEEN 1 AND 64),
    body       text NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX webhook_events_tenant_idx ON webhook_events (tenant_id, id);

-- One row per (hook, event): the delivery log. Delivered in id order per hook (ids are
-- time-ordered and made in emit order). tenant_id is the event's tenant (for a
-- platform hook, deliveries carry many tenants; only staff read those).
-- status: pending (not yet delivered, maybe retrying: next_attempt_at), delivered,
-- failed (given up: the hook was deleted or the delivery failed for a day).
CREATE TABLE webhook_deliveries (
    id              uuid PRIMARY KEY,
    tenant_id       uuid NOT NULL REFERENCES tenants (id),
    webhook_id      uuid NOT NULL REFERENCES webhooks (id) ON DELETE CASCADE,
    event_id        uuid NOT NULL REFERENCES webhook_events (id) ON DELETE CASCADE,
    status          text NOT NULL DEFAULT 'pending'
                    CHECK (status IN ('pending', 'delivered', 'failed')),
    attempts        integer NOT NULL DEFAULT 0 CHECK (attempts >= 0),
    next_attempt_at timestamptz NOT NULL DEFAULT now(),
    first_failed_at timestamptz,
    last_attempt_at timestamptz,
    last_status     integer,
    last_error      text,
    response_ms     integer,
    delivered_at    timestamptz,
    created_at      timestamptz NOT NULL DEFAULT now(),
    UNIQUE (webhook_id, event_id)
);
CREATE INDEX webhook_deliveries_hook_idx ON webhook_deliveries (webhook_id, status, id);
CREATE INDEX webhook_deliveries_tenant_idx ON webhook_deliveries (tenant_id, id);

-- A "webhook.deliver" job names its hook.
ALTER TABLE jobs ADD COLUMN webhook_id uuid;

-- The hooks an event in a tenant goes to: that tenant's active hooks and the platform's,
-- with their events lists (the caller picks those that list the event's type). Run as
-- the owner: a tenant's transaction may not read platform rows (tenant_id NULL).
CREATE FUNCTION kaiden_webhooks_for_tenant(p_tenant uuid)
RETURNS TABLE (id uuid, events text)
LANGUAGE plpgsql STABLE SECURITY DEFINER SET kaiden.staff = 'on'
AS $$
#variable_conflict use_column
BEGIN
RETURN QUERY
SELECT w.id, w.events FROM webhooks w
 WHERE (w.tenant_id = p_tenant OR w.tenant_id IS NULL) AND w.status = 'active'
 ORDER BY w.id;
END
$$;

DO $$
DECLARE
    t text;
BEGIN
    EXECUTE format('ALTER FUNCTION kaiden_webhooks_for_tenant(uuid) SET search_path = %I, pg_temp',
                   current_schema());
    REVOKE ALL ON FUNCTION kaiden_webhooks_for_tenant(uuid) FROM PUBLIC;
    GRANT EXECUTE ON FUNCTION kaiden_webhooks_for_tenant(uuid) TO kaiden_app;
    FOREACH t IN ARRAY ARRAY['webhooks', 'webhook_events', 'webhook_deliveries'] LOOP
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
