-- 0022_helperd_shared (PostgreSQL): what several kaiden-helperds on one database share
-- (issue 15), written by helperd only (common/store_shared.c). Not tenant data: no
-- tenant_id, no row-level security; kaiden_app reads and writes them.
--
-- cf_budget: Cloudflare's call budget is the account's, not a helperd's. One token
-- bucket per account (cloudflare.account_id), with the rates of common/cf_budget.h (at
-- most a quarter of cloudflare.budget, the rest refilled per window of 5 minutes: never
-- more than the budget in any 5 minutes). Each Cloudflare request takes a token first, in one
-- INSERT ... ON CONFLICT DO UPDATE ... RETURNING on the row (the row's lock makes two
-- helperds' takes count one after the other): tokens is what the bucket held at
-- refilled_ms (the taker's clock, milliseconds since 1970), took whether that take got
-- one. A helperd whose take is refused waits until the bucket has refilled a token.
CREATE TABLE cf_budget (
    account     text PRIMARY KEY CHECK (length(account) BETWEEN 1 AND 200),
    tokens      double precision NOT NULL,
    refilled_ms bigint NOT NULL,
    took        integer NOT NULL CHECK (took IN (0, 1))
);
GRANT SELECT, INSERT, UPDATE ON cf_budget TO kaiden_app;

-- sweep_turns: the periodic sweep (orphaned Cloudflare objects, expired sessions, stale
-- devices, the webhook log) runs on one helperd at a time (an advisory lock, held for
-- the sweep) and once per helperd.sweep among all of them: a helperd sweeps only when
-- the last sweep anyone started (started_ms, by instance) is at least half a period
-- old, claimed in one statement.
CREATE TABLE sweep_turns (
    name       text PRIMARY KEY CHECK (length(name) BETWEEN 1 AND 32),
    started_ms bigint NOT NULL,
    instance   text NOT NULL CHECK (length(instance) BETWEEN 1 AND 128)
);
GRANT SELECT, INSERT, UPDATE ON sweep_turns TO kaiden_app;

-- helperd_status.peer_address: where the other helperds reach this one's listener
-- (helperd.peer_address: host:port, or a Unix socket path on the same machine), for the
-- relay: an engineer's socket (or an agent's data socket) that reaches a helperd other
-- than the one its stream belongs to is joined to that one through this address
-- (helperd/relay_peer.c). Null: nobody can forward to it.
ALTER TABLE helperd_status ADD COLUMN peer_address text
    CHECK (length(peer_address) BETWEEN 1 AND 300);
