/* tunnel_cf.c: the Cloudflare provider: the objects behind one session, made and unmade
 * in the order shared/ref/cloudflare-api.md gives, through cf.h.
 *
 * Provision (each stage's step is written to the row before its calls go out; each
 * object's id is written the moment it is known; an object the row has is not made
 * again, which is how a restart resumes). What does not depend on the rest runs at once:
 *
 *   tunnel   POST cfd_tunnel {name kaiden-sess-<install>-<short>, config_src cloudflare}
 *            (cf_name.h: the install id keeps installs sharing an account apart)
 *              409/1013 (a create whose reply was lost): list ?name=..&is_deleted=false,
 *              adopt the live one
 *            in parallel with
 *            POST access/apps: one self_hosted application whose public destinations are
 *            both hostnames (domain: the web one), with an inline allow policy built from
 *            cloudflare.access_allow and the email of the engineer who started the
 *            session; its id and aud go in both hostnames' columns. (A row an older
 *            helperd began with a web-only application gets an ssh-only one.)
 *              refused: list ?domain=<web host>&exact=true; adopt an app of ours by name
 *            (step tunnel, or access when the tunnel exists)
 *   dns      PUT cfd_tunnel/<id>/configurations: web -> http://localhost:<web_port>
 *            (originRequest.access with the app's aud), ssh -> ssh://localhost:<p>,
 *            catch-all http_status:404 (skipped once the row is past dns)
 *            in parallel with
 *            POST dns_records/batch {posts: the proxied CNAMEs to <tunnel>.cfargotunnel.com
 *            the row lacks, comment kaiden-sess-<install>-<short>}: only now that the
 *            Access application exists, so a hostname is never reachable without it.
 *              All or nothing: 81053/81057 (ours after a lost reply, or someone else's):
 *              each hostname looked up (?type=CNAME&name.exact=<host>) and adopted if its
 *              content is our tunnel, else fail naming what the name points to; a name
 *              found free (undone with a refused sibling) is posted once more.
 *            The early result (provider.h: session.c sends tunnel.start) goes as soon as
 *            the tunnel exists with its token: when create's reply carried it, while the
 *            Access application, the ingress and DNS are still being made (one Cloudflare
 *            round trip before cloudflared starts, not two); else once the ingress is in.
 *   token    GET cfd_tunnel/<id>/token, only when create's reply carried none (adopted,
 *            or resumed after a restart). Kept in memory only, wiped after the callback.
 *
 * Token (cf_token: an active session's cloudflared is started again): the token
 * stage alone, without writing its step, so the row stays active/active. One call.
 *
 * Teardown (idempotent; 404 is done):
 *
 *   dns_delete     POST dns_records/batch {deletes: both records}; refused (all or
 *                  nothing: a record already gone, a reply lost), one DELETE each
 *   tunnel_delete  DELETE cfd_tunnel/<id>/connections, then DELETE cfd_tunnel/<id>;
 *                  400/1022 (connectors still attached): both again after 1, 2, 4, 8 s.
 *                  In parallel: DELETE the Access app (DNS is gone by now, so the
 *                  hostnames cannot be reached around Access). If a DNS delete was
 *                  refused, the app is kept for the sweep to delete after the record.
 *
 * Within a parallel stage a failure waits for its siblings, so every id that did get
 * created is on the row before the caller compensates. Calls (shared/ref and the
 * sources in docs/decisions.md, issue 14): 4 to provision (tunnel, app, ingress, DNS
 * batch; the token comes with the create), 4 to tear down (DNS batch, connections,
 * tunnel, app), 1 to fetch the token again. */
#include "provider.h"

#include <sodium.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <uv.h>

#include "cf.h"
#include "cf_name.h"
#include "cfg.h"
#include "db.h"
#include "events.h"
#include "helperd.h"
#include "ids.h"
#include "log.h"
#include "seam.h"
#include "store_install.h"
#include "store_shared.h"
#include "store_tunnel.h"
#include "tunnel_cf.h"
#include "tunnel_choice.h"

#define TUNNEL_DELETE_TRIES 5

enum lane { LANE_TUNNEL, LANE_WEB, LANE_SSH, LANES };

enum stage {
	ST_TUNNEL_ACCESS, ST_CONFIG_DNS, ST_DNS_AGAIN, ST_TOKEN, ST_PROVISIONED,
	ST_DNS_DELETE, ST_TUNNEL_DELETE, ST_TORN_DOWN
};

enum call_kind {
	K_TUNNEL_CREATE, K_TUNNEL_FIND, K_APP_CREATE, K_APP_FIND, K_CONFIG, K_DNS_BATCH,
	K_DNS_FIND, K_TOKEN, K_DNS_BATCH_DELETE, K_DNS_DELETE, K_CONNS_DELETE, K_TUNNEL_DELETE,
	K_APP_DELETE
};

struct slot {
	struct tunnel_op *op;
	enum lane lane;
	enum call_kind kind;
	struct cf_call *call;
	char first_error[300]; /* a create's refusal, kept while we look for the object */
};

struct tunnel_op {
	int teardown;
	int token_only;            /* cf_token: no step is written */
	struct store_tunnel *t;
	tunnel_done_fn done;
	void *arg;
	enum stage stage;
	int pending;               /* calls in flight in this stage */
	struct slot slots[LANES];
	char *token;               /* secret */
	int calls;
	enum tunnel_rc rc;         /* worst so far in this operation */
	char reason[512];
	int dns_refused;           /* teardown: keep the Access apps */
	int dns_posted[LANES];     /* the hostnames the last DNS batch posted */
	int dns_batches;           /* DNS batches this operation posted */
	int startable_sent;        /* the early result (provider.h) was given */
	int tunnel_tries;
	uv_timer_t *timer;         /* 1022 backoff (heap: closed asynchronously) */
};

static struct {
	int ready;
	struct tunnel_cf_account acct; /* account, zone, domain, install id */
	char team[128];
	json_object *include;      /* Access include rules from cloudflare.access_allow */
	char allow_problem[256];   /* why no session can be provisioned, "" if none */
	char duration[32];         /* Access session_duration */
} P;

/* ---- helpers ---------------------------------------------------------------------- */

static const char *lane_host(const struct tunnel_op *op, enum lane lane)
{
	return lane == LANE_SSH ? op->t->ssh_hostname : op->t->web_hostname;
}

static enum store_tunnel_field app_field(enum lane lane)
{
	return lane == LANE_SSH ? STORE_TUNNEL_SSH_APP : STORE_TUNNEL_WEB_APP;
}

static enum store_tunnel_field aud_field(enum lane lane)
{
	return lane == LANE_SSH ? STORE_TUNNEL_SSH_AUD : STORE_TUNNEL_WEB_AUD;
}

static enum store_tunnel_field dns_field(enum lane lane)
{
	return lane == LANE_SSH ? STORE_TUNNEL_SSH_DNS : STORE_TUNNEL_WEB_DNS;
}

