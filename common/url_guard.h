/* url_guard.h: the server-side request forgery guard for a webhook's target URL.
 *
 * url_guard_check parses the URL with libcurl's URL API (the same parser the delivery's
 * curl uses, so both agree on what the host is), then:
 * - the scheme must be https; http only with URL_GUARD_ALLOW_LOOPBACK (tests);
 * - no userinfo (user, password or login options): a secret in a URL ends up in logs;
 * - a host, no IPv6 zone id, a port from 1 to 65535 (default 443/80);
 * - the host is resolved (getaddrinfo, every family) and refused when ANY of its
 *   addresses is not a public unicast one (url_guard_classify): loopback, private,
 *   link-local, carrier-grade NAT, unspecified, multicast, broadcast, reserved and
 *   documentation ranges, and IPv6 forms that embed such an IPv4 address (mapped,
 *   compatible, NAT64 64:ff9b::/96, 6to4 2002::/16). One bad address is enough: curl
 *   may try any of them. URL_GUARD_ALLOW_LOOPBACK lets loopback through (127/8, ::1 and
 *   their mapped forms), nothing else.
 *
 * Curl's parser normalises odd host spellings first (0x7f000001, 2130706433, 127.1,
 * 0177.0.0.1 and %-escapes all become 127.0.0.1), and getaddrinfo would read them the
 * same way, so neither spelling slips past the check.
 *
 * PINNING (DNS rebinding): a name checked now may resolve elsewhere a second later. The
 * delivery must therefore connect to the address checked here and never resolve again:
 *     curl_easy_setopt(h, CURLOPT_URL, target.url);          normalised URL, below
 *     slist = curl_slist_append(NULL, target.resolve);      "host:port:address"
 *     curl_easy_setopt(h, CURLOPT_RESOLVE, slist);
 *     curl_easy_setopt(h, CURLOPT_FOLLOWLOCATION, 0L);      never follow redirects
 *     curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "https");  (plus "http" for tests)
 * and check the URL again (a fresh url_guard_check) at every delivery attempt, not only
 * when the webhook is saved. TLS still verifies the certificate against the host name, so
 * pinning does not weaken it. For a literal address in the URL curl does not resolve at
 * all; target.resolve is then empty and needs no CURLOPT_RESOLVE.
 *
 * getaddrinfo blocks for as long as the system resolver takes (resolv.conf's timeout and
 * attempts): call it where blocking is acceptable (a helperd worker, an API request that
 * creates or edits a webhook), never from helperd's event loop. */
#ifndef KAIDEN_URL_GUARD_H
#define KAIDEN_URL_GUARD_H

#include <netinet/in.h>
#include <stddef.h>
#include <sys/socket.h>
#include "compat.h"

#define URL_GUARD_URL_MAX 2048
#define URL_GUARD_HOST_MAX 254     /* 253 + NUL */
#define URL_GUARD_ADDR_MAX 48      /* INET6_ADDRSTRLEN + brackets */
#define URL_GUARD_RESOLVE_MAX (URL_GUARD_HOST_MAX + 7 + URL_GUARD_ADDR_MAX)
#define URL_GUARD_WHY_MAX 256

/* Flags of url_guard_check. */
#define URL_GUARD_ALLOW_LOOPBACK 1 /* webhooks.allow_loopback: http and loopback, for tests */

enum url_guard_rc {
	URL_GUARD_OK = 0,
	URL_GUARD_MALFORMED,   /* not a URL curl can parse, or too long */
	URL_GUARD_SCHEME,      /* not https (or http when allowed) */
	URL_GUARD_USERINFO,    /* user, password or login options present */
	URL_GUARD_HOST,        /* no host, a zone id, or a host name too long */
	URL_GUARD_PORT,        /* port 0 */
	URL_GUARD_RESOLVE,     /* the name does not resolve */
	URL_GUARD_FORBIDDEN,   /* an address is not public */
};

/* What kind of address: only URL_GUARD_PUBLIC may be a webhook's target. */
enum url_guard_class {
	URL_GUARD_PUBLIC = 0,
	URL_GUARD_LOOPBACK,
	URL_GUARD_PRIVATE,     /* 10/8, 172.16/12, 192.168/16, fc00::/7, fec0::/10 */
	URL_GUARD_LINK_LOCAL,  /* 169.254/16, fe80::/10 */
	URL_GUARD_CGNAT,       /* 100.64/10 */
	URL_GUARD_UNSPECIFIED, /* 0.0.0.0/8, :: */
	URL_GUARD_MULTICAST,   /* 224/4, ff00::/8 */
	URL_GUARD_RESERVED,    /* 240/4 and broadcast, 192.0.0/24, 198.18/15, documentation
	                        * ranges, 100::/64, 2001:db8::/32, Teredo, unknown families */
};

/* A URL that passed: everything the delivery needs (see PINNING above). */
struct url_guard_target {
	char url[URL_GUARD_URL_MAX];          /* normalised by curl: deliver to this one */
	char host[URL_GUARD_HOST_MAX];        /* lowercase, no trailing dot, no brackets */
	int port;
	char addr[URL_GUARD_ADDR_MAX];        /* the pinned address, e.g. "203.0.113.7" */
	char resolve[URL_GUARD_RESOLVE_MAX];  /* "host:port:addr" ("[v6]"), "" for literals */
};

/* Checks url with flags (URL_GUARD_ALLOW_LOOPBACK or 0). On URL_GUARD_OK fills *out; on
 * a refusal writes a sentence a person can act on into why (always NUL-terminated,
 * e.g. "the host resolves to 10.0.0.5, a private address") and leaves *out untouched.
 * out and why may not be NULL. Returns an enum url_guard_rc. */
int url_guard_check(const char *url, int flags, struct url_guard_target *out,
                    char why[URL_GUARD_WHY_MAX]) WUR;

/* The class of an AF_INET or AF_INET6 address (others: URL_GUARD_RESERVED). */
int url_guard_classify(const struct sockaddr *sa) WUR;

/* "a private address", "a loopback address", ... for an enum url_guard_class (static). */
const char *url_guard_class_name(int cls);

#endif
