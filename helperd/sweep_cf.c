/* sweep_cf.c: the Cloudflare orphan sweep (tunnel_cf.h's tunnel_cf_sweep, the sweep of
 * provider.h's table).
 *
 * DNS records first, then tunnels, then Access apps (the teardown's order, so a hostname
 * never outlives its Access app), each list paged through (cf_list) and filtered here by
 * name (cf_name.h) and, for DNS and Access, by the configured domain: objects of other
 * tools in the account are never touched. Which objects are this install's orphans:
 *
 *   kaiden-sess-<our install>-<short>    no session with that short id is live here
 *                                        (pending, active or ending), or there is none
 *                                        at all (a create whose reply was lost)
 *   kaiden-sess-<other install>-<short>  never: another Kaiden (staging, production)
 *                                        shares the account; its own sweep owns them
 *   kaiden-sess-<short> (before issue 8) only when this database has a session with
 *                                        that short id and it has ended or failed: an
 *                                        upgraded install still cleans up its own old
 *                                        leftovers, and never another's
 *
 * A database error keeps the object: better a late delete than a wrong one.
 *
 * The orphaned DNS records go in batches (POST dns_records/batch, its deletes, up to
 * DNS_BATCH_MAX records a call: the Free plan's limit), not a DELETE each: after an
 * outage with many sessions lost that is a few calls of the Cloudflare budget instead of
 * hundreds. A batch is all or nothing; a refused one (a record deleted meanwhile by a
 * session's own teardown, 404; anything else) is sent again as a DELETE per record,
 * which counts a record already gone as done and keeps the Access application of a
 * record it could not delete. */
#include "provider.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "cf.h"
#include "cf_name.h"
#include "helperd.h"
#include "jsonx.h"
#include "log.h"
#include "store_tunnel.h"
#include "tunnel_cf.h"

#define DNS_BATCH_MAX 200 /* records one dns_records/batch may touch (Free plan) */

enum sweep_phase { SW_DNS, SW_TUNNELS, SW_APPS, SW_DONE };
enum sweep_kind { DEL_DNS, DEL_CONNS, DEL_TUNNEL, DEL_APP };

struct sweep_item {
	struct sweep *sw;
	enum sweep_kind kind;
	char id[STORE_TUNNEL_IDLEN];
	char name[CF_NAME_SIZE];   /* the name (or comment) that made it an orphan */
	char short_id[SHORT_ID_LEN + 1];
	struct cf_call *call;
	struct sweep_item *next;
};

/* Orphaned DNS records deleted in one call; its items are on no other list. */
struct sweep_batch {
	struct sweep *sw;
	struct sweep_item *items;
	int n;
	struct cf_call *call;
	struct sweep_batch *next;
};

struct sweep {
	const struct tunnel_cf_account *acct;
	enum sweep_phase phase;
	int pending, deleted;
	struct cf_call *list;
	struct sweep_item *items;              /* deletes in flight */
	struct sweep_batch *batches;           /* DNS batches in flight, or being filled */
	char kept[64][SHORT_ID_LEN + 1];       /* short ids whose DNS delete was refused */
	int nkept;
	void (*done)(void *arg, int deleted);
	void *arg;
};

static struct sweep *running;

/* 1 if host is the configured domain's subdomain. */
static int in_domain(const struct sweep *sw, const char *host)
{
	const char *domain = sw->acct->domain;
	size_t h = host ? strlen(host) : 0, d = strlen(domain);

	return h > d + 1 && host[h - d - 1] == '.' && strcasecmp(host + h - d, domain) == 0;
}

/* 1 when the object named name is this install's orphan (the rules at the top), its
 * short id into short_id; else 0. */
static int orphan(const struct sweep *sw, const char *name, char short_id[SHORT_ID_LEN + 1])
{
	struct cf_name n;
	enum store_short state;

	if (cf_name_parse(name, &n) != 0)
		return 0;
	if (!n.legacy && strcmp(n.install, sw->acct->install) != 0)
		return 0;
	if (store_tunnel_short_state(helperd.db, n.short_id, &state) != STORE_OK)
		return 0;
	if (state == STORE_SHORT_LIVE || (n.legacy && state != STORE_SHORT_DONE))
		return 0;
	memcpy(short_id, n.short_id, SHORT_ID_LEN + 1);
	return 1;
}

static int kept(const struct sweep *sw, const char *short_id)
{
	for (int i = 0; i < sw->nkept; i++)
		if (strcmp(sw->kept[i], short_id) == 0)
			return 1;
	return 0;
}