static const char *jstr(json_object *o, const char *key)
{
	json_object *v;

	if (!o || !json_object_object_get_ex(o, key, &v) || !json_object_is_type(v, json_type_string))
		return NULL;
	return json_object_get_string(v);
}

/* Records the first failure of the operation; FAILED outranks TRANSIENT. */
static void op_fail(struct tunnel_op *op, enum tunnel_rc rc, const char *fmt, ...)
	PRINTF_LIKE(3, 4);
static void op_fail(struct tunnel_op *op, enum tunnel_rc rc, const char *fmt, ...)
{
	va_list ap;

	if (op->rc == TUNNEL_FAILED || (op->rc == TUNNEL_TRANSIENT && rc == TUNNEL_TRANSIENT))
		return;
	op->rc = rc;
	va_start(ap, fmt);
	vsnprintf(op->reason, sizeof(op->reason), fmt, ap);
	va_end(ap);
}

/* A failed call as a result for the operation: API refusals fail, the rest wait.
 * what names the object: "the tunnel", "the DNS record for h", ... */
static void op_fail_call(struct tunnel_op *op, const struct cf_result *r, const char *what)
{
	if (r->status == CF_TRANSIENT)
		op_fail(op, TUNNEL_TRANSIENT, "Cloudflare kept failing on %s: %s", what, r->message);
	else
		op_fail(op, TUNNEL_FAILED, "Cloudflare refused %s: %d %s", what, r->code, r->message);
}

/* Writes an id to the row and the machine's copy. 0, or -1 (the operation is then
 * transient: the object exists but the row does not know it yet; a retry adopts it). */
static int save_id(struct tunnel_op *op, enum store_tunnel_field f, const char *value)
{
	if (store_tunnel_set_id(helperd.db, op->t->tenant_id, op->t->id, f, value) != STORE_OK) {
		op_fail(op, TUNNEL_TRANSIENT, "the database did not take the %s of session %s",
		        store_tunnel_column(f), op->t->id);
		return -1;
	}
	snprintf(op->t->ids[f], sizeof(op->t->ids[f]), "%s", value ? value : "");
	return 0;
}

static int save_step(struct tunnel_op *op, enum seam_step step)
{
	if (seam_step_is(op->t->step, step))
		return 0;
	if (store_tunnel_set_step(helperd.db, op->t->tenant_id, op->t->id, step, NULL) !=
	    STORE_OK) {
		op_fail(op, TUNNEL_TRANSIENT, "the database did not take step %s of session %s",
		        seam_step_name(step), op->t->id);
		return -1;
	}
	snprintf(op->t->step, sizeof(op->t->step), "%s", seam_step_name(step));
	events_session(op->t->tenant_id, op->t->id, op->t->device_id, op->t->status, op->t->step);
	return 0;
}

static void wipe_token(struct tunnel_op *op)
{
	if (op->token) {
		sodium_memzero(op->token, strlen(op->token));
		free(op->token);
		op->token = NULL;
	}
}

static void close_free(uv_handle_t *h)
{
	free(h);
}

static void op_free(struct tunnel_op *op)
{
	for (int i = 0; i < LANES; i++)
		if (op->slots[i].call)
			cf_cancel(op->slots[i].call);
	if (op->timer) {
		uv_timer_stop(op->timer);
		uv_close((uv_handle_t *)op->timer, close_free);
	}
	wipe_token(op);
	free(op);
}

static void op_finish(struct tunnel_op *op)
{
	struct tunnel_result r;

	memset(&r, 0, sizeof(r));
	r.rc = op->rc;
	snprintf(r.reason, sizeof(r.reason), "%s", op->rc == TUNNEL_OK ? "" : op->reason);
	r.token = op->rc == TUNNEL_OK && !op->teardown ? op->token : NULL;
	r.calls = op->calls;
	op->done(op->arg, &r);
	op_free(op);
}

static void call_done(void *arg, const struct cf_result *r);

/* Starts one call on a lane; the path is taken. 0, or -1 (recorded as transient). */
static int lane_call(struct tunnel_op *op, enum lane lane, enum call_kind kind,
                     const char *method, char *path, json_object *body, int list)
{
	struct slot *s = &op->slots[lane];

	s->op = op;
	s->lane = lane;
	s->kind = kind;
	if (!path) {
		json_object_put(body);
		op_fail(op, TUNNEL_TRANSIENT, "out of memory");
		return -1;
	}
	s->call = list ? cf_list(path, 50, call_done, s) : cf_call(method, path, body, call_done, s);
	free(path);
	if (!s->call) {
		op_fail(op, TUNNEL_TRANSIENT, "could not start a Cloudflare API call");
		return -1;
	}
	op->pending++;
	return 0;
}

/* The name of the session's tunnel (and web Access app, and DNS comment), or with ssh
 * its ssh Access app's (cf_name.h). */
static void name_of(const struct tunnel_op *op, int ssh, char out[CF_NAME_SIZE])
{
	cf_name_make(out, P.acct.install, op->t->short_id, ssh);
}

/* ---- provision ---------------------------------------------------------------------- */

static void advance(struct tunnel_op *op);

static void tunnel_create(struct tunnel_op *op)
{
	json_object *body = json_object_new_object();
	char name[CF_NAME_SIZE];

	name_of(op, 0, name);
	json_object_object_add(body, "name", json_object_new_string(name));
	json_object_object_add(body, "config_src", json_object_new_string("cloudflare"));
	lane_call(op, LANE_TUNNEL, K_TUNNEL_CREATE, "POST",
	          cf_path("/accounts/%s/cfd_tunnel", P.acct.account), body, 0);
}

/* The Access include rules of a session: cloudflare.access_allow, and the engineer who
 * started it (unless the list names that address already). */
static json_object *session_include(const struct tunnel_op *op)
{
	json_object *include = NULL;
	const char *email = op->t->engineer_email;

	json_object_deep_copy(P.include, &include, NULL);
	if (!email[0])
		return include;
	for (size_t i = 0; i < json_object_array_length(include); i++) {
		json_object *rule = json_object_array_get_idx(include, i), *inner, *v;
		if (json_object_object_get_ex(rule, "email", &inner) &&
		    json_object_object_get_ex(inner, "email", &v) &&
		    strcasecmp(json_object_get_string(v), email) == 0)
			return include;
	}
	{
		json_object *rule = json_object_new_object(), *inner = json_object_new_object();
		json_object_object_add(inner, "email", json_object_new_string(email));
		json_object_object_add(rule, "email", inner);
		json_object_array_add(include, rule);
	}
	return include;
}

static json_object *destination(const char *host)
{
	json_object *d = json_object_new_object();

	json_object_object_add(d, "type", json_object_new_string("public"));
	json_object_object_add(d, "uri", json_object_new_string(host));
	return d;
}

