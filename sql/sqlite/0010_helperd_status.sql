-- 0010_helperd_status (SQLite): as sql/pg/0010_helperd_status.sql.
CREATE TABLE helperd_status (
    instance      TEXT PRIMARY KEY CHECK (length(instance) BETWEEN 1 AND 128),
    version       TEXT NOT NULL CHECK (length(version) BETWEEN 1 AND 64),
    started_at    TEXT NOT NULL,
    heartbeat_at  TEXT NOT NULL,
    every_s       INTEGER NOT NULL CHECK (every_s >= 1),
    agents        INTEGER NOT NULL CHECK (agents >= 0),
    relay_streams INTEGER NOT NULL CHECK (relay_streams >= 0),
    cf_used       INTEGER CHECK (cf_used >= 0),
    cf_budget     INTEGER CHECK (cf_budget >= 1),
    cf_window_s   INTEGER CHECK (cf_window_s >= 1)
) STRICT;
