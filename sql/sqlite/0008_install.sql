-- 0008_install (SQLite): as sql/pg/0008_install.sql (SQLite has no roles to grant to).
CREATE TABLE install (
    one INTEGER PRIMARY KEY DEFAULT 1 CHECK (one = 1),
    id TEXT NOT NULL CHECK (length(id) = 8 AND id NOT GLOB '*[^a-z2-7]*'),
    created_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
) STRICT;
