/* check_session.c: the session machine (helperd/session.c + provider.c + tunnel_cf.c +
 * tunnel_relay.c + cf.c + http.c) against the fake Cloudflare API (a child process) and a
 * migrated database, with small stand-ins for its collaborators (mosquitto style):
 * hub_send / hub_online / hub_version (an agent of a given protocol version that answers
 * tunnel.start and relay.start with tunnel.ready, tunnel.failed or nothing, and attaches
 * a connector to the fake tunnel while it "runs"), jobs_finish / jobs_kick (recorded, and written with
 * store_job_finish so the jobs table tells the truth), metrics (no-ops, but restores
 * are counted).
 *
 * Most cases run on SQLite; the full start/end also runs on PostgreSQL. */
#include <check.h>
#include <uv.h>

#include "cf.h"
#include "cf_name.h"
#include "cfg.h"
#include "fakecf.h"
#include "helperd.h"
#include "hub.h"
#include "jobs.h"
#include "metrics.h"
#include "proto.h"
#include "store_auth.h"
#include "session.h"
#include "store.h"
#include "store_install.h"
#include "store_tunnel.h"
#include "testdb.h"
#include "provider.h"
#include "tunnel_choice.h"

#define DOMAIN "help.example.com" /* not cloudflare.domain's example default */

struct helperd helperd;

/* ---- stand-ins: metrics ------------------------------------------------------------ */
static int R_ok, R_failed; /* kaiden_session_restores_total by result */
static int M_failures;     /* kaiden_session_failures_total, every step */

void metrics_describe(const char *name, enum metrics_type type, const char *help)
{
	(void)name;
	(void)type;
	(void)help;
}
void metrics_inc(const char *name, const char *labels, double by)
{
	if (strcmp(name, "kaiden_session_failures_total") == 0)
		M_failures += (int)by;
	if (strcmp(name, "kaiden_session_restores_total") != 0)
		return;
	if (strcmp(labels, "result=\"ok\"") == 0)
		R_ok += (int)by;
	else
		R_failed += (int)by;
}
void metrics_set(const char *name, const char *labels, double value)
{
	(void)name;
	(void)labels;
	(void)value;
}
void metrics_observe(const char *name, const char *labels, double seconds)
{
	(void)name;
	(void)labels;
	(void)seconds;
}

/* ---- stand-ins: jobs --------------------------------------------------------------- */
#define MAX_FINISHED 32
static struct finished {
	char id[UUID_STR_LEN];
	char state[16];
	char error[1024];
	int retry;
} J_done[MAX_FINISHED];
static int J_ndone, J_kicks;

void jobs_finish(const char *job_id, const char *state, const char *error, int retry_seconds)
{
	struct finished *f;

	ck_assert_int_lt(J_ndone, MAX_FINISHED);
	f = &J_done[J_ndone++];
	snprintf(f->id, sizeof(f->id), "%s", job_id);
	snprintf(f->state, sizeof(f->state), "%s", state);
	snprintf(f->error, sizeof(f->error), "%s", error ? error : "");
	f->retry = retry_seconds;
	ck_assert_int_eq(store_job_finish(T_db, job_id, "test", state, error,
	                                  strcmp(state, "queued") == 0 && retry_seconds < 1
	                                          ? 1
	                                          : retry_seconds),
	                 STORE_OK);
}

void jobs_kick(void)
{
	J_kicks++;
}

/* As jobs.c's: the lease renewed if "test" still holds it. */
int jobs_still_held(const char *job_id)
{
	const char *ids[1] = { job_id };
	int renewed = 1;

	ck_assert_int_eq(store_jobs_renew(T_db, "test", ids, 1, 60, &renewed), STORE_OK);
	return renewed == 1;
}

static const struct finished *finished_of(const char *job_id)
{
	for (int i = J_ndone - 1; i >= 0; i--)
		if (strcmp(J_done[i].id, job_id) == 0)
			return &J_done[i];
	return NULL;
}

/* ---- stand-ins: hub (one pretend agent) -------------------------------------------- */
enum agent_mode { AGENT_READY, AGENT_FAILS, AGENT_SILENT };

static struct {
	int online;
	int version;           /* the protocol version its hello said */
	char device[UUID_STR_LEN];
	enum agent_mode mode;
	int starts, stops;     /* tunnel.start, tunnel.stop */
	int relay_starts;      /* relay.start */
	int ssh_port, web_port; /* the last relay.start's */
	char last_token[4096];
	char outbox[8][256];   /* messages to deliver to session_agent_message */
	int nout;
	uv_timer_t timer;
} H;

static void attach_connector(const char *session_id, int attach)
{
	struct store_tunnel t;
	char path[256];

	ck_assert_int_eq(store_tunnel_load(T_db, DEFAULT_TENANT_ID, session_id, &t), STORE_OK);
	ck_assert(t.ids[STORE_TUNNEL_ID][0]);
	snprintf(path, sizeof(path), "/_fake/tunnels/%s/%s", t.ids[STORE_TUNNEL_ID],
	         attach ? "connect" : "disconnect");
	json_object_put(F_ctl("POST", path, "{}"));
}

static void deliver(uv_timer_t *t)
{
	(void)t;
	while (H.nout > 0) {
		struct proto_msg msg;
		struct jsonx_error err;
		char text[256];
		snprintf(text, sizeof(text), "%s", H.outbox[0]);
		memmove(H.outbox, H.outbox + 1, sizeof(H.outbox[0]) * (size_t)(H.nout - 1));
		H.nout--;
		ck_assert_int_eq(proto_parse(text, strlen(text), &msg, &err), 0);
		session_agent_message(H.device, &msg);
		proto_msg_clear(&msg);
	}
}

static void post(const char *type, const char *session_id, const char *reason)
{
	ck_assert_int_lt(H.nout, 8);
	if (reason)
		snprintf(H.outbox[H.nout++], sizeof(H.outbox[0]),
		         "{\"type\":\"%s\",\"session_id\":\"%s\",\"reason\":\"%s\"}", type, session_id,
		         reason);
	else
		snprintf(H.outbox[H.nout++], sizeof(H.outbox[0]),
		         "{\"type\":\"%s\",\"session_id\":\"%s\"}", type, session_id);
	uv_timer_start(&H.timer, deliver, 10, 0);
}

int hub_online(const char *device_id)
{
	return H.online && strcmp(device_id, H.device) == 0;
}

int hub_version(const char *device_id)
{
	return hub_online(device_id) ? H.version : 0;
}

int hub_send(const char *device_id, enum proto_type type, json_object *fields)
{
	const char *sid = jsonx_str(fields, "session_id");
	char *text;

	if (!hub_online(device_id)) {
		json_object_put(fields);
		return -1;
	}
	ck_assert_ptr_nonnull(sid);
	if (type == PROTO_TUNNEL_START) {
		const char *token = jsonx_str(fields, "token");
		ck_assert_ptr_nonnull(token);
		snprintf(H.last_token, sizeof(H.last_token), "%s", token);
		H.starts++;
	} else if (type == PROTO_RELAY_START) {
		json_object *v;
		/* relay.* only to an agent that speaks it */
		ck_assert_int_ge(H.version, 2);
		ck_assert_ptr_null(jsonx_str(fields, "token"));
		ck_assert(json_object_object_get_ex(fields, "ssh_port", &v));
		H.ssh_port = json_object_get_int(v);
		ck_assert(json_object_object_get_ex(fields, "web_port", &v));
		H.web_port = json_object_get_int(v);
		H.relay_starts++;
	} else {
		ck_assert_int_eq(type, PROTO_TUNNEL_STOP);
		H.stops++;
	}
	/* The message must be one the agent accepts. */
	text = proto_build(type, json_object_get(fields));
	ck_assert_ptr_nonnull(text);
	free(text);
	if (type == PROTO_TUNNEL_START && H.mode == AGENT_READY) {
		attach_connector(sid, 1); /* cloudflared connects */
		post("tunnel.ready", sid, NULL);
	} else if (type == PROTO_TUNNEL_START && H.mode == AGENT_FAILS) {
		post("tunnel.failed", sid, "cloudflared exited: Provided Tunnel token is not valid.");
	} else if (type == PROTO_RELAY_START && H.mode == AGENT_READY) {
		post("tunnel.ready", sid, NULL);
	} else if (type == PROTO_RELAY_START && H.mode == AGENT_FAILS) {
		post("tunnel.failed", sid, "port 2222 is not in agent.relay_ports");
	} else if (type == PROTO_TUNNEL_STOP) {
		struct store_tunnel t;
		if (store_tunnel_load(T_db, DEFAULT_TENANT_ID, sid, &t) == STORE_OK &&
		    t.ids[STORE_TUNNEL_ID][0] && H.mode == AGENT_READY)
			attach_connector(sid, 0);
		post("tunnel.stopped", sid, NULL);
	}
	json_object_put(fields);
	return 0;
}

/* ---- fixture ------------------------------------------------------------------------- */
static uv_loop_t L;
static char DEV[UUID_STR_LEN];

static void set(const char *name, const char *value)
{
	char err[256];

	ck_assert_msg(cfg_set(name, value, err, sizeof(err)) == 0, "%s", err);
}

static void configure_cloudflare(void)
{
	set("cloudflare.api_base", F_api);
	set("cloudflare.api_token", F_TOKEN);
	set("cloudflare.account_id", F_ACCOUNT);
	set("cloudflare.zone_id", F_ZONE);
	set("cloudflare.domain", DOMAIN);
	set("cloudflare.access_team", "kaiden-test");
	set("cloudflare.access_allow", "eve@example.com, @support.example.org");
	set("session.ready_timeout", "2");
}

/* The client with quick retries, set up before session_init (which keeps it). */
static void start_client(void)
{
	struct cf_config cfg = { 0 };

	cfg.api_base = F_api;
	cfg.api_token = F_TOKEN;
	cfg.budget = 1000;
	cfg.max_attempts = 3;
	cfg.backoff_base_ms = 20;
	cfg.backoff_max_ms = 100;
	cfg.timeout_ms = 5000;
	ck_assert_int_eq(cf_init(&L, &cfg), 0);
}

static void common_setup(int cloudflare)
{
	char err[256];
	json_object *d = NULL;

	ck_assert_int_eq(cfg_load(NULL, err, sizeof(err)), 0);
	F_start(NULL);
	ck_assert_int_eq(uv_loop_init(&L), 0);
	uv_timer_init(&L, &H.timer);
	memset(J_done, 0, sizeof(J_done));
	J_ndone = J_kicks = 0;
	helperd.loop = &L;
	helperd.db = T_db;
	snprintf(helperd.instance, sizeof(helperd.instance), "test");
	helperd.stopping = 0;
	ck_assert_int_eq(store_device_create(T_db, DEFAULT_TENANT_ID, "box", "$argon2id$x", &d),
	                 STORE_OK);
	snprintf(DEV, sizeof(DEV), "%s", jsonx_str(d, "id"));
	json_object_put(d);
	snprintf(H.device, sizeof(H.device), "%s", DEV);
	H.online = 1;
	H.version = PROTO_VERSION;
	H.mode = AGENT_READY;
	H.starts = H.stops = H.nout = H.relay_starts = H.ssh_port = H.web_port = 0;
	R_ok = R_failed = 0;
	if (cloudflare) {
		configure_cloudflare();
		start_client();
	}
	ck_assert_int_eq(session_init(), 0);
}

static void setup_sqlite(void)
{
	T_setup_sqlite();
	common_setup(1);
}

static void setup_pg(void)
{
	T_setup_pg();
	common_setup(1);
}

static void setup_none(void)
{
	T_setup_sqlite();
	common_setup(0);
}

static void teardown(void)
{
	session_shutdown();
	cf_shutdown(); /* if session_init did not take it (the none provider) */
	uv_close((uv_handle_t *)&H.timer, NULL);
	uv_run(&L, UV_RUN_DEFAULT);
	ck_assert_int_eq(uv_loop_close(&L), 0);
	F_stop();
	T_teardown();
}

/* ---- helpers ---------------------------------------------------------------------------- */

/* A session row made with provider (what kaiden-api's tunnel_choice() wrote), on the
 * given ports (0: the defaults). */
static void new_session_with(char id[UUID_STR_LEN], enum seam_provider provider, int ssh_port,
                             int web_port)
{
	struct store_session_new n = { DEV, "Eve", NULL, DOMAIN, ssh_port, web_port, NULL,
		                       provider, NULL };
	json_object *o = NULL;

	ck_assert_int_eq(store_session_create(T_db, DEFAULT_TENANT_ID, &n, &o), STORE_OK);
	snprintf(id, UUID_STR_LEN, "%s", jsonx_str(o, "id"));
	ck_assert_str_eq(jsonx_str(o, "provider"), seam_provider_name(provider));
	json_object_put(o);
}

static void new_session(char id[UUID_STR_LEN])
{
	new_session_with(id, SEAM_PROVIDER_CLOUDFLARE, 0, 0);
}

static void new_relay_session(char id[UUID_STR_LEN])
{
	new_session_with(id, SEAM_PROVIDER_RELAY, 2222, 6080);
}

/* Claims the due jobs and hands them to the machine; the job ids into ids (may be
 * NULL). Returns how many. */
static int run_jobs(char (*ids)[UUID_STR_LEN], int max)
{
	struct store_job jobs[8];
	int n = 0;

	ck_assert_int_eq(store_jobs_claim(T_db, "test", 60, 60, 8, jobs, &n), STORE_OK);
	for (int i = 0; i < n; i++) {
		if (ids && i < max)
			memcpy(ids[i], jobs[i].id, UUID_STR_LEN);
		session_job_start(&jobs[i]);
	}
	return n;
}

