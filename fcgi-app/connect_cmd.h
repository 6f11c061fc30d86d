/* connect_cmd.h: the ready-to-copy commands a relay session's reply carries (its
 * "connect" member), so an engineer pastes one line into a POSIX shell and is in:
 *
 *   ssh   ssh -o ProxyCommand='kaiden-connect --server URL --session ID' \
 *             -o HostKeyAlias=kaiden-<device id> HOST
 *   web   kaiden-connect --server URL --session ID --target web --listen 127.0.0.1:18080
 *   token how kaiden-connect gets the token (KAIDEN_TOKEN or --token-file; never argv)
 *
 * URL is the server the engineer reaches (server.public_url, else the origin of their
 * request); an http:// URL adds --insecure. HOST is the device's hostname when it is a
 * plain host name (what ssh shows and checks; the relay ignores it), else
 * kaiden-<device id>: the hostname comes from the customer's machine, so it is never
 * trusted to be safe on the engineer's command line. HostKeyAlias keeps the machine's
 * host key under one name in known_hosts whatever the session, since every relay
 * session to it is reached the same way.
 *
 * Quoting is for a POSIX shell, twice over for the ProxyCommand: ssh hands it to
 * `sh -c` after expanding %-tokens, so its '%' are doubled and it is quoted inside, then
 * the whole option is quoted for the engineer's shell. */
#ifndef KAIDEN_CONNECT_CMD_H
#define KAIDEN_CONNECT_CMD_H

#include <json-c/json.h>
#include "buf.h"
#include "compat.h"

/* Appends s to out as one word of a POSIX shell: as it is when it is made only of
 * characters no shell treats specially ([A-Za-z0-9@%+=:,./_-], and not empty), else in
 * single quotes with each ' written '\''. 0 or -1 (out's cap). */
int connect_cmd_quote(struct buf *out, const char *s) WUR;

/* 1 when name is a host name that is safe as ssh's destination word: 1..253
 * characters of [A-Za-z0-9.-], starting with a letter or digit. */
int connect_cmd_host_ok(const char *name);

/* The connect object {"ssh","web","token"} for session_id on device_id (canonical UUIDs)
 * reached at server (an http:// or https:// URL; anything else: NULL), hostname the
 * device's (may be NULL). Owned by the caller; NULL on bad input or out of memory. */
json_object *connect_cmd_new(const char *server, const char *session_id,
                             const char *device_id, const char *hostname) WUR;

#endif
