/* utf8.c: strict UTF-8 decoding (utf8.h). */
#include "utf8.h"

size_t utf8_next(const char *s, size_t len, unsigned *cp)
{
	const unsigned char *p = (const unsigned char *)s;
	unsigned c = p[0], v, min;
	size_t more;

	if (c < 0x80) {
		*cp = c;
		return 1;
	}
	if (c >= 0xc2 && c <= 0xdf) {
		v = c & 0x1f;
		more = 1;
		min = 0x80;
	} else if (c >= 0xe0 && c <= 0xef) {
		v = c & 0x0f;
		more = 2;
		min = 0x800;
	} else if (c >= 0xf0 && c <= 0xf4) {
		v = c & 0x07;
		more = 3;
		min = 0x10000;
	} else {
		return 0; /* a continuation byte, an overlong lead (c0, c1), or past f4 */
	}
	if (len < more + 1)
		return 0;
	for (size_t i = 1; i <= more; i++) {
		if ((p[i] & 0xc0) != 0x80)
			return 0;
		v = (v << 6) | (p[i] & 0x3f);
	}
	if (v < min || v > 0x10ffff || (v >= 0xd800 && v <= 0xdfff))
		return 0;
	*cp = v;
	return more + 1;
}
