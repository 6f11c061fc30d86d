/* store_tunnel.h: what helperd's session machine keeps on a session row (helperd/session.c
 * says what the states and steps mean): status, step, error, and the id of every
 * provider object the session created, each written before the machine takes its next
 * step. The tunnel token is never stored.
 *
 * Return codes and tenant scoping as in store.h. helperd's own, platform-wide lookups
 * (a device's sessions, a short id's owner, the sweep's list) say so in their names. */
#ifndef KAIDEN_STORE_TUNNEL_H
#define KAIDEN_STORE_TUNNEL_H

#include "compat.h"
#include "ids.h"
#include "seam.h"
#include "store.h"

struct db;

/* The id columns of a session, each written on its own as the object appears. */
enum store_tunnel_field {
	STORE_TUNNEL_ID,          /* tunnel_id */
	STORE_TUNNEL_WEB_APP,     /* access_web_app_id */
	STORE_TUNNEL_SSH_APP,     /* access_ssh_app_id */
	STORE_TUNNEL_WEB_AUD,     /* access_web_aud */
	STORE_TUNNEL_SSH_AUD,     /* access_ssh_aud */
	STORE_TUNNEL_WEB_DNS,     /* dns_web_record_id */
	STORE_TUNNEL_SSH_DNS,     /* dns_ssh_record_id */
	STORE_TUNNEL__MAX
};

#define STORE_TUNNEL_IDLEN 80   /* longest id kept (a 64-hex aud fits) */
#define STORE_TUNNEL_HOSTLEN 256

/* A session as the machine sees it. Absent values are "". */
struct store_tunnel {
	char id[UUID_STR_LEN];
	char tenant_id[UUID_STR_LEN];
	char device_id[UUID_STR_LEN];
	char short_id[SHORT_ID_LEN + 1];
	char status[16];
	char step[32];
	char web_hostname[STORE_TUNNEL_HOSTLEN]; /* from public_url, without https:// */
	char ssh_hostname[STORE_TUNNEL_HOSTLEN];
	char ids[STORE_TUNNEL__MAX][STORE_TUNNEL_IDLEN];
	char error[512];
	int ssh_port, web_port;
	char started_at[TIMESTAMP_LEN];
	char created_at[TIMESTAMP_LEN];
	char engineer_email[256]; /* the email of the user who started it; "" if none (a
	                             service token) or the user is gone */
	enum seam_provider provider; /* the provider the session was made with; helperd runs
	                                it with that one whatever tunnel.provider says now */
};

/* The column name of a field ("tunnel_id", ...). */
const char *store_tunnel_column(enum store_tunnel_field field);

/* STORE_ERR also when the row names a provider seam.h does not know (the schema's
 * CHECK keeps that from happening). */
int store_tunnel_load(struct db *db, const char *tenant_id, const char *id,
                      struct store_tunnel *out) WUR;

/* Writes one id column (value NULL clears it). */
int store_tunnel_set_id(struct db *db, const char *tenant_id, const char *id,
                        enum store_tunnel_field field, const char *value) WUR;

/* Writes step, and error unless it is NULL ("" clears it). */
int store_tunnel_set_step(struct db *db, const char *tenant_id, const char *id,
                          enum seam_step step, const char *error) WUR;

/* Moves the session to status (with step, and error unless NULL) if its status is one
 * of from (SEAM_STATUS_BIT()s or'ed together; 0: any); ended and failed also set
 * ended_at. ended and failed are final: a move to either is made only from a live status
 * (from is narrowed to SEAM_STATUSES_LIVE), and writes, in the same transaction, the end
 * on the session's ticket if it has one (store_ticket_session.h). *changed (may be NULL)
 * gets 1 when the row moved, 0 when its status was not in from. */
int store_tunnel_move(struct db *db, const char *tenant_id, const char *id,
                      unsigned from, enum seam_status status, enum seam_step step,
                      const char *error, int *changed) WUR;

/* What this database knows of a short id (platform-wide), for the orphan sweep. */
enum store_short {
	STORE_SHORT_NONE, /* no session has it */
	STORE_SHORT_DONE, /* its session is ended or failed */
	STORE_SHORT_LIVE  /* its session is pending, active or ending */
};
int store_tunnel_short_state(struct db *db, const char *short_id, enum store_short *out) WUR;

/* A (tenant, session) pair and why it is due to end. */
struct store_tunnel_due {
	char tenant_id[UUID_STR_LEN];
	char id[UUID_STR_LEN];
	char device_id[UUID_STR_LEN];
	int offline; /* 1: device offline too long; 0: past the maximum duration */
};

/* Platform-wide: up to max pending/active sessions started more than max_duration
 * seconds ago, or whose device has been offline (status offline, last seen) more than
 * offline_grace seconds ago. *n gets how many were written. */
int store_tunnel_due(struct db *db, int max_duration, int offline_grace,
                     struct store_tunnel_due *due, int max, int *n) WUR;

/* Platform-wide: the sessions of a device in the given statuses (SEAM_STATUS_BIT()s
 * or'ed together), up to max, in id order: ids into ids[], and (each when not NULL) their
 * tenants into tenants[] and statuses into states[]. *n gets how many. */
int store_tunnel_device_sessions(struct db *db, const char *device_id, unsigned statuses,
                                 char (*ids)[UUID_STR_LEN], char (*tenants)[UUID_STR_LEN],
                                 enum seam_status *states, int max, int *n) WUR;

/* Platform-wide: how many sessions are in each status, indexed by enum seam_status. */
int store_tunnel_count(struct db *db, long counts[SEAM_STATUS__MAX]) WUR;

#endif
