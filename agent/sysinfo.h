/* sysinfo.h: the facts the agent reports in its hello (host name, OS, architecture,
 * agent version), cleaned so they always pass the protocol's field checks. */
#ifndef KAIDEN_AGENT_SYSINFO_H
#define KAIDEN_AGENT_SYSINFO_H

#include <stddef.h>

#define AGENT_VERSION "0.1.0"

struct sysinfo_facts {
	char hostname[256]; /* gethostname(), or "unknown" */
	char os[257];       /* "Debian GNU/Linux 12 (bookworm); Linux 6.1.0-18-amd64" */
	char arch[65];      /* uname -m, e.g. "x86_64" */
	const char *agent_version; /* static */
};

/* Fills facts from this machine. Every string is non-empty printable ASCII. */
void sysinfo_get(struct sysinfo_facts *facts);

/* Keeps printable ASCII and turns every other byte into '?', in place: the protocol
 * refuses control characters and the receiver's UTF-8 check would refuse stray bytes
 * (a string cut short in the middle of a character). */
void sysinfo_clean(char *s);

/* PRETTY_NAME from an os-release file into out (cleaned): 0, or -1 when the file or the
 * key is missing (out untouched). Exposed for tests. */
int sysinfo_os_release(const char *path, char *out, size_t outlen);

#endif
