-- 0019_auth_notify (PostgreSQL): a NOTIFY on channel kaiden_auth whenever something a
-- verified credential depends on changes, so that kaiden-api's workers can keep the
-- credentials they verified for a moment (fcgi-app/auth_cache.c) and drop them at once
-- when one may no longer hold (issue 14; docs/decisions.md, "Issue 14: one round trip
-- per request").
--
-- What a credential check reads (kaiden_auth_login, kaiden_auth_token in 0004): the login
-- or token row (revoked, expiry, whose), its user (role, status, tenant, email) and the
-- tenant (status: suspended). A trigger on each fires on the columns those reads use, on
-- DELETE and on TRUNCATE, whatever made the change (the API, an admin command, an
-- import, psql). Columns written often and read by no check (last_used_at,
-- last_login_at, a tenant's name) fire nothing, so a busy token does not empty the
-- caches once a minute. Statement-level: one notification per statement, whatever the
-- number of rows (an UPDATE that matched none still notifies: a wasted re-check, never a
-- missed one). The payload names the table, for the log; a worker drops everything it
-- keeps on any notification.
--
-- PostgreSQL sends the notification at commit, before the committing client hears that
-- the commit is done; a listening backend sends it to its client before it ends any
-- exchange that began after that (docs/decisions.md says why kaiden-api can rely on it).

CREATE FUNCTION kaiden_auth_changed() RETURNS trigger
LANGUAGE plpgsql
AS $$
BEGIN
    PERFORM pg_notify('kaiden_auth', TG_TABLE_NAME);
    RETURN NULL;
END
$$;

CREATE TRIGGER kaiden_auth_users
    AFTER UPDATE OF role, status, tenant_id, email OR DELETE ON users
    FOR EACH STATEMENT EXECUTE FUNCTION kaiden_auth_changed();
CREATE TRIGGER kaiden_auth_users_truncate AFTER TRUNCATE ON users
    FOR EACH STATEMENT EXECUTE FUNCTION kaiden_auth_changed();

CREATE TRIGGER kaiden_auth_logins
    AFTER UPDATE OF revoked_at, expires_at, user_id OR DELETE ON logins
    FOR EACH STATEMENT EXECUTE FUNCTION kaiden_auth_changed();
CREATE TRIGGER kaiden_auth_logins_truncate AFTER TRUNCATE ON logins
    FOR EACH STATEMENT EXECUTE FUNCTION kaiden_auth_changed();

CREATE TRIGGER kaiden_auth_api_tokens
    AFTER UPDATE OF revoked_at, expires_at, user_id, tenant_id, kind, token_digest
    OR DELETE ON api_tokens
    FOR EACH STATEMENT EXECUTE FUNCTION kaiden_auth_changed();
CREATE TRIGGER kaiden_auth_api_tokens_truncate AFTER TRUNCATE ON api_tokens
    FOR EACH STATEMENT EXECUTE FUNCTION kaiden_auth_changed();

CREATE TRIGGER kaiden_auth_tenants
    AFTER UPDATE OF status OR DELETE ON tenants
    FOR EACH STATEMENT EXECUTE FUNCTION kaiden_auth_changed();
CREATE TRIGGER kaiden_auth_tenants_truncate AFTER TRUNCATE ON tenants
    FOR EACH STATEMENT EXECUTE FUNCTION kaiden_auth_changed();

-- The function is only ever run by these triggers; the application role needs nothing
-- more (a trigger function is not called through EXECUTE privileges of the session).
REVOKE ALL ON FUNCTION kaiden_auth_changed() FROM PUBLIC;
