/* crash.h: a line in the log when the process dies of a fault.
 *
 * A daemon killed by SIGSEGV, SIGBUS, SIGFPE, SIGILL or SIGABRT otherwise leaves its log
 * ending mid-stream, and the kernel's line (dmesg) only when the kernel logs it. With
 * crash_install, the log ends with
 *
 *   level=error prog=kaiden-api msg="fatal signal 11 (SIGSEGV): the stack follows"
 *
 * and the frames (glibc's backtrace_symbols_fd), then the signal's default action runs
 * (a core file where core dumps are on). A SIGKILL cannot be caught: a log that ends
 * without this line and without "stopped" was killed from outside.
 *
 * Under AddressSanitizer, SIGSEGV, SIGBUS and SIGFPE are left to its own report, which
 * says more. */
#ifndef KAIDEN_CRASH_H
#define KAIDEN_CRASH_H

/* Installs the handlers for the whole process; prog names it in the line. Call once,
 * early, from main. */
void crash_install(const char *prog);

#endif
