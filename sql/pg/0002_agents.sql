-- 0002_agents (PostgreSQL): which kaiden-helperd holds a device's agent connection.
--
-- helperd is the instance name (helperd.instance) of the helperd the agent is connected
-- to, NULL while it is offline. Several helperds may share a database: each marks only
-- its own devices offline, and a helperd that starts marks offline whatever its previous
-- run left online (it holds no connection yet). A device left online by a helperd that
-- died is marked offline by any helperd's sweep once its last_seen is old enough.
ALTER TABLE devices ADD COLUMN helperd text;
CREATE INDEX devices_helperd_idx ON devices (helperd) WHERE helperd IS NOT NULL;
CREATE INDEX devices_online_seen_idx ON devices (last_seen) WHERE status = 'online';
