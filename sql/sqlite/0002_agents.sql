-- 0002_agents (SQLite): which kaiden-helperd holds a device's agent connection (see
-- sql/pg/0002_agents.sql for the rules).
ALTER TABLE devices ADD COLUMN helperd TEXT;
CREATE INDEX devices_helperd_idx ON devices (helperd) WHERE helperd IS NOT NULL;
CREATE INDEX devices_online_seen_idx ON devices (last_seen) WHERE status = 'online';
