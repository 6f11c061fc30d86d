/* replay.c: a main() for a harness without libFuzzer (fuzz.h). Feeds every regular file
 * of each directory (or each file) named on the command line to LLVMFuzzerTestOneInput,
 * in name order, so `make check` replays the committed corpora with any compiler, and
 * under SAN=1 with ASan/UBSan. A bad input shows as a crash or a sanitizer report of
 * this process: the last "replay: <file>" line on stderr names it.
 *
 * Prints "<prog>: N inputs" and exits 0 when every input ran; 1 when a file could not
 * be read or no input was found (a corpus that vanished is a failure, not a pass). */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "fuzz.h"

static int run_file(const char *path)
{
	FILE *f = fopen(path, "rb");
	uint8_t *data = NULL;
	size_t len = 0, cap = 0, n;
	int rc = -1;

	if (!f) {
		perror(path);
		return -1;
	}
	for (;;) {
		if (len == cap) {
			uint8_t *bigger = realloc(data, cap ? cap * 2 : 4096);
			if (!bigger)
				goto out;
			data = bigger;
			cap = cap ? cap * 2 : 4096;
		}
		n = fread(data + len, 1, cap - len, f);
		len += n;
		if (n == 0)
			break;
	}
	if (ferror(f)) {
		perror(path);
		goto out;
	}
	fprintf(stderr, "replay: %s\n", path);
	/* As libFuzzer does: an input of exactly its size, so reading past it is caught. */
	{
		uint8_t *exact = malloc(len ? len : 1);
		if (!exact)
			goto out;
		memcpy(exact, data, len);
		(void)LLVMFuzzerTestOneInput(exact, len);
		free(exact);
	}
	rc = 0;
out:
	free(data);
	fclose(f);
	return rc;
}

static int by_name(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Runs every regular file in dir; the number run, or -1. */
static int run_dir(const char *dir)
{
	struct dirent **names = NULL;
	int n, ran = 0, rc = 0;

	n = scandir(dir, &names, NULL, NULL);
	if (n < 0) {
		perror(dir);
		return -1;
	}
	{
		char **paths = calloc((size_t)n + 1, sizeof(*paths));
		int np = 0;
		if (!paths)
			rc = -1;
		for (int i = 0; i < n && rc == 0; i++) {
			struct stat st;
			char *path = NULL;
			if (asprintf(&path, "%s/%s", dir, names[i]->d_name) < 0) {
				rc = -1;
				break;
			}
			if (stat(path, &st) == 0 && S_ISREG(st.st_mode))
				paths[np++] = path;
			else
				free(path);
		}
		if (paths)
			qsort(paths, (size_t)np, sizeof(*paths), by_name);
		for (int i = 0; i < np; i++) {
			if (rc == 0 && run_file(paths[i]) < 0)
				rc = -1;
			else if (rc == 0)
				ran++;
			free(paths[i]);
		}
		free(paths);
	}
	for (int i = 0; i < n; i++)
		free(names[i]);
	free(names);
	return rc < 0 ? -1 : ran;
}

int main(int argc, char **argv)
{
	int total = 0;

	for (int i = 1; i < argc; i++) {
		struct stat st;
		int ran;
		if (stat(argv[i], &st) != 0) {
			perror(argv[i]);
			return 1;
		}
		ran = S_ISDIR(st.st_mode) ? run_dir(argv[i]) : (run_file(argv[i]) == 0 ? 1 : -1);
		if (ran < 0)
			return 1;
		total += ran;
	}
	printf("%s: %d inputs\n", argv[0], total);
	return total > 0 ? 0 : 1;
}
