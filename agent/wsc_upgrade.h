/* wsc_upgrade.h: the WebSocket upgrade of agent/wsc.c, as text (RFC 6455 4.1-4.2): the
 * key and its accept value, the request, and the check of the server's answer. No I/O,
 * no state: wsc.c sends and gathers. */
#ifndef KAIDEN_AGENT_WSC_UPGRADE_H
#define KAIDEN_AGENT_WSC_UPGRADE_H

#include <stddef.h>
#include "compat.h"

struct wsc_info;

#define WSC_KEY_LEN 24     /* 16 random bytes, base64 */
#define WSC_ACCEPT_LEN 28  /* a SHA-1, base64 */
/* lws_b64_encode_string wants room for one byte more than the text and its NUL. */
#define WSC_B64_ROOM(len) ((len) + 2)

/* The Sec-WebSocket-Accept value for a key (RFC 6455 4.2.2), into out (at least
 * WSC_B64_ROOM(WSC_ACCEPT_LEN) bytes). 0, or -1. */
int wsc_accept_value(const char *key, char *out, size_t outlen) WUR;
/* A new random key and the accept value the answer must carry. 0, or -1. */
int wsc_upgrade_key(char key[WSC_B64_ROOM(WSC_KEY_LEN)],
                    char accept[WSC_B64_ROOM(WSC_ACCEPT_LEN)]) WUR;
/* 1 when the info's strings may go into a request (no control byte but tab; a path
 * from '/', without a space), else 0. */
int wsc_upgrade_info_ok(const struct wsc_info *info) WUR;
/* The request for info with key, NUL-terminated (*len without it), or NULL (out of
 * memory, longer than 6 KiB). Owned; it holds the Authorization: wipe it before free. */
char *wsc_upgrade_request(const struct wsc_info *info, const char *key, size_t *len) WUR;
/* The answer's head is whole (head[0 .. len), its blank line included; the head is
 * written into): 0 when it is a valid 101 with accept_value and subprotocol ("" for
 * none asked), else -1 with *http (the status; 0 when it was not HTTP) and why. */
int wsc_upgrade_check(char *head, size_t len, const char *accept_value, const char *subprotocol,
                      unsigned *http, char *why, size_t whylen) WUR;

#endif
