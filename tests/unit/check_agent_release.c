/* check_agent_release.c: what an idle agent gives back (agent/release.c): which mappings
 * smaps text makes candidates, and, on this process's own mappings, that a clean file
 * mapping leaves resident memory and still reads the file's bytes while a mapping holding
 * bytes of its own (copied on write) is never touched. */
#include <check.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "release.h"

#define MAP_BYTES (256 * 1024)

/* A mapping's header and its Anonymous line, with the other keys smaps prints between. */
#define MAPPING(head, anon)                                                             \
	head "\n"                                                                           \
	"Size:                100 kB\n"                                                     \
	"Rss:                  64 kB\n"                                                     \
	"Anonymous:     " anon " kB\n"                                                      \
	"THPeligible:    0\n"                                                               \
	"VmFlags: rd mr mw me sd\n"

static int ranges_of(const char *text, struct release_range *out, int max)
{
	FILE *f = fmemopen((void *)text, strlen(text), "r");
	int n;

	ck_assert_ptr_nonnull(f);
	n = release_ranges(f, out, max);
	fclose(f);
	return n;
}

START_TEST(test_candidates)
{
	static const char text[] =
		MAPPING("55d0c0000000-55d0c0010000 r--p 00000000 fe:00 1001    /usr/bin/x", "0")
		MAPPING("55d0c0010000-55d0c0030000 r-xp 00010000 fe:00 1001    /usr/bin/x", "0")
		/* relocated data: copied on write, then made read-only */
		MAPPING("55d0c0030000-55d0c0032000 r--p 00030000 fe:00 1001    /usr/bin/x", "8")
		MAPPING("55d0c0032000-55d0c0033000 rw-p 00032000 fe:00 1001    /usr/bin/x", "0")
		MAPPING("55d0c1000000-55d0c1100000 rw-p 00000000 00:00 0       [heap]", "1024")
		MAPPING("7f0000000000-7f0000010000 r--s 00000000 fe:00 2002    /dev/shm/ring", "0")
		MAPPING("7f0000010000-7f0000020000 r--p 00000000 00:00 0 ", "0")
		MAPPING("7f0000020000-7f0000030000 r-xp 00000000 fe:00 3003    "
		        "/usr/lib/x86_64-linux-gnu/libz.so.1.2.13 (deleted)", "0")
		MAPPING("7ffd00000000-7ffd00002000 r-xp 00000000 00:00 0       [vdso]", "0")
		MAPPING("7f0000040000-7f0000050000 r-xp 00000000 fe:00 4004    [weird: name]", "0");
	struct release_range r[8];
	int n = ranges_of(text, r, 8);

	ck_assert_int_eq(n, 3);
	ck_assert_uint_eq(r[0].start, 0x55d0c0000000);
	ck_assert_uint_eq(r[0].end, 0x55d0c0010000);
	ck_assert_uint_eq(r[1].start, 0x55d0c0010000);
	ck_assert_uint_eq(r[1].end, 0x55d0c0030000);
	ck_assert_uint_eq(r[2].start, 0x7f0000020000);
	/* capped at max */
	ck_assert_int_eq(ranges_of(text, r, 1), 1);
	ck_assert_uint_eq(r[0].start, 0x55d0c0000000);
	ck_assert_int_eq(ranges_of("", r, 8), 0);
}
END_TEST

/* Text that is not smaps as expected: nothing may be unmapped. */
START_TEST(test_not_smaps)
{
	static const char *const bad[] = {
		/* a candidate without its Anonymous line, followed by another mapping */
		"55d0c0000000-55d0c0010000 r--p 00000000 fe:00 1001 /usr/bin/x\nRss: 4 kB\n"
		MAPPING("55d0c0010000-55d0c0030000 r-xp 00010000 fe:00 1001    /usr/bin/x", "0"),
		/* ... or at the end */
		MAPPING("55d0c0000000-55d0c0010000 r--p 00000000 fe:00 1001    /usr/bin/x", "0")
		"55d0c0010000-55d0c0030000 r-xp 00010000 fe:00 1001 /usr/bin/x\nRss: 4 kB\n",
		/* an Anonymous line before any mapping */
		"Anonymous: 0 kB\n"
		MAPPING("55d0c0000000-55d0c0010000 r--p 00000000 fe:00 1001    /usr/bin/x", "0"),
	};
	struct release_range r[8];

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		ck_assert_int_eq(ranges_of(bad[i], r, 8), -1);
}
END_TEST

