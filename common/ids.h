/* ids.h: identifiers and time stamps.
 *
 * Row ids are UUIDv7 (RFC 9562): 48 bits of Unix milliseconds then random bits, so ids
 * sort by creation time. Lists page by id (`ORDER BY id DESC`, cursor = last id),
 * which needs no extra column and is the same on both databases. */
#ifndef KAIDEN_IDS_H
#define KAIDEN_IDS_H

#include <stddef.h>
#include <stdint.h>
#include "compat.h"

#define SHORT_ID_LEN 10     /* characters, without the NUL */
#define TIMESTAMP_LEN 25    /* "2026-11-23T03:45:56.123Z" plus NUL */

/* Lower-case canonical UUIDv7 into out (UUID_STR_LEN bytes). */
void ids_uuid7(char out[UUID_STR_LEN]);
/* 1 if s is a canonical lower- or upper-case UUID (36 characters), else 0. */
int ids_is_uuid(const char *s);
/* Copies a UUID in lower case (how ids are stored and compared): 0, or -1 (out
 * untouched) when s is not one. */
int ids_uuid_lower(const char *s, char out[UUID_STR_LEN]) WUR;
/* n random characters from [a-z2-7] (DNS-safe, 5 bits each) plus NUL: n + 1 bytes. */
void ids_base32(char *out, size_t n);
/* SHORT_ID_LEN of them (50 bits). */
void ids_short(char out[SHORT_ID_LEN + 1]);
int64_t ids_now_ms(void);
/* RFC 3339 UTC with milliseconds, e.g. 2026-11-23T03:45:56.123Z. */
void ids_timestamp(int64_t unix_ms, char out[TIMESTAMP_LEN]);
/* The other way: an RFC 3339 date-time (T or t, any fraction, Z or +hh:mm / -hh:mm),
 * 1970 to 9999, written as ids_timestamp writes it (UTC, milliseconds, which is how
 * time stamps are stored and compared). 0, or -1 when s is not one. */
int ids_timestamp_parse(const char *s, char out[TIMESTAMP_LEN]) WUR;
/* The same parse, to Unix milliseconds: 0, or -1 (*unix_ms untouched) when s is not
 * one. */
int ids_timestamp_ms(const char *s, int64_t *unix_ms) WUR;
/* A Kubernetes object name as nodes have (a DNS-1123 subdomain): 1 to IDS_DNS_NAME_MAX
 * of lowercase letters, digits, '-' and '.', in labels of at most 63 that start and end
 * with a letter or digit. 1 if name is one (NULL is not), else 0. */
#define IDS_DNS_NAME_MAX 253
int ids_dns_subdomain(const char *name);

#endif
