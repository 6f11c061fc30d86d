/* relay_pipe.h: one direction of a relay stream: the bytes read from one socket and not
 * yet written to the other, and whether its source must stop being read (pure: no lws;
 * relay_server.c turns the answers into lws_rx_flow_control calls).
 *
 * The bound (RELAY_PIPE_BOUND, 256 KiB): a push that brings the queue to the bound or
 * beyond says "pause the source"; from then on nothing more arrives from it but what lws
 * had already read (at most one receive buffer), so the queue never holds more than the
 * bound plus one chunk. A pop that brings a paused pipe below half the bound says
 * "resume". Chunks keep LWS_PRE bytes of headroom before the data, so they are written
 * as they are. */
#ifndef KAIDEN_RELAY_PIPE_H
#define KAIDEN_RELAY_PIPE_H

#include <stddef.h>
#include <stdint.h>
#include "compat.h"

#define RELAY_PIPE_BOUND (256 * 1024)

struct relay_chunk {
	struct relay_chunk *next;
	size_t len;
	unsigned char buf[]; /* pre bytes of headroom, then len bytes */
};

struct relay_pipe {
	struct relay_chunk *head, *tail;
	size_t queued;   /* bytes in the chunks */
	size_t bound;
	size_t pre;      /* headroom before each chunk's data (LWS_PRE) */
	int paused;      /* the source was told to stop */
};

void relay_pipe_init(struct relay_pipe *p, size_t bound, size_t pre);
/* Frees every chunk (a stream cut short); paused is cleared. */
void relay_pipe_clear(struct relay_pipe *p);

enum relay_pipe_rc {
	RELAY_PIPE_OK = 0,
	RELAY_PIPE_PAUSE = 1,    /* push: the source must stop being read now */
	RELAY_PIPE_RESUME = 2,   /* pop: the source may be read again */
	RELAY_PIPE_NOMEM = -1
};

/* Appends a copy of len bytes (len > 0): RELAY_PIPE_OK, RELAY_PIPE_PAUSE (the first
 * time the bound is reached: paused is set), or RELAY_PIPE_NOMEM. */
int relay_pipe_push(struct relay_pipe *p, const void *data, size_t len) WUR;
/* The oldest chunk (borrowed; its data at buf + pre), or NULL. */
struct relay_chunk *relay_pipe_peek(const struct relay_pipe *p);
/* Frees the oldest chunk: RELAY_PIPE_RESUME when the pipe was paused and is now below
 * half the bound (paused is cleared), else RELAY_PIPE_OK. */
int relay_pipe_pop(struct relay_pipe *p);

#endif
