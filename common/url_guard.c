/* url_guard.c: a webhook target must be a public https address (rules and the reasons
 * for pinning are in url_guard.h). Curl parses, getaddrinfo resolves, and every address
 * is classified by the tables of special-purpose ranges below (IANA's IPv4 and IPv6
 * special-purpose address registries, the parts that matter for outgoing requests). */
#include "url_guard.h"

#include <arpa/inet.h>
#include <curl/curl.h>
#include <netdb.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

static const char *const class_names[] = {
	[URL_GUARD_PUBLIC] = "a public address",
	[URL_GUARD_LOOPBACK] = "a loopback address",
	[URL_GUARD_PRIVATE] = "a private address",
	[URL_GUARD_LINK_LOCAL] = "a link-local address",
	[URL_GUARD_CGNAT] = "a carrier-grade NAT address",
	[URL_GUARD_UNSPECIFIED] = "an unspecified address",
	[URL_GUARD_MULTICAST] = "a multicast address",
	[URL_GUARD_RESERVED] = "a reserved address",
};

const char *url_guard_class_name(int cls)
{
	if (cls < 0 || cls > URL_GUARD_RESERVED)
		return "an unknown kind of address";
	return class_names[cls];
}

/* IPv4 ranges that are not public, most specific first where they nest. */
static const struct {
	uint32_t net;
	int bits;
	int cls;
} v4_ranges[] = {
	{ 0x00000000, 8, URL_GUARD_UNSPECIFIED },  /* 0.0.0.0/8 "this network" */
	{ 0x7f000000, 8, URL_GUARD_LOOPBACK },     /* 127.0.0.0/8 */
	{ 0x0a000000, 8, URL_GUARD_PRIVATE },      /* 10.0.0.0/8 */
	{ 0xac100000, 12, URL_GUARD_PRIVATE },     /* 172.16.0.0/12 */
	{ 0xc0a80000, 16, URL_GUARD_PRIVATE },     /* 192.168.0.0/16 */
	{ 0xa9fe0000, 16, URL_GUARD_LINK_LOCAL },  /* 169.254.0.0/16 (cloud metadata too) */
	{ 0x64400000, 10, URL_GUARD_CGNAT },       /* 100.64.0.0/10 */
	{ 0xe0000000, 4, URL_GUARD_MULTICAST },    /* 224.0.0.0/4 */
	{ 0xf0000000, 4, URL_GUARD_RESERVED },     /* 240.0.0.0/4, 255.255.255.255 */
	{ 0xc0000000, 24, URL_GUARD_RESERVED },    /* 192.0.0.0/24 protocol assignments */
	{ 0xc0000200, 24, URL_GUARD_RESERVED },    /* 192.0.2.0/24 TEST-NET-1 */
	{ 0xc0586300, 24, URL_GUARD_RESERVED },    /* 192.88.99.0/24 6to4 relay */
	{ 0xc6120000, 15, URL_GUARD_RESERVED },    /* 198.18.0.0/15 benchmarking */
	{ 0xc6336400, 24, URL_GUARD_RESERVED },    /* 198.51.100.0/24 TEST-NET-2 */
	{ 0xcb007100, 24, URL_GUARD_RESERVED },    /* 203.0.113.0/24 TEST-NET-3 */
};

static int classify_v4(const unsigned char b[4])
{
	uint32_t a = (uint32_t)b[0] << 24 | (uint32_t)b[1] << 16 | (uint32_t)b[2] << 8 | b[3];
	size_t i;

	for (i = 0; i < ARRAY_LEN(v4_ranges); i++) {
		uint32_t mask = 0xffffffffu << (32 - v4_ranges[i].bits);

		if ((a & mask) == v4_ranges[i].net)
			return v4_ranges[i].cls;
	}
	return URL_GUARD_PUBLIC;
}

/* An IPv4 address reached through a translation prefix (NAT64, 6to4) is judged by the
 * IPv4 address, but it is never the local machine: loopback there is just "reserved". */
static int classify_embedded(const unsigned char b[4])
{
	int cls = classify_v4(b);

	return cls == URL_GUARD_LOOPBACK ? URL_GUARD_RESERVED : cls;
}

