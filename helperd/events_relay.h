/* events_relay.h: the browser's event stream across helperds (PostgreSQL).
 *
 * A browser's stream reaches one helperd (nginx picks it); the device, session, node and
 * service it follows may move on another. Every event a helperd makes for its own
 * streams (events.h) is also sent to the others: NOTIFY kaiden_events with the payload
 *
 *   <instance> TAB <tenant id> TAB <the event's JSON text, as the stream sends it>
 *
 * batched per loop turn (one `SELECT pg_notify(...) FROM json_array_elements_text($2)`
 * for every event of the turn, on the loop's connection, outside any transaction).
 * pgwatch.c LISTENs on the channel beside kaiden_jobs and hands each payload to
 * events_relay_receive, which publishes it to this helperd's streams of that tenant
 * unless it came from this very instance (a NOTIFY comes back to its sender too).
 *
 * A payload over PostgreSQL's 8000 bytes is not relayed (events are a few hundred bytes;
 * a stream that misses one reads the page again on its next reconnect, as after a slow
 * read). Notifications lost while the LISTEN connection was down are lost: the portal's
 * pages poll as well (www/app/events.js). Only database roles can NOTIFY: the payload is
 * trusted as kaiden-api's and helperd's own rows are. SQLite (one helperd): nothing. */
#ifndef KAIDEN_EVENTS_RELAY_H
#define KAIDEN_EVENTS_RELAY_H

#include "compat.h"

int events_relay_init(void) WUR;
/* Sends what waits, then stops relaying. */
void events_relay_shutdown(void);
/* 1 on PostgreSQL once initialised: events made here go to the other helperds. */
int events_relay_on(void);

/* Queues text (the event's JSON) for the other helperds; sent at the end of this loop
 * turn. Not taken over: the caller keeps text. */
void events_relay_send(const char *tenant_id, const char *text);
/* A kaiden_events payload as pgwatch.c received it. */
void events_relay_receive(const char *payload);

#endif