static int W_flag;
static const char *W_job;

static void check_done(uv_timer_t *t)
{
	(void)t;
	W_flag = finished_of(W_job) != NULL;
}

/* Runs the loop until check (every 5 ms) sets *flag (or 20 s). */
static void poll_until(uv_timer_cb check, int *flag)
{
	uv_timer_t poll;

	*flag = 0;
	uv_timer_init(&L, &poll);
	uv_timer_start(&poll, check, 5, 5);
	F_run_until(&L, flag, 20);
	uv_close((uv_handle_t *)&poll, NULL);
	uv_run(&L, UV_RUN_NOWAIT);
}

/* Runs the loop until job has been finished (or 20 s). */
static const struct finished *wait_job(const char *job)
{
	W_job = job;
	poll_until(check_done, &W_flag);
	ck_assert_msg(finished_of(job) != NULL, "job %s did not finish", job);
	return finished_of(job);
}

static char *session_col(const char *id, const char *col)
{
	char sql[128];
	const char *p[1] = { id };

	snprintf(sql, sizeof(sql), "SELECT %s FROM sessions WHERE id = $1", col);
	return T_value(T_db, sql, 1, p);
}

static void assert_status(const char *id, const char *status)
{
	char *v = session_col(id, "status");

	ck_assert_ptr_nonnull(v);
	ck_assert_str_eq(v, status);
	free(v);
}

static json_object *member(json_object *o, const char *k)
{
	json_object *v = NULL;

	json_object_object_get_ex(o, k, &v);
	return v;
}

/* Starts a session all the way to active; its start job id into job. */
static void start_active(char id[UUID_STR_LEN], char job[UUID_STR_LEN])
{
	new_session(id);
	ck_assert_int_eq(run_jobs((char (*)[UUID_STR_LEN])job, 1), 1);
	ck_assert_str_eq(wait_job(job)->state, "done");
	assert_status(id, "active");
}

static void end_session(const char *id)
{
	json_object *o = NULL;
	char job[UUID_STR_LEN];
	int changed = 0;

	ck_assert_int_eq(store_session_end(T_db, DEFAULT_TENANT_ID, id, &o, &changed), STORE_OK);
	json_object_put(o);
	ck_assert_int_eq(changed, 1);
	ck_assert_int_eq(run_jobs(&job, 1), 1);
	ck_assert_str_eq(wait_job(job)->state, "done");
	assert_status(id, "ended");
}

/* ---- cases -------------------------------------------------------------------------------- */

START_TEST(test_start_active_end)
{
	char id[UUID_STR_LEN], job[UUID_STR_LEN], host[300], ssh[300], want[128];
	json_object *state, *tunnels, *t, *ingress, *apps, *dns, *v;
	char *tunnel_id, *web_aud, *ended_at, *web_app, *ssh_app;
	int start_calls;

	start_active(id, job);
	start_calls = F_api_calls();
	/* tunnel 1 + app 1 + configuration 1 + DNS batch 1; the token came with the create. */
	ck_assert_int_eq(start_calls, 4);
	ck_assert_int_eq(H.starts, 1);

	tunnel_id = session_col(id, "tunnel_id");
	web_aud = session_col(id, "access_web_aud");
	ck_assert_ptr_nonnull(tunnel_id);
	ck_assert_ptr_nonnull(web_aud);
	{
		char *short_id = session_col(id, "short_id");
		snprintf(host, sizeof(host), "sess-%s." DOMAIN, short_id);
		snprintf(ssh, sizeof(ssh), "sess-%s-ssh." DOMAIN, short_id);
		free(short_id);
	}
	/* The token the agent got is the tunnel's (base64 of {"a","t","s"}); it is on no
	 * column of the row. */
	ck_assert_int_gt((int)strlen(H.last_token), 20);
	{
		const char *p[2] = { id, H.last_token };
		ck_assert_int_eq(T_count(T_db,
		                         "SELECT count(*) FROM sessions WHERE id = $1 AND "
		                         "(coalesce(tunnel_id,'') || coalesce(error,'') || "
		                         "coalesce(step,'') || coalesce(access_web_aud,'') || "
		                         "coalesce(dns_web_record_id,'')) LIKE '%' || $2 || '%'",
		                         2, p),
		                 0);
	}

	state = F_ctl("GET", "/_fake/state", NULL);
	tunnels = member(state, "tunnels");
	ck_assert_int_eq((int)json_object_array_length(tunnels), 1);
	t = json_object_array_get_idx(tunnels, 0);
	ck_assert_str_eq(jsonx_str(t, "id"), tunnel_id);
	ck_assert_str_eq(jsonx_str(t, "config_src"), "cloudflare");
	{
		char *short_id = session_col(id, "short_id"), name[CF_NAME_SIZE];
		char install[INSTALL_ID_LEN + 1];
		ck_assert_int_eq(store_install_id(T_db, install), STORE_OK);
		cf_name_make(name, install, short_id, 0);
		ck_assert_str_eq(jsonx_str(t, "name"), name);
		free(short_id);
	}
	ingress = member(member(member(t, "configuration"), "config"), "ingress");
	ck_assert_ptr_nonnull(ingress);
	ck_assert_int_eq((int)json_object_array_length(ingress), 3);
	v = json_object_array_get_idx(ingress, 0);
	ck_assert_str_eq(jsonx_str(v, "hostname"), host);
	ck_assert_str_eq(jsonx_str(v, "service"), "http://localhost:8080");
	v = member(member(v, "originRequest"), "access");
	ck_assert(json_object_get_boolean(member(v, "required")));
	ck_assert_str_eq(jsonx_str(v, "teamName"), "kaiden-test");
	ck_assert_str_eq(json_object_get_string(json_object_array_get_idx(member(v, "audTag"), 0)),
	                 web_aud);
	v = json_object_array_get_idx(ingress, 1);
	ck_assert_str_eq(jsonx_str(v, "hostname"), ssh);
	ck_assert_str_eq(jsonx_str(v, "service"), "ssh://localhost:22");
	v = json_object_array_get_idx(ingress, 2);
	ck_assert_str_eq(jsonx_str(v, "service"), "http_status:404");
	ck_assert_ptr_null(jsonx_str(v, "hostname"));

	/* One Access application protects both hostnames (its destinations); the row has
	 * it in both columns. */
	apps = member(state, "access_apps");
	ck_assert_int_eq((int)json_object_array_length(apps), 1);
	{
		json_object *a = json_object_array_get_idx(apps, 0), *pol, *inc, *dests;
		pol = json_object_array_get_idx(member(a, "policies"), 0);
		inc = member(pol, "include");
		ck_assert_str_eq(jsonx_str(pol, "decision"), "allow");
		ck_assert_int_eq((int)json_object_array_length(inc), 2);
		ck_assert_str_eq(jsonx_str(member(json_object_array_get_idx(inc, 0), "email"), "email"),
		                 "eve@example.com");
		ck_assert_str_eq(jsonx_str(member(json_object_array_get_idx(inc, 1), "email_domain"),
		                           "domain"),
		                 "support.example.org");
		ck_assert_str_eq(jsonx_str(a, "type"), "self_hosted");
		ck_assert_str_eq(jsonx_str(a, "domain"), host);
		ck_assert_str_eq(jsonx_str(a, "aud"), web_aud);
		dests = member(a, "destinations");
		ck_assert_int_eq((int)json_object_array_length(dests), 2);
		ck_assert_str_eq(jsonx_str(json_object_array_get_idx(dests, 0), "uri"), host);
		ck_assert_str_eq(jsonx_str(json_object_array_get_idx(dests, 1), "uri"), ssh);
		ck_assert_str_eq(jsonx_str(json_object_array_get_idx(dests, 1), "type"), "public");
		web_app = session_col(id, "access_web_app_id");
		ssh_app = session_col(id, "access_ssh_app_id");
		ck_assert_str_eq(web_app, jsonx_str(a, "id"));
		ck_assert_str_eq(ssh_app, web_app);
		free(web_app);
		free(ssh_app);
	}
	ck_assert_int_eq((int)json_object_array_length(member(state, "unprotected_tunnel_cnames")),
	                 0);

	dns = member(state, "dns_records");
	ck_assert_int_eq((int)json_object_array_length(dns), 2);
	snprintf(want, sizeof(want), "%s.cfargotunnel.com", tunnel_id);
	for (int i = 0; i < 2; i++) {
		json_object *r = json_object_array_get_idx(dns, i);
		ck_assert_str_eq(jsonx_str(r, "type"), "CNAME");
		ck_assert_str_eq(jsonx_str(r, "content"), want);
		ck_assert(json_object_get_boolean(member(r, "proxied")));
		ck_assert_str_eq(jsonx_str(r, "comment"), jsonx_str(t, "name"));
	}
	/* Access apps existed before any DNS record (ref: never reachable without Access). */
	{
		json_object *log = F_ctl("GET", "/_fake/log?kind=api", NULL);
		int last_app = -1, first_dns = 1000;
		for (int i = 0; i < (int)json_object_array_length(log); i++) {
			json_object *e = json_object_array_get_idx(log, i);
			const char *path = jsonx_str(e, "path");
			if (strcmp(jsonx_str(e, "method"), "POST") != 0)
				continue;
			if (strstr(path, "/access/apps"))
				last_app = i;
			if (strstr(path, "/dns_records") && i < first_dns)
				first_dns = i;
			ck_assert_str_eq(jsonx_str(e, "auth"), "yes");
		}
		ck_assert_int_lt(last_app, first_dns);
		json_object_put(log);
	}
	json_object_put(state);

	/* The end: stop, DNS, connections, tunnel, app. */
	end_session(id);
	ck_assert_int_eq(H.stops, 1);
	ck_assert_int_eq(F_count("leftover"), 0);
	ck_assert_int_eq(F_count("live_tunnels"), 0);
	ck_assert_int_eq(F_count("dns_records"), 0);
	ck_assert_int_eq(F_count("access_apps"), 0);
	/* DNS batch 1 + connections 1 + tunnel 1 + app 1 */
	ck_assert_int_eq(F_api_calls() - start_calls, 4);
	ended_at = session_col(id, "ended_at");
	ck_assert_ptr_nonnull(ended_at);
	free(ended_at);
	free(tunnel_id);
	free(web_aud);
}
END_TEST

/* A 500 on DNS create: retried, then the job goes back to the queue (transient) with
 * the ids made so far on the row; past the start deadline the next attempt fails the
 * session and compensation deletes everything. */
START_TEST(test_dns_500_compensation)
{
	char id[UUID_STR_LEN], job[UUID_STR_LEN], *v;
	const struct finished *f;
	const char *p[1];

	F_faults("{\"fail\":[{\"method\":\"POST\",\"path\":\"/dns_records/batch$\","
	         "\"status\":500,\"count\":-1}]}");
	new_session(id);
	ck_assert_int_eq(run_jobs(&job, 1), 1);
	f = wait_job(job);
	ck_assert_str_eq(f->state, "queued");
	ck_assert_int_ge(f->retry, 1);
	ck_assert_ptr_nonnull(strstr(f->error, "500"));
	assert_status(id, "pending");
	v = session_col(id, "step");
	ck_assert_str_eq(v, "dns");
	free(v);
	v = session_col(id, "tunnel_id");
	ck_assert_ptr_nonnull(v);
	free(v);
	v = session_col(id, "access_ssh_app_id");
	ck_assert_ptr_nonnull(v);
	free(v);
	ck_assert_int_eq(F_count("live_tunnels"), 1);
	ck_assert_int_eq(F_count("dns_records"), 0);

	/* Much later (past the deadline), the job runs again: it resumes at dns. */
	p[0] = id;
	T_run(T_db, "UPDATE sessions SET created_at = '2020-01-01T00:00:00.000Z' WHERE id = $1", 1,
	      p);
	T_run(T_db, "UPDATE jobs SET run_after = '2020-01-01T00:00:00.000Z'", 0, NULL);
	J_ndone = 0;
	ck_assert_int_eq(run_jobs(&job, 1), 1);
	f = wait_job(job);
	ck_assert_str_eq(f->state, "failed");
	assert_status(id, "failed");
	v = session_col(id, "error");
	ck_assert_msg(strstr(v, "DNS records for sess-"), "error: %s", v);
	ck_assert_ptr_nonnull(strstr(v, "500"));
	free(v);
	ck_assert_int_eq(F_count("leftover"), 0);
	/* The tunnel and its ingress existed: the agent was started early (the first
	 * claim), so the failed start stops it (the second). */
	ck_assert_int_eq(H.starts, 1);
	ck_assert_int_eq(H.stops, 1);
}
END_TEST

/* Someone else's record holds the hostname: a refusal a person can act on. */
START_TEST(test_dns_conflict)
{
	char id[UUID_STR_LEN], job[UUID_STR_LEN], *v, *short_id, body[512];
	const struct finished *f;

	new_session(id);
	short_id = session_col(id, "short_id");
	snprintf(body, sizeof(body),
	         "{\"type\":\"CNAME\",\"name\":\"sess-%s." DOMAIN "\",\"content\":\"other.example.net\","
	         "\"proxied\":true,\"ttl\":1}", short_id);
	/* Made through the API (the control API has no DNS hook). */
	json_object_put(F_api_post("/zones/" F_ZONE "/dns_records", body));
	ck_assert_int_eq(run_jobs(&job, 1), 1);
	f = wait_job(job);
	ck_assert_str_eq(f->state, "failed");
	assert_status(id, "failed");
	v = session_col(id, "error");
	ck_assert_msg(strstr(v, "Cloudflare refused the DNS record for sess-") &&
	                      strstr(v, "81053") && strstr(v, "other.example.net"),
	              "error: %s", v);
	free(v);
	free(short_id);
	/* Only the stranger's record is left. */
	ck_assert_int_eq(F_count("leftover"), 1);
	ck_assert_int_eq(F_count("dns_records"), 1);
}
END_TEST