static int classify_v6(const unsigned char b[16])
{
	static const unsigned char zero[16];
	static const unsigned char mapped[12] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff };
	static const unsigned char nat64[12] = { 0, 0x64, 0xff, 0x9b };

	if (memcmp(b, zero, 16) == 0)
		return URL_GUARD_UNSPECIFIED;
	if (memcmp(b, zero, 15) == 0 && b[15] == 1)
		return URL_GUARD_LOOPBACK;
	if (memcmp(b, mapped, 12) == 0)            /* ::ffff:0:0/96: the IPv4 address itself */
		return classify_v4(b + 12);
	if (memcmp(b, zero, 12) == 0)              /* ::/96 IPv4-compatible, deprecated */
		return URL_GUARD_RESERVED;
	if (memcmp(b, nat64, 12) == 0)             /* 64:ff9b::/96 */
		return classify_embedded(b + 12);
	if (b[0] == 0x20 && b[1] == 0x02)          /* 2002::/16 6to4 */
		return classify_embedded(b + 2);
	if (b[0] == 0xff)
		return URL_GUARD_MULTICAST;
	if ((b[0] & 0xfe) == 0xfc)                 /* fc00::/7 unique local */
		return URL_GUARD_PRIVATE;
	if (b[0] == 0xfe && (b[1] & 0xc0) == 0x80) /* fe80::/10 */
		return URL_GUARD_LINK_LOCAL;
	if (b[0] == 0xfe && (b[1] & 0xc0) == 0xc0) /* fec0::/10 site-local, deprecated */
		return URL_GUARD_PRIVATE;
	if (b[0] == 0x20 && b[1] == 0x01 && b[2] == 0x0d && b[3] == 0xb8) /* 2001:db8::/32 */
		return URL_GUARD_RESERVED;
	if (b[0] == 0x20 && b[1] == 0x01 && b[2] == 0 && b[3] == 0)       /* 2001::/32 Teredo */
		return URL_GUARD_RESERVED;
	if ((b[0] & 0xe0) != 0x20)                 /* outside 2000::/3 global unicast */
		return URL_GUARD_RESERVED;
	return URL_GUARD_PUBLIC;
}

int url_guard_classify(const struct sockaddr *sa)
{
	if (!sa)
		return URL_GUARD_RESERVED;
	if (sa->sa_family == AF_INET)
		return classify_v4((const unsigned char *)&((const struct sockaddr_in *)sa)->sin_addr);
	if (sa->sa_family == AF_INET6)
		return classify_v6(((const struct sockaddr_in6 *)sa)->sin6_addr.s6_addr);
	return URL_GUARD_RESERVED;
}

static int refuse(char why[URL_GUARD_WHY_MAX], int rc, const char *fmt, ...) PRINTF_LIKE(3, 4);

static int refuse(char why[URL_GUARD_WHY_MAX], int rc, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(why, URL_GUARD_WHY_MAX, fmt, ap);
	va_end(ap);
	return rc;
}

/* 1 when curl has a non-empty value for part. */
static int has_part(CURLU *u, CURLUPart part)
{
	char *v = NULL;
	int has = curl_url_get(u, part, &v, 0) == CURLUE_OK && v && *v;

	curl_free(v);
	return has;
}

/* The address of ai as text into out (IPv6 in brackets when bracket). */
static void addr_text(const struct addrinfo *ai, int bracket, char out[URL_GUARD_ADDR_MAX])
{
	char t[INET6_ADDRSTRLEN] = "?";

	if (ai->ai_family == AF_INET)
		inet_ntop(AF_INET, &((const struct sockaddr_in *)ai->ai_addr)->sin_addr, t, sizeof(t));
	else if (ai->ai_family == AF_INET6)
		inet_ntop(AF_INET6, &((const struct sockaddr_in6 *)ai->ai_addr)->sin6_addr, t,
		          sizeof(t));
	snprintf(out, URL_GUARD_ADDR_MAX, bracket && ai->ai_family == AF_INET6 ? "[%s]" : "%s",
	         t);
}

/* Host name checks and normalisation of curl's host text into out; 0 or a refusal. */
static int host_normalise(const char *raw, char out[URL_GUARD_HOST_MAX], int *literal,
                          char why[URL_GUARD_WHY_MAX])
{
	size_t len = strlen(raw), i;
	unsigned char bin[16];

	if (raw[0] == '[') {
		if (len < 3 || raw[len - 1] != ']' || len - 2 >= URL_GUARD_HOST_MAX)
			return refuse(why, URL_GUARD_HOST, "the URL's host is not a valid address");
		memcpy(out, raw + 1, len - 2);
		out[len - 2] = '\0';
		*literal = 1;
		return URL_GUARD_OK;
	}
	if (len > 1 && raw[len - 1] == '.')  /* "example.com." is example.com */
		len--;
	if (len == 0 || raw[len - 1] == '.')
		return refuse(why, URL_GUARD_HOST, "the URL has no host");
	if (len >= URL_GUARD_HOST_MAX)
		return refuse(why, URL_GUARD_HOST, "the URL's host name is longer than 253 characters");
	for (i = 0; i < len; i++)
		out[i] = (raw[i] >= 'A' && raw[i] <= 'Z') ? (char)(raw[i] + 32) : raw[i];
	out[len] = '\0';
	*literal = inet_pton(AF_INET, out, bin) == 1;
	return URL_GUARD_OK;
}

