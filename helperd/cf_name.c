/* cf_name.c: the names of a session's Cloudflare objects (cf_name.h). */
#include "cf_name.h"

#include <stdio.h>
#include <string.h>

void cf_name_make(char out[CF_NAME_SIZE], const char *install, const char *short_id, int ssh)
{
	snprintf(out, CF_NAME_SIZE, CF_NAME_PREFIX "%s-%s%s", install, short_id, ssh ? "-ssh" : "");
}

/* 1 when the n characters at s are all of [a-z2-7]. */
static int base32_run(const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= '2' && s[i] <= '7')))
			return 0;
	return 1;
}

/* The short id and the optional -ssh at s, which must end there. */
static int parse_tail(const char *s, struct cf_name *out)
{
	if (strnlen(s, SHORT_ID_LEN) < SHORT_ID_LEN || !base32_run(s, SHORT_ID_LEN))
		return -1;
	if (s[SHORT_ID_LEN] && strcmp(s + SHORT_ID_LEN, "-ssh") != 0)
		return -1;
	memcpy(out->short_id, s, SHORT_ID_LEN);
	out->short_id[SHORT_ID_LEN] = '\0';
	out->ssh = s[SHORT_ID_LEN] != '\0';
	return 0;
}

int cf_name_parse(const char *name, struct cf_name *out)
{
	struct cf_name n;
	const size_t plen = strlen(CF_NAME_PREFIX);

	memset(&n, 0, sizeof(n));
	if (!name || strncmp(name, CF_NAME_PREFIX, plen) != 0)
		return -1;
	name += plen;
	if (strnlen(name, INSTALL_ID_LEN + 1) > INSTALL_ID_LEN && name[INSTALL_ID_LEN] == '-') {
		if (!base32_run(name, INSTALL_ID_LEN) || parse_tail(name + INSTALL_ID_LEN + 1, &n) != 0)
			return -1;
		memcpy(n.install, name, INSTALL_ID_LEN);
		n.install[INSTALL_ID_LEN] = '\0';
	} else {
		if (parse_tail(name, &n) != 0)
			return -1;
		n.legacy = 1;
	}
	*out = n;
	return 0;
}