/* The reply to the tunnel create is lost after the tunnel was made: the retry gets
 * 409/1013, the machine finds the tunnel by name and adopts it. Nothing leaks. */
START_TEST(test_lost_tunnel_reply_adopted)
{
	char id[UUID_STR_LEN], job[UUID_STR_LEN];

	F_faults("{\"drop\":[{\"method\":\"POST\",\"path\":\"/cfd_tunnel$\",\"count\":1,"
	         "\"after\":true}]}");
	start_active(id, job);
	ck_assert_int_eq(F_count("live_tunnels"), 1);
	ck_assert_int_eq(H.starts, 1);
	end_session(id);
	ck_assert_int_eq(F_count("leftover"), 0);
}
END_TEST

/* Lost replies on the DNS batch and the Access create are adopted the same way: the
 * batch's retry is refused (81057: all or nothing, so nothing more is made) and each
 * hostname's record is found by name; the app is found by its domain and name. */
START_TEST(test_lost_dns_and_app_replies_adopted)
{
	char id[UUID_STR_LEN], job[UUID_STR_LEN], *v;

	F_faults("{\"drop\":[{\"method\":\"POST\",\"path\":\"/dns_records/batch$\","
	         "\"count\":1,\"after\":true},{\"method\":\"POST\",\"path\":\"/access/apps$\","
	         "\"count\":1,\"after\":true}]}");
	start_active(id, job);
	ck_assert_int_eq(F_count("dns_records"), 2);
	ck_assert_int_eq(F_count("access_apps"), 1);
	v = session_col(id, "dns_ssh_record_id");
	ck_assert_ptr_nonnull(v);
	free(v);
	end_session(id);
	ck_assert_int_eq(F_count("leftover"), 0);
}
END_TEST

/* helperd stops (its machines abandoned, their jobs still leased) and starts again;
 * the one leased job is queued again, as jobs.c does at start-up. */
static void restart_helperd(void)
{
	long n = 0;

	session_shutdown();
	uv_run(&L, UV_RUN_NOWAIT);
	start_client();
	ck_assert_int_eq(session_init(), 0);
	ck_assert_int_eq(store_jobs_requeue(T_db, "test", &n), STORE_OK);
	ck_assert_int_eq(n, 1);
}

/* DELETE while the start job (jobs[0]) runs: the end job (into jobs[1]) is claimed
 * beside it. */
static void end_meanwhile(const char *id, char jobs[2][UUID_STR_LEN])
{
	json_object *o = NULL;
	int changed = 0;

	ck_assert_int_eq(store_session_end(T_db, DEFAULT_TENANT_ID, id, &o, &changed), STORE_OK);
	json_object_put(o);
	ck_assert_int_eq(changed, 1);
	ck_assert_int_eq(run_jobs(jobs + 1, 1), 1);
}

/* Both jobs of end_meanwhile done, the session ended, nothing left at the fake. */
static void assert_ended_meanwhile(const char *id, char jobs[2][UUID_STR_LEN])
{
	ck_assert_str_eq(wait_job(jobs[1])->state, "done");
	ck_assert_str_eq(wait_job(jobs[0])->state, "done");
	assert_status(id, "ended");
	ck_assert_int_eq(F_count("leftover"), 0);
}

/* The start job failed and the session with it, its error exactly error. */
static void assert_failed_with(const char *job, const char *id, const char *error)
{
	char *v;

	ck_assert_str_eq(wait_job(job)->state, "failed");
	assert_status(id, "failed");
	v = session_col(id, "error");
	ck_assert_str_eq(v, error);
	free(v);
}

#define TOKEN_REFUSED "the agent could not start the tunnel: cloudflared exited: Provided " \
                      "Tunnel token is not valid."

/* ---- the early start: tunnel.start while DNS is being made ------------------------------ */

/* Arms a hold (the fake's gate) on the next DNS batch: it waits there until released.
 * The hold's id. */
static int hold_dns(void)
{
	json_object *h = F_ctl("POST", "/_fake/holds",
	                       "{\"method\":\"POST\",\"path\":\"/dns_records/batch$\"}");
	int id = json_object_get_int(member(h, "id"));

	json_object_put(h);
	return id;
}

static void hold_release(int id, int drop)
{
	char path[64];

	snprintf(path, sizeof(path), "/_fake/holds/%d/release", id);
	json_object_put(F_ctl("POST", path, drop ? "{\"drop\":true}" : "{}"));
}

/* Waits until the fake has logged the call hold caught (a dropped or abandoned one is
 * logged when its thread lets go, after the release returned). */
static void hold_logged(int hold)
{
	double end = F_now() + 5;
	int found = 0;

	while (!found && F_now() < end) {
		json_object *log = F_ctl("GET", "/_fake/log?kind=api", NULL), *h;
		for (size_t i = 0; i < json_object_array_length(log) && !found; i++)
			found = json_object_object_get_ex(json_object_array_get_idx(log, i), "hold", &h) &&
			        json_object_get_int(h) == hold;
		json_object_put(log);
		if (!found)
			F_sleep_ms(20);
	}
	ck_assert_msg(found, "the fake did not log hold %d's call", hold);
}

/* Runs the loop until the pretend agent has got tunnel.start and its answer (if it
 * gives one) has been delivered; then asserts the held DNS batch was in flight. */
/* How many calls hold has caught so far (GET /_fake/holds: it does not block). */
static int hold_caught(int hold)
{
	json_object *list = F_ctl("GET", "/_fake/holds", NULL);
	int caught = 0;

	for (size_t i = 0; i < json_object_array_length(list); i++) {
		json_object *h = json_object_array_get_idx(list, i);
		if (json_object_get_int(member(h, "id")) == hold)
			caught = json_object_get_int(member(h, "caught"));
	}
	json_object_put(list);
	return caught;
}

/* Runs the loop until the agent got its tunnel.start and hold has caught the DNS batch.
 * The start goes right after the tunnel's create, while Access is still being made: the
 * loop keeps running (helperd must make Access, then post DNS) while the fake is asked. */
static void run_until_started(int hold)
{
	double end = F_now() + 20;

	while ((H.starts == 0 || H.nout > 0 || hold_caught(hold) == 0) && F_now() < end) {
		uv_run(&L, UV_RUN_NOWAIT);
		usleep(2000);
	}
	ck_assert_int_eq(H.starts, 1);
	ck_assert_int_eq(H.nout, 0);
	ck_assert_int_eq(hold_caught(hold), 1);
}

/* The agent gets tunnel.start (and answers ready) while the DNS batch is held: the row
 * stays pending at dns, no record exists, the job is not done; released, the session
 * becomes active. Access existed before DNS. */
START_TEST(test_early_start)
{
	char id[UUID_STR_LEN], job[UUID_STR_LEN], *v;
	int hold = hold_dns();

	new_session(id);
	ck_assert_int_eq(run_jobs(&job, 1), 1);
	run_until_started(hold);
	assert_status(id, "pending");
	v = session_col(id, "step");
	ck_assert_str_eq(v, "dns");
	free(v);
	ck_assert_int_eq(F_count("dns_records"), 0);
	ck_assert_int_eq(F_count("access_apps"), 1);
	ck_assert_ptr_null(finished_of(job));
	hold_release(hold, 0);
	ck_assert_str_eq(wait_job(job)->state, "done");
	assert_status(id, "active");
	ck_assert_int_eq(F_count("dns_records"), 2);
	ck_assert_int_eq(H.starts, 1); /* not sent again */
	end_session(id);
	ck_assert_int_eq(F_count("leftover"), 0);
}
END_TEST

/* tunnel.failed while DNS is being made: the failure waits for the batch (its ids reach
 * the row), then the compensation deletes everything; the agent said it runs nothing,
 * so no tunnel.stop. */
START_TEST(test_early_start_agent_fails)
{
	char id[UUID_STR_LEN], job[UUID_STR_LEN];
	int hold = hold_dns();

	H.mode = AGENT_FAILS;
	new_session(id);
	ck_assert_int_eq(run_jobs(&job, 1), 1);
	run_until_started(hold);
	assert_status(id, "pending");
	ck_assert_ptr_null(finished_of(job));
	hold_release(hold, 0);
	assert_failed_with(job, id, TOKEN_REFUSED);
	ck_assert_int_eq(F_count("leftover"), 0);
	ck_assert_int_eq(H.stops, 0);
}
END_TEST

/* DELETE while DNS is being made after an early start: the batch finishes, then the
 * end path stops the agent's tunnel and deletes everything. */
START_TEST(test_early_start_end)
{
	char id[UUID_STR_LEN], jobs[2][UUID_STR_LEN];
	int hold = hold_dns();

	new_session(id);
	ck_assert_int_eq(run_jobs(jobs, 1), 1);
	run_until_started(hold);
	end_meanwhile(id, jobs);
	hold_release(hold, 0);
	assert_ended_meanwhile(id, jobs);
	ck_assert_int_eq(H.stops, 1);
}
END_TEST

/* helperd stops after the early start, with the DNS batch in flight (the fake never
 * runs it): the next run resumes at dns (the ingress again, the batch, the token) and
 * sends tunnel.start again. */
START_TEST(test_early_start_resume_after_restart)
{
	char id[UUID_STR_LEN], job[UUID_STR_LEN], *v;
	int before, hold = hold_dns();

	H.mode = AGENT_SILENT;
	new_session(id);
	ck_assert_int_eq(run_jobs(&job, 1), 1);
	run_until_started(hold);
	v = session_col(id, "step");
	ck_assert_str_eq(v, "dns");
	free(v);
	restart_helperd(); /* the held batch's client hung up: the fake never runs it */
	hold_release(hold, 1);
	hold_logged(hold);
	before = F_api_calls();
	ck_assert_int_eq(F_count("dns_records"), 0);
	H.mode = AGENT_READY;
	ck_assert_int_eq(run_jobs(&job, 1), 1);
	ck_assert_str_eq(wait_job(job)->state, "done");
	assert_status(id, "active");
	/* ingress (idempotent) + DNS batch + token; nothing made twice */
	ck_assert_int_eq(F_api_calls() - before, 3);
	ck_assert_int_eq(F_count("live_tunnels"), 1);
	ck_assert_int_eq(F_count("access_apps"), 1);
	ck_assert_int_eq(F_count("dns_records"), 2);
	ck_assert_int_eq(H.starts, 2);
	end_session(id);
	ck_assert_int_eq(F_count("leftover"), 0);
}
END_TEST

/* API calls the fake logged with method and a path containing part. */
static int log_count(const char *method, const char *part)
{
	json_object *log = F_ctl("GET", "/_fake/log?kind=api", NULL);
	int n = 0;

	for (size_t i = 0; i < json_object_array_length(log); i++) {
		json_object *e = json_object_array_get_idx(log, i);
		n += strcmp(jsonx_str(e, "method"), method) == 0 && strstr(jsonx_str(e, "path"), part);
	}
	json_object_put(log);
	return n;
}

/* A record deleted by hand before the end: the batch delete is refused (all or
 * nothing: 404/81044 for the missing one), and the records are deleted one by one (404
 * is done). A lost batch-delete reply ends the same way (its retry is refused). */
START_TEST(test_dns_batch_delete_fallback)
{
	char id[UUID_STR_LEN], job[UUID_STR_LEN], url[512], *rid;
	json_object *r;

	start_active(id, job);
	rid = session_col(id, "dns_ssh_record_id");
	snprintf(url, sizeof(url), "%s/zones/" F_ZONE "/dns_records/%s", F_api, rid);
	r = F_request("DELETE", url, NULL, 1);
	ck_assert_ptr_nonnull(r);
	json_object_put(r);
	free(rid);
	ck_assert_int_eq(F_count("dns_records"), 1);
	end_session(id);
	ck_assert_int_eq(F_count("leftover"), 0);
	ck_assert_int_eq(log_count("DELETE", "/dns_records/"), 1 + 2); /* by hand, then each */

	start_active(id, job);
	F_faults("{\"drop\":[{\"method\":\"POST\",\"path\":\"/dns_records/batch$\","
	         "\"count\":1,\"after\":true}]}");
	end_session(id);
	ck_assert_int_eq(F_count("leftover"), 0);
	ck_assert_int_eq(log_count("DELETE", "/dns_records/"), 3 + 2);
}
END_TEST

/* A row an older helperd began, with a web Access app that protects the web hostname
 * alone (the ssh one not made yet): the start makes an app for the ssh hostname, so no
 * hostname gets DNS without Access; the end deletes both apps. */
