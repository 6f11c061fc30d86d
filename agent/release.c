/* release.c: what an idle agent gives back (release.h says what and why).
 *
 * /proc/self/smaps is a header line per mapping ("start-end perms offset dev inode
 * path") followed by "Key: value kB" lines, "Anonymous:" among them. A mapping is kept
 * as a candidate when its header says private, not writable, a file (inode and a path),
 * and becomes one only once its "Anonymous: 0 kB" line is seen. The madvise calls come
 * after the file is closed: reading smaps runs stdio's and scanf's code in libc, which
 * would otherwise fault back in what was just unmapped. */
#include <malloc.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>

#include "release.h"

/* A header line: 1 and the range when it describes a mapping this file may unmap (its
 * Anonymous line still to be checked), 0 for another mapping, -1 when it is no header. */
static int header_parse(const char *line, struct release_range *r)
{
	unsigned long start, end, offset, inode;
	char perms[5], dev[16];
	int path = 0;

	if (sscanf(line, "%lx-%lx %4s %lx %15s %lu %n", &start, &end, perms, &offset, dev,
	           &inode, &path) < 6)
		return -1;
	if (strlen(perms) != 4 || end <= start)
		return -1;
	if (perms[1] != '-' || perms[3] != 'p' || inode == 0 || path == 0 || line[path] != '/')
		return 0;
	r->start = start;
	r->end = end;
	return 1;
}

int release_ranges(FILE *smaps, struct release_range *out, int max)
{
	char line[1024];
	struct release_range cur = { 0, 0 };
	/* The mapping whose lines are being read: none yet, another, or a candidate whose
	 * Anonymous line is still to come. */
	enum { NONE, OTHER, CANDIDATE } state = NONE;
	int n = 0, h;
	unsigned long anon;

	while (fgets(line, sizeof(line), smaps)) {
		if (!strchr(line, '\n') && !feof(smaps))
			return -1; /* no smaps line is this long */
		h = header_parse(line, &cur);
		if (h >= 0) {
			if (state == CANDIDATE)
				return -1; /* the previous mapping had no Anonymous line */
			state = h ? CANDIDATE : OTHER;
			continue;
		}
		if (sscanf(line, "Anonymous: %lu kB", &anon) != 1)
			continue; /* another key of the mapping */
		if (state == NONE)
			return -1;
		if (state == CANDIDATE && anon == 0 && n < max)
			out[n++] = cur;
		state = OTHER;
	}
	if (ferror(smaps) || state == CANDIDATE)
		return -1;
	return n;
}

long release_idle(void)
{
	struct release_range ranges[RELEASE_RANGES_MAX];
	FILE *f;
	int n;
	long bytes = 0;

	malloc_trim(0);
	f = fopen("/proc/self/smaps", "re");
	if (!f)
		return -1;
	n = release_ranges(f, ranges, RELEASE_RANGES_MAX);
	fclose(f);
	if (n < 0)
		return -1;
	for (int i = 0; i < n; i++) {
		/* Fails only for a mapping that cannot be unmapped this way (locked, a device's):
		 * it stays as it was. */
		if (madvise((void *)ranges[i].start, ranges[i].end - ranges[i].start,
		            MADV_DONTNEED) == 0)
			bytes += (long)(ranges[i].end - ranges[i].start);
	}
	return bytes;
}