int url_guard_check(const char *url, int flags, struct url_guard_target *out,
                    char why[URL_GUARD_WHY_MAX])
{
	int allow_loopback = (flags & URL_GUARD_ALLOW_LOOPBACK) != 0;
	struct url_guard_target t;
	struct addrinfo hints, *res = NULL, *ai;
	CURLU *u = NULL;
	CURLUcode uc;
	char *scheme = NULL, *host = NULL, *port = NULL, *norm = NULL;
	int literal = 0, rc;
	long port_num;

	why[0] = '\0';
	memset(&t, 0, sizeof(t));
	if (!url || !*url)
		return refuse(why, URL_GUARD_MALFORMED, "the URL is empty");
	if (strnlen(url, URL_GUARD_URL_MAX) >= URL_GUARD_URL_MAX)
		return refuse(why, URL_GUARD_MALFORMED, "the URL is longer than %d characters",
		              URL_GUARD_URL_MAX - 1);
	u = curl_url();
	if (!u)
		return refuse(why, URL_GUARD_MALFORMED, "the URL could not be checked (out of memory)");
	/* Unknown schemes parse too, so that they get the clear "must be https" below. */
	uc = curl_url_set(u, CURLUPART_URL, url, CURLU_NON_SUPPORT_SCHEME);
	if (uc != CURLUE_OK) {
		rc = refuse(why, URL_GUARD_MALFORMED, "the URL is not valid (%s)", curl_url_strerror(uc));
		goto out;
	}
	if (curl_url_get(u, CURLUPART_SCHEME, &scheme, 0) != CURLUE_OK || !scheme ||
	    !(strcasecmp(scheme, "https") == 0 ||
	      (allow_loopback && strcasecmp(scheme, "http") == 0))) {
		rc = refuse(why, URL_GUARD_SCHEME, allow_loopback ?
		            "the URL must start with https:// or http://" :
		            "the URL must start with https://");
		goto out;
	}
	if (has_part(u, CURLUPART_USER) || has_part(u, CURLUPART_PASSWORD) ||
	    has_part(u, CURLUPART_OPTIONS)) {
		rc = refuse(why, URL_GUARD_USERINFO,
		            "the URL must not contain a user name or password (before an @)");
		goto out;
	}
	if (curl_url_get(u, CURLUPART_HOST, &host, 0) != CURLUE_OK || !host || !*host) {
		rc = refuse(why, URL_GUARD_HOST, "the URL has no host");
		goto out;
	}
	if (has_part(u, CURLUPART_ZONEID)) {
		rc = refuse(why, URL_GUARD_HOST, "the URL's host must not name a network interface "
		            "(an IPv6 zone id)");
		goto out;
	}
	rc = host_normalise(host, t.host, &literal, why);
	if (rc != URL_GUARD_OK)
		goto out;
	if (host[0] != '[' && strcmp(host, t.host) != 0 &&
	    curl_url_set(u, CURLUPART_HOST, t.host, 0) != CURLUE_OK) {
		rc = refuse(why, URL_GUARD_HOST, "the URL's host is not valid");
		goto out;
	}
	if (curl_url_get(u, CURLUPART_PORT, &port, CURLU_DEFAULT_PORT) != CURLUE_OK || !port ||
	    sscanf(port, "%ld", &port_num) != 1 || port_num < 1 || port_num > 65535) {
		rc = refuse(why, URL_GUARD_PORT, "the URL's port must be from 1 to 65535");
		goto out;
	}
	t.port = (int)port_num;

	memset(&hints, 0, sizeof(hints));
	hints.ai_family = AF_UNSPEC;      /* every family: each address must pass */
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = literal ? AI_NUMERICHOST : 0;
	if (getaddrinfo(t.host, NULL, &hints, &res) != 0 || !res) {
		rc = refuse(why, URL_GUARD_RESOLVE, "the host %.100s does not resolve to an address",
		            t.host);
		goto out;
	}
	for (ai = res; ai; ai = ai->ai_next) {
		int cls = url_guard_classify(ai->ai_addr);

		if (cls == URL_GUARD_PUBLIC || (allow_loopback && cls == URL_GUARD_LOOPBACK))
			continue;
		addr_text(ai, 0, t.addr);
		if (literal)
			rc = refuse(why, URL_GUARD_FORBIDDEN, "the URL's address %s is %s: webhooks may "
			            "only call public addresses", t.addr, url_guard_class_name(cls));
		else
			rc = refuse(why, URL_GUARD_FORBIDDEN, "the host %.100s resolves to %s, %s: "
			            "webhooks may only call public addresses", t.host, t.addr,
			            url_guard_class_name(cls));
		goto out;
	}
	addr_text(res, 1, t.addr);
	if (!literal)
		snprintf(t.resolve, sizeof(t.resolve), "%s:%d:%s", t.host, t.port, t.addr);
	addr_text(res, 0, t.addr);
	if (curl_url_get(u, CURLUPART_URL, &norm, 0) != CURLUE_OK || !norm ||
	    strlen(norm) >= sizeof(t.url)) {
		rc = refuse(why, URL_GUARD_MALFORMED, "the URL is longer than %d characters",
		            URL_GUARD_URL_MAX - 1);
		goto out;
	}
	memcpy(t.url, norm, strlen(norm) + 1);
	*out = t;
	rc = URL_GUARD_OK;
out:
	if (res)
		freeaddrinfo(res);
	curl_free(norm);
	curl_free(port);
	curl_free(host);
	curl_free(scheme);
	curl_url_cleanup(u);
	return rc;
}
