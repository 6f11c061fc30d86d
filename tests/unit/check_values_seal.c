/* check_values_seal.c: sealing a service's secret values (values_seal.h): the key file
 * (raw, hex, a newline, bad sizes, loose modes, a symlink, missing), a round trip, and
 * hostile sealed text (another key, truncated, a flipped bit, bad base64, a wrong prefix,
 * too long, a sealed non-object). */
#include <check.h>
#include <fcntl.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "testjson.h"
#include "values_seal.h"

static char dir[256];

static const char *write_key(const char *name, const void *data, size_t len, mode_t mode)
{
	static char path[512];
	int fd;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	unlink(path);
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(write(fd, data, len), (ssize_t)len);
	close(fd);
	ck_assert_int_eq(chmod(path, mode), 0);
	return path;
}

static void setup(void)
{
	snprintf(dir, sizeof(dir), "%s/kaiden-seal-XXXXXX",
	         getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
	ck_assert_ptr_nonnull(mkdtemp(dir));
	ck_assert_int_ge(sodium_init(), 0);
}

static void teardown(void)
{
	char cmd[600];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	ck_assert_int_eq(system(cmd), 0);
}

static const char hex[] = "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f";

START_TEST(test_key_file)
{
	struct values_key k, k2;
	unsigned char raw[32];
	char err[256], link_path[600];
	const char *p;

	for (int i = 0; i < 32; i++)
		raw[i] = (unsigned char)i;
	ck_assert_int_eq(values_key_load(write_key("raw", raw, 32, 0600), &k, err, sizeof(err)), 0);
	ck_assert_int_eq(values_key_load(write_key("hex", hex, 64, 0400), &k2, err, sizeof(err)), 0);
	ck_assert_mem_eq(k.bytes, k2.bytes, 32);
	p = write_key("hexnl", "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f\n",
	              65, 0600);
	ck_assert_int_eq(values_key_load(p, &k2, err, sizeof(err)), 0);
	ck_assert_mem_eq(k.bytes, k2.bytes, 32);
	/* Loose modes, sizes, not hex, a link, none. */
	ck_assert_int_eq(values_key_load(write_key("loose", hex, 64, 0640), &k2, err, sizeof(err)),
	                 -1);
	ck_assert_ptr_nonnull(strstr(err, "chmod 600"));
	ck_assert_int_eq(values_key_load(write_key("short", raw, 31, 0600), &k2, err, sizeof(err)),
	                 -1);
	ck_assert_ptr_nonnull(strstr(err, "32 bytes"));
	ck_assert_int_eq(values_key_load(write_key("long", hex, 63, 0600), &k2, err, sizeof(err)), -1);
	ck_assert_int_eq(values_key_load(write_key("nothex", "zz0102030405060708090a0b0c0d0e0f1011"
	                                                     "12131415161718191a1b1c1d1e1f",
	                                           64, 0600),
	                                 &k2, err, sizeof(err)),
	                 -1);
	ck_assert_int_eq(values_key_load(write_key("empty", "", 0, 0600), &k2, err, sizeof(err)), -1);
	p = write_key("target", hex, 64, 0600);
	snprintf(link_path, sizeof(link_path), "%s/link", dir);
	ck_assert_int_eq(symlink(p, link_path), 0);
	ck_assert_int_eq(values_key_load(link_path, &k2, err, sizeof(err)), -1);
	ck_assert_ptr_nonnull(strstr(err, "symbolic link"));
	ck_assert_int_eq(values_key_load(dir, &k2, err, sizeof(err)), -1);
	snprintf(link_path, sizeof(link_path), "%s/none", dir);
	ck_assert_int_eq(values_key_load(link_path, &k2, err, sizeof(err)), -1);
	ck_assert_int_eq(values_key_load("", &k2, err, sizeof(err)), -1);
	/* The key never in a message. */
	ck_assert_ptr_null(strstr(err, "0001020304"));
	values_key_clear(&k);
	for (int i = 0; i < 32; i++)
		ck_assert_int_eq(k.bytes[i], 0);
}
END_TEST

START_TEST(test_roundtrip)
{
	struct values_key k, other;
	json_object *secrets = J("{\"auth\":{\"password\":\"hunter2-s3cret\"},\"key\":\"é\\\"x\"}");
	json_object *back = NULL;
	char *sealed, *again;

	memset(k.bytes, 7, sizeof(k.bytes));
	memset(other.bytes, 8, sizeof(other.bytes));
	sealed = values_seal(&k, secrets);
	ck_assert_ptr_nonnull(sealed);
	ck_assert(strncmp(sealed, "sv1.", 4) == 0);
	ck_assert_ptr_null(strstr(sealed, "hunter2"));
	ck_assert(strlen(sealed) < VALUES_SEALED_MAX);
	/* A fresh nonce each time. */
	again = values_seal(&k, secrets);
	ck_assert_str_ne(sealed, again);
	ck_assert_int_eq(values_open(&k, sealed, &back), 0);
	ck_assert_str_eq(S(back), S(secrets));
	json_object_put(back);
	back = NULL;
	/* Another key opens nothing. */
	ck_assert_int_eq(values_open(&other, sealed, &back), -1);
	ck_assert_ptr_null(back);
	/* Not an object: refused to seal. */
	{
		json_object *arr = J("[1]");
		ck_assert_ptr_null(values_seal(&k, arr));
		ck_assert_ptr_null(values_seal(&k, NULL));
		json_object_put(arr);
	}
	free(sealed);
	free(again);
	json_object_put(secrets);
}
END_TEST

START_TEST(test_hostile)
{
	struct values_key k;
	json_object *secrets = J("{\"p\":\"secret\"}"), *back = NULL;
	char *sealed, *copy;
	size_t len;

	memset(k.bytes, 7, sizeof(k.bytes));
	sealed = values_seal(&k, secrets);
	len = strlen(sealed);
	copy = strdup(sealed);
	/* Truncated anywhere. */
	for (size_t cut = 0; cut < len; cut += 3) {
		copy[cut] = '\0';
		ck_assert_int_eq(values_open(&k, copy, &back), -1);
		memcpy(copy, sealed, len + 1);
	}
	/* A changed character anywhere past the prefix. */
	for (size_t i = 4; i < len; i++) {
		copy[i] = copy[i] == 'A' ? 'B' : 'A';
		ck_assert_int_eq(values_open(&k, copy, &back), -1);
		memcpy(copy, sealed, len + 1);
	}
	ck_assert_int_eq(values_open(&k, "sv1.!!!not base64!!!", &back), -1);
	ck_assert_int_eq(values_open(&k, "sv1.", &back), -1);
	ck_assert_int_eq(values_open(&k, "", &back), -1);
	ck_assert_int_eq(values_open(&k, NULL, &back), -1);
	ck_assert_int_eq(values_open(&k, sealed + 1, &back), -1);
	copy[0] = 'v';
	ck_assert_int_eq(values_open(&k, copy, &back), -1);
	/* Padding or white space is not our encoding. */
	{
		char *padded = malloc(len + 3);
		snprintf(padded, len + 3, "%s==", sealed);
		ck_assert_int_eq(values_open(&k, padded, &back), -1);
		free(padded);
	}
	/* Far too long. */
	{
		char *huge = malloc(VALUES_SEALED_MAX + 64);
		memcpy(huge, "sv1.", 4);
		memset(huge + 4, 'A', VALUES_SEALED_MAX + 50);
		huge[VALUES_SEALED_MAX + 54] = '\0';
		ck_assert_int_eq(values_open(&k, huge, &back), -1);
		free(huge);
	}
	/* A box that opens but holds no JSON object (sealed here by hand). */
	{
		const char *texts[] = { "[1,2]", "\"x\"", "{\"a\":", "{}\0{", "" };
		size_t lens[] = { 5, 3, 5, 4, 0 };
		for (size_t t = 0; t < 5; t++) {
			unsigned char raw[64];
			char b64[160] = "sv1.";
			randombytes_buf(raw, 24);
			crypto_secretbox_easy(raw + 24, (const unsigned char *)texts[t], lens[t], raw,
			                      k.bytes);
			sodium_bin2base64(b64 + 4, sizeof(b64) - 4, raw, 24 + 16 + lens[t],
			                  sodium_base64_VARIANT_URLSAFE_NO_PADDING);
			ck_assert_int_eq(values_open(&k, b64, &back), -1);
		}
	}
	ck_assert_ptr_null(back);
	/* Still the original opens. */
	ck_assert_int_eq(values_open(&k, sealed, &back), 0);
	json_object_put(back);
	free(copy);
	free(sealed);
	json_object_put(secrets);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("values_seal");
	TCase *tc = tcase_create("values_seal");
	SRunner *sr;
	int failed;

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_key_file);
	tcase_add_test(tc, test_roundtrip);
	tcase_add_test(tc, test_hostile);
	suite_add_tcase(s, tc);
	sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