START_TEST(test_older_web_only_app_row)
{
	char id[UUID_STR_LEN], job[UUID_STR_LEN], body[512], install[INSTALL_ID_LEN + 1];
	char name[CF_NAME_SIZE], *short_id, *web, *ssh;
	json_object *app, *state;
	const char *p[3];

	new_session(id);
	short_id = session_col(id, "short_id");
	ck_assert_int_eq(store_install_id(T_db, install), STORE_OK);
	cf_name_make(name, install, short_id, 0);
	snprintf(body, sizeof(body),
	         "{\"name\":\"%s\",\"type\":\"self_hosted\",\"domain\":\"sess-%s." DOMAIN "\","
	         "\"policies\":[{\"name\":\"x\",\"decision\":\"allow\",\"include\":[{\"email\":"
	         "{\"email\":\"eve@example.com\"}}]}]}", name, short_id);
	app = F_api_post("/accounts/" F_ACCOUNT "/access/apps", body);
	p[0] = jsonx_str(app, "id");
	p[1] = jsonx_str(app, "aud");
	p[2] = id;
	T_run(T_db, "UPDATE sessions SET access_web_app_id = $1, access_web_aud = $2, step = 'access' "
	            "WHERE id = $3", 3, p);
	json_object_put(app);
	free(short_id);
	ck_assert_int_eq(run_jobs(&job, 1), 1);
	ck_assert_str_eq(wait_job(job)->state, "done");
	assert_status(id, "active");
	ck_assert_int_eq(F_count("access_apps"), 2);
	web = session_col(id, "access_web_app_id");
	ssh = session_col(id, "access_ssh_app_id");
	ck_assert_str_ne(web, ssh);
	free(web);
	free(ssh);
	state = F_ctl("GET", "/_fake/state", NULL);
	ck_assert_int_eq((int)json_object_array_length(member(state, "unprotected_tunnel_cnames")),
	                 0);
	json_object_put(state);
	end_session(id);
	ck_assert_int_eq(F_count("leftover"), 0);
}
END_TEST

START_TEST(test_device_offline)
{
	char id[UUID_STR_LEN], job[UUID_STR_LEN], *v;
	const struct finished *f;

	H.online = 0;
	new_session(id);
	ck_assert_int_eq(run_jobs(&job, 1), 1);
	f = wait_job(job);
	ck_assert_str_eq(f->state, "failed");
	assert_status(id, "failed");
	v = session_col(id, "error");
	ck_assert_str_eq(v, "device is offline");
	free(v);
	/* Decided before any API call. */
	ck_assert_int_eq(F_api_calls(), 0);
}
END_TEST

START_TEST(test_agent_failed)
{
	char id[UUID_STR_LEN], job[UUID_STR_LEN];

	H.mode = AGENT_FAILS;
	new_session(id);
	ck_assert_int_eq(run_jobs(&job, 1), 1);
	assert_failed_with(job, id, TOKEN_REFUSED);
	ck_assert_int_eq(F_count("leftover"), 0);
	ck_assert_int_eq(H.stops, 0); /* it said it was not running */
}
END_TEST

START_TEST(test_ready_timeout)
{
	char id[UUID_STR_LEN], job[UUID_STR_LEN], *v;
	const struct finished *f;

	H.mode = AGENT_SILENT;
	new_session(id);
	ck_assert_int_eq(run_jobs(&job, 1), 1);
	f = wait_job(job);
	ck_assert_str_eq(f->state, "failed");
	v = session_col(id, "error");
	ck_assert_ptr_nonnull(strstr(v, "did not report the tunnel ready within 2 s"));
	free(v);
	ck_assert_int_eq(H.stops, 1);
	ck_assert_int_eq(F_count("leftover"), 0);
}
END_TEST

static void go_offline(uv_timer_t *t)
{
	(void)t;
	H.online = 0;
	session_agent_online(DEV, 0);
}

START_TEST(test_offline_while_waiting)
{
	char id[UUID_STR_LEN], job[UUID_STR_LEN], *v;
	const struct finished *f;
	static uv_timer_t t;

	H.mode = AGENT_SILENT;
	new_session(id);
	ck_assert_int_eq(run_jobs(&job, 1), 1);
	uv_timer_init(&L, &t);
	uv_timer_start(&t, go_offline, 1000, 0);
	f = wait_job(job);
	uv_close((uv_handle_t *)&t, NULL);
	uv_run(&L, UV_RUN_NOWAIT);
	ck_assert_str_eq(f->state, "failed");
	v = session_col(id, "error");
	ck_assert_str_eq(v, "the device went offline before its tunnel was ready");
	free(v);
	ck_assert_int_eq(F_count("leftover"), 0);
}
END_TEST

static int S_flag;
static const char *S_id;

static void check_agent_step(uv_timer_t *t)
{
	char *v = session_col(S_id, "step");

	(void)t;
	S_flag = H.starts > 0 && v && strcmp(v, "agent") == 0;
	free(v);
}

/* A new session's start, its agent silent, run until it waits at the agent step. */
static void start_to_agent_step(char id[UUID_STR_LEN], char (*job)[UUID_STR_LEN])
{
	H.mode = AGENT_SILENT;
	new_session(id);
	ck_assert_int_eq(run_jobs(job, 1), 1);
	S_id = id;
	poll_until(check_agent_step, &S_flag);
	ck_assert_msg(S_flag, "the start did not reach the agent step");
}

/* The start left as it was at the agent step: pending, nothing stopped, its objects at
 * the fake. */
static void assert_left_at_agent(const char *id)
{
	char *v;

	assert_status(id, "pending");
	v = session_col(id, "step");
	ck_assert_str_eq(v, "agent");
	free(v);
	ck_assert_int_eq(H.stops, 0);
	ck_assert_int_eq(F_count("live_tunnels"), 1);
	ck_assert_int_eq(F_count("access_apps"), 1);
	ck_assert_int_eq(F_count("dns_records"), 2);
}

/* The session active with each of its objects made once (one tunnel, one Access app,
 * two DNS records); then ended, with nothing left at the fake. */
static void assert_active_once_then_end(const char *id)
{
	assert_status(id, "active");
	ck_assert_int_eq(F_count("live_tunnels"), 1);
	ck_assert_int_eq(F_count("access_apps"), 1);
	ck_assert_int_eq(F_count("dns_records"), 2);
	end_session(id);
	ck_assert_int_eq(F_count("leftover"), 0);
}

/* The device held by this helperd and its agent last seen ago_ms before now. */
static void device_seen(int64_t ago_ms)
{
	char seen[TIMESTAMP_LEN];
	const char *p[2] = { seen, DEV };

	ids_timestamp(ids_now_ms() - ago_ms, seen);
	T_run(T_db, "UPDATE devices SET last_seen = $1, helperd = 'test' WHERE id = $2", 2, p);
}

/* The agent gone, as hub.c marks it (flush_offline: no holder, last_seen then). */
static void device_marked_offline(void)
{
	const char *p[1] = { DEV };

	T_run(T_db, "UPDATE devices SET status = 'offline', helperd = NULL WHERE id = $1", 1, p);
}

/* The agent back (its hello makes this helperd the holder: hub.c), ready to answer; the
 * start job, queued to wait for it, is claimed again and done. */
static void agent_back_start_done(char (*job)[UUID_STR_LEN])
{
	const char *p[1] = { DEV };

	H.online = 1;
	H.mode = AGENT_READY;
	T_run(T_db, "UPDATE devices SET helperd = 'test' WHERE id = $1", 1, p);
	T_run(T_db, "UPDATE jobs SET run_after = '2020-01-01T00:00:00.000Z'", 0, NULL);
	J_ndone = 0;
	ck_assert_int_eq(run_jobs(job, 1), 1);
	ck_assert_str_eq(wait_job(*job)->state, "done");
}

/* A late helperd (issue 15): its start, waiting for tunnel.ready, was taken over by
 * another helperd (the job's lease is another's) when its agent goes: it does not
 * compensate (the other one is bringing the same objects up), counts no failure,
 * finishes nothing and leaves the row and the fake's objects as they are. */
START_TEST(test_offline_after_takeover)
{
	char id[UUID_STR_LEN], job[UUID_STR_LEN], *v;
	const char *p[1] = { job };

	start_to_agent_step(id, &job);
	T_run(T_db, "UPDATE jobs SET locked_by = 'hd-other' WHERE id = $1", 1, p);
	H.online = 0;
	session_agent_online(DEV, 0);
	uv_run(&L, UV_RUN_NOWAIT);
	ck_assert_ptr_null(finished_of(job));
	assert_left_at_agent(id);
	v = T_value(T_db, "SELECT state || ' ' || locked_by FROM jobs WHERE id = $1", 1, p);
	ck_assert_str_eq(v, "running hd-other");
	free(v);
	ck_assert_int_eq(M_failures, 0);
}
END_TEST

/* The agent goes while the start waits for tunnel.ready, but the device was seen just
 * now (within session.ready_timeout: an agent restarting, a link dropped): the start
 * is queued again, not failed, and the provider's objects stay. Its agent back, the
 * next claim adopts them, sends tunnel.start again and the session becomes active,
 * nothing made twice. */
START_TEST(test_offline_while_waiting_back)
{
	char id[UUID_STR_LEN], job[UUID_STR_LEN];
	int before;

	device_seen(0);
	start_to_agent_step(id, &job);
	ck_assert_int_eq(H.starts, 1);
	before = F_api_calls();
	H.online = 0;
	device_marked_offline();
	session_agent_online(DEV, 0);
	ck_assert_str_eq(wait_job(job)->state, "queued");
	assert_left_at_agent(id);

	/* Meanwhile no claim takes it (store_job.c: routed to the agent's helperd, and
	 * while none holds it, held back until session.ready_timeout has passed). */
	T_run(T_db, "UPDATE jobs SET run_after = '2020-01-01T00:00:00.000Z'", 0, NULL);
	ck_assert_int_eq(run_jobs(NULL, 0), 0);
	agent_back_start_done(&job);
	ck_assert_int_eq(H.starts, 2);
	ck_assert_int_eq(F_api_calls() - before, 1); /* GET token */
	assert_active_once_then_end(id);
}
END_TEST

/* The agent goes after the early start command, while DNS is being made. */
static void early_start_then_gone(char id[UUID_STR_LEN], char (*job)[UUID_STR_LEN], int hold)
{
	H.mode = AGENT_SILENT;
	new_session(id);
	ck_assert_int_eq(run_jobs(job, 1), 1);
	run_until_started(hold);
	H.online = 0;
	session_agent_online(DEV, 0);
	uv_run(&L, UV_RUN_NOWAIT);
	/* Nothing failed, nothing stopped: the provider's batch is still under way. */
	assert_status(id, "pending");
	ck_assert_ptr_null(finished_of(*job));
	ck_assert_int_eq(H.stops, 0);
	ck_assert_int_eq(hold_caught(hold), 1);
}

/* The agent goes after the early start command and is back before the provider has
 * finished: once DNS is made, the command goes out again, to the agent now connected,
 * and the session becomes active. Nothing is made twice. */
START_TEST(test_early_start_agent_back)
{
	char id[UUID_STR_LEN], job[UUID_STR_LEN];
	int hold = hold_dns();

	early_start_then_gone(id, &job, hold);
	H.online = 1;
	H.mode = AGENT_READY;
	hold_release(hold, 0);
	ck_assert_str_eq(wait_job(job)->state, "done");
	ck_assert_int_eq(H.starts, 2);
	ck_assert_int_eq(H.stops, 0);
	assert_active_once_then_end(id);
}
END_TEST

/* The agent goes after the early start command and is still away when the provider has
 * finished, but was seen just now: the start is queued again at step agent (as for an
 * agent gone after the start command), then, the agent back, the next claim sends the
 * command and the session becomes active. Seen too long ago instead, the start fails
 * as for any offline device, and everything is deleted. */
START_TEST(test_early_start_agent_away)
{
	char id[UUID_STR_LEN], job[UUID_STR_LEN], *v;
	int hold = hold_dns();

	device_seen(0);
	early_start_then_gone(id, &job, hold);
	device_marked_offline();
	hold_release(hold, 0);
	ck_assert_str_eq(wait_job(job)->state, "queued");
	assert_left_at_agent(id);
	ck_assert_int_eq(H.starts, 1);
	agent_back_start_done(&job);
	ck_assert_int_eq(H.starts, 2);
	assert_active_once_then_end(id);

	/* Seen an hour ago: failed, compensated. */
	hold = hold_dns();
	device_seen(3600 * 1000);
	J_ndone = 0;
	H.starts = H.stops = 0;
	early_start_then_gone(id, &job, hold);
	hold_release(hold, 0);
	ck_assert_str_eq(wait_job(job)->state, "failed");
	v = session_col(id, "error");
	ck_assert_str_eq(v, "device is offline");
	free(v);
	ck_assert_int_eq(F_count("leftover"), 0);
}
END_TEST

/* DELETE while the provider is busy: the machine finishes the call under way (no id
 * is lost), then takes the end path. */
START_TEST(test_end_while_starting)
{
	char id[UUID_STR_LEN], jobs[2][UUID_STR_LEN];

	F_faults("{\"latency_ms\":150}");
	new_session(id);
	ck_assert_int_eq(run_jobs(jobs, 1), 1);
	end_meanwhile(id, jobs);
	assert_ended_meanwhile(id, jobs);
	ck_assert_int_eq(H.starts, 0);
}
END_TEST

/* helperd stops while the agent is being waited for; the next run resumes: nothing is
 * created again, one call fetches the token, and the session becomes active. */
