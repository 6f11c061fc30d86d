/* store_ticket_session.h: a session started from a ticket, and the ticket's record of it
 * (private to the store module).
 *
 * The link is the session's ticket_id (a ticket of the session's tenant; no foreign key,
 * so the store checks it). The ticket hears of each linked session twice, by a system
 * comment (not internal: customers see it) written in the transaction that moves the
 * session: "session started by <engineer> on <device>" when it is created, and "session
 * ended (<duration>) notes: <notes>" or "session failed: <error>" when it reaches ended or
 * failed, which happens once (store_tunnel_move moves to those only from a live status).
 * A closed ticket takes no new session; closing a ticket ends none of its sessions (they
 * are the engineer's to end, and their end is still written on the ticket). */
#ifndef KAIDEN_STORE_TICKET_SESSION_H
#define KAIDEN_STORE_TICKET_SESSION_H

#include <json-c/json.h>
#include "compat.h"

struct db;

/* Inside the session create's transaction, before the session row: ticket (a checked
 * id) must be a ticket of tenant that is not closed, else STORE_NOT_FOUND / STORE_CONFLICT
 * (a close committed concurrently included); then its start comment, signed by the
 * engineer (engineer_id may be NULL), naming device's name. */
int store_ticket_session_start(struct db *db, const char *tenant, const char *ticket,
                               const char *device, const char *engineer_id,
                               const char *engineer_name, const char *now) WUR;

/* Inside the transaction that moved the session to ended (failed 0) or failed: the end's
 * comment on its ticket, from the row as the move left it (started_at, ended_at, notes,
 * error; notes and error may be NULL). A ticket that is gone is no reason to keep the
 * session from ending: STORE_OK without a comment. */
int store_ticket_session_finish(struct db *db, const char *tenant, const char *ticket,
                                int failed, const char *started_at, const char *ended_at,
                                const char *notes, const char *error, const char *now) WUR;

/* Adds to ticket (a ticket's JSON) "sessions": its sessions, newest first, at most
 * STORE_TICKET_SESSIONS_MAX (GET /sessions?ticket_id= pages through them all), each
 * {id, status, device_id, device_name, engineer_name, created_at, ended_at}. */
#define STORE_TICKET_SESSIONS_MAX 100
int store_ticket_sessions_add(struct db *db, const char *tenant, const char *ticket_id,
                              json_object *ticket) WUR;

#endif
