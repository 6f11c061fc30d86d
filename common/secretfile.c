/* secretfile.c: see secretfile.h. */
#include "secretfile.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

int secret_file_read(const char *path, char *out, size_t outlen, int *loose, char *err,
                     size_t errlen)
{
	FILE *f = fopen(path, "re");
	struct stat st;
	size_t n;
	int rc = -1;

	*loose = 0;
	if (!f) {
		snprintf(err, errlen, "cannot open: %s", strerror(errno));
		return -1;
	}
	if (fstat(fileno(f), &st) == 0 && (st.st_mode & 077))
		*loose = 1;
	if (!fgets(out, (int)outlen, f)) {
		snprintf(err, errlen, "is empty");
		goto out;
	}
	n = strcspn(out, "\r\n");
	if (out[n] == '\0' && !feof(f) && n == outlen - 1) {
		snprintf(err, errlen, "holds a secret longer than %zu bytes", outlen - 2);
		goto out;
	}
	while (n > 0 && (out[n - 1] == ' ' || out[n - 1] == '\t'))
		n--;
	out[n] = '\0';
	if (n == 0) {
		snprintf(err, errlen, "is empty");
		goto out;
	}
	rc = 0;
out:
	if (rc != 0)
		explicit_bzero(out, outlen);
	fclose(f);
	return rc;
}