START_TEST(test_resume_after_restart)
{
	char id[UUID_STR_LEN], job[UUID_STR_LEN], *step = NULL;
	int before;
	double end = F_now() + 20;

	H.mode = AGENT_SILENT;
	new_session(id);
	ck_assert_int_eq(run_jobs(&job, 1), 1);
	/* tunnel.start may go out before DNS is done (the early start): wait for the row's
	 * step agent (provisioned), which the agent's silence holds. */
	do {
		free(step);
		uv_run(&L, UV_RUN_ONCE);
		step = session_col(id, "step");
	} while (strcmp(step, "agent") != 0 && F_now() < end);
	ck_assert_str_eq(step, "agent");
	free(step);
	ck_assert_int_eq(H.starts, 1);
	before = F_api_calls();
	ck_assert_int_eq(before, 4);

	restart_helperd(); /* abandons the machine; the job stays leased */
	H.mode = AGENT_READY;
	ck_assert_int_eq(run_jobs(&job, 1), 1);
	ck_assert_str_eq(wait_job(job)->state, "done");
	assert_status(id, "active");
	ck_assert_int_eq(F_api_calls() - before, 1); /* GET token */
	ck_assert_int_eq(F_count("live_tunnels"), 1);
	ck_assert_int_eq(F_count("dns_records"), 2);
	end_session(id);
	ck_assert_int_eq(F_count("leftover"), 0);
}
END_TEST

START_TEST(test_access_allow_empty)
{
	char id[UUID_STR_LEN], job[UUID_STR_LEN], *v;

	session_shutdown();
	uv_run(&L, UV_RUN_NOWAIT);
	set("cloudflare.access_allow", "");
	start_client();
	ck_assert_int_eq(session_init(), 0);
	new_session(id);
	ck_assert_int_eq(run_jobs(&job, 1), 1);
	ck_assert_str_eq(wait_job(job)->state, "failed");
	v = session_col(id, "error");
	ck_assert_ptr_nonnull(strstr(v, "cloudflare.access_allow"));
	free(v);
	ck_assert_int_eq(F_api_calls(), 0);
}
END_TEST

/* With cloudflare.access_allow empty, the engineer who started the session (a user with
 * an email) is whom Access lets in: the session is provisioned, and both apps' policies
 * name that address (lower-cased, as users are stored). */
START_TEST(test_access_engineer_email)
{
	struct store_user_new u = { NULL, "Eng@Example.com", "Eng", ROLE_ENGINEER, NULL };
	char id[UUID_STR_LEN], job[UUID_STR_LEN], uid[UUID_STR_LEN];
	json_object *o = NULL, *state, *apps;
	int named = 0;

	session_shutdown();
	uv_run(&L, UV_RUN_NOWAIT);
	set("cloudflare.access_allow", "");
	start_client();
	ck_assert_int_eq(session_init(), 0);
	ck_assert_int_eq(store_user_create(T_db, &u, &o), STORE_OK);
	snprintf(uid, sizeof(uid), "%s", jsonx_str(o, "id"));
	json_object_put(o);
	{
		struct store_session_new n = { DEV, "Eng", NULL, DOMAIN, 0, 0, uid, SEAM_PROVIDER_CLOUDFLARE, NULL };
		ck_assert_int_eq(store_session_create(T_db, DEFAULT_TENANT_ID, &n, &o), STORE_OK);
		snprintf(id, sizeof(id), "%s", jsonx_str(o, "id"));
		json_object_put(o);
	}
	H.mode = AGENT_READY;
	ck_assert_int_eq(run_jobs(&job, 1), 1);
	ck_assert_str_eq(wait_job(job)->state, "done");
	assert_status(id, "active");
	state = F_ctl("GET", "/_fake/state", NULL);
	ck_assert(json_object_object_get_ex(state, "access_apps", &apps));
	ck_assert_int_eq((int)json_object_array_length(apps), 1);
	for (size_t i = 0; i < json_object_array_length(apps); i++) {
		json_object *app = json_object_array_get_idx(apps, i), *pols, *inc;
		ck_assert(json_object_object_get_ex(app, "policies", &pols));
		ck_assert(json_object_object_get_ex(json_object_array_get_idx(pols, 0), "include",
		                                    &inc));
		ck_assert_int_eq((int)json_object_array_length(inc), 1);
		named += strstr(json_object_to_json_string(inc), "\"eng@example.com\"") != NULL;
	}
	ck_assert_int_eq(named, 1);
	json_object_put(state);
	end_session(id);
	ck_assert_int_eq(F_count("leftover"), 0);
}
END_TEST

/* Cloudflare unconfigured: a session made for Cloudflare (tunnel.provider=cloudflare
 * when it was made, or kaiden-api had the settings) fails naming the settings to set;
 * nothing is asked of Cloudflare. */
START_TEST(test_none_provider)
{
	char id[UUID_STR_LEN], id2[UUID_STR_LEN], job[UUID_STR_LEN], *v;
	json_object *o = NULL;
	int changed = 0;

	new_session(id);
	ck_assert_int_eq(run_jobs(&job, 1), 1);
	ck_assert_str_eq(wait_job(job)->state, "failed");
	assert_status(id, "failed");
	v = session_col(id, "error");
	ck_assert_msg(strncmp(v, "Cloudflare is not configured: set KAIDEN_CF_API_TOKEN, ",
	                      strlen("Cloudflare is not configured: set KAIDEN_CF_API_TOKEN, ")) ==
	                      0,
	              "error: %s", v);
	ck_assert_msg(strstr(v, "KAIDEN_TUNNEL_PROVIDER=relay"), "error: %s", v);
	free(v);

	/* A session ended before its start ran: just ended. */
	new_session(id2);
	ck_assert_int_eq(store_session_end(T_db, DEFAULT_TENANT_ID, id2, &o, &changed), STORE_OK);
	json_object_put(o);
	J_ndone = 0;
	{
		char jobs[2][UUID_STR_LEN];
		int n = run_jobs(jobs, 2);
		ck_assert_int_eq(n, 2);
		for (int i = 0; i < n; i++)
			ck_assert_str_eq(wait_job(jobs[i])->state, "done");
	}
	assert_status(id2, "ended");
	ck_assert_int_eq(F_api_calls(), 0);
}
END_TEST

/* Every Cloudflare setting given but cloudflare.domain left at its example default: the
 * provider is still "none", and the reason names KAIDEN_CF_DOMAIN alone. */
START_TEST(test_domain_example_is_not_set)
{
	char id[UUID_STR_LEN], job[UUID_STR_LEN], *v;

	session_shutdown();
	uv_run(&L, UV_RUN_NOWAIT);
	set("cloudflare.api_token", "t");
	set("cloudflare.account_id", "a");
	set("cloudflare.zone_id", "z");
	set("cloudflare.access_team", "team");
	set("cloudflare.domain", CFG_CF_DOMAIN_EXAMPLE);
	ck_assert_int_eq(session_init(), 0);
	new_session(id);
	ck_assert_int_eq(run_jobs(&job, 1), 1);
	ck_assert_str_eq(wait_job(job)->state, "failed");
	v = session_col(id, "error");
	ck_assert_msg(strcmp(v, "Cloudflare is not configured: set KAIDEN_CF_DOMAIN (or set "
	                        "KAIDEN_TUNNEL_PROVIDER=relay to use the built-in relay)") == 0,
	              "error: %s", v);
	free(v);
	ck_assert_int_eq(F_api_calls(), 0);
}
END_TEST

static int S_done_flag;

static void sweep_done(void *arg, int deleted)
{
	(void)arg;
	(void)deleted;
	S_done_flag = 1;
}

/* The objects the sweep tests make at the fake: a tunnel (with a connector attached,
 * which blocks a plain delete), a DNS record commented name and an Access app on
 * host, each when not NULL. */
static void make_objects(const char *tunnel, const char *comment, const char *dns_host,
                         const char *app, const char *app_host)
{
	char body[512];

	if (tunnel) {
		json_object *t;
		char path[200];
		snprintf(body, sizeof(body), "{\"name\":\"%s\",\"config_src\":\"cloudflare\"}", tunnel);
		t = F_api_post("/accounts/" F_ACCOUNT "/cfd_tunnel", body);
		snprintf(path, sizeof(path), "/_fake/tunnels/%s/connect", jsonx_str(t, "id"));
		json_object_put(F_ctl("POST", path, "{}"));
		json_object_put(t);
	}
	if (comment) {
		snprintf(body, sizeof(body),
		         "{\"type\":\"CNAME\",\"name\":\"%s\",\"content\":\"x.cfargotunnel.com\","
		         "\"proxied\":true,\"ttl\":1,\"comment\":\"%s\"}", dns_host, comment);
		json_object_put(F_api_post("/zones/" F_ZONE "/dns_records", body));
	}
	if (app) {
		snprintf(body, sizeof(body), "{\"name\":\"%s\",\"type\":\"self_hosted\",\"domain\":\"%s\"}",
		         app, app_host);
		json_object_put(F_api_post("/accounts/" F_ACCOUNT "/access/apps", body));
	}
}

/* 1 if the fake holds a live object of that kind ("tunnels", "dns_records",
 * "access_apps") whose key ("name", "comment") is value. */
static int fake_has(const char *kind, const char *key, const char *value)
{
	json_object *st = F_ctl("GET", "/_fake/state", NULL), *list = member(st, kind);
	int found = 0;

	for (int i = 0; i < (int)json_object_array_length(list); i++) {
		json_object *o = json_object_array_get_idx(list, i);
		const char *v = jsonx_str(o, key);
		if (v && strcmp(v, value) == 0 && !jsonx_str(o, "deleted_at"))
			found = 1;
	}
	json_object_put(st);
	return found;
}

/* Runs one whole Cloudflare sweep (after any already running). */
static void sweep_cf_once(void)
{
	S_done_flag = 0;
	while (!S_done_flag) {
		uv_run(&L, UV_RUN_NOWAIT);
		tunnel_provider_cf.sweep(sweep_done, NULL);
		F_run_until(&L, &S_done_flag, 0.05);
	}
}

/* The id of the fake's DNS record commented comment (owned), or NULL. */
static char *fake_record_id(const char *comment)
{
	json_object *st = F_ctl("GET", "/_fake/state", NULL), *list = member(st, "dns_records");
	char *id = NULL;

	for (size_t i = 0; i < json_object_array_length(list) && !id; i++) {
		json_object *o = json_object_array_get_idx(list, i);
		const char *c = jsonx_str(o, "comment");
		if (c && strcmp(c, comment) == 0)
			id = strdup(jsonx_str(o, "id"));
	}
	json_object_put(st);
	return id;
}

/* The sweep's DNS batch is refused because a record went meanwhile (a session's own
 * teardown, here a DELETE by hand while the fake holds the batch): all or nothing, so
 * nothing was deleted, and the records go one by one (the gone one counts as done);
 * then, DNS gone, their Access applications. */
START_TEST(test_sweep_dns_batch_refused)
{
	char install[INSTALL_ID_LEN + 1], name[CF_NAME_SIZE], host[128], url[512], first[CF_NAME_SIZE];
	char *rid;
	int hold, deletes;
	double end;
	json_object *r;

	ck_assert_int_eq(store_install_id(T_db, install), STORE_OK);
	for (int i = 0; i < 3; i++) {
		char short_id[SHORT_ID_LEN + 1];
		snprintf(short_id, sizeof(short_id), "refused%c23", 'a' + i);
		cf_name_make(name, install, short_id, 0);
		snprintf(host, sizeof(host), "sess-%s." DOMAIN, short_id);
		make_objects(NULL, name, host, name, host);
		if (i == 0)
			snprintf(first, sizeof(first), "%s", name);
	}
	ck_assert_int_eq(F_count("dns_records"), 3);
	ck_assert_int_eq(F_count("access_apps"), 3);
	deletes = log_count("DELETE", "/dns_records/");
	hold = hold_dns();
	S_done_flag = 0;
	ck_assert_int_eq(tunnel_provider_cf.sweep(sweep_done, NULL), 0);
	end = F_now() + 20;
	while (hold_caught(hold) == 0 && F_now() < end) {
		uv_run(&L, UV_RUN_NOWAIT);
		usleep(2000);
	}
	ck_assert_int_eq(hold_caught(hold), 1);
	rid = fake_record_id(first);
	ck_assert_ptr_nonnull(rid);
	snprintf(url, sizeof(url), "%s/zones/" F_ZONE "/dns_records/%s", F_api, rid);
	r = F_request("DELETE", url, NULL, 1);
	ck_assert_ptr_nonnull(r);
	json_object_put(r);
	free(rid);
	ck_assert_int_eq(F_count("dns_records"), 2);
	hold_release(hold, 0);
	ck_assert_int_eq(F_run_until(&L, &S_done_flag, 20), 0);
	ck_assert_int_eq(F_count("dns_records"), 0);
	ck_assert_int_eq(F_count("access_apps"), 0);
	/* by hand 1, then one DELETE per record of the refused batch, the gone one's too */
	ck_assert_int_eq(log_count("DELETE", "/dns_records/") - deletes, 4);
}
END_TEST

/* The sweep deletes this install's objects named for a session that is not live (here:
 * none at all, as after a lost create reply; and an old-format name of a session of
 * ours that failed), across several pages of a list Cloudflare caps below the per_page
 * asked; it keeps the live session's, another install's (same account, its own
 * sweep), old-format names this database does not know, and other tools'. Past
 * max_duration / offline too long -> ending. */
