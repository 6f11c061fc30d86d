/* crash.c: the last words of a process that faults (crash.h). The handler uses only
 * what is safe in a signal handler: write(2), backtrace_symbols_fd (which does not
 * allocate; backtrace is called once at install so that its library is loaded then, not
 * in the handler), sigaction and raise. */
#include "crash.h"

#include <execinfo.h>
#include <signal.h>
#include <string.h>
#include <unistd.h>

#include "compat.h"

#define CRASH_FRAMES 64

static const char *crash_prog = "kaiden";

#if defined(__SANITIZE_ADDRESS__)
#define ASAN_HAS_IT 1
#else
#define ASAN_HAS_IT 0
#endif

/* asan: AddressSanitizer reports this one itself (its handle_segv, handle_sigbus and
 * handle_sigfpe are on by default; handle_abort and handle_sigill are off). */
static const struct {
	int sig;
	const char *name;
	int asan;
} fatal[] = {
	{ SIGSEGV, "SIGSEGV", 1 }, { SIGBUS, "SIGBUS", 1 }, { SIGFPE, "SIGFPE", 1 },
	{ SIGILL, "SIGILL", 0 }, { SIGABRT, "SIGABRT", 0 },
};

static void put(const char *s)
{
	if (write(STDERR_FILENO, s, strlen(s)) < 0) {
		/* Nowhere left to say it. */
	}
}

static void crash_handler(int sig)
{
	void *frames[CRASH_FRAMES];
	char num[4] = { 0 };
	const char *name = "?";
	int n;

	for (size_t i = 0; i < ARRAY_LEN(fatal); i++)
		if (fatal[i].sig == sig)
			name = fatal[i].name;
	num[0] = (char)('0' + sig / 10 % 10);
	num[1] = (char)('0' + sig % 10);
	put("level=error prog=");
	put(crash_prog);
	put(" msg=\"fatal signal ");
	put(sig >= 10 ? num : num + 1);
	put(" (");
	put(name);
	put("): the stack follows\"\n");
	n = backtrace(frames, CRASH_FRAMES);
	backtrace_symbols_fd(frames, n, STDERR_FILENO);
	/* The default action now: the process ends as it would have, core and all. */
	signal(sig, SIG_DFL);
	raise(sig);
}

void crash_install(const char *prog)
{
	void *frames[1];
	struct sigaction sa;

	crash_prog = prog;
	(void)backtrace(frames, 1);
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = crash_handler;
	sigemptyset(&sa.sa_mask);
	/* One fault is reported once: a fault in the handler takes the default action. */
	sa.sa_flags = SA_RESETHAND;
	for (size_t i = 0; i < ARRAY_LEN(fatal); i++)
		if (!(ASAN_HAS_IT && fatal[i].asan))
			sigaction(fatal[i].sig, &sa, NULL);
}
