/* check_store_agent.c: store_agent.h (credentials and presence of devices, for the
 * hub) and the jobs additions helperd uses (store_jobs_requeue, store_jobs_renew, the
 * claim's routing and its takeover of a dead helperd's jobs), the same cases on SQLite
 * and on PostgreSQL. */
#include "ids.h"
#include "store.h"
#include "store_agent.h"
#include "store_cluster.h"
#include "testdb.h"


static void mk_device(const char *tenant, const char *name, char *id)
{
	json_object *d = NULL, *v;

	ck_assert_int_eq(store_device_create(T_db, tenant, name, "$argon2id$fake-hash", &d),
	                 STORE_OK);
	ck_assert(json_object_object_get_ex(d, "id", &v));
	snprintf(id, UUID_STR_LEN, "%s", json_object_get_string(v));
	json_object_put(d);
}

START_TEST(test_auth_get)
{
	struct store_agent_auth a;
	char dev[UUID_STR_LEN], upper[UUID_STR_LEN];
	const char *p[1];

	mk_device(DEFAULT_TENANT_ID, "a", dev);
	memset(&a, 0x55, sizeof(a));
	ck_assert_int_eq(store_agent_auth_get(T_db, dev, &a), STORE_OK);
	ck_assert_str_eq(a.tenant_id, DEFAULT_TENANT_ID);
	ck_assert_str_eq(a.secret_hash, "$argon2id$fake-hash");
	ck_assert_int_eq(a.gone, 0);
	/* Ids in either case. */
	for (int i = 0; i < UUID_STR_LEN; i++)
		upper[i] = (char)((dev[i] >= 'a' && dev[i] <= 'f') ? dev[i] - 32 : dev[i]);
	ck_assert_int_eq(store_agent_auth_get(T_db, upper, &a), STORE_OK);
	/* Unknown and malformed ids: not found, out-parameter untouched. */
	memset(&a, 0x55, sizeof(a));
	ck_assert_int_eq(store_agent_auth_get(T_db, NOBODY, &a), STORE_NOT_FOUND);
	ck_assert_int_eq(store_agent_auth_get(T_db, "nope", &a), STORE_NOT_FOUND);
	ck_assert_int_eq(store_agent_auth_get(T_db, "", &a), STORE_NOT_FOUND);
	ck_assert_int_eq((unsigned char)a.tenant_id[0], 0x55);
	/* Deleted: found, but gone. */
	ck_assert_int_eq(store_device_delete(T_db, DEFAULT_TENANT_ID, dev), STORE_OK);
	ck_assert_int_eq(store_agent_auth_get(T_db, dev, &a), STORE_OK);
	ck_assert_int_eq(a.gone, 1);
	/* A suspended tenant's device is gone too. */
	T_run(T_db, "INSERT INTO tenants (id, code, name) VALUES ('" TENANT2 "', 't2', 'T2')", 0,
	      NULL);
	mk_device(TENANT2, "b", dev);
	ck_assert_int_eq(store_agent_auth_get(T_db, dev, &a), STORE_OK);
	ck_assert_int_eq(a.gone, 0);
	ck_assert_str_eq(a.tenant_id, TENANT2);
	p[0] = TENANT2;
	T_run(T_db, "UPDATE tenants SET status = 'suspended' WHERE id = $1", 1, p);
	ck_assert_int_eq(store_agent_auth_get(T_db, dev, &a), STORE_OK);
	ck_assert_int_eq(a.gone, 1);
}
END_TEST

