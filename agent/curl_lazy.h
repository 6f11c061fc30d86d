/* curl_lazy.h: libcurl, loaded only by an agent that needs it (cluster mode's Kubernetes
 * API reader, k8s_node.c).
 *
 * kaiden-agent is not linked with libcurl: the distribution's libcurl pulls in some 25
 * more libraries (GnuTLS, p11-kit, Kerberos, LDAP, SSH, ...) whose code and relocations
 * cost a device's agent about 4 MiB of resident memory for nothing (docs/benchmarks.md,
 * "The agent's footprint"). curl_lazy_load opens libcurl.so.4 with dlopen and fills
 * curl_lazy with the few functions k8s_node.c calls; callers use curl.h's types and
 * constants as usual and call through the table.
 *
 * common/k8s_source.c (shared with helperd) calls libcurl's URL API by its own names:
 * curl_lazy_url.c defines them, forwarding through this table, and is linked into
 * kaiden-agent only, never into libagent.a, where it would take the place of the real
 * libcurl in every test program that links both.
 *
 * Rules: load once, from the main thread, before any thread uses libcurl (it runs
 * curl_global_init). The library stays mapped until exit (dlclose would run its and its
 * dependencies' destructors while OpenSSL is shared with libwebsockets). */
#ifndef KAIDEN_AGENT_CURL_LAZY_H
#define KAIDEN_AGENT_CURL_LAZY_H

#include <stddef.h>

#include <curl/curl.h>

#include "compat.h"

struct curl_lazy {
	CURL *(*easy_init)(void);
	CURLcode (*easy_setopt)(CURL *h, CURLoption option, ...);
	CURLcode (*easy_perform)(CURL *h);
	CURLcode (*easy_getinfo)(CURL *h, CURLINFO info, ...);
	void (*easy_cleanup)(CURL *h);
	const char *(*easy_strerror)(CURLcode code);
	struct curl_slist *(*slist_append)(struct curl_slist *list, const char *text);
	void (*slist_free_all)(struct curl_slist *list);
	CURLcode (*global_init)(long flags);
	void (*global_cleanup)(void);
	/* the URL API, for curl_lazy_url.c */
	CURLU *(*url)(void);
	CURLUcode (*url_set)(CURLU *u, CURLUPart what, const char *part, unsigned int flags);
	CURLUcode (*url_get)(CURLU *u, CURLUPart what, char **part, unsigned int flags);
	void (*url_cleanup)(CURLU *u);
	void (*free)(void *p);
};

/* The table; every member NULL until curl_lazy_load succeeded. Borrowed. */
extern struct curl_lazy curl_lazy;

/* Opens libcurl and runs curl_global_init(CURL_GLOBAL_DEFAULT): 0 (also when already
 * loaded), or -1 with a reason in err (the library or a function missing). */
int curl_lazy_load(char *err, size_t errlen) WUR;

/* 1 once curl_lazy_load succeeded. */
int curl_lazy_loaded(void);

/* curl_global_cleanup, if loaded. The table stays usable only after another load. */
void curl_lazy_cleanup(void);

#endif
