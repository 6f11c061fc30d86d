-- 0008_install (PostgreSQL): this installation's id (issue 8).
--
-- Every Cloudflare object helperd makes carries it in its name and DNS comment
-- (kaiden-sess-<install>-<short>), so that two installs sharing one Cloudflare account
-- (staging and production) each sweep only their own orphans. One row, made by the first
-- helperd that starts (store_install_id: 8 random characters of [a-z2-7], inserted with
-- ON CONFLICT DO NOTHING, so two starting at once agree) and never changed: the
-- application may read and add it, not update or delete it. Not tenant data, so no
-- row-level security (helperd reads it with no tenant set).
CREATE TABLE install (
    one integer PRIMARY KEY DEFAULT 1 CHECK (one = 1),
    id text NOT NULL CHECK (id ~ '^[a-z2-7]{8}$'),
    created_at timestamptz NOT NULL DEFAULT now()
);
GRANT SELECT, INSERT ON install TO kaiden_app;