/* lane LANE_WEB: the session's one application, with both hostnames as its public
 * destinations (domain, which the API requires among them, is the web one); LANE_SSH:
 * an application for the ssh hostname alone, for a row an older helperd began (its web
 * application protects the web hostname only). Both self_hosted: browser rendering is
 * a setting of a whole application, so one that also serves the web hostname cannot
 * render an SSH terminal; engineers reach ssh with `cloudflared access ssh`. */
static json_object *app_body(const struct tunnel_op *op, enum lane lane)
{
	json_object *body = json_object_new_object(), *policy = json_object_new_object();
	json_object *policies = json_object_new_array(), *include = NULL;
	char name[CF_NAME_SIZE];

	name_of(op, lane == LANE_SSH, name);
	include = session_include(op);
	json_object_object_add(policy, "name", json_object_new_string(name));
	json_object_object_add(policy, "decision", json_object_new_string("allow"));
	json_object_object_add(policy, "include", include);
	json_object_object_add(policy, "precedence", json_object_new_int(1));
	json_object_array_add(policies, policy);
	json_object_object_add(body, "name", json_object_new_string(name));
	json_object_object_add(body, "domain", json_object_new_string(lane_host(op, lane)));
	if (lane == LANE_WEB) {
		json_object *dests = json_object_new_array();
		json_object_array_add(dests, destination(op->t->web_hostname));
		json_object_array_add(dests, destination(op->t->ssh_hostname));
		json_object_object_add(body, "destinations", dests);
	}
	json_object_object_add(body, "type", json_object_new_string("self_hosted"));
	json_object_object_add(body, "session_duration", json_object_new_string(P.duration));
	json_object_object_add(body, "app_launcher_visible", json_object_new_boolean(0));
	json_object_object_add(body, "policies", policies);
	return body;
}

static int has_app(const struct tunnel_op *op, enum lane lane)
{
	return op->t->ids[app_field(lane)][0] && op->t->ids[aud_field(lane)][0];
}

/* The application the row lacks: the session's one (it covers both hostnames), or for
 * a row an older helperd began with a web application only, the ssh hostname's. */
static void access_create(struct tunnel_op *op)
{
	enum lane lane = !has_app(op, LANE_WEB) ? LANE_WEB : LANE_SSH;

	if (lane == LANE_SSH && has_app(op, LANE_SSH))
		return;
	lane_call(op, lane, K_APP_CREATE, "POST", cf_path("/accounts/%s/access/apps", P.acct.account),
	          app_body(op, lane), 0);
}

/* Records an application (made or adopted) on the row: the session's one in both
 * hostnames' columns, the ssh one first so that a row cut short by the database is
 * never taken for an older helperd's web-only one. 0, or -1 (transient). */
static int save_app(struct tunnel_op *op, enum lane lane, const char *id, const char *aud)
{
	if (save_id(op, STORE_TUNNEL_SSH_APP, id) != 0 || save_id(op, STORE_TUNNEL_SSH_AUD, aud) != 0)
		return -1;
	if (lane == LANE_SSH)
		return 0;
	return save_id(op, STORE_TUNNEL_WEB_APP, id) == 0 && save_id(op, STORE_TUNNEL_WEB_AUD, aud) == 0
	               ? 0
	               : -1;
}

static void config_put(struct tunnel_op *op)
{
	json_object *body = json_object_new_object(), *config = json_object_new_object();
	json_object *ingress = json_object_new_array(), *web = json_object_new_object();
	json_object *ssh = json_object_new_object(), *last = json_object_new_object();
	json_object *origin = json_object_new_object(), *access = json_object_new_object();
	json_object *aud = json_object_new_array();
	char service[64];

	snprintf(service, sizeof(service), "http://localhost:%d", op->t->web_port);
	json_object_object_add(web, "hostname", json_object_new_string(op->t->web_hostname));
	json_object_object_add(web, "service", json_object_new_string(service));
	/* cloudflared checks the Access JWT itself too: a request that somehow bypassed
	 * Access at the edge is refused at the origin. */
	json_object_array_add(aud, json_object_new_string(op->t->ids[STORE_TUNNEL_WEB_AUD]));
	json_object_object_add(access, "required", json_object_new_boolean(1));
	json_object_object_add(access, "teamName", json_object_new_string(P.team));
	json_object_object_add(access, "audTag", aud);
	json_object_object_add(origin, "access", access);
	json_object_object_add(web, "originRequest", origin);
	snprintf(service, sizeof(service), "ssh://localhost:%d", op->t->ssh_port);
	json_object_object_add(ssh, "hostname", json_object_new_string(op->t->ssh_hostname));
	json_object_object_add(ssh, "service", json_object_new_string(service));
	json_object_object_add(last, "service", json_object_new_string("http_status:404"));
	json_object_array_add(ingress, web);
	json_object_array_add(ingress, ssh);
	json_object_array_add(ingress, last);
	json_object_object_add(config, "ingress", ingress);
	json_object_object_add(body, "config", config);
	lane_call(op, LANE_TUNNEL, K_CONFIG, "PUT",
	          cf_path("/accounts/%s/cfd_tunnel/%s/configurations", P.acct.account,
	                  op->t->ids[STORE_TUNNEL_ID]),
	          body, 0);
}

static int dns_missing(const struct tunnel_op *op)
{
	return !op->t->ids[STORE_TUNNEL_WEB_DNS][0] || !op->t->ids[STORE_TUNNEL_SSH_DNS][0];
}

/* The CNAMEs the row lacks, in one batch (its posts, in lane order). Only once an
 * Access application covers both hostnames: a hostname is never reachable without it. */
static void dns_create(struct tunnel_op *op)
{
	json_object *body, *posts;
	char content[128], comment[CF_NAME_SIZE];

	if (!dns_missing(op))
		return;
	if (!has_app(op, LANE_WEB) || !has_app(op, LANE_SSH)) {
		op_fail(op, TUNNEL_FAILED, "no Access application protects session %s's hostnames "
		        "yet: refusing to publish them", op->t->id); /* a bug */
		return;
	}
	snprintf(content, sizeof(content), "%s.cfargotunnel.com", op->t->ids[STORE_TUNNEL_ID]);
	name_of(op, 0, comment);
	body = json_object_new_object();
	posts = json_object_new_array();
	for (enum lane lane = LANE_WEB; lane <= LANE_SSH; lane++) {
		json_object *rec;
		op->dns_posted[lane] = !op->t->ids[dns_field(lane)][0];
		if (!op->dns_posted[lane])
			continue;
		rec = json_object_new_object();
		json_object_object_add(rec, "type", json_object_new_string("CNAME"));
		json_object_object_add(rec, "name", json_object_new_string(lane_host(op, lane)));
		json_object_object_add(rec, "content", json_object_new_string(content));
		json_object_object_add(rec, "proxied", json_object_new_boolean(1));
		json_object_object_add(rec, "ttl", json_object_new_int(1));
		json_object_object_add(rec, "comment", json_object_new_string(comment));
		json_object_array_add(posts, rec);
	}
	json_object_object_add(body, "posts", posts);
	op->dns_batches++;
	lane_call(op, LANE_WEB, K_DNS_BATCH, "POST",
	          cf_path("/zones/%s/dns_records/batch", P.acct.zone), body, 0);
}

