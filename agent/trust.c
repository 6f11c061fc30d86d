/* trust.c: see trust.h. */
#include "trust.h"

#include <dirent.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <openssl/x509_vfy.h>

#include "log.h"
#include "wsc.h"

static const char *trust_dir;   /* asked for by trust_use_dir */
static int trust_installed;     /* the callback put it in the SSL_CTX */

int trust_dir_has_links(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	int found = 0;

	if (!d)
		return 0;
	while (!found && (e = readdir(d))) {
		const char *n = e->d_name;
		found = strlen(n) == 10 && strspn(n, "0123456789abcdef") == 8 && n[8] == '.' &&
		        n[9] >= '0' && n[9] <= '9';
	}
	closedir(d);
	return found;
}

const char *trust_system_dir(void)
{
	const char *dir = getenv(X509_get_default_cert_dir_env());

	if (!dir || !*dir)
		dir = X509_get_default_cert_dir();
	return dir && *dir && trust_dir_has_links(dir) ? dir : NULL;
}

void trust_use_dir(const char *dir)
{
	trust_dir = dir;
	trust_installed = 0;
}

int trust_status(void)
{
	return trust_dir && !trust_installed ? -1 : 0;
}

/* A store that looks certificates up in dir, by subject hash, when a chain needs them. */
static X509_STORE *dir_store(const char *dir)
{
	X509_STORE *st = X509_STORE_new();
	X509_LOOKUP *lookup = st ? X509_STORE_add_lookup(st, X509_LOOKUP_hash_dir()) : NULL;

	if (!lookup || !X509_LOOKUP_add_dir(lookup, dir, X509_FILETYPE_PEM)) {
		X509_STORE_free(st);
		return NULL;
	}
	return st;
}

static int callback(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in,
                    size_t len)
{
	X509_STORE *st;

	(void)wsi;
	(void)in;
	(void)len;
	if (reason != LWS_CALLBACK_OPENSSL_LOAD_EXTRA_CLIENT_VERIFY_CERTS || !user)
		return 0;
	/* The relay's data sockets do their own TLS on this context (wsc.h). */
	wsc_tls_offer(user);
	if (!trust_dir)
		return 0;
	st = dir_store(trust_dir);
	if (!st) {
		log_error("ca_dir=%s cannot set up the CA directory", trust_dir);
		return 1;
	}
	/* Frees the store lws filled: only the directory is trusted. */
	SSL_CTX_set_cert_store((SSL_CTX *)user, st);
	trust_installed = 1;
	return 0;
}

const struct lws_protocols trust_protocol = {
	.name = "kaiden-trust",
	.callback = callback,
};
