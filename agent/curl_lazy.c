/* curl_lazy.c: see curl_lazy.h. Also the URL API common/k8s_source.c calls (curl_url,
 * curl_url_set, curl_url_get, curl_url_cleanup, curl_free), defined here under libcurl's
 * own names so that the agent links without libcurl: each forwards to the loaded library,
 * and fails as libcurl does when out of memory until it is loaded. The executable does
 * not export them (nothing linked at build time asks for them), so libcurl's own calls
 * are never bound to these. */
#include "curl_lazy.h"

#include <dlfcn.h>
#include <stdio.h>
#include <string.h>

/* The soname of libcurl's ABI 4 (every libcurl since 7.16). */
#define CURL_SONAME "libcurl.so.4"

struct curl_lazy curl_lazy;

static int loaded;

/* libcurl's URL API, for the definitions at the end of this file, and its global set-up. */
static struct url_api {
	CURLU *(*url)(void);
	CURLUcode (*url_set)(CURLU *u, CURLUPart what, const char *part, unsigned int flags);
	CURLUcode (*url_get)(CURLU *u, CURLUPart what, char **part, unsigned int flags);
	void (*url_cleanup)(CURLU *u);
	void (*free)(void *p);
	CURLcode (*global_init)(long flags);
} url_api;

/* A function of the library and where its address goes in a table. */
struct lazy_fn {
	const char *name;
	size_t offset;
};

/* Fills table with the n functions of fns from lib: 0, or -1 with err. */
static int resolve(void *lib, const struct lazy_fn *fns, size_t n, void *table, char *err,
                   size_t errlen)
{
	for (size_t i = 0; i < n; i++) {
		void *fn = dlsym(lib, fns[i].name);
		if (!fn) {
			snprintf(err, errlen, "%s has no %s", CURL_SONAME, fns[i].name);
			return -1;
		}
		/* POSIX guarantees a function's address survives the trip through void *. */
		memcpy((char *)table + fns[i].offset, &fn, sizeof(fn));
	}
	return 0;
}

int curl_lazy_load(char *err, size_t errlen)
{
	static const struct lazy_fn fns[] = {
		{ "curl_easy_init", offsetof(struct curl_lazy, easy_init) },
		{ "curl_easy_setopt", offsetof(struct curl_lazy, easy_setopt) },
		{ "curl_easy_perform", offsetof(struct curl_lazy, easy_perform) },
		{ "curl_easy_getinfo", offsetof(struct curl_lazy, easy_getinfo) },
		{ "curl_easy_cleanup", offsetof(struct curl_lazy, easy_cleanup) },
		{ "curl_easy_strerror", offsetof(struct curl_lazy, easy_strerror) },
		{ "curl_slist_append", offsetof(struct curl_lazy, slist_append) },
		{ "curl_slist_free_all", offsetof(struct curl_lazy, slist_free_all) },
		{ "curl_global_cleanup", offsetof(struct curl_lazy, global_cleanup) },
	};
	static const struct lazy_fn url_fns[] = {
		{ "curl_url", offsetof(struct url_api, url) },
		{ "curl_url_set", offsetof(struct url_api, url_set) },
		{ "curl_url_get", offsetof(struct url_api, url_get) },
		{ "curl_url_cleanup", offsetof(struct url_api, url_cleanup) },
		{ "curl_free", offsetof(struct url_api, free) },
		{ "curl_global_init", offsetof(struct url_api, global_init) },
	};
	struct curl_lazy table;
	struct url_api url_table;
	void *lib;

	if (loaded)
		return 0;
	lib = dlopen(CURL_SONAME, RTLD_NOW | RTLD_LOCAL);
	if (!lib) {
		snprintf(err, errlen, "cannot load %s (install libcurl4): %s", CURL_SONAME, dlerror());
		return -1;
	}
	if (resolve(lib, fns, ARRAY_LEN(fns), &table, err, errlen) != 0 ||
	    resolve(lib, url_fns, ARRAY_LEN(url_fns), &url_table, err, errlen) != 0) {
		dlclose(lib);
		return -1;
	}
	if (url_table.global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
		snprintf(err, errlen, "curl_global_init failed");
		dlclose(lib);
		return -1;
	}
	/* Never closed: see curl_lazy.h. */
	curl_lazy = table;
	url_api = url_table;
	loaded = 1;
	return 0;
}

int curl_lazy_loaded(void)
{
	return loaded;
}

void curl_lazy_cleanup(void)
{
	if (!loaded)
		return;
	curl_lazy.global_cleanup();
	loaded = 0;
}

/* ---- libcurl's URL API for common/k8s_source.c ---- */

CURLU *curl_url(void)
{
	return loaded ? url_api.url() : NULL;
}

CURLUcode curl_url_set(CURLU *u, CURLUPart what, const char *part, unsigned int flags)
{
	return loaded ? url_api.url_set(u, what, part, flags) : CURLUE_OUT_OF_MEMORY;
}

CURLUcode curl_url_get(CURLU *u, CURLUPart what, char **part, unsigned int flags)
{
	return loaded ? url_api.url_get(u, what, part, flags) : CURLUE_OUT_OF_MEMORY;
}

void curl_url_cleanup(CURLU *u)
{
	if (loaded)
		url_api.url_cleanup(u);
}

void curl_free(void *p)
{
	if (loaded)
		url_api.free(p);
}
