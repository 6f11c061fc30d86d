/* auth_cache.c: a worker's recently verified credentials (auth_cache.h).
 *
 * An entry is found by an unkeyed BLAKE2b of the whole Authorization value, so the
 * token itself is never kept; the slots are few and taken round robin (a worker serves
 * few callers at a time, and a miss costs one credential check). Every entry is valid
 * only while the connection's notice count is the one it was verified under: any
 * notification empties the whole cache, since revocations are rare and a precise
 * invalidation would have to know which users, tenants and tokens a change touched. */
#include "auth_cache.h"

#include <sodium.h>
#include <string.h>

#include "db.h"
#include "ids.h"

static void key_of(const char *authorization, unsigned char key[32])
{
	crypto_generichash(key, 32, (const unsigned char *)authorization, strlen(authorization),
	                   NULL, 0);
}

void auth_cache_clear(struct auth_cache *c)
{
	int on = c->on;
	unsigned long notices = c->notices;

	sodium_memzero(c, sizeof(*c));
	c->on = on;
	c->notices = notices;
}

void auth_cache_init(struct auth_cache *c, struct db *db)
{
	memset(c, 0, sizeof(*c));
	if (!db || db_listen(db, AUTH_CACHE_CHANNEL) != DB_OK)
		return;
	c->on = 1;
	c->notices = db_notices(db, 0);
}

/* Forgets everything when something was notified since the entries were verified. The
 * count now. */
static unsigned long catch_up(struct auth_cache *c, struct db *db, int fresh)
{
	unsigned long now = db_notices(db, fresh);

	if (now != c->notices) {
		auth_cache_clear(c);
		c->notices = now;
	}
	return now;
}

int auth_cache_get(struct auth_cache *c, struct db *db, const char *authorization,
                   struct credential *out, struct auth_cache_use *use)
{
	unsigned char key[32];
	char now[TIMESTAMP_LEN];
	int64_t now_ms;

	if (!c || !c->on || !db || !authorization || !*authorization)
		return 0;
	use->notices = catch_up(c, db, 0);
	use->trips = db_trips(db);
	key_of(authorization, key);
	now_ms = ids_now_ms();
	for (int i = 0; i < AUTH_CACHE_SLOTS; i++) {
		struct auth_cache_entry *e = &c->slots[i];
		if (!e->verified_ms || memcmp(e->key, key, sizeof(key)) != 0)
			continue;
		ids_timestamp(now_ms, now);
		/* Too old, or the login or token has ended since (text order is time order). */
		if (now_ms - e->verified_ms >= AUTH_CACHE_TTL_MS || now_ms < e->verified_ms ||
		    (e->cred.who.expires_at[0] && strcmp(e->cred.who.expires_at, now) <= 0)) {
			sodium_memzero(e, sizeof(*e));
			return 0;
		}
		*out = e->cred;
		return 1;
	}
	return 0;
}

unsigned long auth_cache_mark(struct auth_cache *c, struct db *db)
{
	if (!c || !c->on || !db)
		return 0;
	return catch_up(c, db, 0);
}

void auth_cache_put(struct auth_cache *c, struct db *db, const char *authorization,
                    const struct credential *cred, unsigned long mark)
{
	struct auth_cache_entry *e;
	unsigned char key[32];

	if (!c || !c->on || !db || !authorization || !*authorization)
		return;
	/* Something changed while it was being checked: the answer may be stale already. */
	if (catch_up(c, db, 0) != mark)
		return;
	key_of(authorization, key);
	e = NULL;
	for (int i = 0; i < AUTH_CACHE_SLOTS && !e; i++)
		if (c->slots[i].verified_ms && memcmp(c->slots[i].key, key, sizeof(key)) == 0)
			e = &c->slots[i];
	if (!e)
		e = &c->slots[c->next++ % AUTH_CACHE_SLOTS];
	memcpy(e->key, key, sizeof(key));
	e->cred = *cred;
	e->verified_ms = ids_now_ms();
}

int auth_cache_confirm(struct auth_cache *c, struct db *db, const struct auth_cache_use *use)
{
	/* What was committed before the request's last exchange with the database began
	 * is counted by its end: make one if the request made none. */
	if (catch_up(c, db, db_trips(db) == use->trips) == use->notices)
		return 1;
	auth_cache_clear(c);
	return 0;
}
