/* ids.c: UUIDv7, short DNS-safe ids, RFC 3339 time stamps. */
#include "ids.h"

#include <pthread.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

int64_t ids_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* The random bits of UUIDs, drawn from libsodium's generator a pool at a time: one
 * getrandom per thirty-odd ids instead of one or two an id (a request id is made for
 * every request). The bits are the generator's as before, only fetched ahead; ids are
 * public (they are in every URL), so the pool is no secret to guard. Per thread; a forked
 * child starts a new pool (pthread_atfork), so it never hands out its parent's bits. */
#define UUID_POOL 384
static _Thread_local unsigned char uuid_pool[UUID_POOL];
static _Thread_local size_t uuid_pool_used = UUID_POOL;
static pthread_once_t uuid_pool_once = PTHREAD_ONCE_INIT;

static void uuid_pool_forked(void)
{
	uuid_pool_used = UUID_POOL;
}

static void uuid_pool_register(void)
{
	(void)pthread_atfork(NULL, NULL, uuid_pool_forked);
}

static void uuid_random(unsigned char *out, size_t n)
{
	pthread_once(&uuid_pool_once, uuid_pool_register);
	if (UUID_POOL - uuid_pool_used < n) {
		randombytes_buf(uuid_pool, UUID_POOL);
		uuid_pool_used = 0;
	}
	memcpy(out, uuid_pool + uuid_pool_used, n);
	uuid_pool_used += n;
}

/* A counter's random start below 2^11 (a power of two: the low bits are uniform). */
static unsigned uuid_seq_start(void)
{
	unsigned char b[2];

	uuid_random(b, sizeof(b));
	return ((unsigned)b[0] << 8 | b[1]) & 0x7ff;
}

/* RFC 9562 method 1: within one millisecond the 12-bit rand_a field is a counter that
 * starts at a random value below 2^11, so ids made by one process sort in the order they
 * were made. If the counter runs out, the time stamp moves on a millisecond (the clock
 * going backwards is handled the same way: never reuse an older time). */
static pthread_mutex_t uuid_lock = PTHREAD_MUTEX_INITIALIZER;
static uint64_t uuid_last_ms;
static unsigned uuid_seq;

void ids_uuid7(char out[UUID_STR_LEN])
{
	static const char hex[] = "0123456789abcdef";
	unsigned char b[16];
	uint64_t ms = (uint64_t)ids_now_ms();
	unsigned seq, start;
	size_t o = 0;

	/* The counter's possible new start is drawn outside the lock, with the rest. */
	uuid_random(b + 6, 10);
	start = uuid_seq_start();
	pthread_mutex_lock(&uuid_lock);
	if (ms <= uuid_last_ms) {
		ms = uuid_last_ms;
		if (++uuid_seq > 0xfff) {
			ms++;
			uuid_seq = start;
		}
	} else {
		uuid_seq = start;
	}
	uuid_last_ms = ms;
	seq = uuid_seq;
	pthread_mutex_unlock(&uuid_lock);

	for (int i = 0; i < 6; i++)
		b[i] = (unsigned char)(ms >> (8 * (5 - i)));
	b[6] = (unsigned char)(0x70 | ((seq >> 8) & 0x0f)); /* version 7, counter high bits */
	b[7] = (unsigned char)(seq & 0xff);
	b[8] = (unsigned char)(0x80 | (b[8] & 0x3f)); /* variant 10 */
	/* 8-4-4-4-12 lower-case hex digits. */
	for (int i = 0; i < 16; i++) {
		if (i == 4 || i == 6 || i == 8 || i == 10)
			out[o++] = '-';
		out[o++] = hex[b[i] >> 4];
		out[o++] = hex[b[i] & 15];
	}
	out[o] = '\0';
}

int ids_is_uuid(const char *s)
{
	if (!s || strlen(s) != 36)
		return 0;
	for (int i = 0; i < 36; i++) {
		char c = s[i];
		if (i == 8 || i == 13 || i == 18 || i == 23) {
			if (c != '-')
				return 0;
		} else if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') ||
		             (c >= 'A' && c <= 'F'))) {
			return 0;
		}
	}
	return 1;
}

int ids_uuid_lower(const char *s, char out[UUID_STR_LEN])
{
	if (!ids_is_uuid(s))
		return -1;
	for (int i = 0; i < UUID_STR_LEN - 1; i++)
		out[i] = (s[i] >= 'A' && s[i] <= 'F') ? (char)(s[i] - 'A' + 'a') : s[i];
	out[UUID_STR_LEN - 1] = '\0';
	return 0;
}

void ids_base32(char *out, size_t n)
{
	static const char alphabet[] = "abcdefghijklmnopqrstuvwxyz234567";

	for (size_t i = 0; i < n; i++)
		out[i] = alphabet[randombytes_uniform(32)];
	out[n] = '\0';
}

void ids_short(char out[SHORT_ID_LEN + 1])
{
	ids_base32(out, SHORT_ID_LEN);
}

/* v (0..99) as two digits. */
static void two_digits(char *out, int v)
{
	out[0] = (char)('0' + v / 10);
	out[1] = (char)('0' + v % 10);
}