/* The row's step as a rank on the start path (seam.h lists the steps in order: tunnel
 * .. token, agent, active), to tell whether the row is past a stage; -1 for any other. */
static int step_rank(const char *step)
{
	enum seam_step st;

	if (seam_step_parse(step, &st) != 0 || st < SEAM_STEP_TUNNEL || st > SEAM_STEP_ACTIVE)
		return -1;
	return (int)st;
}

/* step, or the row's own step when the row is past it already. */
static enum seam_step step_at_least(const struct tunnel_op *op, enum seam_step step)
{
	int rank = step_rank(op->t->step);

	return rank > (int)step ? (enum seam_step)rank : step;
}

/* Runs stages until one has calls in flight, fails, or all are done. */
static void advance(struct tunnel_op *op)
{
	while (op->pending == 0) {
		int need_config;
		if (op->rc != TUNNEL_OK) {
			op_finish(op);
			return;
		}
		switch (op->stage) {
		case ST_TUNNEL_ACCESS:
			/* Independent: in parallel. */
			op->stage = ST_CONFIG_DNS;
			if (op->t->ids[STORE_TUNNEL_ID][0] && has_app(op, LANE_WEB) &&
			    has_app(op, LANE_SSH))
				break;
			if (save_step(op, step_at_least(op, op->t->ids[STORE_TUNNEL_ID][0]
			                                            ? SEAM_STEP_ACCESS
			                                            : SEAM_STEP_TUNNEL)) != 0)
				break;
			if (!op->t->ids[STORE_TUNNEL_ID][0])
				tunnel_create(op);
			access_create(op);
			break;
		case ST_CONFIG_DNS:
			/* Both need the tunnel, the ingress the application's aud, DNS the
			 * application itself: in parallel, once those exist. PUT is idempotent, but
			 * a resumed machine past this stage saves the call. */
			op->stage = ST_DNS_AGAIN;
			need_config = step_rank(op->t->step) <= SEAM_STEP_DNS;
			if (save_step(op, step_at_least(op, SEAM_STEP_DNS)) != 0)
				break;
			if (need_config)
				config_put(op);
			dns_create(op);
			break;
		case ST_DNS_AGAIN:
			/* A refused batch whose names turned out free (all or nothing: a sibling's
			 * refusal undid them) is posted once more. */
			op->stage = ST_TOKEN;
			if (dns_missing(op) && op->dns_batches < 2)
				dns_create(op);
			else if (dns_missing(op))
				op_fail(op, TUNNEL_FAILED, "Cloudflare made no DNS record for %s",
				        !op->t->ids[STORE_TUNNEL_WEB_DNS][0] ? op->t->web_hostname
				                                             : op->t->ssh_hostname);
			break;
		case ST_TOKEN:
			if (!op->token && (op->token_only || save_step(op, SEAM_STEP_TOKEN) == 0))
				lane_call(op, LANE_TUNNEL, K_TOKEN, "GET",
				          cf_path("/accounts/%s/cfd_tunnel/%s/token", P.acct.account,
				                  op->t->ids[STORE_TUNNEL_ID]),
				          NULL, 0);
			op->stage = ST_PROVISIONED;
			break;
		case ST_PROVISIONED:
		case ST_TORN_DOWN:
			op_finish(op);
			return;
		case ST_DNS_DELETE:
		case ST_TUNNEL_DELETE:
			break; /* teardown_advance's */
		}
	}
}

/* ---- replies ------------------------------------------------------------------------- */

static void teardown_advance(struct tunnel_op *op);

static void lane_done(struct tunnel_op *op)
{
	op->pending--;
	if (op->teardown)
		teardown_advance(op);
	else
		advance(op);
}

/* The first item of a list whose key equals want, or NULL. */
static json_object *find_item(json_object *items, const char *key, const char *want)
{
	size_t n = items && json_object_is_type(items, json_type_array)
	                   ? json_object_array_length(items)
	                   : 0;

	for (size_t i = 0; i < n; i++) {
		json_object *it = json_object_array_get_idx(items, i);
		const char *v = jstr(it, key);
		if (v && strcasecmp(v, want) == 0)
			return it;
	}
	return NULL;
}

static void give_startable(struct tunnel_op *op);

static void on_tunnel_create(struct slot *s, const struct cf_result *r)
{
	struct tunnel_op *op = s->op;
	const char *id = jstr(r->result, "id"), *token = jstr(r->result, "token");

	if (r->status == CF_OK && id) {
		if (save_id(op, STORE_TUNNEL_ID, id) == 0)
			log_info("session=%s tunnel %s created", op->t->id, id);
		if (token)
			op->token = strdup(token);
		give_startable(op);
		return;
	}
	if (r->status == CF_FAILED && (r->code == 1013 || r->http_status == 409)) {
		/* The name is taken: most likely our own create whose reply was lost. */
		char name[CF_NAME_SIZE], *esc;
		name_of(op, 0, name);
		esc = cf_escape(name);
		snprintf(s->first_error, sizeof(s->first_error), "%d %s", r->code, r->message);
		if (esc)
			lane_call(op, LANE_TUNNEL, K_TUNNEL_FIND, "GET",
			          cf_path("/accounts/%s/cfd_tunnel?name=%s&is_deleted=false", P.acct.account,
			                  esc),
			          NULL, 1);
		else
			op_fail(op, TUNNEL_TRANSIENT, "out of memory");
		free(esc);
		return;
	}
	op_fail_call(op, r, "the tunnel");
}

static void on_tunnel_find(struct slot *s, const struct cf_result *r)
{
	struct tunnel_op *op = s->op;
	char name[CF_NAME_SIZE];
	json_object *it = NULL;
	size_t n;

	if (r->status != CF_OK) {
		op_fail_call(op, r, "the list of tunnels");
		return;
	}
	name_of(op, 0, name);
	n = json_object_array_length(r->result);
	for (size_t i = 0; i < n; i++) {
		json_object *c = json_object_array_get_idx(r->result, i), *del;
		const char *cn = jstr(c, "name");
		if (cn && strcmp(cn, name) == 0 &&
		    (!json_object_object_get_ex(c, "deleted_at", &del) ||
		     json_object_is_type(del, json_type_null))) {
			it = c;
			break;
		}
	}
	if (it && jstr(it, "id")) {
		if (save_id(op, STORE_TUNNEL_ID, jstr(it, "id")) == 0)
			log_warn("session=%s adopted tunnel %s (%s): its create reply was lost",
			         op->t->id, jstr(it, "id"), name);
	} else {
		op_fail(op, TUNNEL_FAILED,
		        "Cloudflare refused to create tunnel %s (%s) and no live tunnel has that "
		        "name", name, s->first_error);
	}
}

