/* fuzz.h: what the harnesses under tests/fuzz/ share (docs/fuzzing.md says how to run
 * them).
 *
 * Each fuzz_<name>.c defines LLVMFuzzerTestOneInput and nothing else the outside sees.
 * It is linked two ways: with clang's libFuzzer (`make fuzz`), which calls it with
 * generated inputs, and with replay.c (any compiler, `make check`), whose main() feeds
 * it every file of its committed corpus tests/fuzz/corpus/<name>/. So a harness must
 * not rely on libFuzzer: it sets itself up on its first input, frees everything each
 * input allocated (LeakSanitizer checks), and resets any global state it touched, so
 * an input behaves the same whatever ran before it.
 *
 * An input that carries several values (a header and a body, a list's pages) is split
 * at each FUZZ_SEP line; the seeds are readable text in that form. */
#ifndef KAIDEN_FUZZ_H
#define KAIDEN_FUZZ_H

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define FUZZ_SEP "\n%%\n"
#define FUZZ_MAX_PARTS 8

/* An input cut into NUL-terminated, owned copies (a part may hold NULs of its own: len
 * says how long it is). */
struct fuzz_parts {
	size_t n;
	char *part[FUZZ_MAX_PARTS];
	size_t len[FUZZ_MAX_PARTS];
};

static inline void fuzz_parts_free(struct fuzz_parts *p)
{
	for (size_t i = 0; i < p->n; i++)
		free(p->part[i]);
	p->n = 0;
}

/* Splits data at FUZZ_SEP into at most max (<= FUZZ_MAX_PARTS) parts; the last part
 * keeps the rest. 0, or -1 when out of memory (nothing to free). */
static inline int fuzz_parts_split(const uint8_t *data, size_t size, size_t max,
                                   struct fuzz_parts *p)
{
	const char *s = (const char *)data, *end = s + size;
	const size_t seplen = sizeof(FUZZ_SEP) - 1;

	p->n = 0;
	if (max > FUZZ_MAX_PARTS)
		max = FUZZ_MAX_PARTS;
	while (p->n < max) {
		const char *cut = NULL;
		size_t len;
		if (p->n + 1 < max)
			cut = memmem(s, (size_t)(end - s), FUZZ_SEP, seplen);
		len = cut ? (size_t)(cut - s) : (size_t)(end - s);
		p->part[p->n] = malloc(len + 1);
		if (!p->part[p->n]) {
			fuzz_parts_free(p);
			return -1;
		}
		if (len)
			memcpy(p->part[p->n], s, len);
		p->part[p->n][len] = '\0';
		p->len[p->n++] = len;
		if (!cut)
			break;
		s = cut + seplen;
	}
	return 0;
}

/* Silences the log: every level is below this one. Inputs are mostly wrong on purpose,
 * and a line per refusal would cost more than the parsing. */
static inline void fuzz_quiet(const char *prog)
{
	log_init(prog, (enum log_level)(LOG_LVL_ERROR + 1));
}

#endif
