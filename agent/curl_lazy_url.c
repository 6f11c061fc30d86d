/* curl_lazy_url.c: libcurl's URL API (curl_url, curl_url_set, curl_url_get,
 * curl_url_cleanup, curl_free) under its own names, for common/k8s_source.c in
 * kaiden-agent, which is not linked with libcurl (curl_lazy.h). Each forwards to the
 * library curl_lazy_load opened, and until then fails as libcurl does when out of memory.
 *
 * Linked into kaiden-agent alone (the GNUmakefile keeps it out of libagent.a): in a
 * program linked with libcurl these would replace libcurl's own functions. The
 * executable does not export them (nothing linked at build time asks for them), so
 * libcurl's internal calls are never bound to these. */
#include "curl_lazy.h"

CURLU *curl_url(void)
{
	return curl_lazy_loaded() ? curl_lazy.url() : NULL;
}

CURLUcode curl_url_set(CURLU *u, CURLUPart what, const char *part, unsigned int flags)
{
	return curl_lazy_loaded() ? curl_lazy.url_set(u, what, part, flags) : CURLUE_OUT_OF_MEMORY;
}

CURLUcode curl_url_get(CURLU *u, CURLUPart what, char **part, unsigned int flags)
{
	return curl_lazy_loaded() ? curl_lazy.url_get(u, what, part, flags) : CURLUE_OUT_OF_MEMORY;
}

void curl_url_cleanup(CURLU *u)
{
	if (curl_lazy_loaded())
		curl_lazy.url_cleanup(u);
}

void curl_free(void *p)
{
	if (curl_lazy_loaded())
		curl_lazy.free(p);
}
