/* connect_cmd.c: the connect commands of a relay session (connect_cmd.h). */
#include "connect_cmd.h"

#include <ctype.h>
#include <string.h>

#include "ids.h"
#include "jsonx.h"

#define CMD_MAX 8192
#define WEB_LISTEN "127.0.0.1:18080"

static int word_is_plain(const char *s)
{
	if (!*s)
		return 0;
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;
		if (!isalnum(c) && !strchr("@%+=:,./_-", c))
			return 0;
	}
	return 1;
}

int connect_cmd_quote(struct buf *out, const char *s)
{
	if (word_is_plain(s))
		return buf_puts(out, s);
	if (buf_puts(out, "'") < 0)
		return -1;
	for (const char *p = s; *p; p++) {
		if (*p == '\'' ? buf_puts(out, "'\\''") < 0 : buf_append(out, p, 1) < 0)
			return -1;
	}
	return buf_puts(out, "'");
}

int connect_cmd_host_ok(const char *name)
{
	size_t n = name ? strlen(name) : 0;

	if (n == 0 || n > 253 || !isalnum((unsigned char)name[0]))
		return 0;
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)name[i];
		if (!isalnum(c) && c != '.' && c != '-')
			return 0;
	}
	return 1;
}

/* "kaiden-connect --server URL [--insecure] --session ID" into out, quoted for sh. */
static int base_command(struct buf *out, const char *server, int insecure,
                        const char *session_id)
{
	if (buf_puts(out, "kaiden-connect --server ") < 0 || connect_cmd_quote(out, server) < 0)
		return -1;
	if (insecure && buf_puts(out, " --insecure") < 0)
		return -1;
	return buf_puts(out, " --session ") < 0 || connect_cmd_quote(out, session_id) < 0 ? -1 : 0;
}

/* ssh expands %-tokens (%h, %p, %r, ...) in a ProxyCommand: a literal '%' is "%%". */
static int percent_escaped(struct buf *out, const char *s)
{
	for (; *s; s++)
		if (buf_append(out, s, 1) < 0 || (*s == '%' && buf_append(out, s, 1) < 0))
			return -1;
	return 0;
}

static int ssh_command(struct buf *out, const char *server, int insecure,
                       const char *session_id, const char *device_id, const char *hostname)
{
	struct buf proxy, escaped;
	int rc = -1;

	buf_init(&proxy, CMD_MAX);
	buf_init(&escaped, CMD_MAX);
	if (base_command(&proxy, server, insecure, session_id) < 0 ||
	    percent_escaped(&escaped, proxy.data) < 0)
		goto out;
	if (buf_puts(out, "ssh -o ProxyCommand=") < 0 || connect_cmd_quote(out, escaped.data) < 0 ||
	    buf_printf(out, " -o HostKeyAlias=kaiden-%s ", device_id) < 0)
		goto out;
	if (connect_cmd_host_ok(hostname))
		rc = buf_puts(out, hostname);
	else
		rc = buf_printf(out, "kaiden-%s", device_id);
out:
	buf_clear(&proxy);
	buf_clear(&escaped);
	return rc;
}

json_object *connect_cmd_new(const char *server, const char *session_id,
                             const char *device_id, const char *hostname)
{
	struct buf ssh, web;
	json_object *connect = NULL;
	int insecure;

	if (!server || !ids_is_uuid(session_id) || !ids_is_uuid(device_id))
		return NULL;
	if (strncmp(server, "https://", 8) == 0 && server[8])
		insecure = 0;
	else if (strncmp(server, "http://", 7) == 0 && server[7])
		insecure = 1;
	else
		return NULL;
	buf_init(&ssh, CMD_MAX);
	buf_init(&web, CMD_MAX);
	if (ssh_command(&ssh, server, insecure, session_id, device_id, hostname) < 0 ||
	    base_command(&web, server, insecure, session_id) < 0 ||
	    buf_puts(&web, " --target web --listen " WEB_LISTEN) < 0)
		goto out;
	connect = json_object_new_object();
	if (!connect)
		goto out;
	jsonx_add_str(connect, "ssh", ssh.data);
	jsonx_add_str(connect, "web", web.data);
	jsonx_add_str(connect, "token",
	              "kaiden-connect reads your API token or login token from KAIDEN_TOKEN "
	              "(or --token-file FILE): set it first, e.g. export KAIDEN_TOKEN=kdn_...");
out:
	buf_clear(&ssh);
	buf_clear(&web);
	return connect;
}
