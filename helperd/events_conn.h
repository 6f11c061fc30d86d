/* events_conn.h: what events.c (the sockets), events_accept.c (the checks before the
 * upgrade) and events_relay.c (the other helperds' events) share. Not an interface for
 * other modules: events.h is. */
#ifndef KAIDEN_EVENTS_CONN_H
#define KAIDEN_EVENTS_CONN_H

#include "compat.h"
#include "credential.h"
#include "hub_util.h"
#include "ids.h"

struct lws;

/* An accepted upgrade, from CONFIRM_UPGRADE to ESTABLISHED (lws does both in one call). */
struct events_pending {
	struct lws *wsi;
	struct credential cred;
	char tenant_id[UUID_STR_LEN]; /* the tenant whose events it gets */
	char addr[HUB_ADDR_LEN];
};

/* events.c: 1 once events_init ran and until events_shutdown. */
int events_open(void);
/* The one pending upgrade (events_accept fills it, the ESTABLISHED callback takes it). */
struct events_pending *events_pending(void);
/* Streams open, all and of this credential's user (or token, for a service token). */
int events_count(void);
int events_count_of(const struct credential *cred);
/* Counts a refusal in kaiden_events_refused_total{reason}. */
void events_refused(const char *reason);
/* events.c, for events_relay.c: text (an event's JSON) to this helperd's streams of
 * tenant_id. The caller keeps text. */
void events_publish(const char *tenant_id, const char *text);


#endif
