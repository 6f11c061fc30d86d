/* release.h: what an idle agent gives back to the machine it runs on (issue 14: the agent
 * runs on every customer machine and node, idle nearly all the time).
 *
 * Two things stay resident after a burst of work (start-up, a TLS handshake, a session)
 * that an idle agent does not use:
 *   - the heap's free pages, which glibc keeps: malloc_trim(0) returns them;
 *   - the libraries' code and read-only data the burst ran through: OpenSSL's set-up and
 *     handshake alone touch about 3 MiB of libcrypto, and the kernel maps 64 KiB around
 *     every page touched. These pages are the files' own (page cache, shared with every
 *     process using the same library, clean); unmapping them (MADV_DONTNEED) frees
 *     nothing the agent wrote, and what runs next faults its pages back from the page
 *     cache.
 *
 * Only a mapping that cannot hold anything but the file's bytes is unmapped: a private
 * mapping of a file (a path, an inode), not writable, with no anonymous page (no page
 * copied on write: the dynamic linker's relocated data, a debugger's breakpoint). Any
 * other mapping, and every mapping when /proc/self/smaps cannot be read, is left alone. */
#ifndef KAIDEN_AGENT_RELEASE_H
#define KAIDEN_AGENT_RELEASE_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#define RELEASE_RANGES_MAX 256

struct release_range {
	uintptr_t start, end;
};

/* The mappings that may be unmapped, read from smaps-formatted text (/proc/PID/smaps):
 * up to max of them into out. Returns how many, or -1 when the text is not smaps (a
 * mapping without its "Anonymous:" line): then nothing may be unmapped. Exposed for
 * tests. */
int release_ranges(FILE *smaps, struct release_range *out, int max);

/* Returns the heap's free pages and unmaps the clean library pages (see the top): call it
 * once a burst of work is over, not inside it (what still runs would fault its pages
 * back at once). Returns the bytes of mappings unmapped (they were resident or not), or
 * -1 when /proc/self/smaps could not be read (the heap is trimmed either way). */
long release_idle(void);

#endif