START_TEST(test_online_offline)
{
	struct store_agent_facts f = { "web-01", "Debian 12", "192.0.2.7", "1.2.3" };
	char dev[UUID_STR_LEN], dev2[UUID_STR_LEN];
	const char *ids[2];
	char *updated_before, *updated_after;
	long changed = -1;

	mk_device(DEFAULT_TENANT_ID, "a", dev);
	mk_device(DEFAULT_TENANT_ID, "b", dev2);
	updated_before = T_device_col("updated_at", dev);
	ck_assert_int_eq(store_agent_online(T_db, DEFAULT_TENANT_ID, dev, "hd-1", &f), STORE_OK);
	T_want_device_col("status", dev, "online");
	T_want_device_col("hostname", dev, "web-01");
	T_want_device_col("os", dev, "Debian 12");
	T_want_device_col("ip_address", dev, "192.0.2.7");
	T_want_device_col("agent_version", dev, "1.2.3");
	T_want_device_col("helperd", dev, "hd-1");
	{
		char *seen = T_device_col("last_seen", dev);
		ck_assert_ptr_nonnull(seen);
		free(seen);
	}
	/* Presence is not an edit. */
	updated_after = T_device_col("updated_at", dev);
	ck_assert_str_eq(updated_before, updated_after);
	free(updated_before);
	free(updated_after);
	/* The wrong tenant, a deleted device: not found. */
	ck_assert_int_eq(store_agent_online(T_db, "11111111-1111-4111-8111-111111111111", dev, "hd-1",
	                                    &f),
	                 STORE_NOT_FOUND);

	/* last_seen: only for devices this instance holds. */
	T_run(T_db, "UPDATE devices SET last_seen = '2020-01-01T00:00:00.000Z'", 0, NULL);
	ids[0] = dev;
	ids[1] = dev2;
	ck_assert_int_eq(store_agent_seen(T_db, "hd-1", ids, 2, &changed), STORE_OK);
	ck_assert_int_eq(changed, 1);
	ck_assert_int_eq(store_agent_seen(T_db, "hd-2", ids, 2, &changed), STORE_OK);
	ck_assert_int_eq(changed, 0);
	ck_assert_int_eq(store_agent_seen(T_db, "hd-1", ids, 0, &changed), STORE_OK);
	ck_assert_int_eq(changed, 0);
	/* A malformed id never reaches SQL. */
	ids[1] = "x'); DROP TABLE devices; --";
	ck_assert_int_eq(store_agent_seen(T_db, "hd-1", ids, 2, &changed), STORE_ERR);
	ids[1] = dev2;

	/* Offline: another instance's mark does not touch it; ours does. */
	ck_assert_int_eq(store_agent_offline(T_db, "hd-2", ids, 2, &changed), STORE_OK);
	ck_assert_int_eq(changed, 0);
	T_want_device_col("status", dev, "online");
	ck_assert_int_eq(store_agent_offline(T_db, "hd-1", ids, 2, &changed), STORE_OK);
	ck_assert_int_eq(changed, 1);
	T_want_device_col("status", dev, "offline");
	T_want_device_col("helperd", dev, NULL);
	/* The facts stay for the next look. */
	T_want_device_col("hostname", dev, "web-01");
}
END_TEST

START_TEST(test_batches)
{
	enum { N = 2500 };
	static char ids_buf[N][UUID_STR_LEN];
	const char **ids = calloc(N, sizeof(*ids));
	long changed = -1;

	ck_assert_ptr_nonnull(ids);
	/* Each create is its own transaction (it counts the tenant's quota first). */
	for (int i = 0; i < N; i++) {
		char name[32];
		snprintf(name, sizeof(name), "d%d", i);
		mk_device(DEFAULT_TENANT_ID, name, ids_buf[i]);
		ids[i] = ids_buf[i];
	}
	T_run(T_db, "UPDATE devices SET status = 'online', helperd = 'hd-1'", 0, NULL);
	/* More ids than one statement takes. */
	ck_assert_int_eq(store_agent_seen(T_db, "hd-1", ids, N, &changed), STORE_OK);
	ck_assert_int_eq(changed, N);
	ck_assert_int_eq(T_count(T_db, "SELECT count(*) FROM devices WHERE last_seen IS NOT NULL",
	                         0, NULL),
	                 N);
	ck_assert_int_eq(store_agent_offline(T_db, "hd-1", ids, N - 1, &changed), STORE_OK);
	ck_assert_int_eq(changed, N - 1);
	ck_assert_int_eq(store_agent_release(T_db, "hd-1", &changed), STORE_OK);
	ck_assert_int_eq(changed, 1);
	ck_assert_int_eq(T_count(T_db, "SELECT count(*) FROM devices WHERE status = 'online'", 0,
	                         NULL),
	                 0);
	free(ids);
}
END_TEST

