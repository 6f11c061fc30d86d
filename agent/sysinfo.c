/* sysinfo.c: host name, OS (os-release PRETTY_NAME + kernel), architecture. */
#include "sysinfo.h"

#include <stdio.h>
#include <string.h>
#include <sys/utsname.h>
#include <unistd.h>

void sysinfo_clean(char *s)
{
	for (; *s; s++)
		if ((unsigned char)*s < 0x20 || (unsigned char)*s > 0x7e)
			*s = '?';
}

static void copy_or(char *out, size_t outlen, const char *value, const char *fallback)
{
	snprintf(out, outlen, "%s", value && *value ? value : fallback);
	sysinfo_clean(out);
	if (!*out)
		snprintf(out, outlen, "%s", fallback);
}

/* os-release values are shell-quoted: "..." with \-escapes, '...', or bare words. */
static void unquote(const char *in, char *out, size_t outlen)
{
	size_t n = 0;
	char quote = 0;

	if (*in == '"' || *in == '\'')
		quote = *in++;
	for (; *in && *in != '\n' && n + 1 < outlen; in++) {
		if (quote && *in == quote)
			break;
		if (quote == '"' && *in == '\\' && in[1] && in[1] != '\n')
			in++;
		out[n++] = *in;
	}
	out[n] = '\0';
}

int sysinfo_os_release(const char *path, char *out, size_t outlen)
{
	FILE *f = fopen(path, "re");
	char line[512];
	int rc = -1;

	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f)) {
		if (strncmp(line, "PRETTY_NAME=", 12) == 0) {
			char value[300];
			unquote(line + 12, value, sizeof(value));
			if (*value) {
				copy_or(out, outlen, value, "Linux");
				rc = 0;
			}
			break;
		}
	}
	fclose(f);
	return rc;
}

void sysinfo_get(struct sysinfo_facts *facts)
{
	struct utsname u;
	char host[256] = "";
	char pretty[200] = "";
	int have_uname = uname(&u) == 0;

	if (gethostname(host, sizeof(host) - 1) != 0)
		host[0] = '\0';
	copy_or(facts->hostname, sizeof(facts->hostname), host, "unknown");

	if (sysinfo_os_release("/etc/os-release", pretty, sizeof(pretty)) != 0 &&
	    sysinfo_os_release("/usr/lib/os-release", pretty, sizeof(pretty)) != 0)
		snprintf(pretty, sizeof(pretty), "%s", have_uname ? u.sysname : "Linux");
	if (have_uname)
		snprintf(facts->os, sizeof(facts->os), "%s; %s %s", pretty, u.sysname, u.release);
	else
		snprintf(facts->os, sizeof(facts->os), "%s", pretty);
	sysinfo_clean(facts->os);

	copy_or(facts->arch, sizeof(facts->arch), have_uname ? u.machine : NULL, "unknown");
	facts->agent_version = AGENT_VERSION;
}
