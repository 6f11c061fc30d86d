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
#include <limits.h>
#include <string.h>

/* Content bytes a record carries: FCGI_MAX_LENGTH cut to a multiple of 8, as libfcgi's
 * records are. */
#define RECORD_MAX (FCGI_MAX_LENGTH & ~7)
/* iovecs per writev: a header and its content per record, and the two closing records. */
#define BATCH 64

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

int fcgx_reply(FCGX_Request *fr, const struct iovec *parts, int n)
{
	/* The record headers of one batch, and the closing records. */
	FCGI_Header heads[BATCH / 2];
	FCGI_Header end_stdout = header(FCGI_STDOUT, fr->requestId, 0);
	FCGI_EndRequestRecord end = { header(FCGI_END_REQUEST, fr->requestId,
	                                     sizeof(FCGI_EndRequestBody)),
	                              { .protocolStatus = FCGI_REQUEST_COMPLETE } };
	struct iovec iov[BATCH];
	int nh = 0, ni = 0, part = 0, rc = 0;
	size_t at = 0; /* bytes of parts[part] already in a record */

	fr->out->isClosed = 1;
	fr->out->wasFCloseCalled = 1;
	for (;;) {
		size_t room = RECORD_MAX, len = 0;
		int first = ni;

		/* One record: as many parts' bytes as fit, each an iovec of its own. */
		iov[ni++] = (struct iovec){ &heads[nh], sizeof(heads[nh]) };
		while (part < n && room > 0 && ni < BATCH - 2) {
			size_t take = parts[part].iov_len - at;
			if (take > room)
				take = room;
			if (take > 0)
				iov[ni++] = (struct iovec){ (char *)parts[part].iov_base + at, take };
			at += take;
			len += take;
			room -= take;
			if (at == parts[part].iov_len) {
				part++;
				at = 0;
			}
		}
		if (len == 0) {
			ni = first; /* no content left: the closing records instead */
		} else {
			heads[nh++] = header(FCGI_STDOUT, fr->requestId, len);
		}
		if (part == n) {
			iov[ni++] = (struct iovec){ &end_stdout, sizeof(end_stdout) };
			iov[ni++] = (struct iovec){ &end, sizeof(end) };
			break;
		}
		if (ni >= BATCH - 2 || nh == BATCH / 2) {
			if (write_all(fr->ipcFd, iov, ni) != 0) {
				rc = -1;
				break;
			}
			ni = nh = 0;
		}
	}
	if (rc == 0 && write_all(fr->ipcFd, iov, ni) != 0)
		rc = -1;
	if (rc != 0)
		fr->out->FCGI_errno = errno ? errno : EIO;
	return rc;
}