/* The instance's heartbeat row, long stale: the helperd is dead (helperd_live). */
static void stale_helperd(const char *instance)
{
	const char *p[1] = { instance };

	T_run(T_db, "UPDATE helperd_status SET heartbeat_at = '2020-01-01T00:00:00.000Z' "
	            "WHERE instance = $1", 1, p);
}

START_TEST(test_expire)
{
	char a[UUID_STR_LEN], b[UUID_STR_LEN], c[UUID_STR_LEN], d[UUID_STR_LEN];
	char old[TIMESTAMP_LEN], fresh[TIMESTAMP_LEN];
	const char *p[3];
	long changed = -1;

	mk_device(DEFAULT_TENANT_ID, "a", a);
	mk_device(DEFAULT_TENANT_ID, "b", b);
	mk_device(DEFAULT_TENANT_ID, "c", c);
	mk_device(DEFAULT_TENANT_ID, "d", d);
	ids_timestamp(ids_now_ms() - 600000, old);
	ids_timestamp(ids_now_ms(), fresh);
	/* a: a dead helperd's, stale; b: a live helperd's, fresh; c: ours, stale; d: by
	 * hand, no helperd, stale. */
	p[0] = old, p[1] = "dead", p[2] = a;
	T_run(T_db, "UPDATE devices SET status = 'online', last_seen = $1, helperd = $2 WHERE id = $3",
	      3, p);
	T_live_helperd("live");
	p[0] = fresh, p[1] = "live", p[2] = b;
	T_run(T_db, "UPDATE devices SET status = 'online', last_seen = $1, helperd = $2 WHERE id = $3",
	      3, p);
	p[0] = old, p[1] = "me", p[2] = c;
	T_run(T_db, "UPDATE devices SET status = 'online', last_seen = $1, helperd = $2 WHERE id = $3",
	      3, p);
	p[0] = old, p[1] = d;
	T_run(T_db, "UPDATE devices SET status = 'online', last_seen = $1 WHERE id = $2", 2, p);
	ck_assert_int_eq(store_agent_expire(T_db, "me", 120, &changed), STORE_OK);
	ck_assert_int_eq(changed, 2);
	T_want_device_col("status", a, "offline");
	T_want_device_col("helperd", a, "dead"); /* its last holder's name stays */
	T_want_device_col("status", b, "online");
	T_want_device_col("status", c, "online");
	T_want_device_col("status", d, "offline");
	/* A holder that stops beating is dead at once, however fresh its devices' last_seen
	 * (migration 0021); a late one takes its devices back at its next flush. */
	{
		json_object *o = NULL;
		ck_assert_int_eq(store_device_get(T_db, DEFAULT_TENANT_ID, b, &o), STORE_OK);
		ck_assert_str_eq(jstr(o, "status"), "online");
		json_object_put(o);
		stale_helperd("live");
		/* The API reads it offline at once, before any sweep marks it. */
		ck_assert_int_eq(store_device_get(T_db, DEFAULT_TENANT_ID, b, &o), STORE_OK);
		ck_assert_str_eq(jstr(o, "status"), "offline");
		json_object_put(o);
	}
	ck_assert_int_eq(store_agent_expire(T_db, "me", 120, &changed), STORE_OK);
	ck_assert_int_eq(changed, 1);
	T_want_device_col("status", b, "offline");
	ck_assert_int_eq(store_agent_expire(T_db, "me", 120, &changed), STORE_OK);
	ck_assert_int_eq(changed, 0);
	{
		const char *ids[1] = { b };
		T_live_helperd("live");
		ck_assert_int_eq(store_agent_seen(T_db, "live", ids, 1, &changed), STORE_OK);
		ck_assert_int_eq(changed, 1);
		T_want_device_col("status", b, "online");
		T_want_device_col("helperd", b, "live");
	}
}
END_TEST