static void on_app_create(struct slot *s, const struct cf_result *r)
{
	struct tunnel_op *op = s->op;
	const char *id = jstr(r->result, "id"), *aud = jstr(r->result, "aud");
	char *esc;

	if (r->status == CF_OK && id && aud) {
		if (save_app(op, s->lane, id, aud) == 0)
			log_info("session=%s Access app %s for %s%s created", op->t->id, id,
			         lane_host(op, s->lane), s->lane == LANE_WEB ? " and its ssh hostname" : "");
		return;
	}
	if (r->status != CF_FAILED) {
		char what[320];
		snprintf(what, sizeof(what), "the Access application for %s", lane_host(op, s->lane));
		op_fail_call(op, r, what);
		return;
	}
	/* Refused: an app for this domain may exist already (ours, after a lost reply). */
	snprintf(s->first_error, sizeof(s->first_error), "%d %s", r->code, r->message);
	esc = cf_escape(lane_host(op, s->lane));
	if (!esc) {
		op_fail(op, TUNNEL_TRANSIENT, "out of memory");
		return;
	}
	lane_call(op, s->lane, K_APP_FIND, "GET",
	          cf_path("/accounts/%s/access/apps?domain=%s&exact=true", P.acct.account, esc),
	          NULL, 1);
	free(esc);
}

static void on_app_find(struct slot *s, const struct cf_result *r)
{
	struct tunnel_op *op = s->op;
	const char *host = lane_host(op, s->lane);
	json_object *it;
	char name[CF_NAME_SIZE];

	if (r->status != CF_OK) {
		op_fail_call(op, r, "the list of Access applications");
		return;
	}
	name_of(op, s->lane == LANE_SSH, name);
	it = find_item(r->result, "domain", host);
	if (it && jstr(it, "name") && strcmp(jstr(it, "name"), name) == 0 && jstr(it, "id") &&
	    jstr(it, "aud")) {
		if (save_app(op, s->lane, jstr(it, "id"), jstr(it, "aud")) == 0)
			log_warn("session=%s adopted Access app %s for %s: its create reply was lost",
			         op->t->id, jstr(it, "id"), host);
		return;
	}
	if (it)
		op_fail(op, TUNNEL_FAILED,
		        "Cloudflare refused the Access application for %s: %s (an application "
		        "named \"%s\" already protects that hostname)",
		        host, s->first_error, jstr(it, "name") ? jstr(it, "name") : "");
	else
		op_fail(op, TUNNEL_FAILED, "Cloudflare refused the Access application for %s: %s",
		        host, s->first_error);
}

/* "the DNS record(s) for <the hostnames the batch posted>" */
static void dns_what(const struct tunnel_op *op, char *out, size_t size)
{
	if (op->dns_posted[LANE_WEB] && op->dns_posted[LANE_SSH])
		snprintf(out, size, "the DNS records for %s and %s", op->t->web_hostname,
		         op->t->ssh_hostname);
	else
		snprintf(out, size, "the DNS record for %s",
		         op->dns_posted[LANE_WEB] ? op->t->web_hostname : op->t->ssh_hostname);
}

/* The batch's reply: its posts, in the order they were sent. All or nothing: a refusal
 * made none of them. */
static void on_dns_batch(struct slot *s, const struct cf_result *r)
{
	struct tunnel_op *op = s->op;
	json_object *posts = NULL;
	char what[600];
	size_t k = 0;

	dns_what(op, what, sizeof(what));
	if (r->status == CF_OK) {
		if (!r->result || !json_object_object_get_ex(r->result, "posts", &posts) ||
		    !json_object_is_type(posts, json_type_array))
			posts = NULL;
		for (enum lane lane = LANE_WEB; lane <= LANE_SSH; lane++) {
			json_object *rec;
			const char *id, *name;
			if (!op->dns_posted[lane])
				continue;
			rec = posts ? json_object_array_get_idx(posts, k++) : NULL;
			id = jstr(rec, "id");
			name = jstr(rec, "name");
			if (!id || !name || strcasecmp(name, lane_host(op, lane)) != 0) {
				/* Made, but not as we can tell: the next try adopts it. */
				op_fail(op, TUNNEL_TRANSIENT, "Cloudflare's reply to the DNS batch did not "
				        "list the record for %s", lane_host(op, lane));
				continue;
			}
			if (save_id(op, dns_field(lane), id) == 0)
				log_info("session=%s DNS record %s for %s created", op->t->id, id,
				         lane_host(op, lane));
		}
		return;
	}
	if (r->status != CF_FAILED) {
		op_fail_call(op, r, what);
		return;
	}
	if (r->code != 81053 && r->code != 81057) {
		op_fail(op, TUNNEL_FAILED, "Cloudflare refused %s: %d %s", what, r->code, r->message);
		return;
	}
	/* A name exists: ours after a lost reply (the batch made every record, or none), or
	 * someone else's record. Each posted hostname is looked up. */
	for (enum lane lane = LANE_WEB; lane <= LANE_SSH; lane++) {
		char *esc;
		if (!op->dns_posted[lane])
			continue;
		snprintf(op->slots[lane].first_error, sizeof(op->slots[lane].first_error), "%d %s",
		         r->code, r->message);
		esc = cf_escape(lane_host(op, lane));
		if (!esc) {
			op_fail(op, TUNNEL_TRANSIENT, "out of memory");
			return;
		}
		lane_call(op, lane, K_DNS_FIND, "GET",
		          cf_path("/zones/%s/dns_records?name.exact=%s", P.acct.zone, esc), NULL, 1);
		free(esc);
	}
}

static void on_dns_find(struct slot *s, const struct cf_result *r)
{
	struct tunnel_op *op = s->op;
	const char *host = lane_host(op, s->lane), *content;
	char want[128];
	json_object *it;

	if (r->status != CF_OK) {
		op_fail_call(op, r, "the DNS record lookup");
		return;
	}
	snprintf(want, sizeof(want), "%s.cfargotunnel.com", op->t->ids[STORE_TUNNEL_ID]);
	it = find_item(r->result, "name", host);
	content = jstr(it, "content");
	if (it && content && strcasecmp(content, want) == 0 && jstr(it, "id")) {
		if (save_id(op, dns_field(s->lane), jstr(it, "id")) == 0)
			log_warn("session=%s adopted DNS record %s for %s: its create reply was lost",
			         op->t->id, jstr(it, "id"), host);
		return;
	}
	if (it)
		op_fail(op, TUNNEL_FAILED,
		        "Cloudflare refused the DNS record for %s: %s (the name already points to "
		        "%s)", host, s->first_error, content ? content : "something else");
	else if (op->dns_batches >= 2)
		op_fail(op, TUNNEL_FAILED, "Cloudflare refused the DNS record for %s: %s", host,
		        s->first_error);
	/* else: free, and not made because a sibling was refused: ST_DNS_AGAIN posts it. */
}

