-- 0009_relay (PostgreSQL): the built-in relay (issue 9).
--
-- provider: the tunnel provider a session was made with (tunnel.provider, resolved by
-- kaiden-api when it writes the row); helperd runs the session with that provider
-- whatever the setting says later, so a session outlives a change of setting. Rows made
-- before this migration were Cloudflare's.
-- bytes_in / bytes_out: what the relay carried for the session, engineer -> machine and
-- machine -> engineer, added by helperd as streams run (always 0 for Cloudflare, which
-- carries the bytes outside Kaiden).
ALTER TABLE sessions
    ADD COLUMN provider text NOT NULL DEFAULT 'cloudflare'
        CHECK (provider IN ('cloudflare', 'relay')),
    ADD COLUMN bytes_in bigint NOT NULL DEFAULT 0 CHECK (bytes_in >= 0),
    ADD COLUMN bytes_out bigint NOT NULL DEFAULT 0 CHECK (bytes_out >= 0);