static void mk_job(char *job_id)
{
	struct store_session_new s = { NULL, "Eve", NULL, "example.com", 22, 8080, NULL, SEAM_PROVIDER_CLOUDFLARE, NULL };
	char dev[UUID_STR_LEN], sess[UUID_STR_LEN];
	json_object *o = NULL, *v;
	const char *p[1];
	char *id;

	mk_device(DEFAULT_TENANT_ID, "j", dev);
	s.device_id = dev;
	ck_assert_int_eq(store_session_create(T_db, DEFAULT_TENANT_ID, &s, &o), STORE_OK);
	ck_assert(json_object_object_get_ex(o, "id", &v));
	snprintf(sess, sizeof(sess), "%s", json_object_get_string(v));
	json_object_put(o);
	p[0] = sess;
	id = T_value(T_db, "SELECT id FROM jobs WHERE session_id = $1", 1, p);
	ck_assert_ptr_nonnull(id);
	snprintf(job_id, UUID_STR_LEN, "%s", id);
	free(id);
}

/* A session's job (mk_job); its device's id (to free). */
static char *mk_job_device(char *job_id)
{
	const char *p[1] = { job_id };
	char *dev;

	mk_job(job_id);
	dev = T_value(T_db, "SELECT s.device_id FROM jobs j JOIN sessions s ON s.id = j.session_id "
	                    "WHERE j.id = $1", 1, p);
	ck_assert_ptr_nonnull(dev);
	return dev;
}

/* worker claims (lease_seconds, agent_wait_seconds) and gets want jobs into jobs. */
static void claim_want(const char *worker, int lease_seconds, int agent_wait_seconds,
                       struct store_job *jobs, int want)
{
	int got = -1;

	ck_assert_int_eq(store_jobs_claim(T_db, worker, lease_seconds, agent_wait_seconds, 4,
	                                  jobs, &got), STORE_OK);
	ck_assert_int_eq(got, want);
}

START_TEST(test_jobs_requeue_renew)
{
	struct store_job jobs[4];
	char j1[UUID_STR_LEN], j2[UUID_STR_LEN];
	const char *ids[3];
	const char *p[1];
	long n = -1;
	int renewed = -1;
	char *until1, *until2;

	mk_job(j1);
	mk_job(j2);
	claim_want("hd-1", 60, 60, jobs, 2);
	/* Renewal: only what the worker holds; an unknown or malformed id is skipped. */
	p[0] = j1;
	until1 = T_value(T_db, "SELECT locked_until FROM jobs WHERE id = $1", 1, p);
	ids[0] = j1;
	ids[1] = NOBODY;
	ids[2] = "nope";
	ck_assert_int_eq(store_jobs_renew(T_db, "hd-2", ids, 3, 600, &renewed), STORE_OK);
	ck_assert_int_eq(renewed, 0);
	ck_assert_int_eq(store_jobs_renew(T_db, "hd-1", ids, 3, 600, &renewed), STORE_OK);
	ck_assert_int_eq(renewed, 1);
	until2 = T_value(T_db, "SELECT locked_until FROM jobs WHERE id = $1", 1, p);
	ck_assert_msg(strcmp(until2, until1) > 0, "lease not extended: %s then %s", until1, until2);
	free(until1);
	free(until2);
	/* A finished job is not renewed. */
	ck_assert_int_eq(store_job_finish(T_db, j2, "hd-1", "done", NULL, 0), STORE_OK);
	ids[0] = j2;
	ck_assert_int_eq(store_jobs_renew(T_db, "hd-1", ids, 1, 600, &renewed), STORE_OK);
	ck_assert_int_eq(renewed, 0);
	/* Requeue: another worker's call changes nothing; ours puts j1 back, due now, and
	 * leaves the finished one alone. */
	ck_assert_int_eq(store_jobs_requeue(T_db, "hd-2", &n), STORE_OK);
	ck_assert_int_eq(n, 0);
	ck_assert_int_eq(store_jobs_requeue(T_db, "hd-1", &n), STORE_OK);
	ck_assert_int_eq(n, 1);
	ck_assert_int_eq(T_count(T_db, "SELECT count(*) FROM jobs WHERE state = 'queued'", 0, NULL),
	                 1);
	claim_want("hd-1", 60, 60, jobs, 1);
	ck_assert_str_eq(jobs[0].id, j1);
	ck_assert_int_eq(jobs[0].attempts, 2);
	ck_assert_int_eq(store_jobs_requeue(T_db, "", &n), STORE_ERR);
}
END_TEST
/* Routing (issue 15): a session's job goes to the helperd holding its device's agent;
 * while none does it waits, unclaimed, as long as the agent may be reconnecting
 * (agent_wait_seconds), except an end, which needs no agent. */
