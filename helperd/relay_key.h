/* relay_key.h: a stream's one-time key (agent/PROTOCOL.md, "Opening a stream"): 32
 * random bytes as base64url without padding (PROTO_STREAM_KEY_LEN characters), sent to
 * the agent in relay.open and presented back on the data socket as
 * "Authorization: Bearer <key>". Pure apart from the random bytes; no lws. */
#ifndef KAIDEN_RELAY_KEY_H
#define KAIDEN_RELAY_KEY_H

#include <stdint.h>
#include "compat.h"
#include "proto.h"

/* A key is good this long after it was made. */
#define RELAY_KEY_TTL_MS 10000

struct relay_key {
	char text[PROTO_STREAM_KEY_LEN + 1]; /* secret */
	int64_t made_ms;
	int used;
};

/* A new key made at now_ms. */
void relay_key_new(struct relay_key *key, int64_t now_ms);
/* Wipes it (the stream keeps its struct until it ends). */
void relay_key_wipe(struct relay_key *key);

enum relay_key_rc {
	RELAY_KEY_OK = 0,
	RELAY_KEY_MISSING,  /* no Authorization header, or not "Bearer <key>" */
	RELAY_KEY_WRONG,    /* not this stream's key (compared in constant time) */
	RELAY_KEY_USED,     /* the right key, presented before */
	RELAY_KEY_EXPIRED   /* the right key, older than RELAY_KEY_TTL_MS */
};

/* 1 when an Authorization header value is "Bearer " and something shaped like a key
 * (PROTO_STREAM_KEY_LEN characters of base64url), else 0: worth carrying to the helperd
 * whose stream it names (relay_peer.h), which checks the key itself. */
int relay_key_well_formed(const char *authorization);
/* Checks an Authorization header value against key at now_ms; RELAY_KEY_OK marks the
 * key used (a second presentation is RELAY_KEY_USED). */
enum relay_key_rc relay_key_check(struct relay_key *key, const char *authorization,
                                  int64_t now_ms);

#endif
