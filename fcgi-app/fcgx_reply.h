/* fcgx_reply.h: a FastCGI request's whole reply in one system call (one a 64 KiB record).
 *
 * libfcgi copies a reply into its 8 KiB output buffer and writes a record each time the
 * buffer fills, then the stream's end and FCGI_END_REQUEST from FCGX_Finish_r: a page of
 * 50 devices (21 KB) is three writes, and each a wake-up of nginx. fcgx_reply writes the
 * reply's FCGI_STDOUT records, the empty one that ends the stream and FCGI_END_REQUEST
 * (status 0, FCGI_REQUEST_COMPLETE, as libfcgi writes it) with one writev a record,
 * straight from the caller's buffers, and closes libfcgi's output stream so that
 * FCGX_Finish_r writes nothing more: the records on the wire are the ones libfcgi would
 * write, but for padding (none; the protocol makes it optional) and where they are cut. */
#ifndef KAIDEN_FCGX_REPLY_H
#define KAIDEN_FCGX_REPLY_H

#include <fcgiapp.h>
#include <stddef.h>
#include <sys/uio.h>

#include "compat.h"

/* Writes the n parts (their bytes in order: the reply, CGI headers first) as the whole
 * reply of the request fr holds, which must have written nothing yet; its output
 * stream is closed either way. 0, or -1 when the connection failed (errno says why; the
 * stream then carries the error, so FCGX_Finish_r closes the connection). */
int fcgx_reply(FCGX_Request *fr, const struct iovec *parts, int n) WUR;

#endif