void ids_timestamp(int64_t unix_ms, char out[TIMESTAMP_LEN])
{
	time_t secs = (time_t)(unix_ms / 1000);
	struct tm tm;
	char tmp[64];

	gmtime_r(&secs, &tm);
	if (unix_ms >= 0 && tm.tm_year + 1900 <= 9999) {
		/* Every field has its width: written digit by digit (a log line and a kept
		 * credential's check take one each, so snprintf's cost showed). */
		int ms = (int)(unix_ms % 1000);
		two_digits(out, (tm.tm_year + 1900) / 100);
		two_digits(out + 2, (tm.tm_year + 1900) % 100);
		out[4] = '-';
		two_digits(out + 5, tm.tm_mon + 1);
		out[7] = '-';
		two_digits(out + 8, tm.tm_mday);
		out[10] = 'T';
		two_digits(out + 11, tm.tm_hour);
		out[13] = ':';
		two_digits(out + 14, tm.tm_min);
		out[16] = ':';
		two_digits(out + 17, tm.tm_sec);
		out[19] = '.';
		out[20] = (char)('0' + ms / 100);
		two_digits(out + 21, ms % 100);
		out[23] = 'Z';
		out[24] = '\0';
		return;
	}
	snprintf(tmp, sizeof(tmp), "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900,
	         tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, (int)(unix_ms % 1000));
	memcpy(out, tmp, TIMESTAMP_LEN - 1); /* years past 9999 are not ours to worry about */
	out[TIMESTAMP_LEN - 1] = '\0';
}

static int digits(const char *s, int n, int *out)
{
	int v = 0;

	for (int i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -1;
		v = v * 10 + (s[i] - '0');
	}
	*out = v;
	return 0;
}

int ids_timestamp_ms(const char *s, int64_t *unix_ms)
{
	static const int mdays[] = { 31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 };
	int year, mon, day, hour, min, sec, ms = 0, off = 0;
	const char *p;
	struct tm tm;
	time_t t;

	if (!s || strlen(s) < 20 || digits(s, 4, &year) || s[4] != '-' || digits(s + 5, 2, &mon) ||
	    s[7] != '-' || digits(s + 8, 2, &day) || (s[10] != 'T' && s[10] != 't') ||
	    digits(s + 11, 2, &hour) || s[13] != ':' || digits(s + 14, 2, &min) || s[16] != ':' ||
	    digits(s + 17, 2, &sec))
		return -1;
	if (year < 1970 || mon < 1 || mon > 12 || day < 1 || day > mdays[mon - 1] || hour > 23 ||
	    min > 59 || sec > 59)
		return -1;
	if (mon == 2 && day == 29 && !(year % 4 == 0 && (year % 100 != 0 || year % 400 == 0)))
		return -1;
	p = s + 19;
	if (*p == '.') {
		int n = 0;
		for (p++; *p >= '0' && *p <= '9'; p++, n++)
			if (n < 3)
				ms = ms * 10 + (*p - '0');
		if (n == 0)
			return -1;
		for (; n < 3; n++)
			ms *= 10;
	}
	if ((*p == 'Z' || *p == 'z') && p[1] == '\0') {
		off = 0;
	} else if ((*p == '+' || *p == '-') && strlen(p) == 6 && p[3] == ':') {
		int oh, om;
		if (digits(p + 1, 2, &oh) || digits(p + 4, 2, &om) || oh > 23 || om > 59)
			return -1;
		off = (oh * 60 + om) * (*p == '-' ? -1 : 1);
	} else {
		return -1;
	}
	memset(&tm, 0, sizeof(tm));
	tm.tm_year = year - 1900;
	tm.tm_mon = mon - 1;
	tm.tm_mday = day;
	tm.tm_hour = hour;
	tm.tm_min = min;
	tm.tm_sec = sec;
	t = timegm(&tm);
	if (t == (time_t)-1)
		return -1;
	t -= (time_t)off * 60;
	if (t < 0 || t > (time_t)253402300799) /* 9999-12-31T23:59:59Z */
		return -1;
	*unix_ms = (int64_t)t * 1000 + ms;
	return 0;
}

int ids_timestamp_parse(const char *s, char out[TIMESTAMP_LEN])
{
	int64_t ms;

	if (ids_timestamp_ms(s, &ms) != 0)
		return -1;
	ids_timestamp(ms, out);
	return 0;
}

int ids_dns_subdomain(const char *name)
{
	size_t len = name ? strlen(name) : 0, label = 0;

	if (len == 0 || len > IDS_DNS_NAME_MAX)
		return 0;
	for (size_t i = 0; i < len; i++) {
		char c = name[i];
		int alnum = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
		if (c == '.') {
			if (label == 0 || name[i - 1] == '-')
				return 0;
			label = 0;
		} else if (alnum || c == '-') {
			if (label == 0 && c == '-')
				return 0;
			if (++label > 63)
				return 0;
		} else {
			return 0;
		}
	}
	return label > 0 && name[len - 1] != '-';
}
