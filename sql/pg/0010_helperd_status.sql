-- 0010_helperd_status (PostgreSQL): one row per kaiden-helperd instance, rewritten by that
-- helperd every few seconds (helperd/status.c), read by GET /api/v1/admin/system
-- (common/store_status.c). Several helperds (one per host, issue 15) each keep their own
-- row, keyed by helperd.instance. A row whose heartbeat_at is older than three of its own
-- every_s is a helperd that is not running (stopped, crashed or cut off from the
-- database); rows silent for a week are pruned by the next beat of any helperd.
--
-- cf_used / cf_budget / cf_window_s: Cloudflare API calls spent in the current budget
-- window, the budget and the window (helperd/cf.c's token bucket); null when this helperd
-- runs no Cloudflare client. Not tenant data: no tenant_id, no row-level security.
CREATE TABLE helperd_status (
    instance      text PRIMARY KEY CHECK (length(instance) BETWEEN 1 AND 128),
    version       text NOT NULL CHECK (length(version) BETWEEN 1 AND 64),
    started_at    timestamptz NOT NULL,
    heartbeat_at  timestamptz NOT NULL,
    every_s       integer NOT NULL CHECK (every_s >= 1),
    agents        integer NOT NULL CHECK (agents >= 0),
    relay_streams integer NOT NULL CHECK (relay_streams >= 0),
    cf_used       integer CHECK (cf_used >= 0),
    cf_budget     integer CHECK (cf_budget >= 1),
    cf_window_s   integer CHECK (cf_window_s >= 1)
);
GRANT SELECT, INSERT, UPDATE, DELETE ON helperd_status TO kaiden_app;
