-- 0009_relay (SQLite): as sql/pg/0009_relay.sql.
ALTER TABLE sessions ADD COLUMN provider TEXT NOT NULL DEFAULT 'cloudflare'
    CHECK (provider IN ('cloudflare', 'relay'));
ALTER TABLE sessions ADD COLUMN bytes_in INTEGER NOT NULL DEFAULT 0 CHECK (bytes_in >= 0);
ALTER TABLE sessions ADD COLUMN bytes_out INTEGER NOT NULL DEFAULT 0 CHECK (bytes_out >= 0);
