/* auth_cache.h: the credentials one kaiden-api worker verified a moment ago (issue 14).
 *
 * A read (GET, HEAD) whose credential the worker verified less than AUTH_CACHE_TTL_MS
 * ago skips the credential check, so on PostgreSQL it costs one round trip: the handler's
 * statement with the scope's settings (db.h). What can make a verified credential wrong
 * (a logout, a revoked or deleted token, a disabled, deleted or changed user, a suspended
 * tenant) notifies channel kaiden_auth (sql/pg/0019_auth_notify.sql); the worker listens
 * on its connection and forgets everything it keeps on any notification, or when the
 * connection was made again (db_notices). SQLite has no notifications: there every
 * commit of another connection, and every row the worker's own connection changes,
 * counts as one (coarser: a busy helperd empties the caches often; the same guarantee).
 *
 * The guarantee: a request that uses a kept credential is answered only if no such
 * notification had arrived by the end of the request's last round trip; else its reply is
 * thrown away and the request runs again with the credential checked afresh (auth.c,
 * route.c: reads only, so nothing of the first run stays). PostgreSQL sends a
 * notification to the listening backends when the change commits, before the client
 * that committed it hears so, and a backend passes it on before it ends any exchange
 * that began later; so a request that starts after a revocation was acknowledged never
 * succeeds with the revoked credential (docs/decisions.md, "Issue 14: one round trip per
 * request", says what this rests on). The TTL only bounds what a lost notification could
 * cost.
 *
 * One cache per worker, used by that worker's thread only. */
#ifndef KAIDEN_AUTH_CACHE_H
#define KAIDEN_AUTH_CACHE_H

#include <stdint.h>

#include "compat.h"
#include "credential.h"

struct db;

#define AUTH_CACHE_SLOTS 16
#define AUTH_CACHE_TTL_MS 1000
/* The channel sql/pg/0019_auth_notify.sql notifies. */
#define AUTH_CACHE_CHANNEL "kaiden_auth"

struct auth_cache_entry {
	unsigned char key[32];   /* BLAKE2b of the Authorization value: never the token */
	struct credential cred;
	int64_t verified_ms;     /* 0: a free slot */
};

struct auth_cache {
	int on;                  /* the worker's connection listens (db_listen) */
	unsigned long notices;   /* db_notices when the entries were verified */
	unsigned next;           /* the slot the next entry takes (round robin) */
	struct auth_cache_entry slots[AUTH_CACHE_SLOTS];
};

/* What a request that used a kept credential must confirm at its end. */
struct auth_cache_use {
	unsigned long notices;   /* db_notices when the entry was taken */
	unsigned long trips;     /* db_trips then */
};

/* Empties the cache and turns it on when db listens on AUTH_CACHE_CHANNEL (LISTEN now
 * on PostgreSQL), else leaves it off. db may be NULL (off). */
void auth_cache_init(struct auth_cache *c, struct db *db);
/* Forgets everything (a wiped cache stays on or off). */
void auth_cache_clear(struct auth_cache *c);

/* The kept credential for authorization (the header's value): 1 with *out and *use
 * written, or 0 (none, expired, older than the TTL, or something was notified since:
 * then everything is forgotten). */
int auth_cache_get(struct auth_cache *c, struct db *db, const char *authorization,
                   struct credential *out, struct auth_cache_use *use) WUR;
/* The count to pass to auth_cache_put: read it before the credential is checked, so
 * that a change committed while it was being checked is not missed. */
unsigned long auth_cache_mark(struct auth_cache *c, struct db *db);
/* Keeps cred, verified just now for authorization, unless something was notified since
 * mark (auth_cache_mark). */
void auth_cache_put(struct auth_cache *c, struct db *db, const char *authorization,
                    const struct credential *cred, unsigned long mark);
/* At the end of a request that used a kept credential: 1 when it still held at the end
 * of the request's last round trip (one more is made when the request made none), 0
 * when it must be checked again (the cache is then empty). */
int auth_cache_confirm(struct auth_cache *c, struct db *db, const struct auth_cache_use *use) WUR;

#endif
