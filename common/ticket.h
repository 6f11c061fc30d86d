/* ticket.h: an agent's resumption ticket, so that a reconnect skips argon2id.
 *
 * After a login that verified the secret, helperd hands the agent a ticket naming what
 * it admits: a device (or, for a node's agent, a cluster) by id, the version of its
 * secret then (devices.secret_version, clusters.secret_version: one more on every new
 * hash) and when it expires. The agent offers it in its next hello (protocol version
 * 4), beside its secret; a ticket that checks out admits the agent without the argon2id
 * verification, anything else (forged, expired, another id, a secret rotated since)
 * falls back to that verification, which decides as if no ticket had been offered.
 *
 *   text:  "1.<secret version>.<expires, unix seconds>.<MAC>"   (at most TICKET_MAX - 1)
 *   MAC:   HMAC-SHA256 (libsodium's crypto_auth_hmacsha256) under the deployment's
 *          ticket key (store_agent_ticket_key) of
 *          "kaiden-agent-ticket/1" NUL kind NUL id NUL version NUL expires,
 *          base64url without padding (43 characters)
 *
 * The kind keeps a device's ticket from admitting a cluster of the same id and back.
 * The MAC is compared in constant time (crypto_auth_hmacsha256_verify). A ticket is a
 * credential: it never reaches a log (proto.c wipes it like the secret). Whether the
 * device is still welcome (deleted, tenant suspended) is not the ticket's business: the
 * hub reads that at every hello, ticket or not. */
#ifndef KAIDEN_TICKET_H
#define KAIDEN_TICKET_H

#include <stdint.h>
#include "compat.h"

#define TICKET_KEY_LEN 32
/* Bound of the text, NUL included: "1." + 10 + "." + 20 + "." + 43 fits easily. */
#define TICKET_MAX 96

enum ticket_kind { TICKET_DEVICE = 'd', TICKET_CLUSTER = 'c' };

enum ticket_rc {
	TICKET_OK = 0,
	TICKET_BAD,     /* not a ticket, or its MAC is not ours for this kind and id */
	TICKET_EXPIRED, /* ours, past its time */
	TICKET_STALE    /* ours, for an earlier secret (rotated since) */
};

/* The ticket for (kind, id, version) expiring at expires_s into out. */
void ticket_issue(const unsigned char key[TICKET_KEY_LEN], enum ticket_kind kind,
                  const char *id, long long version, int64_t expires_s,
                  char out[TICKET_MAX]);

/* Checks text against (kind, id) and the secret's current version at now_s. */
enum ticket_rc ticket_check(const unsigned char key[TICKET_KEY_LEN], enum ticket_kind kind,
                            const char *id, long long version, int64_t now_s,
                            const char *text) WUR;

/* "ok", "bad", "expired", "stale": for metrics labels and logs. */
const char *ticket_rc_name(enum ticket_rc rc);

#endif
