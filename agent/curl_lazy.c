/* curl_lazy.c: see curl_lazy.h. */
#include "curl_lazy.h"

#include <dlfcn.h>
#include <stdio.h>
#include <string.h>

/* The soname of libcurl's ABI 4 (every libcurl since 7.16). */
#define CURL_SONAME "libcurl.so.4"

struct curl_lazy curl_lazy;

static int loaded;


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
		{ "curl_global_init", offsetof(struct curl_lazy, global_init) },
		{ "curl_global_cleanup", offsetof(struct curl_lazy, global_cleanup) },
		{ "curl_url", offsetof(struct curl_lazy, url) },
		{ "curl_url_set", offsetof(struct curl_lazy, url_set) },
		{ "curl_url_get", offsetof(struct curl_lazy, url_get) },
		{ "curl_url_cleanup", offsetof(struct curl_lazy, url_cleanup) },
		{ "curl_free", offsetof(struct curl_lazy, free) },
	};
	struct curl_lazy table;
	void *lib;

	if (loaded)
		return 0;
	lib = dlopen(CURL_SONAME, RTLD_NOW | RTLD_LOCAL);
	if (!lib) {
		snprintf(err, errlen, "cannot load %s (install libcurl4): %s", CURL_SONAME, dlerror());
		return -1;
	}
	if (resolve(lib, fns, ARRAY_LEN(fns), &table, err, errlen) != 0) {
		dlclose(lib);
		return -1;
	}
	if (table.global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
		snprintf(err, errlen, "curl_global_init failed");
		dlclose(lib);
		return -1;
	}
	/* Never closed: see curl_lazy.h. */
	curl_lazy = table;
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
