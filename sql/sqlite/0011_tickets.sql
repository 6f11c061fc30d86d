-- 0011_tickets (SQLite): as sql/pg/0011_tickets.sql (no row-level security: the store's
-- tenant filter is the only line; BEGIN IMMEDIATE serialises the number's allocation).
CREATE TABLE tickets (
    id          TEXT PRIMARY KEY,
    tenant_id   TEXT NOT NULL REFERENCES tenants (id),
    number      TEXT NOT NULL,
    device_id   TEXT,
    cluster_id  TEXT,
    title       TEXT NOT NULL,
    description TEXT NOT NULL DEFAULT '',
    priority    TEXT NOT NULL DEFAULT 'normal'
                CHECK (priority IN ('low', 'normal', 'high', 'urgent')),
    status      TEXT NOT NULL DEFAULT 'open'
                CHECK (status IN ('open', 'in_progress', 'resolved', 'closed')),
    assigned_to TEXT,
    created_by  TEXT,
    created_at  TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
    updated_at  TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
    resolved_at TEXT,
    UNIQUE (tenant_id, number),
    UNIQUE (tenant_id, id),
    FOREIGN KEY (tenant_id, device_id) REFERENCES devices (tenant_id, id)
) STRICT;
CREATE INDEX tickets_tenant_idx ON tickets (tenant_id, id);
CREATE INDEX tickets_tenant_status_idx ON tickets (tenant_id, status, id);
CREATE INDEX tickets_tenant_priority_idx ON tickets (tenant_id, priority, id);
CREATE INDEX tickets_tenant_assigned_idx ON tickets (tenant_id, assigned_to, id);
CREATE INDEX tickets_tenant_device_idx ON tickets (tenant_id, device_id, id);

CREATE TABLE ticket_comments (
    id          TEXT PRIMARY KEY,
    tenant_id   TEXT NOT NULL REFERENCES tenants (id),
    ticket_id   TEXT NOT NULL,
    type        TEXT NOT NULL DEFAULT 'comment'
                CHECK (type IN ('comment', 'system', 'status_change')),
    internal    INTEGER NOT NULL DEFAULT 0 CHECK (internal IN (0, 1)),
    author_id   TEXT,
    author_name TEXT NOT NULL DEFAULT '',
    body        TEXT NOT NULL,
    created_at  TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
    FOREIGN KEY (tenant_id, ticket_id) REFERENCES tickets (tenant_id, id) ON DELETE CASCADE
) STRICT;
CREATE INDEX ticket_comments_ticket_idx ON ticket_comments (tenant_id, ticket_id, id);

CREATE TABLE ticket_counters (
    id        TEXT PRIMARY KEY,
    tenant_id TEXT NOT NULL REFERENCES tenants (id),
    day       TEXT NOT NULL CHECK (length(day) = 8 AND day NOT GLOB '*[^0-9]*'),
    last      INTEGER NOT NULL CHECK (last >= 1),
    UNIQUE (tenant_id, day)
) STRICT;