START_TEST(test_jobs_routed)
{
	struct store_job jobs[4];
	char j1[UUID_STR_LEN], recent[TIMESTAMP_LEN];
	const char *p[2];
	char *dev;

	dev = mk_job_device(j1);
	T_live_helperd("hd-a");
	T_live_helperd("hd-b");
	ids_timestamp(ids_now_ms(), recent);
	p[0] = recent;
	p[1] = dev;
	T_run(T_db, "UPDATE devices SET status = 'online', helperd = 'hd-a', last_seen = $1 "
	            "WHERE id = $2", 2, p);
	/* Held by a live hd-a: hd-b never gets it, whatever the wait. */
	claim_want("hd-b", 60, 0, jobs, 0);
	claim_want("hd-a", 60, 60, jobs, 1);
	ck_assert_str_eq(jobs[0].id, j1);
	ck_assert_int_eq(store_job_finish(T_db, j1, "hd-a", "queued", NULL, 0), STORE_OK);

	/* hd-a dies (its heartbeat row goes stale) right after it was seen: the start waits
	 * for the agent to reconnect, claimed by nobody... */
	stale_helperd("hd-a");
	claim_want("hd-b", 60, 60, jobs, 0);
	/* ... until a hello makes hd-b its holder. */
	p[0] = dev;
	T_run(T_db, "UPDATE devices SET helperd = 'hd-b' WHERE id = $1", 1, p);
	claim_want("hd-a", 60, 60, jobs, 0);
	claim_want("hd-b", 60, 60, jobs, 1);
	ck_assert_int_eq(store_job_finish(T_db, j1, "hd-b", "queued", NULL, 0), STORE_OK);

	/* Offline, held by nobody: waited for while it may come back, then anyone's (the
	 * session fails as offline there). */
	T_run(T_db, "UPDATE devices SET status = 'offline', helperd = NULL WHERE id = $1", 1, p);
	claim_want("hd-b", 60, 60, jobs, 0);
	T_run(T_db, "UPDATE devices SET last_seen = '2020-01-01T00:00:00.000Z' WHERE id = $1", 1,
	      p);
	claim_want("hd-b", 60, 60, jobs, 1);
	ck_assert_int_eq(store_job_finish(T_db, j1, "hd-b", "done", NULL, 0), STORE_OK);

	/* An end needs no agent: claimed at once when nobody live holds it, never by another
	 * while someone does. */
	p[0] = recent;
	p[1] = dev;
	T_run(T_db, "UPDATE devices SET last_seen = $1 WHERE id = $2", 2, p);
	p[0] = j1;
	T_run(T_db, "UPDATE jobs SET kind = 'session.end', state = 'queued' WHERE id = $1", 1, p);
	p[0] = dev;
	T_run(T_db, "UPDATE devices SET status = 'online', helperd = 'hd-b' WHERE id = $1", 1, p);
	claim_want("hd-a", 60, 60, jobs, 0);
	T_run(T_db, "UPDATE devices SET status = 'offline', helperd = NULL WHERE id = $1", 1, p);
	claim_want("hd-a", 60, 60, jobs, 1);
	ck_assert_str_eq(jobs[0].kind, "session.end");
	free(dev);
}
END_TEST

