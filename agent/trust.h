/* trust.h: the CAs kaiden-agent verifies its server with, when no --ca-file is given.
 *
 * The system's CAs as OpenSSL's hashed directory (/etc/ssl/certs on Debian and Ubuntu,
 * or $SSL_CERT_DIR as OpenSSL itself honours it): a certificate is read from it only
 * when a chain needs it, where the bundle file (/etc/ssl/certs/ca-certificates.crt) is
 * parsed whole at start and held for ever, about 600 KiB of an idle agent's heap
 * (docs/benchmarks.md, "The agent's footprint"). A directory without hash links (RHEL's
 * /etc/pki/tls/certs) is not used: the caller keeps the bundle file.
 *
 * libwebsockets 4.1 takes a CA file or memory, not a directory: trust_protocol, first in
 * the context's protocols, replaces the client SSL_CTX's store when lws offers it
 * (LWS_CALLBACK_OPENSSL_LOAD_EXTRA_CLIENT_VERIFY_CERTS, after lws loaded its own), so
 * nothing lws loaded (its relative "../share" default) stays trusted. */
#ifndef KAIDEN_AGENT_TRUST_H
#define KAIDEN_AGENT_TRUST_H

#include <stddef.h>

#include <libwebsockets.h>

#include "compat.h"

/* The system's hashed CA directory ($SSL_CERT_DIR, else OpenSSL's default), or NULL
 * when it is missing or holds no hash link. Borrowed (static or the environment's). */
const char *trust_system_dir(void);

/* 1 if dir holds at least one file named like a hash link (8 hex digits, '.', a digit). */
int trust_dir_has_links(const char *dir);

/* Makes trust_protocol install a store of dir alone (NULL: leave lws's store). Before
 * lws_create_context; dir must outlive it. */
void trust_use_dir(const char *dir);

/* -1 if a directory was asked for but trust_protocol did not install it (the context
 * must not be used: lws's own store may hold its relative default), else 0. */
int trust_status(void) WUR;

extern const struct lws_protocols trust_protocol;

#endif