START_TEST(test_sweep)
{
	char live[UUID_STR_LEN], job[UUID_STR_LEN], old[UUID_STR_LEN], gone[UUID_STR_LEN];
	char failed[UUID_STR_LEN], install[INSTALL_ID_LEN + 1], name[CF_NAME_SIZE];
	char host[128], other[CF_NAME_SIZE], legacy[CF_NAME_SIZE], legacy_live[CF_NAME_SIZE];
	char *failed_short;
	const char *p[2];
	int kicks, batches, deletes;

	ck_assert_int_eq(store_install_id(T_db, install), STORE_OK); /* session_init made it */
	start_active(live, job);
	{
		char *short_id = session_col(live, "short_id");
		cf_name_make(name, install, short_id, 0);
		ck_assert(fake_has("tunnels", "name", name)); /* the live session's */
		/* An old-format name of that live session (as if made before the upgrade). */
		snprintf(legacy_live, sizeof(legacy_live), CF_NAME_PREFIX "%s", short_id);
		make_objects(legacy_live, NULL, NULL, NULL, NULL);
		free(short_id);
	}
	/* Ours, of no session (a lost reply's): all three kinds. */
	cf_name_make(name, install, "orphan2345", 0);
	make_objects(name, name, "sess-orphan2345." DOMAIN, NULL, NULL);
	cf_name_make(name, install, "orphan2345", 1);
	make_objects(NULL, NULL, NULL, name, "sess-orphan2345-ssh." DOMAIN);
	/* Ours, old format, of a session here that failed. */
	new_session(failed);
	p[0] = failed;
	T_run(T_db, "UPDATE sessions SET status = 'failed' WHERE id = $1", 1, p);
	failed_short = session_col(failed, "short_id");
	snprintf(legacy, sizeof(legacy), CF_NAME_PREFIX "%s", failed_short);
	snprintf(host, sizeof(host), "sess-%s." DOMAIN, failed_short);
	make_objects(legacy, NULL, NULL, legacy, host);
	/* Another install's, in the same account and domain, of a session not in this
	 * database; and an old-format name this database does not know. */
	cf_name_make(other, "othrinst", "other23456", 0);
	make_objects(other, other, "sess-other23456." DOMAIN, other, "sess-other23456-ssh." DOMAIN);
	make_objects(CF_NAME_PREFIX "legacy2345", CF_NAME_PREFIX "legacy2345",
	             "sess-legacy2345." DOMAIN, NULL, NULL);
	/* Not ours: another tool's app in the account. */
	make_objects(NULL, NULL, NULL, "wiki", "wiki.example.com");
	/* Five more orphaned apps of ours, and Access lists served 2 a page (the sweep asks
	 * 100): page 1 alone would leave most of them. */
	for (int i = 0; i < 5; i++) {
		char short_id[SHORT_ID_LEN + 1];
		snprintf(short_id, sizeof(short_id), "page%c23456", 'a' + i);
		cf_name_make(name, install, short_id, 0);
		snprintf(host, sizeof(host), "sess-%s." DOMAIN, short_id);
		make_objects(NULL, NULL, NULL, name, host);
	}
	/* 200 more orphaned records of ours (names only, as a lost batch's): with the one
	 * above, 201 to delete, two batches (200 is the most one may hold). */
	for (int i = 0; i < 200; i++) {
		char short_id[SHORT_ID_LEN + 1];
		snprintf(short_id, sizeof(short_id), "dnsbatch%c%c", 'a' + i / 20, 'a' + i % 20);
		cf_name_make(name, install, short_id, 0);
		snprintf(host, sizeof(host), "sess-%s." DOMAIN, short_id);
		make_objects(NULL, name, host, NULL, NULL);
	}
	F_faults("{\"max_per_page\":{\"access\":2}}");
	ck_assert_int_eq(F_count("live_tunnels"), 6);
	ck_assert_int_eq(F_count("dns_records"), 205);
	ck_assert_int_eq(F_count("access_apps"), 10);
	batches = log_count("POST", "/dns_records/batch");
	deletes = log_count("DELETE", "/dns_records/");

	/* Sessions due to end: one past max_duration, one whose device is long offline. */
	new_session(old);
	new_session(gone);
	p[0] = old;
	T_run(T_db, "UPDATE sessions SET status = 'active', started_at = '2020-01-01T00:00:00.000Z' "
	            "WHERE id = $1", 1, p);
	{
		json_object *d = NULL;
		char dev2[UUID_STR_LEN];
		ck_assert_int_eq(store_device_create(T_db, DEFAULT_TENANT_ID, "gone", "$argon2id$x", &d),
		                 STORE_OK);
		snprintf(dev2, sizeof(dev2), "%s", jsonx_str(d, "id"));
		json_object_put(d);
		p[0] = dev2;
		p[1] = gone;
		T_run(T_db, "UPDATE devices SET status = 'offline', last_seen = "
		            "'2020-01-01T00:00:00.000Z' WHERE id = $1", 1, p);
		T_run(T_db, "UPDATE sessions SET status = 'active', device_id = $1 WHERE id = $2", 2,
		      p);
	}
	T_run(T_db, "UPDATE jobs SET state = 'done' WHERE state = 'queued'", 0, NULL);

	kicks = J_kicks;
	session_sweep();
	assert_status(old, "ending");
	assert_status(gone, "ending");
	assert_status(live, "active");
	ck_assert_int_gt(J_kicks, kicks);
	{
		const char *q[1] = { old };
		ck_assert_int_eq(T_count(T_db, "SELECT count(*) FROM jobs WHERE session_id = $1 AND "
		                               "kind = 'session.end' AND state = 'queued'", 1, q),
		                 1);
	}
	/* The Cloudflare sweep (provider_sweep's, started by sweep.c in helperd), run
	 * until it reports back. */
	sweep_cf_once();
	/* Left: the live session's tunnel (and its old-format one), 2 records, 1 app; the
	 * other install's tunnel, record and app; the unknown old-format tunnel and record;
	 * the wiki. The 201 records went in two batches, none on its own. */
	ck_assert_int_eq(F_count("live_tunnels"), 4);
	ck_assert_int_eq(F_count("dns_records"), 4);
	ck_assert_int_eq(log_count("POST", "/dns_records/batch") - batches, 2);
	ck_assert_int_eq(log_count("DELETE", "/dns_records/") - deletes, 0);
	ck_assert_int_eq(F_count("access_apps"), 3);
	ck_assert(fake_has("tunnels", "name", other));
	ck_assert(fake_has("dns_records", "comment", other));
	ck_assert(fake_has("access_apps", "name", other));
	ck_assert(fake_has("tunnels", "name", CF_NAME_PREFIX "legacy2345"));
	ck_assert(fake_has("tunnels", "name", legacy_live));
	ck_assert(fake_has("access_apps", "name", "wiki"));
	ck_assert(!fake_has("tunnels", "name", legacy));
	ck_assert(!fake_has("access_apps", "name", legacy));
	cf_name_make(name, install, "orphan2345", 0);
	ck_assert(!fake_has("tunnels", "name", name));
	free(failed_short);
}
END_TEST

/* The tunnel delete is refused with 1022 once (a connector came back): the machine
 * deletes the connections again and retries after a pause. */
START_TEST(test_tunnel_delete_1022_retried)
{
	char id[UUID_STR_LEN], job[UUID_STR_LEN];
	int before;

	start_active(id, job);
	before = F_api_calls();
	F_faults("{\"fail\":[{\"method\":\"DELETE\",\"path\":\"/cfd_tunnel/[0-9a-f-]+$\","
	         "\"status\":400,\"code\":1022,\"message\":\"Cannot delete tunnel because it has "
	         "active connections\"}]}");
	end_session(id);
	ck_assert_int_eq(F_count("leftover"), 0);
	/* 4, plus connections and tunnel once more */
	ck_assert_int_eq(F_api_calls() - before, 6);
}
END_TEST

/* Heartbeats: a tunnel the agent runs for a session that is not live is stopped; the
 * active one it runs is left alone (one it does not run is restored: below). */
START_TEST(test_agent_running)
{
	char id[UUID_STR_LEN], job[UUID_STR_LEN], other[UUID_STR_LEN];
	json_object *list = json_object_new_array();

	start_active(id, job);
	new_session(other);
	{
		const char *p[1] = { other };
		T_run(T_db, "UPDATE sessions SET status = 'ended' WHERE id = $1", 1, p);
	}
	json_object_array_add(list, json_object_new_string(other));
	json_object_array_add(list, json_object_new_string(id));
	H.stops = 0;
	H.mode = AGENT_SILENT;
	session_agent_running(DEV, list);
	ck_assert_int_eq(H.stops, 1); /* the ended one */
	json_object_put(list);
	list = json_object_new_array();
	json_object_array_add(list, json_object_new_string(id));
	session_agent_running(DEV, list);
	ck_assert_int_eq(H.stops, 1); /* the active one is left alone */
	json_object_put(list);
	uv_run(&L, UV_RUN_NOWAIT);
	assert_status(id, "active");
	ck_assert_int_eq(H.starts, 1);
	ck_assert_int_eq(R_ok + R_failed, 0);
}
END_TEST

static int R_flag, R_want;

static void check_restores(uv_timer_t *t)
{
	(void)t;
	R_flag = R_ok + R_failed >= R_want;
}

/* Runs the loop until n restores have ended (or 20 s). */
static void wait_restores(int n)
{
	uv_timer_t poll;

	R_flag = 0;
	R_want = n;
	uv_timer_init(&L, &poll);
	uv_timer_start(&poll, check_restores, 5, 5);
	F_run_until(&L, &R_flag, 20);
	uv_close((uv_handle_t *)&poll, NULL);
	uv_run(&L, UV_RUN_NOWAIT);
	ck_assert_int_ge(R_ok + R_failed, n);
}

static void run_for(double seconds)
{
	int never = 0;

	F_run_until(&L, &never, seconds);
}

static void assert_active_row(const char *id)
{
	char *v = session_col(id, "step");

	assert_status(id, "active");
	ck_assert_str_eq(v, "active");
	free(v);
}

/* A heartbeat without an active session (the agent restarted, or cloudflared died):
 * the token is fetched again (one call, nothing written), tunnel.start goes out, the
 * session stays active. A restore in flight is not started twice, and another is not
 * tried within the rate limit. */
START_TEST(test_restore_after_heartbeat)
{
	char id[UUID_STR_LEN], job[UUID_STR_LEN], first_token[4096];
	json_object *none = json_object_new_array();
	int before;

	start_active(id, job);
	snprintf(first_token, sizeof(first_token), "%s", H.last_token);
	before = F_api_calls();
	session_agent_running(DEV, none);
	session_agent_running(DEV, none); /* in flight: not again */
	wait_restores(1);
	ck_assert_int_eq(R_ok, 1);
	ck_assert_int_eq(H.starts, 2);
	ck_assert_str_eq(H.last_token, first_token);
	ck_assert_int_eq(F_api_calls() - before, 1); /* GET token */
	assert_active_row(id);
	session_agent_running(DEV, none); /* within the rate limit: nothing */
	run_for(0.2);
	ck_assert_int_eq(H.starts, 2);
	ck_assert_int_eq(F_api_calls() - before, 1);
	json_object_put(none);
	end_session(id);
	ck_assert_int_eq(F_count("leftover"), 0);
}
END_TEST

/* tunnel.failed for an active session (cloudflared exited on its own): restored. */
START_TEST(test_restore_after_tunnel_failed)
{
	char id[UUID_STR_LEN], job[UUID_STR_LEN];

	start_active(id, job);
	post("tunnel.failed", id, "cloudflared exited unexpectedly (killed by signal 9)");
	wait_restores(1);
	ck_assert_int_eq(R_ok, 1);
	ck_assert_int_eq(H.starts, 2);
	assert_active_row(id);
	end_session(id);
	ck_assert_int_eq(F_count("leftover"), 0);
}
END_TEST

/* A restore the agent refuses, and one whose token Cloudflare will not give: each is
 * counted and logged, the sessions stay active, nothing is stopped or retried at once. */
START_TEST(test_restore_fails)
{
	char id[UUID_STR_LEN], id2[UUID_STR_LEN], job[UUID_STR_LEN], *v;
	json_object *none = json_object_new_array();

	start_active(id, job);
	H.mode = AGENT_FAILS;
	session_agent_running(DEV, none);
	wait_restores(1);
	ck_assert_int_eq(R_failed, 1);
	ck_assert_int_eq(H.starts, 2);
	ck_assert_int_eq(H.stops, 0);
	assert_active_row(id);
	v = session_col(id, "error");
	ck_assert(v == NULL || v[0] == '\0');
	free(v);

	H.mode = AGENT_READY;
	start_active(id2, job);
	F_faults("{\"fail\":[{\"method\":\"GET\",\"path\":\"/token$\",\"status\":500,"
	         "\"count\":-1}]}");
	session_agent_running(DEV, none); /* id: rate-limited; id2: token refused */
	wait_restores(2);
	ck_assert_int_eq(R_failed, 2);
	ck_assert_int_eq(R_ok, 0);
	ck_assert_int_eq(H.starts, 3); /* id, id2, and id's one restore */
	assert_active_row(id);
	assert_active_row(id2);
	session_agent_running(DEV, none);
	run_for(0.2);
	ck_assert_int_eq(R_failed + R_ok, 2);
	json_object_put(none);
	F_faults("{\"clear\":true}");
	end_session(id);
	end_session(id2);
	ck_assert_int_eq(F_count("leftover"), 0);
}
END_TEST

/* session.end while a restore waits for the agent: the end path takes over (tunnel.stop
 * for the cloudflared being started), the restore counts neither way. */
START_TEST(test_end_during_restore)
{
	char id[UUID_STR_LEN], job[UUID_STR_LEN];
	json_object *none = json_object_new_array();

	start_active(id, job);
	H.mode = AGENT_SILENT;
	H.stops = 0;
	session_agent_running(DEV, none);
	json_object_put(none);
	while (H.starts < 2)
		uv_run(&L, UV_RUN_ONCE);
	end_session(id);
	ck_assert_int_eq(H.stops, 1);
	ck_assert_int_eq(R_ok + R_failed, 0);
	ck_assert_int_eq(F_count("leftover"), 0);
}
END_TEST

