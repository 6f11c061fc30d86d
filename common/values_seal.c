/* values_seal.c: sealing a service's secret values (values_seal.h). */
#include "values_seal.h"

#include <errno.h>
#include <fcntl.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define SEALED_PREFIX "sv1."
#define PREFIX_LEN (sizeof(SEALED_PREFIX) - 1)
#define OVERHEAD (crypto_secretbox_NONCEBYTES + crypto_secretbox_MACBYTES)

int values_key_load(const char *path, struct values_key *key, char *err, size_t errlen)
{
	unsigned char raw[160];
	struct stat st;
	ssize_t n;
	size_t len, bin_len = 0;
	int fd, rc = -1;

	if (!path || !*path) {
		snprintf(err, errlen, "no key file is set");
		return -1;
	}
	/* O_NOFOLLOW: a link could point the key at a file someone else controls. */
	fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0) {
		snprintf(err, errlen, "cannot open the key file: %s",
		         errno == ELOOP ? "it is a symbolic link" : strerror(errno));
		return -1;
	}
	if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
		snprintf(err, errlen, "the key file is not a regular file");
		goto out;
	}
	if (st.st_mode & 077) {
		snprintf(err, errlen,
		         "the key file may be read or written by group or others (mode %03o): "
		         "chmod 600 it",
		         (unsigned)(st.st_mode & 0777));
		goto out;
	}
	n = read(fd, raw, sizeof(raw));
	if (n < 0) {
		snprintf(err, errlen, "cannot read the key file: %s", strerror(errno));
		goto out;
	}
	len = (size_t)n;
	if (len == VALUES_KEY_LEN) {
		memcpy(key->bytes, raw, VALUES_KEY_LEN);
		rc = 0;
		goto out;
	}
	if (len == 65 && raw[64] == '\n')
		len = 64;
	if (len == 64 && sodium_hex2bin(key->bytes, VALUES_KEY_LEN, (const char *)raw, 64, NULL,
	                                &bin_len, NULL) == 0 &&
	    bin_len == VALUES_KEY_LEN) {
		rc = 0;
		goto out;
	}
	snprintf(err, errlen,
	         "the key file must hold 32 bytes, or 64 hexadecimal characters (e.g. from "
	         "`openssl rand -hex 32`)");
out:
	sodium_memzero(raw, sizeof(raw));
	close(fd);
	return rc;
}

void values_key_clear(struct values_key *key)
{
	sodium_memzero(key->bytes, sizeof(key->bytes));
}

char *values_seal(const struct values_key *key, json_object *obj)
{
	const char *text;
	unsigned char *raw = NULL;
	char *out = NULL;
	size_t len, raw_len, out_len;

	if (!key || !json_object_is_type(obj, json_type_object))
		return NULL;
	text = json_object_to_json_string_ext(obj, JSON_C_TO_STRING_PLAIN |
	                                                   JSON_C_TO_STRING_NOSLASHESCAPE);
	len = text ? strlen(text) : 0;
	if (!text || len > VALUES_PLAIN_MAX)
		return NULL;
	raw_len = OVERHEAD + len;
	raw = malloc(raw_len);
	out_len = PREFIX_LEN +
	          sodium_base64_ENCODED_LEN(raw_len, sodium_base64_VARIANT_URLSAFE_NO_PADDING);
	out = raw ? malloc(out_len) : NULL;
	if (!out)
		goto out;
	randombytes_buf(raw, crypto_secretbox_NONCEBYTES);
	crypto_secretbox_easy(raw + crypto_secretbox_NONCEBYTES, (const unsigned char *)text, len,
	                      raw, key->bytes);
	memcpy(out, SEALED_PREFIX, PREFIX_LEN);
	sodium_bin2base64(out + PREFIX_LEN, out_len - PREFIX_LEN, raw, raw_len,
	                  sodium_base64_VARIANT_URLSAFE_NO_PADDING);
out:
	/* json-c keeps the text in obj until it changes: the caller's object holds the
	 * secrets anyway, and frees it. */
	free(raw);
	return out;
}

int values_open(const struct values_key *key, const char *sealed, json_object **out)
{
	unsigned char *raw = NULL, *plain = NULL;
	json_object *obj = NULL;
	size_t b64_len, raw_len = 0, plain_len = 0;
	const char *b64;
	int rc = -1;

	if (!key || !sealed || strncmp(sealed, SEALED_PREFIX, PREFIX_LEN) != 0)
		return -1;
	b64 = sealed + PREFIX_LEN;
	b64_len = strnlen(b64, VALUES_SEALED_MAX + 1);
	if (b64_len > VALUES_SEALED_MAX)
		return -1;
	raw = malloc(b64_len * 3 / 4 + 1);
	if (!raw)
		return -1;
	if (sodium_base642bin(raw, b64_len * 3 / 4 + 1, b64, b64_len, NULL, &raw_len, NULL,
	                      sodium_base64_VARIANT_URLSAFE_NO_PADDING) != 0 ||
	    raw_len < OVERHEAD || raw_len - OVERHEAD > VALUES_PLAIN_MAX)
		goto out;
	plain_len = raw_len - OVERHEAD;
	plain = malloc(plain_len + 1);
	if (!plain)
		goto out;
	if (crypto_secretbox_open_easy(plain, raw + crypto_secretbox_NONCEBYTES,
	                               raw_len - crypto_secretbox_NONCEBYTES, raw,
	                               key->bytes) != 0)
		goto out;
	plain[plain_len] = '\0';
	if (strlen((const char *)plain) != plain_len)
		goto out;
	obj = json_tokener_parse((const char *)plain);
	if (!json_object_is_type(obj, json_type_object)) {
		json_object_put(obj);
		goto out;
	}
	*out = obj;
	rc = 0;
out:
	if (plain) {
		sodium_memzero(plain, plain_len + 1);
		free(plain);
	}
	free(raw);
	return rc;
}
