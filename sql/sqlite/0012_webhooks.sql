-- 0012_webhooks (SQLite): as sql/pg/0012_webhooks.sql (no row-level security, and the
-- hooks an event goes to are a plain query: the store's tenant filter is the only line).
CREATE TABLE webhooks (
    id              TEXT PRIMARY KEY,
    tenant_id       TEXT REFERENCES tenants (id),
    url             TEXT NOT NULL CHECK (length(url) BETWEEN 1 AND 2048),
    description     TEXT NOT NULL DEFAULT '',
    events          TEXT NOT NULL,
    secret_sealed   TEXT NOT NULL,
    status          TEXT NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'disabled')),
    disabled_reason TEXT,
    failing_since   TEXT,
    locked_by       TEXT,
    locked_until    TEXT,
    created_by      TEXT,
    created_at      TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
    updated_at      TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
) STRICT;
CREATE INDEX webhooks_tenant_idx ON webhooks (tenant_id, id);

CREATE TABLE webhook_events (
    id         TEXT PRIMARY KEY,
    tenant_id  TEXT NOT NULL REFERENCES tenants (id),
    type       TEXT NOT NULL CHECK (length(type) BETWEEN 1 AND 64),
    body       TEXT NOT NULL,
    created_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
) STRICT;
CREATE INDEX webhook_events_tenant_idx ON webhook_events (tenant_id, id);

CREATE TABLE webhook_deliveries (
    id              TEXT PRIMARY KEY,
    tenant_id       TEXT NOT NULL REFERENCES tenants (id),
    webhook_id      TEXT NOT NULL REFERENCES webhooks (id) ON DELETE CASCADE,
    event_id        TEXT NOT NULL REFERENCES webhook_events (id) ON DELETE CASCADE,
    status          TEXT NOT NULL DEFAULT 'pending'
                    CHECK (status IN ('pending', 'delivered', 'failed')),
    attempts        INTEGER NOT NULL DEFAULT 0 CHECK (attempts >= 0),
    next_attempt_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
    first_failed_at TEXT,
    last_attempt_at TEXT,
    last_status     INTEGER,
    last_error      TEXT,
    response_ms     INTEGER,
    delivered_at    TEXT,
    created_at      TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
    UNIQUE (webhook_id, event_id)
) STRICT;
CREATE INDEX webhook_deliveries_hook_idx ON webhook_deliveries (webhook_id, status, id);
CREATE INDEX webhook_deliveries_tenant_idx ON webhook_deliveries (tenant_id, id);

ALTER TABLE jobs ADD COLUMN webhook_id TEXT;
