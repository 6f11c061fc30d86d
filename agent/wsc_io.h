/* wsc_io.h: the bytes under agent/wsc.c: a TCP connection, in the clear or in TLS
 * (OpenSSL), read and written without blocking.
 *
 * Why not lws's own client connection in its raw role: libwebsockets 4.1.6 starts TLS
 * on a raw client connection before the socket exists (SSL_connect on no descriptor:
 * "tls start fail") unless it was built with its asynchronous DNS, which Debian's is
 * not. So the socket is ours (connected here, then adopted into lws as a descriptor for
 * the events), and so is TLS.
 *
 * TLS is verified as lws verifies the control link: the peer's chain against the CAs
 * given to wsc_tls_init (a file, or a hashed directory), and its name: the host's DNS
 * name, or its IP address when the host is one; SNI names the host. TLS 1.2 at least. */
#ifndef KAIDEN_AGENT_WSC_IO_H
#define KAIDEN_AGENT_WSC_IO_H

#include <stddef.h>
#include <sys/types.h>
#include "compat.h"

typedef struct ssl_st SSL;

/* What a call that could not finish waits for. */
enum wsc_io_wait { IO_WAIT_NONE, IO_WAIT_READ, IO_WAIT_WRITE };

#define WSC_IO_AGAIN (-2) /* from wsc_io_read/_write: try again when io->wait allows */

struct wsc_io {
	int fd;
	SSL *ssl;                 /* NULL: in the clear */
	enum wsc_io_wait wait;    /* after WSC_IO_AGAIN, or a handshake that must wait */
};

/* A TCP socket to address:port, its connect started (non-blocking; the name resolved
 * now, blocking). The descriptor, or -1 with why. */
int wsc_io_tcp(const char *address, int port, char *why, size_t whylen) WUR;
/* Once the socket is writable: 0 when the connect succeeded, -1 with why. */
int wsc_io_connected(int fd, char *why, size_t whylen) WUR;
/* Starts TLS on io->fd for host (a name or an IP address). 0, or -1 with why (no
 * wsc_tls_init, out of memory). */
int wsc_io_tls_start(struct wsc_io *io, const char *host, char *why, size_t whylen) WUR;
/* Drives the TLS handshake: 0 done, WSC_IO_AGAIN (io->wait says for what), or -1 with
 * why (the certificate's verification error when that is what failed). */
int wsc_io_handshake(struct wsc_io *io, char *why, size_t whylen) WUR;
/* At most len bytes: > 0 read, 0 the peer closed, WSC_IO_AGAIN, -1 an error. */
ssize_t wsc_io_read(struct wsc_io *io, void *buf, size_t len) WUR;
/* At most len bytes: > 0 written, WSC_IO_AGAIN, -1 an error. A TLS write that returned
 * WSC_IO_AGAIN must be repeated with the same bytes. */
ssize_t wsc_io_write(struct wsc_io *io, const void *buf, size_t len) WUR;
/* Bytes TLS has decrypted and not handed out yet (no event of the socket tells them). */
size_t wsc_io_pending(const struct wsc_io *io);
/* Frees the TLS state (the descriptor is lws's to close). */
void wsc_io_clear(struct wsc_io *io);

#endif
