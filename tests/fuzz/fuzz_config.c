/* fuzz_config.c: the configuration reader: the YAML reader (common/yamljson.c, libyaml
 * into a json-c tree) and the settings table's checks (common/cfg.c: sections, names,
 * types, bounds, choices, ${VAR} expansion). The input is the file.
 *
 * cfg_load reads a path, so the input is written to a memfd and read back through
 * /proc/self/fd. Each input starts from the defaults (cfg_load resets the table) and
 * the defaults are restored after it. */
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <unistd.h>

#include "cfg.h"
#include "fuzz.h"
#include "yamljson.h"

static int memfd = -1;
static char memfd_path[64];
static FILE *devnull;

static int setup(void)
{
	if (memfd >= 0)
		return 0;
	memfd = memfd_create("fuzz_config", 0);
	devnull = fopen("/dev/null", "w");
	if (memfd < 0 || !devnull)
		return -1;
	snprintf(memfd_path, sizeof(memfd_path), "/proc/self/fd/%d", memfd);
	return 0;
}

/* The YAML reader alone, on a stream of the input. */
static void read_yaml(const uint8_t *data, size_t size)
{
	json_object *root = NULL;
	char err[256];
	FILE *f;

	if (size == 0)
		return;
	f = fmemopen((void *)data, size, "r");
	if (!f)
		return;
	if (yamljson_read(f, &root, err, sizeof(err)) == 0)
		json_object_put(root);
	else if (!err[0])
		abort();
	fclose(f);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char err[512];

	fuzz_quiet("fuzz_config");
	if (setup() != 0)
		abort();
	read_yaml(data, size);

	if (ftruncate(memfd, 0) != 0 || pwrite(memfd, data, size, 0) != (ssize_t)size)
		abort();
	err[0] = '\0';
	if (cfg_load(memfd_path, err, sizeof(err)) == 0) {
		for (int k = 0; k < CFG__MAX; k++)
			if (!cfg_str((enum cfg_key)k))
				abort();
		cfg_dump(devnull);
	} else if (!err[0]) {
		fprintf(stderr, "fuzz_config: cfg_load failed without saying why\n");
		abort();
	}
	if (cfg_load(NULL, err, sizeof(err)) != 0)
		abort();
	return 0;
}
