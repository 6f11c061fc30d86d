/* cookies.c: a strict Cookie header parser (cookies.h).
 *
 * The parser takes what browsers send (RFC 6265 4.2.1: cookie-pair *( ";" SP
 * cookie-pair )), tolerating extra blanks around the separators and a trailing ";", and
 * nothing else: whatever does not fit means the header carries no cookie, so a request
 * with a mangled header is simply unauthenticated (401), never half-understood. */
#include "cookies.h"

#include <string.h>
#include <strings.h>

/* RFC 6265 cookie-octet: %x21 / %x23-2B / %x2D-3A / %x3C-5B / %x5D-7E. */
static int cookie_octet(unsigned char c)
{
	return c == 0x21 || (c >= 0x23 && c <= 0x2B) || (c >= 0x2D && c <= 0x3A) ||
	       (c >= 0x3C && c <= 0x5B) || (c >= 0x5D && c <= 0x7E);
}

/* RFC 9110 tchar. */
static int tchar(unsigned char c)
{
	return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	       (c && strchr("!#$%&'*+-.^_`|~", c) != NULL);
}

int cookie_get(const char *header, const char *name, char *out, size_t outlen)
{
	const char *p = header ? header : "";
	size_t nlen = strlen(name);
	int found = 0;

	if (outlen)
		out[0] = '\0';
	p += strspn(p, " \t");
	while (*p) {
		const char *n = p, *v;
		size_t len, vlen;
		int quoted = 0;

		len = 0;
		while (tchar((unsigned char)p[len]))
			len++;
		if (len == 0 || p[len] != '=')
			goto bad;
		v = p + len + 1;
		if (*v == '"') {
			quoted = 1;
			v++;
		}
		vlen = 0;
		while (cookie_octet((unsigned char)v[vlen]))
			vlen++;
		p = v + vlen;
		if (quoted) {
			if (*p != '"')
				goto bad;
			p++;
		}
		if (len == nlen && memcmp(n, name, nlen) == 0) {
			if (found || vlen == 0 || vlen >= outlen)
				goto bad;
			memcpy(out, v, vlen);
			out[vlen] = '\0';
			found = 1;
		}
		/* Then the end, or ";" and the next pair (blanks allowed around it). */
		p += strspn(p, " \t");
		if (*p == '\0')
			break;
		if (*p != ';')
			goto bad;
		p++;
		p += strspn(p, " \t");
	}
	return found;
bad:
	if (outlen)
		explicit_bzero(out, outlen);
	return 0;
}
