/* secretfile.h: reading a secret (a device secret, an API token) from a file, so that
 * it never has to be on a command line. Shared by kaiden-agent and kaiden-connect. */
#ifndef KAIDEN_SECRETFILE_H
#define KAIDEN_SECRETFILE_H

#include <stddef.h>
#include "compat.h"

/* Reads the file's first line, trailing white space removed, into out. 0, or -1 with a
 * message (without the path) in err. *loose is set to 1 when group or others may read
 * the file (worth a warning), else 0. */
int secret_file_read(const char *path, char *out, size_t outlen, int *loose, char *err,
                     size_t errlen) WUR;

#endif
