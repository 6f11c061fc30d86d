-- 0021_agent_holders (PostgreSQL): which helperds are alive, for the agents they hold
-- (issue 15: several helperds on one database, agents spread across them).
--
-- A device's holder is devices.helperd (0002): the instance of the helperd its agent is
-- connected to, NULL while offline. The holder's lease is its helperd_status row (0010),
-- which that helperd rewrites every every_s seconds: it is live while heartbeat_at is
-- within three of its own every_s (store_status.h's STORE_STATUS_STALE_BEATS, 3, the
-- rule GET /admin/system's "running" already follows). helperd_live names the instances
-- whose lease is live now, by the database's clock; what reads it:
--   - a device's status (common/store_row.h, STORE_SQL_DEVICE_ONLINE): online only while
--     its row says online and its holder is live, so a helperd that dies (SIGKILL, the
--     machine lost) takes its agents' "online" with it within 15 s, whoever is left;
--   - the job claim (common/store_job.c): a session's job is claimed by the holder of its
--     device's agent, by another helperd only when that agent has no live holder;
--   - the sweep of any live helperd (store_agent_expire): the devices of a dead holder are
--     marked offline, with one device.offline each.
CREATE VIEW helperd_live AS
    SELECT instance FROM helperd_status
    WHERE heartbeat_at > now() - every_s * 3 * interval '1 second';
GRANT SELECT ON helperd_live TO kaiden_app;
