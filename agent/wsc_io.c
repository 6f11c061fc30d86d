/* wsc_io.c: TCP and TLS without blocking, for wsc.c (see wsc_io.h). */
#include "wsc_io.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include "wsc.h"

/* lws's client context for the vhost (borrowed): the trust it was given. */
static SSL_CTX *client_ctx;

void wsc_tls_offer(void *ssl_ctx)
{
	client_ctx = ssl_ctx;
}

int wsc_io_tcp(const char *address, int port, char *why, size_t whylen)
{
	struct addrinfo hints = { .ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM }, *res, *ai;
	char service[16];
	int rc, fd = -1, err = 0;

	snprintf(service, sizeof(service), "%d", port);
	rc = getaddrinfo(address, service, &hints, &res);
	if (rc != 0) {
		snprintf(why, whylen, "cannot resolve %s: %s", address, gai_strerror(rc));
		return -1;
	}
	for (ai = res; ai; ai = ai->ai_next) {
		fd = socket(ai->ai_family, ai->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC,
		            ai->ai_protocol);
		if (fd < 0) {
			err = errno;
			continue;
		}
		if (connect(fd, ai->ai_addr, ai->ai_addrlen) == 0 || errno == EINPROGRESS)
			break;
		err = errno;
		close(fd);
		fd = -1;
	}
	freeaddrinfo(res);
	if (fd < 0)
		snprintf(why, whylen, "cannot connect to %s:%d: %s", address, port, strerror(err));
	return fd;
}

int wsc_io_connected(int fd, char *why, size_t whylen)
{
	int err = 0;
	socklen_t len = sizeof(err);

	if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) != 0)
		err = errno;
	if (!err)
		return 0;
	snprintf(why, whylen, "cannot connect: %s", strerror(err));
	return -1;
}

int wsc_io_tls_start(struct wsc_io *io, const char *host, char *why, size_t whylen)
{
	unsigned char ip[16];
	int is_ip = inet_pton(AF_INET, host, ip) == 1 || inet_pton(AF_INET6, host, ip) == 1;
	X509_VERIFY_PARAM *param;

	if (!client_ctx) {
		snprintf(why, whylen, "TLS was not set up (no client context from lws)");
		return -1;
	}
	io->ssl = SSL_new(client_ctx);
	if (!io->ssl || SSL_set_fd(io->ssl, io->fd) != 1) {
		snprintf(why, whylen, "cannot start TLS: out of memory");
		return -1;
	}
	/* Whatever the shared context says: the peer verified, TLS 1.2 at least, partial
	 * writes and a retried write from wherever the bytes are now; an idle connection
	 * gives its buffers back. */
	SSL_set_verify(io->ssl, SSL_VERIFY_PEER, NULL);
	SSL_set_min_proto_version(io->ssl, TLS1_2_VERSION);
	SSL_set_mode(io->ssl, SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER |
	                          SSL_MODE_RELEASE_BUFFERS);
	param = SSL_get0_param(io->ssl);
	X509_VERIFY_PARAM_set_hostflags(param, X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
	if (is_ip ? X509_VERIFY_PARAM_set1_ip_asc(param, host) != 1
	          : X509_VERIFY_PARAM_set1_host(param, host, 0) != 1 ||
	                SSL_set_tlsext_host_name(io->ssl, host) != 1) {
		snprintf(why, whylen, "cannot start TLS for %s", host);
		return -1;
	}
	SSL_set_connect_state(io->ssl);
	return 0;
}

/* What an SSL call's failure means: WSC_IO_AGAIN with io->wait, or -1. */
static int ssl_failure(struct wsc_io *io, int ret)
{
	switch (SSL_get_error(io->ssl, ret)) {
	case SSL_ERROR_WANT_READ:
		io->wait = IO_WAIT_READ;
		return WSC_IO_AGAIN;
	case SSL_ERROR_WANT_WRITE:
		io->wait = IO_WAIT_WRITE;
		return WSC_IO_AGAIN;
	default:
		return -1;
	}
}

int wsc_io_handshake(struct wsc_io *io, char *why, size_t whylen)
{
	int ret;
	long verify;

	ERR_clear_error();
	ret = SSL_do_handshake(io->ssl);
	io->wait = IO_WAIT_NONE;
	if (ret == 1)
		return 0;
	if (ssl_failure(io, ret) == WSC_IO_AGAIN)
		return WSC_IO_AGAIN;
	verify = SSL_get_verify_result(io->ssl);
	if (verify != X509_V_OK)
		snprintf(why, whylen, "TLS: the server's certificate is not trusted: %s",
		         X509_verify_cert_error_string(verify));
	else {
		unsigned long e = ERR_peek_last_error();
		char text[160];
		ERR_error_string_n(e, text, sizeof(text));
		snprintf(why, whylen, "TLS handshake failed: %s", e ? text : "connection closed");
	}
	ERR_clear_error();
	return -1;
}

ssize_t wsc_io_read(struct wsc_io *io, void *buf, size_t len)
{
	io->wait = IO_WAIT_NONE;
	if (io->ssl) {
		int n;
		ERR_clear_error();
		n = SSL_read(io->ssl, buf, len > 0x40000000 ? 0x40000000 : (int)len);
		if (n > 0)
			return n;
		if (SSL_get_error(io->ssl, n) == SSL_ERROR_ZERO_RETURN)
			return 0;
		return ssl_failure(io, n);
	}
	for (;;) {
		ssize_t n = recv(io->fd, buf, len, MSG_DONTWAIT);
		if (n >= 0)
			return n;
		if (errno == EINTR)
			continue;
		if (errno == EAGAIN || errno == EWOULDBLOCK) {
			io->wait = IO_WAIT_READ;
			return WSC_IO_AGAIN;
		}
		return -1;
	}
}

ssize_t wsc_io_write(struct wsc_io *io, const void *buf, size_t len)
{
	io->wait = IO_WAIT_NONE;
	if (io->ssl) {
		int n;
		ERR_clear_error();
		n = SSL_write(io->ssl, buf, len > 0x40000000 ? 0x40000000 : (int)len);
		return n > 0 ? n : ssl_failure(io, n);
	}
	for (;;) {
		ssize_t n = send(io->fd, buf, len, MSG_DONTWAIT | MSG_NOSIGNAL);
		if (n >= 0)
			return n;
		if (errno == EINTR)
			continue;
		if (errno == EAGAIN || errno == EWOULDBLOCK) {
			io->wait = IO_WAIT_WRITE;
			return WSC_IO_AGAIN;
		}
		return -1;
	}
}

size_t wsc_io_pending(const struct wsc_io *io)
{
	return io->ssl ? (size_t)SSL_pending(io->ssl) : 0;
}

void wsc_io_clear(struct wsc_io *io)
{
	if (io->ssl)
		SSL_free(io->ssl);
	io->ssl = NULL;
}