/* Takeover (issue 15): a running job whose holder has a heartbeat row gone stale (a
 * helperd known dead) is claimed again at once, long before its lease runs out; while
 * that row is fresh, or when its holder has no row at all, the lease stands until
 * locked_until. The holder's own claim never takes it back from itself; its late
 * finish is refused once another holds the job. */
START_TEST(test_jobs_takeover)
{
	struct store_job jobs[4];
	char j1[UUID_STR_LEN];
	const char *p[1];
	char *dev, *v;

	dev = mk_job_device(j1);
	/* hd-x holds the agent and claims the start with a long lease. */
	T_live_helperd("hd-x");
	T_live_helperd("hd-y");
	p[0] = dev;
	T_run(T_db, "UPDATE devices SET status = 'online', helperd = 'hd-x' WHERE id = $1", 1, p);
	claim_want("hd-x", 600, 60, jobs, 1);
	/* Its agent reconnects to hd-y (the hello), while hd-x's row is fresh: the lease
	 * stands, as when hd-x is only busy. */
	T_run(T_db, "UPDATE devices SET helperd = 'hd-y' WHERE id = $1", 1, p);
	claim_want("hd-y", 600, 60, jobs, 0);
	/* hd-x's row goes stale (it died): hd-y takes the job over at once, its lease 10
	 * minutes from running out; hd-x itself never would. */
	stale_helperd("hd-x");
	T_run(T_db, "UPDATE devices SET helperd = 'hd-x' WHERE id = $1", 1, p);
	claim_want("hd-x", 600, 60, jobs, 0);
	T_run(T_db, "UPDATE devices SET helperd = 'hd-y' WHERE id = $1", 1, p);
	claim_want("hd-y", 600, 60, jobs, 1);
	ck_assert_str_eq(jobs[0].id, j1);
	ck_assert_int_eq(jobs[0].attempts, 2);
	/* Once: hd-y's own fresh lease is not taken again, by it or by anyone. */
	claim_want("hd-y", 600, 60, jobs, 0);
	/* hd-x, only late, comes back: its finish is refused, and hd-y's stands. */
	T_live_helperd("hd-x");
	ck_assert_int_eq(store_job_finish(T_db, j1, "hd-x", "done", NULL, 0), STORE_CONFLICT);
	ck_assert_int_eq(store_job_finish(T_db, j1, "hd-y", "queued", NULL, 0), STORE_OK);

	/* A holder with no row at all (none written yet; an older helperd): its lease
	 * stands until locked_until, then the claim takes the job as before. */
	ck_assert_int_eq(T_count(T_db, "SELECT count(*) FROM helperd_status WHERE instance = 'hd-z'",
	                         0, NULL), 0);
	p[0] = j1;
	T_run(T_db, "UPDATE jobs SET state = 'running', locked_by = 'hd-z', "
	            "locked_until = '2999-01-01T00:00:00.000Z', run_after = '2020-01-01T00:00:00.000Z' "
	            "WHERE id = $1", 1, p);
	claim_want("hd-y", 600, 60, jobs, 0);
	T_run(T_db, "UPDATE jobs SET locked_until = '2020-01-01T00:00:00.000Z' WHERE id = $1", 1,
	      p);
	claim_want("hd-y", 600, 60, jobs, 1);
	ck_assert_int_eq(jobs[0].attempts, 3);
	v = T_value(T_db, "SELECT locked_by FROM jobs WHERE id = $1", 1, p);
	ck_assert_str_eq(v, "hd-y");
	free(v);
	free(dev);
}
END_TEST