/* The device goes offline during a restore: it fails, the session stays active (the
 * offline-grace sweep decides its end). */
START_TEST(test_offline_during_restore)
{
	char id[UUID_STR_LEN], job[UUID_STR_LEN];
	json_object *none = json_object_new_array();

	start_active(id, job);
	H.mode = AGENT_SILENT;
	session_agent_running(DEV, none);
	json_object_put(none);
	while (H.starts < 2)
		uv_run(&L, UV_RUN_ONCE);
	H.online = 0;
	session_agent_online(DEV, 0);
	ck_assert_int_eq(R_failed, 1);
	assert_active_row(id);
}
END_TEST

/* The none provider's table: an active session (as Cloudflare left it before its settings
 * were removed) is not restored (cannot_restore refuses: no tunnel.start, no restore
 * counted), the sweep has nothing to do, and ending it stops the agent's tunnel and
 * calls no provider (no teardown). */
START_TEST(test_none_restore_sweep_end)
{
	char id[UUID_STR_LEN], job[UUID_STR_LEN], *v;
	json_object *running = json_object_new_array();
	int changed = 0;

	ck_assert_ptr_null(tunnel_provider_none.teardown);
	ck_assert_ptr_null(tunnel_provider_none.sweep);
	new_session(id);
	ck_assert_int_eq(store_tunnel_move(T_db, DEFAULT_TENANT_ID, id,
	                                   SEAM_STATUS_BIT(SEAM_STATUS_PENDING), SEAM_STATUS_ACTIVE,
	                                   SEAM_STEP_ACTIVE, "", &changed),
	                 STORE_OK);
	ck_assert_int_eq(changed, 1);
	ck_assert_int_eq(run_jobs(&job, 1), 1); /* the start finds it active: nothing to do */
	ck_assert_str_eq(wait_job(job)->state, "done");
	session_agent_running(DEV, running);
	post("tunnel.failed", id, "cloudflared exited");
	run_for(0.2);
	ck_assert_int_eq(H.starts, 0);
	ck_assert_int_eq(R_ok + R_failed, 0);
	assert_active_row(id);
	session_sweep();
	run_for(0.1);
	end_session(id);
	ck_assert_int_eq(H.stops, 1);
	v = session_col(id, "step");
	ck_assert_str_eq(v, "ended");
	free(v);
	ck_assert_int_eq(F_api_calls(), 0);
	json_object_put(running);
}
END_TEST


/* ---- the relay ------------------------------------------------------------------------ */

/* The relay provider on its own: provision and token complete with no token and no
 * call, never before the call returned (provider.h), on the next loop turn; a cancelled
 * one never calls back. */
static int RP_calls, RP_rc = -1;
static const char *RP_token = "unset";

static void relay_done(void *arg, const struct tunnel_result *res)
{
	(void)arg;
	RP_calls++;
	RP_rc = res->rc;
	RP_token = res->token;
}

START_TEST(test_relay_provider_async)
{
	const struct tunnel_provider *p = &tunnel_provider_relay;
	struct store_tunnel t;
	struct tunnel_op *op;
	char missing[64] = "x";

	memset(&t, 0, sizeof(t));
	snprintf(t.id, sizeof(t.id), "probe");
	t.provider = SEAM_PROVIDER_RELAY;
	p->missing_settings(missing, sizeof(missing));
	ck_assert_str_eq(missing, "");
	ck_assert_ptr_null(p->cannot_provision(&t));
	ck_assert_ptr_null(p->cannot_restore(&t));
	ck_assert_ptr_null(p->teardown);
	ck_assert_ptr_null(p->sweep);
	ck_assert_ptr_eq(provider_for(SEAM_PROVIDER_RELAY), p);
	RP_calls = 0;
	ck_assert_ptr_nonnull(p->provision(&t, relay_done, NULL));
	ck_assert_int_eq(RP_calls, 0); /* not before the call returned */
	uv_run(&L, UV_RUN_ONCE);
	ck_assert_int_eq(RP_calls, 1);
	ck_assert_int_eq(RP_rc, TUNNEL_OK);
	ck_assert_ptr_null(RP_token);
	ck_assert_ptr_nonnull(p->token(&t, relay_done, NULL));
	ck_assert_int_eq(RP_calls, 1);
	uv_run(&L, UV_RUN_ONCE);
	ck_assert_int_eq(RP_calls, 2);
	op = p->provision(&t, relay_done, NULL);
	ck_assert_ptr_nonnull(op);
	p->cancel(op);
	uv_run(&L, UV_RUN_NOWAIT);
	uv_run(&L, UV_RUN_NOWAIT);
	ck_assert_int_eq(RP_calls, 2);
	ck_assert_int_eq(F_api_calls(), 0);
}
END_TEST

/* The relay's agent command: relay.start with the row's ports and no token; refused
 * (with a sentence to act on) for an agent that speaks protocol 1; Cloudflare's is
 * tunnel.start with the token, for any agent. */
START_TEST(test_relay_agent_start)
{
	struct store_tunnel t;
	enum proto_type type = PROTO__MAX;
	json_object *fields = json_object_new_object(), *v;
	const char *why;
	char *text;

	memset(&t, 0, sizeof(t));
	snprintf(t.id, sizeof(t.id), "0190a4c2-0000-7000-8000-000000000001");
	t.provider = SEAM_PROVIDER_RELAY;
	t.ssh_port = 2222;
	t.web_port = 6080;
	why = tunnel_provider_relay.agent_start(&t, NULL, 1, &type, fields);
	ck_assert_ptr_nonnull(why);
	ck_assert_ptr_nonnull(strstr(why, "too old for relay sessions"));
	ck_assert_ptr_nonnull(strstr(why, "update kaiden-agent"));
	ck_assert_int_eq(json_object_object_length(fields), 0);
	ck_assert_int_eq(type, PROTO__MAX);
	ck_assert_ptr_null(tunnel_provider_relay.agent_start(&t, NULL, 2, &type, fields));
	ck_assert_int_eq(type, PROTO_RELAY_START);
	ck_assert_str_eq(jsonx_str(fields, "session_id"), t.id);
	ck_assert(json_object_object_get_ex(fields, "ssh_port", &v));
	ck_assert_int_eq(json_object_get_int(v), 2222);
	ck_assert(json_object_object_get_ex(fields, "web_port", &v));
	ck_assert_int_eq(json_object_get_int(v), 6080);
	ck_assert_int_eq(json_object_object_length(fields), 3);
	text = proto_build(type, json_object_get(fields)); /* one the agent accepts */
	ck_assert_ptr_nonnull(text);
	free(text);
	json_object_put(fields);

	fields = json_object_new_object();
	t.provider = SEAM_PROVIDER_CLOUDFLARE;
	ck_assert_ptr_null(tunnel_provider_cf.agent_start(&t, "tok", 1, &type, fields));
	ck_assert_int_eq(type, PROTO_TUNNEL_START);
	ck_assert_str_eq(jsonx_str(fields, "token"), "tok");
	ck_assert_ptr_null(jsonx_str(fields, "ssh_port"));
	json_object_put(fields);
}
END_TEST

/* A relay session: pending -> active as soon as the agent accepts it (relay.start with
 * the row's ports, tunnel.ready), with no Cloudflare call, no step of Cloudflare's and
 * no object id on the row, in well under a second; the end sends tunnel.stop and calls
 * nothing. */
START_TEST(test_relay_start_end)
{
	char id[UUID_STR_LEN], job[UUID_STR_LEN], *v;
	int64_t t0, elapsed;
	const char *p[1];

	new_relay_session(id);
	t0 = ids_now_ms();
	ck_assert_int_eq(run_jobs(&job, 1), 1);
	ck_assert_str_eq(wait_job(job)->state, "done");
	elapsed = ids_now_ms() - t0;
	assert_active_row(id);
	/* the stand-in agent answers after 10 ms; the rest is the machine and the row */
	ck_assert_msg(elapsed < 500, "active after %lld ms", (long long)elapsed);
	ck_assert_int_eq(H.relay_starts, 1);
	ck_assert_int_eq(H.starts, 0);
	ck_assert_int_eq(H.ssh_port, 2222);
	ck_assert_int_eq(H.web_port, 6080);
	p[0] = id;
	ck_assert_int_eq(T_count(T_db,
	                         "SELECT count(*) FROM sessions WHERE id = $1 AND provider = 'relay' "
	                         "AND tunnel_id IS NULL AND access_web_app_id IS NULL AND "
	                         "dns_web_record_id IS NULL AND public_url IS NULL AND error IS NULL",
	                         1, p),
	                 1);
	end_session(id);
	ck_assert_int_eq(H.stops, 1);
	v = session_col(id, "step");
	ck_assert_str_eq(v, "ended");
	free(v);
	ck_assert_int_eq(F_api_calls(), 0);
}
END_TEST

/* A relay session on a device whose agent speaks protocol 1: it fails at once with a
 * reason a person can act on; the agent is sent nothing (not relay.start, which it
 * would refuse, nor tunnel.stop). */
START_TEST(test_relay_old_agent)
{
	char id[UUID_STR_LEN], job[UUID_STR_LEN], *v;

	H.version = 1;
	new_relay_session(id);
	ck_assert_int_eq(run_jobs(&job, 1), 1);
	ck_assert_str_eq(wait_job(job)->state, "failed");
	assert_status(id, "failed");
	v = session_col(id, "error");
	ck_assert_str_eq(v, "the agent on this device is too old for relay sessions; update "
	                    "kaiden-agent (relay sessions need agent protocol version 2)");
	free(v);
	ck_assert_str_eq(finished_of(job)->error, "the agent on this device is too old for relay "
	                                          "sessions; update kaiden-agent (relay sessions "
	                                          "need agent protocol version 2)");
	ck_assert_int_eq(H.relay_starts + H.starts + H.stops, 0);
	/* The same device's Cloudflare sessions still work with that agent. */
	{
		char cf[UUID_STR_LEN];
		start_active(cf, job);
		end_session(cf);
	}
}
END_TEST

/* The agent refuses relay.start (tunnel.failed), or stays silent: failed, as with
 * Cloudflare; a silent one is sent tunnel.stop. */
START_TEST(test_relay_agent_refuses)
{
	char id[UUID_STR_LEN], job[UUID_STR_LEN], *v;

	H.mode = AGENT_FAILS;
	new_relay_session(id);
	ck_assert_int_eq(run_jobs(&job, 1), 1);
	ck_assert_str_eq(wait_job(job)->state, "failed");
	v = session_col(id, "error");
	ck_assert_str_eq(v, "the agent could not start the tunnel: port 2222 is not in "
	                    "agent.relay_ports");
	free(v);
	ck_assert_int_eq(H.stops, 0);

	H.mode = AGENT_SILENT;
	new_relay_session(id);
	ck_assert_int_eq(run_jobs(&job, 1), 1);
	ck_assert_str_eq(wait_job(job)->state, "failed");
	v = session_col(id, "error");
	ck_assert_ptr_nonnull(strstr(v, "did not report the tunnel ready within 2 s"));
	free(v);
	ck_assert_int_eq(H.stops, 1);
	ck_assert_int_eq(F_api_calls(), 0);
}
END_TEST

/* DELETE before the relay's provision came back: ended, relay.start never sent. */
START_TEST(test_relay_end_while_starting)
{
	char id[UUID_STR_LEN], jobs[2][UUID_STR_LEN];
	json_object *o = NULL;
	int changed = 0;

	new_relay_session(id);
	ck_assert_int_eq(run_jobs(jobs, 1), 1); /* provision under way: it returns next turn */
	ck_assert_int_eq(store_session_end(T_db, DEFAULT_TENANT_ID, id, &o, &changed), STORE_OK);
	json_object_put(o);
	ck_assert_int_eq(run_jobs(jobs + 1, 1), 1);
	ck_assert_str_eq(wait_job(jobs[1])->state, "done");
	ck_assert_str_eq(wait_job(jobs[0])->state, "done");
	assert_status(id, "ended");
	ck_assert_int_eq(H.relay_starts + H.stops, 0);
}
END_TEST

/* An active relay session the agent no longer lists (it restarted): relay.start again,
 * the session stays active; with an agent now speaking protocol 1 the restore fails,
 * logged and counted, and the session stays active. */
START_TEST(test_relay_restore)
{
	char id[UUID_STR_LEN], job[UUID_STR_LEN];
	json_object *none = json_object_new_array();

	new_relay_session(id);
	ck_assert_int_eq(run_jobs(&job, 1), 1);
	ck_assert_str_eq(wait_job(job)->state, "done");
	session_agent_running(DEV, none);
	wait_restores(1);
	ck_assert_int_eq(R_ok, 1);
	ck_assert_int_eq(H.relay_starts, 2);
	ck_assert_int_eq(H.ssh_port, 2222);
	assert_active_row(id);

	{
		char id2[UUID_STR_LEN];
		new_relay_session(id2);
		ck_assert_int_eq(run_jobs(&job, 1), 1);
		ck_assert_str_eq(wait_job(job)->state, "done");
		H.version = 1;
		session_agent_running(DEV, none); /* id: rate-limited; id2: agent too old */
		wait_restores(2);
		ck_assert_int_eq(R_failed, 1);
		ck_assert_int_eq(H.relay_starts, 3);
		assert_active_row(id2);
		end_session(id2);
	}
	end_session(id);
	ck_assert_int_eq(H.starts, 0);
	ck_assert_int_eq(F_api_calls(), 0);
	json_object_put(none);
}
END_TEST

