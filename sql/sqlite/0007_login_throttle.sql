-- 0007_login_throttle (SQLite): login throttling counted before the password is checked,
-- and one audit row per throttled burst (sql/pg/0007_login_throttle.sql says why). The
-- staff-email rule and the staff-first login need no schema here: the store's SQL does
-- both (common/store_user.c).

DROP TABLE login_attempts;

CREATE TABLE login_throttle (
    key          TEXT PRIMARY KEY CHECK (length(key) BETWEEN 1 AND 1100),
    window_start TEXT NOT NULL,
    attempts     INTEGER NOT NULL CHECK (attempts >= 0)
) STRICT;
CREATE INDEX login_throttle_window_idx ON login_throttle (window_start);

CREATE UNIQUE INDEX audit_log_throttled_idx
    ON audit_log (coalesce(tenant_id, '-'), json_extract(details, '$.key'),
                  json_extract(details, '$.window_start'))
    WHERE action = 'auth.login_throttled';