static char *item_path(const struct sweep_item *it)
{
	const struct tunnel_cf_account *a = it->sw->acct;

	switch (it->kind) {
	case DEL_DNS:
		return cf_path("/zones/%s/dns_records/%s", a->zone, it->id);
	case DEL_APP:
		return cf_path("/accounts/%s/access/apps/%s", a->account, it->id);
	case DEL_CONNS:
		return cf_path("/accounts/%s/cfd_tunnel/%s/connections", a->account, it->id);
	case DEL_TUNNEL:
		return cf_path("/accounts/%s/cfd_tunnel/%s", a->account, it->id);
	}
	return NULL;
}

static void sweep_next(struct sweep *sw);
static void item_done(void *arg, const struct cf_result *r);

static void item_deleted(struct sweep_item *it)
{
	it->sw->deleted++;
	log_info("sweep: deleted orphaned %s %s (%s: no live session of this install)",
	         it->kind == DEL_DNS ? "DNS record" : it->kind == DEL_APP
	                 ? "Access application" : "tunnel",
	         it->id, it->name);
}

/* Sends the item's DELETE; 0, or -1 if it could not start. */
static int item_send(struct sweep_item *it)
{
	char *path = item_path(it);

	it->call = path ? cf_call("DELETE", path, NULL, item_done, it) : NULL;
	free(path);
	return it->call ? 0 : -1;
}

static void item_done(void *arg, const struct cf_result *r)
{
	struct sweep_item *it = arg, **pp;
	struct sweep *sw = it->sw;

	it->call = NULL;
	/* A tunnel's connectors go first (they would block its delete with 1022). */
	if (it->kind == DEL_CONNS && r->status == CF_OK && !r->gone) {
		it->kind = DEL_TUNNEL;
		if (item_send(it) == 0)
			return;
	}
	if (r->status == CF_OK && !r->gone) {
		item_deleted(it);
	} else if (r->status != CF_OK) {
		log_warn("sweep: could not delete %s (%s): %s", it->id, it->name, r->message);
		if (it->kind == DEL_DNS && sw->nkept < (int)ARRAY_LEN(sw->kept))
			snprintf(sw->kept[sw->nkept++], SHORT_ID_LEN + 1, "%s", it->short_id);
	}
	for (pp = &sw->items; *pp; pp = &(*pp)->next)
		if (*pp == it) {
			*pp = it->next;
			break;
		}
	free(it);
	if (--sw->pending == 0)
		sweep_next(sw);
}

/* Sends the item's own DELETE, in flight on sw->items; frees it if it cannot start. */
static void item_start(struct sweep_item *it)
{
	struct sweep *sw = it->sw;

	if (item_send(it) != 0) {
		free(it);
		return;
	}
	it->next = sw->items;
	sw->items = it;
	sw->pending++;
}

static void batch_done(void *arg, const struct cf_result *r)
{
	struct sweep_batch *b = arg, **pp;
	struct sweep *sw = b->sw;
	struct sweep_item *it;

	b->call = NULL;
	for (pp = &sw->batches; *pp; pp = &(*pp)->next)
		if (*pp == b) {
			*pp = b->next;
			break;
		}
	if (r->status != CF_OK)
		log_warn("sweep: a batch of %d DNS records was refused (%s): deleting them one by "
		         "one", b->n, r->message);
	while ((it = b->items)) {
		b->items = it->next;
		if (r->status == CF_OK) {
			item_deleted(it);
			free(it);
		} else {
			item_start(it);
		}
	}
	free(b);
	if (--sw->pending == 0)
		sweep_next(sw);
}

/* Sends the batch being filled (the head of sw->batches), if it has records. */
static void batch_send(struct sweep *sw)
{
	struct sweep_batch *b = sw->batches;
	json_object *body, *deletes;
	char *path;

	if (!b || b->call || !b->n)
		return;
	body = json_object_new_object();
	deletes = json_object_new_array();
	for (struct sweep_item *it = b->items; it; it = it->next) {
		json_object *d = json_object_new_object();
		json_object_object_add(d, "id", json_object_new_string(it->id));
		json_object_array_add(deletes, d);
	}
	json_object_object_add(body, "deletes", deletes);
	path = cf_path("/zones/%s/dns_records/batch", sw->acct->zone);
	b->call = path ? cf_call("POST", path, body, batch_done, b) : NULL;
	if (!path)
		json_object_put(body);
	free(path);
	if (b->call) {
		sw->pending++;
		return;
	}
	/* Not sent: each on its own. */
	sw->batches = b->next;
	while (b->items) {
		struct sweep_item *it = b->items;
		b->items = it->next;
		item_start(it);
	}
	free(b);
}

/* A DNS record into the batch being filled, sent once it holds DNS_BATCH_MAX. */
static void batch_add(struct sweep *sw, struct sweep_item *it)
{
	struct sweep_batch *b = sw->batches;

	if (!b || b->call) {
		b = calloc(1, sizeof(*b));
		if (!b) {
			item_start(it);
			return;
		}
		b->sw = sw;
		b->next = sw->batches;
		sw->batches = b;
	}
	it->next = b->items;
	b->items = it;
	if (++b->n == DNS_BATCH_MAX)
		batch_send(sw);
}

