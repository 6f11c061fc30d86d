/* store_ticket_session.c: a session started from a ticket, and the ticket's record of it
 * (store_ticket_session.h says what is written when). The comments go through
 * store_ticket_note, inside the transaction of the session's own move, so a session and
 * what its ticket says of it never disagree. */
#include "store_ticket_session.h"

#include <stdio.h>
#include <stdlib.h>

#include "buf.h"
#include "db.h"
#include "ids.h"
#include "log.h"
#include "store.h"
#include "store_row.h"

/* A device name is at most 128 characters of up to 4 bytes (h_devices.c). */
#define DEVICE_NAME_MAX (128 * 4 + 1)

int store_ticket_session_start(struct db *db, const char *tenant, const char *ticket,
                               const char *device, const char *engineer_id,
                               const char *engineer_name, const char *now)
{
	const char *params[2] = { tenant, device };
	char name[DEVICE_NAME_MAX], *body = NULL;
	int rc;

	rc = store_one_value(db, "SELECT name FROM devices WHERE tenant_id = $1 AND id = $2", 2,
	                     params, name, sizeof(name), NULL);
	if (rc < 0)
		return rc;
	if (rc == 0)
		return STORE_NOT_FOUND;
	if (asprintf(&body, "session started by %s on %s", engineer_name, name) < 0)
		return STORE_ERR;
	rc = store_ticket_note(db, tenant, ticket, 1, engineer_id, engineer_name, body, now);
	free(body);
	return rc;
}

/* "45s", "3m 04s", "2h 05m 09s": how long from started_at to ended_at ("?" when either
 * is unreadable). */
static void duration_text(const char *started_at, const char *ended_at, char *out,
                          size_t size)
{
	int64_t from, to, s;

	if (ids_timestamp_ms(started_at, &from) != 0 || ids_timestamp_ms(ended_at, &to) != 0) {
		snprintf(out, size, "?");
		return;
	}
	s = to > from ? (to - from) / 1000 : 0;
	if (s < 60)
		snprintf(out, size, "%llds", (long long)s);
	else if (s < 3600)
		snprintf(out, size, "%lldm %02llds", (long long)(s / 60), (long long)(s % 60));
	else
		snprintf(out, size, "%lldh %02lldm %02llds", (long long)(s / 3600),
		         (long long)(s / 60 % 60), (long long)(s % 60));
}

int store_ticket_session_finish(struct db *db, const char *tenant, const char *ticket,
                                int failed, const char *started_at, const char *ended_at,
                                const char *notes, const char *error, const char *now)
{
	char duration[48], *body = NULL;
	int n, rc;

	if (failed) {
		n = asprintf(&body, "session failed: %s",
		             error && error[0] ? error : "no reason was recorded");
	} else {
		duration_text(started_at, ended_at, duration, sizeof(duration));
		n = asprintf(&body, "session ended (%s)%s%s", duration,
		             notes && notes[0] ? " notes: " : "", notes && notes[0] ? notes : "");
	}
	if (n < 0)
		return STORE_ERR;
	rc = store_ticket_note(db, tenant, ticket, 0, NULL, NULL, body, now);
	free(body);
	if (rc == STORE_NOT_FOUND) {
		log_warn("tenant=%s ticket=%s is gone: a session's end is not written on it", tenant,
		         ticket);
		rc = STORE_OK;
	}
	return rc;
}

static const struct store_col ticket_session_cols[] = {
	{ "id", STORE_COL_TEXT },            { "status", STORE_COL_TEXT },
	{ "device_id", STORE_COL_TEXT },     { "device_name", STORE_COL_TEXT },
	{ "engineer_name", STORE_COL_TEXT }, { "created_at", STORE_COL_TEXT },
	{ "ended_at", STORE_COL_TEXT }
};

int store_ticket_sessions_add(struct db *db, const char *tenant, const char *ticket_id,
                              json_object *ticket)
{
	const char *params[4] = { tenant, ticket_id };
	struct store_list list = { 0 };
	struct buf sql;
	int rc = STORE_ERR;

	buf_init(&sql, 512);
	/* The device's name even when the device was deleted (its row stays, soft-deleted). */
	if (buf_puts(&sql, "SELECT id, status, device_id, (SELECT d.name FROM devices d WHERE "
	                   "d.id = sessions.device_id) AS device_name, engineer_name, created_at, "
	                   "ended_at FROM sessions WHERE tenant_id = $1 AND ticket_id = $2") != 0)
		goto out;
	rc = store_list_run(db, &sql, params, 2, NULL, STORE_TICKET_SESSIONS_MAX,
	                    ticket_session_cols, (int)ARRAY_LEN(ticket_session_cols), &list);
	if (rc == STORE_OK)
		json_object_object_add(ticket, "sessions", list.items);
out:
	buf_clear(&sql);
	return rc;
}
