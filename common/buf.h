/* buf.h: a growable byte buffer with a hard size cap (curl's dynbuf idea).
 * The data is always NUL-terminated (the NUL is not counted in len). */
#ifndef KAIDEN_BUF_H
#define KAIDEN_BUF_H

#include <stddef.h>
#include "compat.h"

struct buf {
	char *data; /* owned; NULL until the first append */
	size_t len;
	size_t cap;
	size_t max; /* appends that would pass this fail with -1 */
};

void buf_init(struct buf *b, size_t max);
/* 0, or -1 when the cap would be passed or memory ran out (b is left unchanged). */
int buf_append(struct buf *b, const void *data, size_t len) WUR;
int buf_puts(struct buf *b, const char *s) WUR;
int buf_printf(struct buf *b, const char *fmt, ...) PRINTF_LIKE(2, 3) WUR;
/* Room for extra more bytes and the NUL, so a writer may fill data + len itself and then
 * add to len (and set the NUL): 0, or -1 as buf_append (b unchanged). */
int buf_reserve(struct buf *b, size_t extra) WUR;
/* Empties the buffer, keeps the memory. */
void buf_reset(struct buf *b);
/* Frees the memory. */
void buf_clear(struct buf *b);
/* Ownership of the data moves to the caller (never NULL: "" for an empty buffer, or NULL
 * only when out of memory); b is emptied. */
char *buf_take(struct buf *b);

#endif
