/* relay_pipe.c: a bounded queue of chunks with its flow-control bookkeeping
 * (relay_pipe.h). */
#include "relay_pipe.h"

#include <stdlib.h>
#include <string.h>

void relay_pipe_init(struct relay_pipe *p, size_t bound, size_t pre)
{
	memset(p, 0, sizeof(*p));
	p->bound = bound;
	p->pre = pre;
}

void relay_pipe_clear(struct relay_pipe *p)
{
	struct relay_chunk *c, *next;

	for (c = p->head; c; c = next) {
		next = c->next;
		free(c);
	}
	p->head = p->tail = NULL;
	p->queued = 0;
	p->paused = 0;
}

int relay_pipe_push(struct relay_pipe *p, const void *data, size_t len)
{
	struct relay_chunk *c = malloc(sizeof(*c) + p->pre + len);

	if (!c)
		return RELAY_PIPE_NOMEM;
	c->next = NULL;
	c->len = len;
	memcpy(c->buf + p->pre, data, len);
	if (p->tail)
		p->tail->next = c;
	else
		p->head = c;
	p->tail = c;
	p->queued += len;
	if (!p->paused && p->queued >= p->bound) {
		p->paused = 1;
		return RELAY_PIPE_PAUSE;
	}
	return RELAY_PIPE_OK;
}

struct relay_chunk *relay_pipe_peek(const struct relay_pipe *p)
{
	return p->head;
}

int relay_pipe_pop(struct relay_pipe *p)
{
	struct relay_chunk *c = p->head;

	if (!c)
		return RELAY_PIPE_OK;
	p->head = c->next;
	if (!p->head)
		p->tail = NULL;
	p->queued -= c->len;
	free(c);
	if (p->paused && p->queued < p->bound / 2) {
		p->paused = 0;
		return RELAY_PIPE_RESUME;
	}
	return RELAY_PIPE_OK;
}
