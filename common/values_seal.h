/* values_seal.h: a cloud service's secret values at rest (cloud_services.secret_values,
 * service_revisions.secret_values).
 *
 * The secret values of a service (its template's secret: true paths) are one JSON
 * object, sealed with XSalsa20-Poly1305 (libsodium's crypto_secretbox_easy) under the
 * 32-byte key in services.key_file (KAIDEN_SERVICES_KEY_FILE). kaiden-api seals on
 * create and change; helperd opens only to write helm's stdin. A database dump alone
 * gives no secret away; another key opens nothing (the operation fails with that
 * reason: set the secret values again).
 *
 * The key file holds the 32 bytes raw, or as 64 hexadecimal characters (one trailing
 * newline allowed); it must be a regular file that neither group nor others may read
 * or write (0600 or 0400).
 *
 * Sealed text: "sv1." + base64url without padding of nonce (24 bytes) + box (the
 * object's compact JSON + 16 bytes of tag). At most VALUES_SEALED_MAX characters. */
#ifndef KAIDEN_VALUES_SEAL_H
#define KAIDEN_VALUES_SEAL_H

#include <stddef.h>
#include <json-c/json.h>
#include "compat.h"

#define VALUES_KEY_LEN 32
/* The largest plain object sealed (its JSON text, bytes): a form's secrets are a few
 * passwords and keys. */
#define VALUES_PLAIN_MAX 65536
#define VALUES_SEALED_MAX (4 + ((24 + VALUES_PLAIN_MAX + 16) * 4 + 2) / 3 + 1)

struct values_key {
	unsigned char bytes[VALUES_KEY_LEN];
};

/* Reads the key from path: 0, or -1 with a sentence in err (names the problem, never the
 * key: missing, a symlink or not a regular file, readable by group or others, not 32
 * bytes or 64 hex characters). */
int values_key_load(const char *path, struct values_key *key, char *err, size_t errlen) WUR;
/* Wipes the key. */
void values_key_clear(struct values_key *key);
/* Seals obj (a JSON object; its compact text at most VALUES_PLAIN_MAX bytes): a new
 * string (owned), or NULL. The plain text is wiped from memory. */
char *values_seal(const struct values_key *key, json_object *obj) WUR;
/* Opens sealed into *out (a new object, owned): 0, or -1 when it is malformed, too long,
 * sealed under another key, or not a JSON object. */
int values_open(const struct values_key *key, const char *sealed, json_object **out) WUR;

#endif