static void on_token(struct slot *s, const struct cf_result *r)
{
	struct tunnel_op *op = s->op;

	if (r->status == CF_OK && r->result && json_object_is_type(r->result, json_type_string)) {
		op->token = strdup(json_object_get_string(r->result));
		if (!op->token)
			op_fail(op, TUNNEL_TRANSIENT, "out of memory");
		return;
	}
	if (r->status == CF_OK)
		op_fail(op, TUNNEL_FAILED, "Cloudflare gave no token for tunnel %s",
		        op->t->ids[STORE_TUNNEL_ID]);
	else
		op_fail_call(op, r, "the tunnel token");
}

/* The tunnel exists and the token is at hand: the agent may start cloudflared while the
 * ingress, the Access application and DNS are still being made (provider.h: the early
 * result). Once: right after the create when its reply carried the token, else after the
 * ingress. A connector without ingress rules answers 503 to everything, and a remotely
 * managed tunnel's connectors take a new configuration as it is put; nothing is
 * reachable before DNS, which still waits for Access. */
static void give_startable(struct tunnel_op *op)
{
	struct tunnel_result r;

	if (op->teardown || op->token_only || !op->token || op->startable_sent ||
	    op->rc != TUNNEL_OK)
		return;
	op->startable_sent = 1;
	memset(&r, 0, sizeof(r));
	r.rc = TUNNEL_OK;
	r.token = op->token;
	r.startable = 1;
	op->done(op->arg, &r);
}

/* ---- teardown ------------------------------------------------------------------------ */

static void dns_delete_each(struct tunnel_op *op)
{
	for (enum lane lane = LANE_WEB; lane <= LANE_SSH; lane++)
		if (op->t->ids[dns_field(lane)][0])
			lane_call(op, lane, K_DNS_DELETE, "DELETE",
			          cf_path("/zones/%s/dns_records/%s", P.acct.zone,
			                  op->t->ids[dns_field(lane)]),
			          NULL, 0);
}

/* Both records in one batch of deletes. */
static void dns_delete(struct tunnel_op *op)
{
	json_object *body, *deletes;

	if (!op->t->ids[STORE_TUNNEL_WEB_DNS][0] && !op->t->ids[STORE_TUNNEL_SSH_DNS][0])
		return;
	body = json_object_new_object();
	deletes = json_object_new_array();
	for (enum lane lane = LANE_WEB; lane <= LANE_SSH; lane++) {
		json_object *d;
		if (!op->t->ids[dns_field(lane)][0])
			continue;
		d = json_object_new_object();
		json_object_object_add(d, "id", json_object_new_string(op->t->ids[dns_field(lane)]));
		json_object_array_add(deletes, d);
	}
	json_object_object_add(body, "deletes", deletes);
	lane_call(op, LANE_WEB, K_DNS_BATCH_DELETE, "POST",
	          cf_path("/zones/%s/dns_records/batch", P.acct.zone), body, 0);
}

/* A refused batch deleted nothing (all or nothing): most likely a record is gone
 * already (deleted by a try whose reply was lost, or by hand). One DELETE each then,
 * where 404 is done. */
static void on_dns_batch_delete(struct slot *s, const struct cf_result *r)
{
	struct tunnel_op *op = s->op;

	if (r->status == CF_OK)
		return;
	if (r->status == CF_TRANSIENT) {
		op_fail(op, TUNNEL_TRANSIENT, "Cloudflare kept failing on deleting the DNS records: %s",
		        r->message);
		return;
	}
	log_info("session=%s the DNS batch delete was refused (%d %s); deleting the records one "
	         "by one", op->t->id, r->code, r->message);
	dns_delete_each(op);
}

static void conns_delete(struct tunnel_op *op)
{
	lane_call(op, LANE_TUNNEL, K_CONNS_DELETE, "DELETE",
	          cf_path("/accounts/%s/cfd_tunnel/%s/connections", P.acct.account,
	                  op->t->ids[STORE_TUNNEL_ID]),
	          NULL, 0);
}

static void retry_tunnel_cb(uv_timer_t *t)
{
	struct tunnel_op *op = t->data;

	op->pending--;
	conns_delete(op);
	teardown_advance(op);
}

static void on_delete(struct slot *s, const struct cf_result *r)
{
	struct tunnel_op *op = s->op;
	const char *what = s->kind == K_DNS_DELETE      ? "the DNS record"
	                   : s->kind == K_APP_DELETE    ? "the Access application"
	                   : s->kind == K_CONNS_DELETE  ? "the tunnel's connections"
	                                                : "the tunnel";

	if (s->kind == K_CONNS_DELETE) {
		if (r->status == CF_OK && r->gone)
			return; /* no such tunnel: nothing more to delete */
		if (r->status == CF_OK) {
			lane_call(op, LANE_TUNNEL, K_TUNNEL_DELETE, "DELETE",
			          cf_path("/accounts/%s/cfd_tunnel/%s", P.acct.account,
			                  op->t->ids[STORE_TUNNEL_ID]),
			          NULL, 0);
			return;
		}
	}
	if (s->kind == K_TUNNEL_DELETE && r->status == CF_FAILED &&
	    (r->code == 1022 || (r->http_status == 400 && strstr(r->message, "connections")))) {
		/* Connectors came back (cloudflared still running, or the edge keeps them for
		 * a while): delete the connections again, then the tunnel, after a pause. */
		if (++op->tunnel_tries < TUNNEL_DELETE_TRIES && op->timer) {
			op->pending++;
			uv_timer_start(op->timer, retry_tunnel_cb, 1000u << (op->tunnel_tries - 1), 0);
			log_info("session=%s tunnel %s still has connections; retrying its delete",
			         op->t->id, op->t->ids[STORE_TUNNEL_ID]);
			return;
		}
		op_fail(op, TUNNEL_TRANSIENT,
		        "Cloudflare would not delete tunnel %s: it still has active connections "
		        "(is cloudflared still running on the device?)",
		        op->t->ids[STORE_TUNNEL_ID]);
		return;
	}
	if (r->status == CF_OK) {
		if (s->kind == K_TUNNEL_DELETE)
			log_info("session=%s tunnel %s deleted", op->t->id, op->t->ids[STORE_TUNNEL_ID]);
		return;
	}
	if (s->kind == K_DNS_DELETE && r->status == CF_FAILED)
		op->dns_refused = 1;
	if (r->status == CF_TRANSIENT)
		op_fail(op, TUNNEL_TRANSIENT, "Cloudflare kept failing on deleting %s: %s", what,
		        r->message);
	else
		op_fail(op, TUNNEL_FAILED, "Cloudflare refused to delete %s for %s: %d %s", what,
		        s->lane == LANE_TUNNEL ? op->t->ids[STORE_TUNNEL_ID] : lane_host(op, s->lane),
		        r->code, r->message);
}

