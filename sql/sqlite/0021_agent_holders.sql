-- 0021_agent_holders (SQLite): as sql/pg/0021_agent_holders.sql. heartbeat_at is
-- ids_timestamp's UTC text (with its Z), which julianday() reads; 'now' is the
-- machine's clock, the one helperd wrote the row with.
CREATE VIEW helperd_live AS
    SELECT instance FROM helperd_status
    WHERE julianday(heartbeat_at) + every_s * 3 / 86400.0 > julianday('now');
