/* utf8.h: strict UTF-8 (RFC 3629), decoded one code point at a time. The one decoder
 * that request text (query parameters) and JSON strings are checked with. */
#ifndef KAIDEN_UTF8_H
#define KAIDEN_UTF8_H

#include <stddef.h>
#include "compat.h"

/* Decodes the code point that starts s (len bytes available, len >= 1): its length in
 * bytes (1 to 4) with *cp written, or 0 when the bytes there are not well-formed UTF-8:
 * a stray continuation byte, a sequence cut short, an overlong form, a surrogate
 * (U+D800..U+DFFF), or a code point past U+10FFFF. */
size_t utf8_next(const char *s, size_t len, unsigned *cp) WUR;

#endif