static void sweep_delete(struct sweep *sw, enum sweep_kind kind, const char *id,
                         const char *name, const char *short_id)
{
	struct sweep_item *it = calloc(1, sizeof(*it));

	if (!it)
		return;
	it->sw = sw;
	it->kind = kind;
	snprintf(it->id, sizeof(it->id), "%s", id);
	snprintf(it->name, sizeof(it->name), "%s", name);
	snprintf(it->short_id, sizeof(it->short_id), "%s", short_id);
	if (kind == DEL_DNS)
		batch_add(sw, it);
	else
		item_start(it);
}

static void sweep_listed(void *arg, const struct cf_result *r)
{
	struct sweep *sw = arg;
	size_t n;

	sw->list = NULL;
	if (r->status != CF_OK) {
		log_warn("sweep: listing failed (%s); the next sweep tries again", r->message);
		sw->phase = SW_DONE;
		sweep_next(sw);
		return;
	}
	n = json_object_array_length(r->result);
	for (size_t i = 0; i < n; i++) {
		json_object *it = json_object_array_get_idx(r->result, i), *del;
		char short_id[SHORT_ID_LEN + 1];
		const char *id = jsonx_str(it, "id"), *name;
		if (!id)
			continue;
		switch (sw->phase) {
		case SW_DNS:
			name = jsonx_str(it, "comment");
			if (in_domain(sw, jsonx_str(it, "name")) && orphan(sw, name, short_id))
				sweep_delete(sw, DEL_DNS, id, name, short_id);
			break;
		case SW_TUNNELS:
			name = jsonx_str(it, "name");
			if (json_object_object_get_ex(it, "deleted_at", &del) &&
			    !json_object_is_type(del, json_type_null))
				break;
			if (orphan(sw, name, short_id))
				sweep_delete(sw, DEL_CONNS, id, name, short_id);
			break;
		case SW_APPS:
			name = jsonx_str(it, "name");
			if (in_domain(sw, jsonx_str(it, "domain")) && orphan(sw, name, short_id) &&
			    !kept(sw, short_id))
				sweep_delete(sw, DEL_APP, id, name, short_id);
			break;
		case SW_DONE:
			break;
		}
	}
	batch_send(sw);
	sw->phase++;
	if (sw->pending == 0)
		sweep_next(sw);
}

/* Lists the phase's objects, or finishes. The list filters are the API's (a first cut,
 * cheaper pages); the names are judged here all the same. */
static void sweep_next(struct sweep *sw)
{
	char *path = NULL;

	switch (sw->phase) {
	case SW_DNS:
		path = cf_path("/zones/%s/dns_records?type=CNAME&comment.startswith=" CF_NAME_PREFIX,
		               sw->acct->zone);
		break;
	case SW_TUNNELS:
		path = cf_path("/accounts/%s/cfd_tunnel?is_deleted=false&include_prefix=" CF_NAME_PREFIX,
		               sw->acct->account);
		break;
	case SW_APPS:
		path = cf_path("/accounts/%s/access/apps", sw->acct->account);
		break;
	case SW_DONE:
		break;
	}
	if (path) {
		sw->list = cf_list(path, 100, sweep_listed, sw);
		free(path);
		if (sw->list)
			return;
	}
	if (sw->deleted)
		log_info("sweep: deleted %d orphaned Cloudflare objects", sw->deleted);
	running = NULL;
	if (sw->done)
		sw->done(sw->arg, sw->deleted);
	free(sw);
}

int tunnel_cf_sweep(void (*done)(void *arg, int deleted), void *arg)
{
	const struct tunnel_cf_account *acct = tunnel_cf_account();
	struct sweep *sw;

	if (!acct || running)
		return -1;
	sw = calloc(1, sizeof(*sw));
	if (!sw)
		return -1;
	sw->acct = acct;
	sw->done = done;
	sw->arg = arg;
	sw->phase = SW_DNS;
	running = sw;
	sweep_next(sw);
	return 0;
}

void sweep_cf_cancel(void)
{
	struct sweep *sw = running;

	if (!sw)
		return;
	if (sw->list)
		cf_cancel(sw->list);
	while (sw->items) {
		struct sweep_item *it = sw->items;
		sw->items = it->next;
		if (it->call)
			cf_cancel(it->call);
		free(it);
	}
	while (sw->batches) {
		struct sweep_batch *b = sw->batches;
		sw->batches = b->next;
		if (b->call)
			cf_cancel(b->call);
		while (b->items) {
			struct sweep_item *it = b->items;
			b->items = it->next;
			free(it);
		}
		free(b);
	}
	free(sw);
	running = NULL;
}
