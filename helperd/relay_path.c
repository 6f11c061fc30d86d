/* relay_path.c: the relay's paths and target (relay_path.h). */
#include "relay_path.h"

#include <string.h>

static int take_id(const char *s, char id[UUID_STR_LEN])
{
	if (strlen(s) != UUID_STR_LEN - 1 || !ids_is_uuid(s))
		return -1;
	for (int i = 0; i < UUID_STR_LEN; i++)
		id[i] = (char)(s[i] >= 'A' && s[i] <= 'F' ? s[i] - 'A' + 'a' : s[i]);
	return 0;
}

enum relay_path relay_path_parse(const char *uri, char id[UUID_STR_LEN])
{
	static const struct {
		const char *prefix;
		enum relay_path path;
	} paths[] = {
		{ RELAY_CONNECT_PREFIX, RELAY_PATH_CONNECT },
		{ RELAY_STREAM_PREFIX, RELAY_PATH_STREAM },
	};

	if (!uri)
		return RELAY_PATH_OTHER;
	for (size_t i = 0; i < ARRAY_LEN(paths); i++) {
		size_t n = strlen(paths[i].prefix);
		if (strncmp(uri, paths[i].prefix, n) != 0)
			continue;
		return take_id(uri + n, id) == 0 ? paths[i].path : RELAY_PATH_BAD_ID;
	}
	return RELAY_PATH_OTHER;
}

int relay_target_parse(const char *const *args, int n, enum relay_target *out)
{
	enum relay_target target = RELAY_TARGET_SSH;
	int seen = 0;

	for (int i = 0; i < n; i++) {
		const char *a = args[i];
		if (!a || strncmp(a, "target=", 7) != 0)
			continue;
		if (seen++)
			return -1;
		if (strcmp(a + 7, "ssh") == 0)
			target = RELAY_TARGET_SSH;
		else if (strcmp(a + 7, "web") == 0)
			target = RELAY_TARGET_WEB;
		else
			return -1;
	}
	*out = target;
	return 0;
}

const char *relay_target_name(enum relay_target target)
{
	return target == RELAY_TARGET_WEB ? "web" : "ssh";
}