/* secret_version (0018): 1 at creation, one more on every new hash, whoever writes it
 * (the trigger), unchanged by other updates; a cluster's the same. */
START_TEST(test_secret_version)
{
	struct store_agent_auth a;
	char dev[UUID_STR_LEN];
	const char *p[1] = { dev };

	mk_device(DEFAULT_TENANT_ID, "v", dev);
	ck_assert_int_eq(store_agent_auth_get(T_db, dev, &a), STORE_OK);
	ck_assert_int_eq(a.secret_version, 1);
	T_run(T_db, "UPDATE devices SET name = 'v2' WHERE id = $1", 1, p);
	T_run(T_db, "UPDATE devices SET secret_hash = secret_hash WHERE id = $1", 1, p);
	ck_assert_int_eq(store_agent_auth_get(T_db, dev, &a), STORE_OK);
	ck_assert_int_eq(a.secret_version, 1);
	T_run(T_db, "UPDATE devices SET secret_hash = '$argon2id$other' WHERE id = $1", 1, p);
	ck_assert_int_eq(store_agent_auth_get(T_db, dev, &a), STORE_OK);
	ck_assert_int_eq(a.secret_version, 2);
	ck_assert_str_eq(a.secret_hash, "$argon2id$other");
	T_run(T_db, "UPDATE devices SET secret_hash = '$argon2id$third' WHERE id = $1", 1, p);
	ck_assert_int_eq(store_agent_auth_get(T_db, dev, &a), STORE_OK);
	ck_assert_int_eq(a.secret_version, 3);
}
END_TEST

/* store_device_set_secret (POST /devices/{id}/rotate-secret): the new hash and one more
 * secret_version for the tenant's live standalone device; nothing for another tenant's,
 * an unknown or a deleted one; a node (its agent uses the cluster's secret) refused and
 * left as it was. */
START_TEST(test_device_set_secret)
{
	struct store_agent_auth a;
	json_object *o = NULL, *v;
	char dev[UUID_STR_LEN], gone[UUID_STR_LEN], cl[UUID_STR_LEN], node[UUID_STR_LEN];

	mk_device(DEFAULT_TENANT_ID, "r", dev);
	ck_assert_int_eq(store_device_set_secret(T_db, DEFAULT_TENANT_ID, dev, "$argon2id$new", &o),
	                 STORE_OK);
	ck_assert(json_object_object_get_ex(o, "id", &v));
	ck_assert_str_eq(json_object_get_string(v), dev);
	ck_assert(json_object_object_get_ex(o, "name", &v));
	ck_assert_str_eq(json_object_get_string(v), "r");
	ck_assert(!json_object_object_get_ex(o, "secret_hash", &v));
	json_object_put(o);
	o = NULL;
	ck_assert_int_eq(store_agent_auth_get(T_db, dev, &a), STORE_OK);
	ck_assert_str_eq(a.secret_hash, "$argon2id$new");
	ck_assert_int_eq(a.secret_version, 2);

	/* Another tenant's, none, a malformed id, a deleted one: not found, nothing written. */
	T_run(T_db, "INSERT INTO tenants (id, code, name) VALUES ('" TENANT2 "', 't2', 'T2')", 0,
	      NULL);
	ck_assert_int_eq(store_device_set_secret(T_db, TENANT2, dev, "$argon2id$x", &o),
	                 STORE_NOT_FOUND);
	ck_assert_int_eq(store_device_set_secret(T_db, DEFAULT_TENANT_ID, NOBODY, "$argon2id$x", &o),
	                 STORE_NOT_FOUND);
	ck_assert_int_eq(store_device_set_secret(T_db, DEFAULT_TENANT_ID, "nope", "$argon2id$x", &o),
	                 STORE_NOT_FOUND);
	mk_device(DEFAULT_TENANT_ID, "gone", gone);
	ck_assert_int_eq(store_device_delete(T_db, DEFAULT_TENANT_ID, gone), STORE_OK);
	ck_assert_int_eq(store_device_set_secret(T_db, DEFAULT_TENANT_ID, gone, "$argon2id$x", &o),
	                 STORE_NOT_FOUND);
	ck_assert_ptr_null(o);
	ck_assert_int_eq(store_agent_auth_get(T_db, dev, &a), STORE_OK);
	ck_assert_str_eq(a.secret_hash, "$argon2id$new");
	ck_assert_int_eq(a.secret_version, 2);

	/* A node: STORE_CONFLICT, its row unchanged. */
	ck_assert_int_eq(store_cluster_create(T_db, DEFAULT_TENANT_ID, "k", "$argon2id$cl", &o),
	                 STORE_OK);
	ck_assert(json_object_object_get_ex(o, "id", &v));
	snprintf(cl, sizeof(cl), "%s", json_object_get_string(v));
	json_object_put(o);
	o = NULL;
	ck_assert_int_eq(store_agent_node_join(T_db, DEFAULT_TENANT_ID, cl, "worker-1", node, NULL),
	                 STORE_OK);
	ck_assert_int_eq(store_device_set_secret(T_db, DEFAULT_TENANT_ID, node, "$argon2id$x", &o),
	                 STORE_CONFLICT);
	ck_assert_ptr_null(o);
	ck_assert_int_eq(store_agent_auth_get(T_db, node, &a), STORE_OK);
	ck_assert_str_ne(a.secret_hash, "$argon2id$x");
	ck_assert_int_eq(a.secret_version, 1);
}
END_TEST

