-- 0003_tunnels (PostgreSQL): the ids of every Cloudflare object a session creates, so a
-- failed start can be compensated, a restart can resume, and the sweep can tell an
-- orphan from a live object. tunnel_id is in 0001. The tunnel token is never stored.
ALTER TABLE sessions ADD COLUMN access_web_app_id text;
ALTER TABLE sessions ADD COLUMN access_ssh_app_id text;
ALTER TABLE sessions ADD COLUMN access_web_aud text;
ALTER TABLE sessions ADD COLUMN access_ssh_aud text;
ALTER TABLE sessions ADD COLUMN dns_web_record_id text;
ALTER TABLE sessions ADD COLUMN dns_ssh_record_id text;

-- The sweep looks for live sessions past their time (and orphans by short_id, which
-- is UNIQUE already).
CREATE INDEX sessions_status_started_idx ON sessions (status, started_at);
-- A heartbeat compares an agent's running tunnels with its device's live sessions.
CREATE INDEX sessions_live_device_idx ON sessions (device_id)
    WHERE status IN ('pending', 'active', 'ending');
