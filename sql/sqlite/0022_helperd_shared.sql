-- 0022_helperd_shared (SQLite): as sql/pg/0022_helperd_shared.sql. One helperd runs on a
-- SQLite file, but the rows are the truth all the same: the same code spends the budget
-- and takes the sweep's turn.
CREATE TABLE cf_budget (
    account     TEXT PRIMARY KEY CHECK (length(account) BETWEEN 1 AND 200),
    tokens      REAL NOT NULL,
    refilled_ms INTEGER NOT NULL,
    took        INTEGER NOT NULL CHECK (took IN (0, 1))
) STRICT;

CREATE TABLE sweep_turns (
    name       TEXT PRIMARY KEY CHECK (length(name) BETWEEN 1 AND 32),
    started_ms INTEGER NOT NULL,
    instance   TEXT NOT NULL CHECK (length(instance) BETWEEN 1 AND 128)
) STRICT;

ALTER TABLE helperd_status ADD COLUMN peer_address TEXT
    CHECK (length(peer_address) BETWEEN 1 AND 300);