/* Teardown runs every stage even after a failure (deleting what it can), except
 * that Access apps stay while their DNS record might. */
static void teardown_advance(struct tunnel_op *op)
{
	while (op->pending == 0) {
		switch (op->stage) {
		case ST_DNS_DELETE:
			op->stage = ST_TUNNEL_DELETE;
			if (save_step(op, SEAM_STEP_DNS_DELETE) != 0)
				break;
			dns_delete(op);
			break;
		case ST_TUNNEL_DELETE:
			op->stage = ST_TORN_DOWN;
			if (op->rc == TUNNEL_TRANSIENT) {
				op_finish(op); /* try the rest later, in order */
				return;
			}
			if (save_step(op, SEAM_STEP_TUNNEL_DELETE) != 0)
				break;
			if (op->t->ids[STORE_TUNNEL_ID][0])
				conns_delete(op);
			/* The session's one application is in both columns; a row an older
			 * helperd began may have two. */
			for (enum lane lane = LANE_WEB; lane <= LANE_SSH && !op->dns_refused; lane++)
				if (op->t->ids[app_field(lane)][0] &&
				    (lane == LANE_WEB || strcmp(op->t->ids[STORE_TUNNEL_SSH_APP],
				                                op->t->ids[STORE_TUNNEL_WEB_APP]) != 0))
					lane_call(op, lane, K_APP_DELETE, "DELETE",
					          cf_path("/accounts/%s/access/apps/%s", P.acct.account,
					                  op->t->ids[app_field(lane)]),
					          NULL, 0);
			break;
		default:
			op_finish(op);
			return;
		}
	}
}

static void call_done(void *arg, const struct cf_result *r)
{
	struct slot *s = arg;
	struct tunnel_op *op = s->op;

	s->call = NULL;
	op->calls += r->attempts;
	switch (s->kind) {
	case K_TUNNEL_CREATE:
		on_tunnel_create(s, r);
		break;
	case K_TUNNEL_FIND:
		on_tunnel_find(s, r);
		break;
	case K_APP_CREATE:
		on_app_create(s, r);
		break;
	case K_APP_FIND:
		on_app_find(s, r);
		break;
	case K_CONFIG:
		if (r->status != CF_OK)
			op_fail_call(op, r, "the tunnel configuration");
		else
			give_startable(op);
		break;
	case K_DNS_BATCH:
		on_dns_batch(s, r);
		break;
	case K_DNS_FIND:
		on_dns_find(s, r);
		break;
	case K_TOKEN:
		on_token(s, r);
		break;
	case K_DNS_BATCH_DELETE:
		on_dns_batch_delete(s, r);
		break;
	case K_DNS_DELETE:
	case K_CONNS_DELETE:
	case K_TUNNEL_DELETE:
	case K_APP_DELETE:
		on_delete(s, r);
		break;
	}
	lane_done(op);
}

/* ---- operations ------------------------------------------------------------------------ */

static struct tunnel_op *op_new(struct store_tunnel *t, tunnel_done_fn done, void *arg)
{
	struct tunnel_op *op;

	if (!P.ready || !t || !done)
		return NULL;
	op = calloc(1, sizeof(*op));
	if (!op)
		return NULL;
	op->t = t;
	op->done = done;
	op->arg = arg;
	op->rc = TUNNEL_OK;
	return op;
}

/* Operations start from a zero-delay timer so the callback never runs on the
 * caller's stack. */
static void kick_cb(uv_timer_t *timer)
{
	struct tunnel_op *op = timer->data;

	op->pending--;
	if (op->teardown)
		teardown_advance(op);
	else
		advance(op);
}

static struct tunnel_op *op_start(struct tunnel_op *op)
{
	op->timer = malloc(sizeof(*op->timer));
	if (!op->timer || uv_timer_init(helperd.loop, op->timer) != 0) {
		free(op->timer);
		op->timer = NULL;
		free(op);
		return NULL;
	}
	op->timer->data = op;
	op->pending = 1;
	uv_timer_start(op->timer, kick_cb, 0, 0);
	return op;
}

static struct tunnel_op *cf_provision(struct store_tunnel *t, tunnel_done_fn done, void *arg)
{
	struct tunnel_op *op = op_new(t, done, arg);

	if (!op)
		return NULL;
	op->stage = ST_TUNNEL_ACCESS;
	return op_start(op);
}

static struct tunnel_op *cf_token(struct store_tunnel *t, tunnel_done_fn done, void *arg)
{
	struct tunnel_op *op;

	if (!t || !t->ids[STORE_TUNNEL_ID][0])
		return NULL;
	op = op_new(t, done, arg);
	if (!op)
		return NULL;
	op->token_only = 1;
	op->stage = ST_TOKEN;
	return op_start(op);
}

static struct tunnel_op *cf_teardown(struct store_tunnel *t, tunnel_done_fn done, void *arg)
{
	struct tunnel_op *op = op_new(t, done, arg);

	if (!op)
		return NULL;
	op->teardown = 1;
	op->stage = seam_step_is(t->step, SEAM_STEP_TUNNEL_DELETE) ? ST_TUNNEL_DELETE
	                                                           : ST_DNS_DELETE;
	return op_start(op);
}

static void cf_cancel_op(struct tunnel_op *op)
{
	if (op)
		op_free(op);
}

static const char *cf_cannot_provision(const struct store_tunnel *t)
{
	if (P.allow_problem[0])
		return P.allow_problem;
	if (json_object_array_length(P.include) == 0 && !(t && t->engineer_email[0]))
		return "cloudflare.access_allow (KAIDEN_CF_ACCESS_ALLOW) is empty and the session "
		       "was not started by a user with an email: refusing to publish a session "
		       "that no one could be let into through Access; start it as an engineer, or "
		       "set cloudflare.access_allow to emails or @domains";
	return NULL;
}

static const char *cf_cannot_restore(const struct store_tunnel *t)
{
	return t->ids[STORE_TUNNEL_ID][0] ? NULL : "it has no tunnel id";
}


/* ---- set-up ------------------------------------------------------------------------------ */

/* The settings every session needs (the access allow list and the budget have
 * usable defaults). */
static void cf_missing_settings(char *out, size_t size)
{
	tunnel_cf_missing(out, size);
}

