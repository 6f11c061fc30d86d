/* relay_path.h: the relay's two request paths and the target, parsed (pure: no lws).
 *
 *   /api/v1/ws/connect/<session_id>   the engineer's socket; ?target=ssh|web (default ssh)
 *   /api/v1/ws/stream/<stream_id>     the agent's data socket for one stream
 * Ids come back in lower case (how they are stored). */
#ifndef KAIDEN_RELAY_PATH_H
#define KAIDEN_RELAY_PATH_H

#include "compat.h"
#include "ids.h"

#define RELAY_CONNECT_PREFIX "/api/v1/ws/connect/"
#define RELAY_STREAM_PREFIX "/api/v1/ws/stream/"

enum relay_target { RELAY_TARGET_SSH, RELAY_TARGET_WEB };

enum relay_path {
	RELAY_PATH_OTHER = 0,   /* neither prefix: not the relay's */
	RELAY_PATH_CONNECT,     /* id written */
	RELAY_PATH_STREAM,      /* id written */
	RELAY_PATH_BAD_ID       /* a relay prefix followed by something that is not a UUID */
};

/* Which relay path uri (the path without the query) is; id is written for CONNECT and
 * STREAM. */
enum relay_path relay_path_parse(const char *uri, char id[UUID_STR_LEN]);

/* The target named by a query string's arguments, each "name=value" (lws hands them one
 * by one): args[0..n). No target argument is ssh. 0 with *out, -1 when a target argument
 * is not ssh or web (or there are two). Other arguments are ignored. */
int relay_target_parse(const char *const *args, int n, enum relay_target *out) WUR;

/* "ssh" or "web". */
const char *relay_target_name(enum relay_target target);

#endif