/* This process's Rss and Anonymous for the mapping that starts at addr, in kB. */
static void mapping_kb(const void *addr, long *rss, long *anon)
{
	FILE *f = fopen("/proc/self/smaps", "re");
	char line[1024];
	int in = 0;
	unsigned long start, end;
	char perms[5];

	ck_assert_ptr_nonnull(f);
	*rss = *anon = -1;
	while (fgets(line, sizeof(line), f)) {
		if (sscanf(line, "%lx-%lx %4s", &start, &end, perms) == 3) {
			in = start == (uintptr_t)addr;
			continue;
		}
		if (in)
			(void)(sscanf(line, "Rss: %ld kB", rss) || sscanf(line, "Anonymous: %ld kB", anon));
	}
	fclose(f);
	ck_assert_int_ge(*rss, 0);
	ck_assert_int_ge(*anon, 0);
}

START_TEST(test_releases_only_clean_file_pages)
{
	char path[] = "/tmp/kaiden-release-XXXXXX";
	int fd = mkstemp(path);
	unsigned char *clean, *own, *bytes = malloc(MAP_BYTES);
	volatile unsigned sum = 0;
	long rss, anon;

	ck_assert_int_ge(fd, 0);
	ck_assert_ptr_nonnull(bytes);
	for (size_t i = 0; i < MAP_BYTES; i++)
		bytes[i] = (unsigned char)(i * 7 + i / 4096);
	ck_assert_int_eq(write(fd, bytes, MAP_BYTES), MAP_BYTES);
	unlink(path); /* as a library replaced by an upgrade: its inode lives on */

	/* Read-only, private, every page read: resident, none of it the process's own. */
	clean = mmap(NULL, MAP_BYTES, PROT_READ, MAP_PRIVATE, fd, 0);
	ck_assert(clean != MAP_FAILED);
	for (size_t i = 0; i < MAP_BYTES; i += 4096)
		sum += clean[i];
	/* The same file, written (copied on write) and then made read-only, as the dynamic
	 * linker does to a library's relocated data. */
	own = mmap(NULL, MAP_BYTES, PROT_READ | PROT_WRITE, MAP_PRIVATE, fd, 0);
	ck_assert(own != MAP_FAILED);
	own[0] = 0xAB;
	own[MAP_BYTES / 2] = 0xCD;
	ck_assert_int_eq(mprotect(own, MAP_BYTES, PROT_READ), 0);

	mapping_kb(clean, &rss, &anon);
	ck_assert_int_eq(rss, MAP_BYTES / 1024);
	ck_assert_int_eq(anon, 0);
	mapping_kb(own, &rss, &anon);
	ck_assert_int_gt(anon, 0);

	ck_assert_int_ge(release_idle(), MAP_BYTES);

	mapping_kb(clean, &rss, &anon);
	ck_assert_int_eq(rss, 0);
	/* What was unmapped reads the file's bytes again. */
	ck_assert_int_eq(memcmp(clean, bytes, MAP_BYTES), 0);
	/* What the process wrote is still there: that mapping was left alone. */
	mapping_kb(own, &rss, &anon);
	ck_assert_int_gt(anon, 0);
	ck_assert_uint_eq(own[0], 0xAB);
	ck_assert_uint_eq(own[MAP_BYTES / 2], 0xCD);
	ck_assert_int_eq(memcmp(own + 1, bytes + 1, MAP_BYTES / 2 - 1), 0);

	munmap(clean, MAP_BYTES);
	munmap(own, MAP_BYTES);
	close(fd);
	free(bytes);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("agent_release");
	TCase *tc = tcase_create("core");
	SRunner *sr;
	int failed;

	tcase_add_test(tc, test_candidates);
	tcase_add_test(tc, test_not_smaps);
	tcase_add_test(tc, test_releases_only_clean_file_pages);
	suite_add_tcase(s, tc);
	sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