/* cloudflare.access_allow: "a@x.com, @y.com" -> Access include rules. */
static int parse_allow(const char *list)
{
	json_object *include = json_object_new_array();
	const char *p = list;

	P.allow_problem[0] = '\0';
	while (p && *p) {
		char item[256];
		size_t n = strcspn(p, ",");
		const char *at;
		json_object *rule = json_object_new_object(), *inner = json_object_new_object();
		while (n && (*p == ' ' || *p == '\t')) {
			p++;
			n--;
		}
		if (n >= sizeof(item)) {
			json_object_put(rule);
			json_object_put(inner);
			goto bad;
		}
		memcpy(item, p, n);
		item[n] = '\0';
		while (n && (item[n - 1] == ' ' || item[n - 1] == '\t'))
			item[--n] = '\0';
		p += strcspn(p, ",");
		if (*p == ',')
			p++;
		if (!n) {
			json_object_put(rule);
			json_object_put(inner);
			continue;
		}
		at = strchr(item, '@');
		if (!at || strchr(at + 1, '@') || !at[1] || !strchr(at + 1, '.')) {
			json_object_put(rule);
			json_object_put(inner);
			snprintf(P.allow_problem, sizeof(P.allow_problem),
			         "cloudflare.access_allow (KAIDEN_CF_ACCESS_ALLOW) has \"%.100s\", which is "
			         "neither an email nor an @domain: refusing to publish sessions",
			         item);
			json_object_put(include);
			return -1;
		}
		if (at == item) {
			json_object_object_add(inner, "domain", json_object_new_string(item + 1));
			json_object_object_add(rule, "email_domain", inner);
		} else {
			json_object_object_add(inner, "email", json_object_new_string(item));
			json_object_object_add(rule, "email", inner);
		}
		json_object_array_add(include, rule);
	}
	P.include = include;
	return 0;
bad:
	snprintf(P.allow_problem, sizeof(P.allow_problem),
	         "cloudflare.access_allow (KAIDEN_CF_ACCESS_ALLOW) has an entry longer than 255 "
	         "characters: refusing to publish sessions");
	json_object_put(include);
	return -1;
}

/* cf.h's budget_take: the account's budget is a row every helperd on this database
 * spends from (store_shared.h), one round trip per request. */
static int shared_budget_take(void *arg, int budget, long window_ms, double *tokens)
{
	int took = 0;

	(void)arg;
	if (store_cf_budget_take(helperd.db, cfg_str(CFG_CF_ACCOUNT_ID), ids_now_ms(), budget,
	                         window_ms, &took, tokens) != STORE_OK) {
		log_warn("tunnel provider=cloudflare: the shared budget (table cf_budget) could not "
		         "be read; the request waits");
		return -1;
	}
	return took;
}

static int cf_provider_init(void)
{
	struct cf_config cfg;
	long minutes;

	memset(&P, 0, sizeof(P));
	if (store_install_id(helperd.db, P.acct.install) != STORE_OK) {
		log_error("tunnel provider=cloudflare: could not read or make this install's id "
		          "(table install): the database is not reachable or not migrated");
		return -1;
	}
	snprintf(P.acct.account, sizeof(P.acct.account), "%s", cfg_str(CFG_CF_ACCOUNT_ID));
	snprintf(P.acct.zone, sizeof(P.acct.zone), "%s", cfg_str(CFG_CF_ZONE_ID));
	snprintf(P.acct.domain, sizeof(P.acct.domain), "%s", cfg_str(CFG_CF_DOMAIN));
	snprintf(P.team, sizeof(P.team), "%s", cfg_str(CFG_CF_ACCESS_TEAM));
	minutes = (cfg_int(CFG_SESSION_MAX_DURATION) + 59) / 60;
	snprintf(P.duration, sizeof(P.duration), "%ldm", minutes);
	if (parse_allow(cfg_str(CFG_CF_ACCESS_ALLOW)) != 0)
		log_error("tunnel provider=cloudflare: %s", P.allow_problem);
	else if (json_object_array_length(P.include) == 0)
		log_info("tunnel provider=cloudflare: cloudflare.access_allow is empty: Access lets "
		         "in only the engineer who started each session");
	memset(&cfg, 0, sizeof(cfg));
	cfg.api_base = cfg_str(CFG_CF_API_BASE);
	cfg.api_token = cfg_str(CFG_CF_API_TOKEN);
	cfg.budget = (int)cfg_int(CFG_CF_BUDGET);
	cfg.budget_window_ms = cfg_int(CFG_CF_BUDGET_WINDOW_MS);
	if (cfg.budget_window_ms != 300000)
		log_warn("tunnel provider=cloudflare: cloudflare.budget_window_ms is %ld, not "
		         "Cloudflare's 5 minutes (a setting for tests)", cfg.budget_window_ms);
	cfg.budget_take = shared_budget_take;
	/* cf_init keeps a client a test has set up already. */
	if (cf_init(helperd.loop, &cfg) != 0) {
		json_object_put(P.include);
		P.include = NULL;
		return -1;
	}
	P.ready = 1;
	log_info("tunnel provider=cloudflare install=%s: objects are named " CF_NAME_PREFIX
	         "%s-<session>; the sweep touches no other install's", P.acct.install,
	         P.acct.install);
	log_info("tunnel provider=cloudflare api=%s account=%s zone=%s domain=%s team=%s "
	         "budget=%ld calls per %.0f s (the account's, shared by every helperd on this "
	         "database)", cfg_str(CFG_CF_API_BASE), cfg_str(CFG_CF_ACCOUNT_ID),
	         cfg_str(CFG_CF_ZONE_ID), cfg_str(CFG_CF_DOMAIN), cfg_str(CFG_CF_ACCESS_TEAM),
	         cfg_int(CFG_CF_BUDGET), cfg_int(CFG_CF_BUDGET_WINDOW_MS) / 1000.0);
	return 0;
}

const struct tunnel_cf_account *tunnel_cf_account(void)
{
	return P.ready ? &P.acct : NULL;
}

static void cf_provider_shutdown(void)
{
	if (!P.ready)
		return;
	sweep_cf_cancel();
	cf_shutdown();
	json_object_put(P.include);
	memset(&P, 0, sizeof(P));
}

/* tunnel.start {session_id, token}: any agent version runs cloudflared. */
static const char *cf_agent_start(const struct store_tunnel *t, const char *token,
                                  int agent_version, enum proto_type *type, json_object *fields)
{
	(void)agent_version;
	if (!token)
		return "the Cloudflare provider handed over no tunnel token";
	*type = PROTO_TUNNEL_START;
	json_object_object_add(fields, "session_id", json_object_new_string(t->id));
	json_object_object_add(fields, "token", json_object_new_string(token));
	return NULL;
}

const struct tunnel_provider tunnel_provider_cf = {
	.name = "cloudflare",
	.label = "Cloudflare",
	.missing_settings = cf_missing_settings,
	.init = cf_provider_init,
	.shutdown = cf_provider_shutdown,
	.cannot_provision = cf_cannot_provision,
	.cannot_restore = cf_cannot_restore,
	.provision = cf_provision,
	.token = cf_token,
	.teardown = cf_teardown,
	.cancel = cf_cancel_op,
	.agent_start = cf_agent_start,
	.sweep = tunnel_cf_sweep,
};