/* The ticket key: made once, the same for every later caller, 32 bytes. */
START_TEST(test_ticket_key)
{
	unsigned char k1[TICKET_KEY_LEN], k2[TICKET_KEY_LEN], zero[TICKET_KEY_LEN] = { 0 };

	ck_assert_int_eq(store_agent_ticket_key(T_db, k1), STORE_OK);
	ck_assert_int_eq(store_agent_ticket_key(T_db, k2), STORE_OK);
	ck_assert(memcmp(k1, k2, sizeof(k1)) == 0);
	ck_assert(memcmp(k1, zero, sizeof(k1)) != 0);
	ck_assert_int_eq(T_count(T_db, "SELECT count(*) FROM server_keys", 0, NULL), 1);
	/* Deleted: a new one (every ticket so far is refused). */
	T_run(T_db, "DELETE FROM server_keys", 0, NULL);
	ck_assert_int_eq(store_agent_ticket_key(T_db, k2), STORE_OK);
	ck_assert(memcmp(k1, k2, sizeof(k1)) != 0);
	/* A broken row is an error, not a key. */
	T_run(T_db, "UPDATE server_keys SET secret = 'not-base64-of-32-bytes-at-all-no-no'", 0, NULL);
	ck_assert_int_eq(store_agent_ticket_key(T_db, k2), STORE_ERR);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("store_agent");
	TCase *sq = tcase_create("sqlite"), *pg = tcase_create("postgres");

	(void)T_open_again; /* testdb.h's, unused here */
	T_ADD(sq, pg, test_auth_get);
	T_ADD(sq, pg, test_online_offline);
	T_ADD(sq, pg, test_batches);
	T_ADD(sq, pg, test_expire);
	T_ADD(sq, pg, test_jobs_requeue_renew);
	T_ADD(sq, pg, test_jobs_routed);
	T_ADD(sq, pg, test_jobs_takeover);
	T_ADD(sq, pg, test_secret_version);
	T_ADD(sq, pg, test_device_set_secret);
	T_ADD(sq, pg, test_ticket_key);
	return T_main(s, sq, pg);
}