/* Each row runs with its own provider, whatever tunnel.provider says now: with the
 * setting at relay, a Cloudflare session still gets its tunnel (and a relay one its
 * relay.start), side by side on one device. */
START_TEST(test_rows_keep_their_provider)
{
	char cf[UUID_STR_LEN], relay[UUID_STR_LEN], job[UUID_STR_LEN];

	session_shutdown();
	uv_run(&L, UV_RUN_NOWAIT);
	set("tunnel.provider", "relay");
	start_client();
	ck_assert_int_eq(session_init(), 0);
	ck_assert_ptr_eq(provider_for(SEAM_PROVIDER_CLOUDFLARE), &tunnel_provider_cf);
	ck_assert_ptr_eq(provider_for(SEAM_PROVIDER_RELAY), &tunnel_provider_relay);
	start_active(cf, job);
	ck_assert_int_eq(H.starts, 1);
	ck_assert_int_eq(F_api_calls(), 4);
	new_relay_session(relay);
	ck_assert_int_eq(run_jobs(&job, 1), 1);
	ck_assert_str_eq(wait_job(job)->state, "done");
	assert_active_row(relay);
	ck_assert_int_eq(H.relay_starts, 1);
	ck_assert_int_eq(F_api_calls(), 4);
	end_session(relay);
	ck_assert_int_eq(F_api_calls(), 4);
	end_session(cf);
	ck_assert_int_eq(F_count("leftover"), 0);
}
END_TEST

/* Cloudflare unconfigured (make run's default): a relay session works; a Cloudflare
 * one beside it fails naming the settings (test_none_provider). */
START_TEST(test_relay_without_cloudflare)
{
	char id[UUID_STR_LEN], job[UUID_STR_LEN];

	ck_assert_ptr_eq(provider_for(SEAM_PROVIDER_CLOUDFLARE), &tunnel_provider_none);
	ck_assert_int_eq(tunnel_choice(), SEAM_PROVIDER_RELAY);
	new_relay_session(id);
	ck_assert_int_eq(run_jobs(&job, 1), 1);
	ck_assert_str_eq(wait_job(job)->state, "done");
	assert_active_row(id);
	ck_assert_int_eq(H.relay_starts, 1);
	end_session(id);
	ck_assert_int_eq(H.stops, 1);
	ck_assert_int_eq(F_api_calls(), 0);
}
END_TEST

/* Runs session_init (after a shutdown) with stderr (the log, at info) caught into log. */
static void init_logged(char *log, size_t size)
{
	char path[] = "/tmp/kaiden-provider-log.XXXXXX";
	int fd = mkstemp(path), saved = dup(STDERR_FILENO);
	ssize_t n;

	session_shutdown();
	uv_run(&L, UV_RUN_NOWAIT);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_ge(saved, 0);
	unlink(path);
	log_init("check", LOG_LVL_INFO);
	ck_assert_int_ge(dup2(fd, STDERR_FILENO), 0);
	ck_assert_int_eq(session_init(), 0);
	ck_assert_int_ge(dup2(saved, STDERR_FILENO), 0);
	log_init("check", LOG_LVL_WARN);
	close(saved);
	n = pread(fd, log, size - 1, 0);
	close(fd);
	log[n > 0 ? n : 0] = '\0';
}

/* The start-up log says which providers can work and which new sessions get: the relay
 * with Cloudflare unconfigured (auto); a warning naming the settings when the setting
 * asks for Cloudflare, which cannot work. */
START_TEST(test_start_up_log)
{
	char log[8192];

	init_logged(log, sizeof(log));
	ck_assert_msg(strstr(log, "tunnel provider=relay ready"), "%s", log);
	ck_assert_msg(strstr(log, "tunnel provider=cloudflare unavailable: Cloudflare is not "
	                          "configured: set KAIDEN_CF_API_TOKEN"), "%s", log);
	ck_assert_msg(strstr(log, "level=info prog=check msg=\"tunnel new sessions get "
	                          "provider=relay (tunnel.provider=auto)\""), "%s", log);

	set("tunnel.provider", "cloudflare");
	init_logged(log, sizeof(log));
	ck_assert_msg(strstr(log, "level=warn prog=check msg=\"tunnel new sessions get "
	                          "provider=cloudflare (tunnel.provider=cloudflare), which cannot "
	                          "work here (every new session will fail): Cloudflare is not "
	                          "configured: set KAIDEN_CF_API_TOKEN"), "%s", log);
}
END_TEST

/* ---- the machine's table ------------------------------------------------------------ */

/* The phase or event called name (names: session_machine_phase_name or _event_name). */
static int M_find(int n, const char *(*names)(int), const char *name)
{
	for (int i = 0; i < n; i++)
		if (strcmp(names(i), name) == 0)
			return i;
	ck_abort_msg("the machine has no phase or event %s", name);
	return -1;
}

#define M_phase(name) M_find(session_machine_phases(), session_machine_phase_name, (name))
#define M_event(name) M_find(session_machine_events(), session_machine_event_name, (name))

/* Runs session_machine_probe with stderr (the log) caught into log (size bytes). */
static int M_probe_logged(int phase, int event, char *log, size_t size)
{
	char path[] = "/tmp/kaiden-machine-log.XXXXXX";
	int fd = mkstemp(path), saved = dup(STDERR_FILENO), after;
	ssize_t n;

	ck_assert_int_ge(fd, 0);
	ck_assert_int_ge(saved, 0);
	unlink(path);
	ck_assert_int_ge(dup2(fd, STDERR_FILENO), 0);
	after = session_machine_probe(phase, event);
	ck_assert_int_ge(dup2(saved, STDERR_FILENO), 0);
	close(saved);
	n = pread(fd, log, size - 1, 0);
	close(fd);
	log[n > 0 ? n : 0] = '\0';
	return after;
}

/* Every (phase, event) pair has at most one row; the events the world sends (jobs,
 * agent messages, a disconnect) have a row in every phase a machine waits in; a timer
 * has one wherever the machine starts one; every phase is reachable from "new" and
 * reaches "done", which nothing leaves; a pair in no row is logged as a bug and leaves
 * the machine where it was, and a row without an action changes nothing silently. */
START_TEST(test_machine_table)
{
	int np = session_machine_phases(), ne = session_machine_events();
	int p_new = 0, p_done = np - 1, reach[64] = { 0 }, ends[64] = { 0 }, grew, rows = 0;
	int missing = 0;
	const char *world[] = { "session.end", "tunnel.ready", "tunnel.failed", "tunnel.stopped",
		                "offline" };
	const char *timed[] = { "agent", "restore_wait", "stop_ending", "stop_failing" };
	char log[4096];

	ck_assert_int_le(np, 64);
	ck_assert_str_eq(session_machine_phase_name(p_new), "new");
	ck_assert_str_eq(session_machine_phase_name(p_done), "done");
	for (int p = 0; p < np; p++)
		for (int e = 0; e < ne; e++) {
			int act = 0, next = session_machine_next(p, e, &act);
			ck_assert_msg(next != -2, "(%s, %s) has two rows", session_machine_phase_name(p),
			              session_machine_event_name(e));
			ck_assert_msg(next >= -1 && next < np, "(%s, %s) moves nowhere",
			              session_machine_phase_name(p), session_machine_event_name(e));
			if (next >= 0)
				rows++;
			/* "done" is left by nothing; "new" is never returned to. */
			ck_assert_msg(p != p_done || next == -1, "done has a row for %s",
			              session_machine_event_name(e));
			ck_assert_msg(next != p_new || p == p_new || next == -1, "back to new");
		}
	ck_assert_int_gt(rows, 0);
	for (int p = 1; p < p_done; p++) {
		int act;
		for (size_t k = 0; k < ARRAY_LEN(world); k++)
			ck_assert_msg(session_machine_next(p, M_event(world[k]), &act) >= 0,
			              "phase %s has no row for %s", session_machine_phase_name(p),
			              world[k]);
	}
	for (size_t k = 0; k < ARRAY_LEN(timed); k++) {
		int act = 0;
		ck_assert_int_ne(session_machine_next(M_phase(timed[k]), M_event("timeout"), &act), -1);
		ck_assert_int_eq(act, 1);
	}
	/* Reachable from new, and reaching done (a row with an action may also end the
	 * machine itself, but every phase must have a way forward in the table). */
	reach[p_new] = 1;
	ends[p_done] = 1;
	do {
		grew = 0;
		for (int p = 0; p < np; p++)
			for (int e = 0; e < ne; e++) {
				int act = 0, next = session_machine_next(p, e, &act);
				if (next < 0 || next == p)
					continue;
				if (reach[p] && !reach[next])
					reach[next] = grew = 1;
				if (ends[next] && !ends[p])
					ends[p] = grew = 1;
			}
	} while (grew);
	for (int p = 0; p < np; p++) {
		ck_assert_msg(reach[p], "phase %s cannot be reached", session_machine_phase_name(p));
		ck_assert_msg(ends[p], "phase %s never gets to done", session_machine_phase_name(p));
	}
	/* A pair in no row: a logged bug, the machine unchanged. A row without an action
	 * (the world's message in a phase that does not wait for it): silent, unchanged. */
	for (int p = 0; p < np; p++)
		for (int e = 0; e < ne; e++) {
			int act = 0, next = session_machine_next(p, e, &act);
			if (next >= 0 && act)
				continue;
			ck_assert_int_eq(M_probe_logged(p, e, log, sizeof(log)), next >= 0 ? next : p);
			if (next >= 0) {
				ck_assert_str_eq(log, "");
				continue;
			}
			missing++;
			ck_assert_msg(strstr(log, "level=error") && strstr(log, "session=probe bug:") &&
			                      strstr(log, session_machine_event_name(e)) &&
			                      strstr(log, session_machine_phase_name(p)),
			              "(%s, %s) not logged as a bug: %s", session_machine_phase_name(p),
			              session_machine_event_name(e), log);
		}
	ck_assert_int_gt(missing, 0);
	/* The probe refuses a row with an action (it would act on nothing). */
	ck_assert_int_eq(session_machine_probe(M_phase("agent"), M_event("tunnel.ready")), -1);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("session");
	TCase *sq = tcase_create("sqlite"), *pg = tcase_create("postgres");
	TCase *none = tcase_create("none"), *table = tcase_create("table");
	SRunner *sr;
	int failed;

	(void)T_main; /* testdb.h's runner: this suite has a third case */
	(void)T_open_again;
	tcase_add_checked_fixture(sq, setup_sqlite, teardown);
	tcase_add_checked_fixture(pg, setup_pg, teardown);
	tcase_add_checked_fixture(none, setup_none, teardown);
	tcase_set_timeout(sq, 60);
	tcase_set_timeout(pg, 60);
	tcase_set_timeout(none, 60);
	T_ADD(sq, pg, test_start_active_end);
	tcase_add_test(sq, test_dns_500_compensation);
	tcase_add_test(sq, test_dns_conflict);
	tcase_add_test(sq, test_lost_tunnel_reply_adopted);
	tcase_add_test(sq, test_lost_dns_and_app_replies_adopted);
	tcase_add_test(sq, test_early_start);
	tcase_add_test(sq, test_early_start_agent_fails);
	tcase_add_test(sq, test_early_start_end);
	tcase_add_test(sq, test_early_start_resume_after_restart);
	T_ADD(sq, pg, test_early_start_agent_back);
	T_ADD(sq, pg, test_early_start_agent_away);
	tcase_add_test(sq, test_dns_batch_delete_fallback);
	tcase_add_test(sq, test_older_web_only_app_row);
	tcase_add_test(sq, test_device_offline);
	tcase_add_test(sq, test_agent_failed);
	tcase_add_test(sq, test_ready_timeout);
	tcase_add_test(sq, test_offline_while_waiting);
	tcase_add_test(sq, test_offline_after_takeover);
	T_ADD(sq, pg, test_offline_while_waiting_back);
	tcase_add_test(sq, test_end_while_starting);
	tcase_add_test(sq, test_resume_after_restart);
	tcase_add_test(sq, test_access_allow_empty);
	tcase_add_test(sq, test_access_engineer_email);
	tcase_add_test(sq, test_tunnel_delete_1022_retried);
	tcase_add_test(sq, test_agent_running);
	tcase_add_test(sq, test_restore_after_heartbeat);
	tcase_add_test(sq, test_restore_after_tunnel_failed);
	tcase_add_test(sq, test_restore_fails);
	tcase_add_test(sq, test_end_during_restore);
	tcase_add_test(sq, test_offline_during_restore);
	T_ADD(sq, pg, test_sweep);
	tcase_add_test(sq, test_sweep_dns_batch_refused);
	T_ADD(sq, pg, test_relay_start_end);
	tcase_add_test(sq, test_relay_provider_async);
	tcase_add_test(sq, test_relay_agent_start);
	tcase_add_test(sq, test_relay_old_agent);
	tcase_add_test(sq, test_relay_agent_refuses);
	tcase_add_test(sq, test_relay_end_while_starting);
	tcase_add_test(sq, test_relay_restore);
	tcase_add_test(sq, test_rows_keep_their_provider);
	tcase_add_test(none, test_relay_without_cloudflare);
	tcase_add_test(none, test_start_up_log);
	tcase_add_test(none, test_none_provider);
	tcase_add_test(none, test_domain_example_is_not_set);
	tcase_add_test(none, test_none_restore_sweep_end);
	suite_add_tcase(s, sq);
	suite_add_tcase(s, pg);
	suite_add_tcase(s, none);
	tcase_add_test(table, test_machine_table);
	suite_add_tcase(s, table);
	sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
