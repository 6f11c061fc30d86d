-- 0003_tunnels (SQLite): as sql/pg/0003_tunnels.sql. The ids of every Cloudflare object a
-- session creates (tunnel_id is in 0001); the tunnel token is never stored.
ALTER TABLE sessions ADD COLUMN access_web_app_id TEXT;
ALTER TABLE sessions ADD COLUMN access_ssh_app_id TEXT;
ALTER TABLE sessions ADD COLUMN access_web_aud TEXT;
ALTER TABLE sessions ADD COLUMN access_ssh_aud TEXT;
ALTER TABLE sessions ADD COLUMN dns_web_record_id TEXT;
ALTER TABLE sessions ADD COLUMN dns_ssh_record_id TEXT;

CREATE INDEX sessions_status_started_idx ON sessions (status, started_at);
-- A heartbeat compares an agent's running tunnels with its device's live sessions.
CREATE INDEX sessions_live_device_idx ON sessions (device_id)
    WHERE status IN ('pending', 'active', 'ending');
