/* relay_from.h: the engineer's address, vouched for by the helperd that forwarded the
 * engineer's connect (relay_peer.h). The helperd that runs a forwarded stream sees only
 * the forwarding helperd's socket, and must not take an X-Forwarded-For from anyone who
 * can reach its listener, so the forwarding helperd signs what it saw:
 *
 *   X-Kaiden-Relay-From: ADDR;MS;SIG
 *
 * ADDR the engineer's address (an IP address, as hub_client_addr found it), MS the
 * signing time (Unix ms), SIG the HMAC-SHA-256, base64url without padding, of
 * "kaiden relay-from v1\n" SESSION "\n" ADDR "\n" MS under the deployment's ticket key
 * (store_agent_ticket_key: every helperd of a deployment reads the same one from the
 * database; the prefix keeps the two uses apart). The session binds it to the one
 * connect it was made for; MS to RELAY_FROM_SKEW_MS either way of the checker's clock.
 * Pure apart from libsodium. */
#ifndef KAIDEN_RELAY_FROM_H
#define KAIDEN_RELAY_FROM_H

#include <stdint.h>
#include "compat.h"
#include "hub_util.h"
#include "ticket.h"

#define RELAY_FROM_MAX 160     /* a header value, with its NUL */
#define RELAY_FROM_SKEW_MS 60000

/* The header value for addr on session's connect at now_ms into out. 0, or -1 when addr
 * is not an IP address. */
int relay_from_sign(const unsigned char key[TICKET_KEY_LEN], const char *session_id,
                    const char *addr, int64_t now_ms, char out[RELAY_FROM_MAX]) WUR;
/* 0 with the vouched address in addr when value is a good signature for session_id at
 * now_ms; -1 otherwise (addr untouched): malformed, another session's, too old or too
 * far ahead, not an IP address, or a wrong signature (compared in constant time). */
int relay_from_check(const unsigned char key[TICKET_KEY_LEN], const char *value,
                     const char *session_id, int64_t now_ms, char addr[HUB_ADDR_LEN]) WUR;

#endif
