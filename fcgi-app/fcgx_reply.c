/* fcgx_reply.c: see fcgx_reply.h.
 *
 * What this relies on in libfcgi (2.4, the same in every release since 2.2): the request's
 * connection is FCGX_Request.ipcFd; FCGX_FClose does nothing for a stream whose
 * wasFCloseCalled is set; FCGX_Finish_r closes the error stream first, which adds
 * FCGI_END_REQUEST only when it is the last writer open (nWriters 1), so with the output
 * stream never closed through libfcgi, the error stream (never written here) writes
 * nothing. */
#include "fcgx_reply.h"

#include <errno.h>
#include <fastcgi.h>
#include <string.h>

/* Content bytes a record carries: FCGI_MAX_LENGTH cut to a multiple of 8, as libfcgi's
 * records are. */
#define RECORD_MAX (FCGI_MAX_LENGTH & ~7)
/* Pieces of the parts one record takes at most (a record of more parts is cut short). */
#define RECORD_PIECES 16

static FCGI_Header header(int type, int request_id, size_t len)
{
	return (FCGI_Header){
		.version = FCGI_VERSION_1,
		.type = (unsigned char)type,
		.requestIdB1 = (unsigned char)((request_id >> 8) & 0xff),
		.requestIdB0 = (unsigned char)(request_id & 0xff),
		.contentLengthB1 = (unsigned char)((len >> 8) & 0xff),
		.contentLengthB0 = (unsigned char)(len & 0xff),
	};
}

/* Writes iov[0..n) whole, resuming after a short write. 0 or -1 (errno). */
static int write_all(int fd, struct iovec *iov, int n)
{
	while (n > 0) {
		ssize_t wrote = writev(fd, iov, n);
		if (wrote < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		while (n > 0 && (size_t)wrote >= iov->iov_len) {
			wrote -= (ssize_t)iov->iov_len;
			iov++;
			n--;
		}
		if (n > 0) {
			iov->iov_base = (char *)iov->iov_base + wrote;
			iov->iov_len -= (size_t)wrote;
		}
	}
	return 0;
}

/* One writev a record: a reply under RECORD_MAX bytes (every reply but the longest lists)
 * is one record, written together with the two closing records. */
int fcgx_reply(FCGX_Request *fr, const struct iovec *parts, int n)
{
	FCGI_Header head, end_stdout = header(FCGI_STDOUT, fr->requestId, 0);
	FCGI_EndRequestRecord end = { header(FCGI_END_REQUEST, fr->requestId,
	                                     sizeof(FCGI_EndRequestBody)),
	                              { .protocolStatus = FCGI_REQUEST_COMPLETE } };
	struct iovec iov[1 + RECORD_PIECES + 2];
	int part = 0;
	size_t at = 0; /* bytes of parts[part] already sent */

	fr->out->isClosed = 1;
	fr->out->wasFCloseCalled = 1;
	do {
		size_t len = 0;
		int ni = 1, skip;

		/* One record: as many of the parts' bytes as fit. */
		while (part < n && len < RECORD_MAX && ni < 1 + RECORD_PIECES) {
			size_t take = parts[part].iov_len - at;
			if (take > RECORD_MAX - len)
				take = RECORD_MAX - len;
			if (take > 0)
				iov[ni++] = (struct iovec){ (char *)parts[part].iov_base + at, take };
			at += take;
			len += take;
			if (at == parts[part].iov_len) {
				part++;
				at = 0;
			}
		}
		head = header(FCGI_STDOUT, fr->requestId, len);
		iov[0] = (struct iovec){ &head, sizeof(head) };
		if (part == n) {
			iov[ni++] = (struct iovec){ &end_stdout, sizeof(end_stdout) };
			iov[ni++] = (struct iovec){ &end, sizeof(end) };
		}
		/* No content (nothing left but empty parts): the closing records alone. */
		skip = len == 0;
		if (write_all(fr->ipcFd, iov + skip, ni - skip) != 0) {
			fr->out->FCGI_errno = errno ? errno : EIO;
			return -1;
		}
	} while (part < n);
	return 0;
}
