/* store_status.c: helperd heartbeat rows and the system counts (store_status.h). */
#include "store_status.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "db.h"
#include "jsonx.h"
#include "log.h"
#include "store.h"
#include "store_row.h"

static const char beat_sql[] =
	"INSERT INTO helperd_status (instance, version, started_at, heartbeat_at, every_s, "
	"agents, relay_streams, cf_used, cf_budget, cf_window_s, peer_address) "
	"VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11) "
	"ON CONFLICT (instance) DO UPDATE SET version = excluded.version, "
	"started_at = excluded.started_at, heartbeat_at = excluded.heartbeat_at, "
	"every_s = excluded.every_s, agents = excluded.agents, "
	"relay_streams = excluded.relay_streams, cf_used = excluded.cf_used, "
	"cf_budget = excluded.cf_budget, cf_window_s = excluded.cf_window_s, "
	"peer_address = excluded.peer_address";

int store_status_beat(struct db *db, const struct store_beat *b)
{
	char now[TIMESTAMP_LEN], old[TIMESTAMP_LEN], every[16], agents[16], streams[16];
	char used[16], budget[16], window[16];
	const int cf = b->cf_budget > 0;
	const char *params[11] = { b->instance, b->version, b->started_at, now, every, agents,
		                   streams, cf ? used : NULL, cf ? budget : NULL,
		                   cf ? window : NULL,
		                   b->peer_address && b->peer_address[0] ? b->peer_address : NULL };
	const char *prune[1] = { old };

	if (!b->instance || !b->instance[0] || !b->version || !b->started_at ||
	    b->every_s < 1 || b->agents < 0 || b->relay_streams < 0 ||
	    (cf && (b->cf_used < 0 || b->cf_window_s < 1)) ||
	    (b->peer_address && strlen(b->peer_address) > STORE_PEER_ADDRESS_MAX))
		return STORE_ERR;
	store_time(0, now);
	store_time(-STORE_STATUS_PRUNE_S, old);
	snprintf(every, sizeof(every), "%d", b->every_s);
	snprintf(agents, sizeof(agents), "%d", b->agents);
	snprintf(streams, sizeof(streams), "%d", b->relay_streams);
	snprintf(used, sizeof(used), "%d", b->cf_used);
	snprintf(budget, sizeof(budget), "%d", b->cf_budget);
	snprintf(window, sizeof(window), "%d", b->cf_window_s);
	if (db_exec(db, beat_sql, 11, params, NULL) != DB_OK)
		return STORE_ERR;
	if (db_exec(db, "DELETE FROM helperd_status WHERE heartbeat_at < $1", 1, prune, NULL) !=
	    DB_OK)
		return STORE_ERR;
	return STORE_OK;
}

static void add_int(json_object *o, const char *name, const char *v)
{
	json_object_object_add(o, name, json_object_new_int64(v ? strtoll(v, NULL, 10) : 0));
}

/* {names[i]: count} from "SELECT key, count(*) ... GROUP BY key"; keys not listed are
 * left out, listed keys with no rows are 0. */
static int counts(struct db *db, const char *sql, const char *const *names, int n,
                  json_object **out)
{
	struct db_res *res = NULL;
	json_object *o;

	if (db_exec(db, sql, 0, NULL, &res) != DB_OK)
		return STORE_ERR;
	o = json_object_new_object();
	for (int i = 0; o && i < n; i++) {
		const char *v = NULL;
		for (int row = 0; row < db_res_rows(res); row++) {
			const char *k = db_res_get(res, row, 0);
			if (k && strcmp(k, names[i]) == 0)
				v = db_res_get(res, row, 1);
		}
		add_int(o, names[i], v);
	}
	db_res_free(res);
	if (!o)
		return STORE_ERR;
	*out = o;
	return STORE_OK;
}

/* Whether a row's helperd runs is the helperd_live view's word (migration 0021: three
 * beats, the database's clock), the rule holders and devices' online go by too. */
#define RUNNING_COL "CASE WHEN instance IN (SELECT instance FROM helperd_live) THEN 1 ELSE 0 END"

static json_object *helperd_json(const struct db_res *res, int row)
{
	json_object *h = json_object_new_object(), *cf = NULL;
	const char *beat = db_res_get(res, row, 3), *every = db_res_get(res, row, 4);
	long every_s = every ? strtol(every, NULL, 10) : 1;
	int running;

	if (!h)
		return NULL;
	running = db_res_get(res, row, 10) && strcmp(db_res_get(res, row, 10), "1") == 0;
	jsonx_add_str(h, "instance", db_res_get(res, row, 0));
	jsonx_add_str(h, "version", db_res_get(res, row, 1));
	jsonx_add_str(h, "started_at", db_res_get(res, row, 2));
	jsonx_add_str(h, "heartbeat_at", beat);
	json_object_object_add(h, "every_seconds", json_object_new_int64(every_s));
	json_object_object_add(h, "running", json_object_new_boolean(running));
	add_int(h, "agents", db_res_get(res, row, 5));
	add_int(h, "relay_streams", db_res_get(res, row, 6));
	if (db_res_get(res, row, 8)) {
		cf = json_object_new_object();
		if (cf) {
			add_int(cf, "calls_used", db_res_get(res, row, 7));
			add_int(cf, "budget", db_res_get(res, row, 8));
			add_int(cf, "window_seconds", db_res_get(res, row, 9));
		}
	}
	json_object_object_add(h, "cloudflare", cf);
	return h;
}

