/* compat.h: attributes shared by every module. */
#ifndef KAIDEN_COMPAT_H
#define KAIDEN_COMPAT_H

/* A result the caller must look at (pgbouncer's habit). */
#define WUR __attribute__((warn_unused_result))
#define PRINTF_LIKE(f, a) __attribute__((format(printf, f, a)))

#define ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))

/* Canonical text UUID plus NUL. */
#define UUID_STR_LEN 37

#endif
