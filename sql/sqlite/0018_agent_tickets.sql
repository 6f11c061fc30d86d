-- 0018_agent_tickets (SQLite): as sql/pg/0018_agent_tickets.sql (no row-level security:
-- only helperd's store reads server_keys).
CREATE TABLE server_keys (
    name       TEXT PRIMARY KEY CHECK (length(name) BETWEEN 1 AND 64),
    secret     TEXT NOT NULL CHECK (length(secret) BETWEEN 32 AND 256),
    created_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
) STRICT;

ALTER TABLE devices ADD COLUMN secret_version INTEGER NOT NULL DEFAULT 1
    CHECK (secret_version >= 1);
ALTER TABLE clusters ADD COLUMN secret_version INTEGER NOT NULL DEFAULT 1
    CHECK (secret_version >= 1);

CREATE TRIGGER devices_secret_version AFTER UPDATE OF secret_hash ON devices
    WHEN NEW.secret_hash IS NOT OLD.secret_hash
BEGIN
    UPDATE devices SET secret_version = OLD.secret_version + 1 WHERE id = NEW.id;
END;
CREATE TRIGGER clusters_secret_version AFTER UPDATE OF secret_hash ON clusters
    WHEN NEW.secret_hash IS NOT OLD.secret_hash
BEGIN
    UPDATE clusters SET secret_version = OLD.secret_version + 1 WHERE id = NEW.id;
END;