static int helperds(struct db *db, json_object **out)
{
	struct db_res *res = NULL;
	json_object *list;

	if (db_exec(db, "SELECT instance, version, started_at, heartbeat_at, every_s, agents, "
	                "relay_streams, cf_used, cf_budget, cf_window_s, " RUNNING_COL
	                " FROM helperd_status ORDER BY instance",
	            0, NULL, &res) != DB_OK)
		return STORE_ERR;
	list = json_object_new_array();
	for (int row = 0; list && row < db_res_rows(res); row++) {
		json_object *h = helperd_json(res, row);
		if (!h || json_object_array_add(list, h) != 0) {
			json_object_put(h);
			json_object_put(list);
			list = NULL;
		}
	}
	db_res_free(res);
	if (!list)
		return STORE_ERR;
	*out = list;
	return STORE_OK;
}

static int devices(struct db *db, json_object **out)
{
	struct db_res *res = NULL;
	json_object *o;

	if (db_exec(db, "SELECT count(*), coalesce(sum(CASE WHEN " STORE_SQL_DEVICE_ONLINE("")
	                " THEN 1 ELSE 0 END), 0) FROM devices WHERE deleted_at IS NULL",
	            0, NULL, &res) != DB_OK)
		return STORE_ERR;
	o = json_object_new_object();
	if (o) {
		add_int(o, "online", db_res_get(res, 0, 1));
		add_int(o, "total", db_res_get(res, 0, 0));
	}
	db_res_free(res);
	if (!o)
		return STORE_ERR;
	*out = o;
	return STORE_OK;
}

int store_status_get(struct db *db, int64_t now_ms, json_object **out)
{
	static const char *const job_states[] = { "queued", "running", "failed", "done" };
	static const char *const session_states[] = { "pending", "active", "ending", "ended",
		                                       "failed" };
	json_object *o = json_object_new_object(), *part = NULL;
	char now[TIMESTAMP_LEN];
	int rc = STORE_ERR;

	if (!o)
		return STORE_ERR;
	if (now_ms == 0)
		now_ms = ids_now_ms();
	ids_timestamp(now_ms, now);
	jsonx_add_str(o, "checked_at", now);
	if (helperds(db, &part) != STORE_OK)
		goto out;
	json_object_object_add(o, "helperds", part);
	if (counts(db, "SELECT state, count(*) FROM jobs GROUP BY state", job_states,
	           (int)ARRAY_LEN(job_states), &part) != STORE_OK)
		goto out;
	json_object_object_add(o, "jobs", part);
	if (devices(db, &part) != STORE_OK)
		goto out;
	json_object_object_add(o, "devices", part);
	if (counts(db, "SELECT status, count(*) FROM sessions GROUP BY status", session_states,
	           (int)ARRAY_LEN(session_states), &part) != STORE_OK)
		goto out;
	json_object_object_add(o, "sessions", part);
	rc = STORE_OK;
out:
	if (rc == STORE_OK)
		*out = o;
	else
		json_object_put(o);
	return rc;
}

int store_status_peers(struct db *db, const char *instance, struct store_peer *out, int max,
                       int *n)
{
	const char *params[1] = { instance };
	struct db_res *res = NULL;
	int k = 0;

	if (db_exec(db, instance ? "SELECT instance, peer_address FROM helperd_status WHERE "
	                           "instance = $1 AND peer_address IS NOT NULL AND instance IN "
	                           "(SELECT instance FROM helperd_live)"
	                         : "SELECT instance, peer_address FROM helperd_status WHERE "
	                           "peer_address IS NOT NULL AND instance IN (SELECT instance "
	                           "FROM helperd_live) ORDER BY instance",
	            instance ? 1 : 0, params, &res) != DB_OK)
		return STORE_ERR;
	for (int row = 0; row < db_res_rows(res) && k < max; row++) {
		const char *name = db_res_get(res, row, 0), *address = db_res_get(res, row, 1);
		if (!name || !address || strlen(name) > STORE_PEER_INSTANCE_MAX ||
		    strlen(address) > STORE_PEER_ADDRESS_MAX)
			continue;
		snprintf(out[k].instance, sizeof(out[k].instance), "%s", name);
		snprintf(out[k].address, sizeof(out[k].address), "%s", address);
		k++;
	}
	db_res_free(res);
	*n = k;
	return STORE_OK;
}
