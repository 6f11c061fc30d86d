/* fuzz_addr.c: which address an agent connection is from (helperd/hub_util.c:
 * hub_addr_pick over the peer, X-Forwarded-For and X-Real-IP), and the failed-auth rate
 * limiter keyed by that address, which helperd runs before any authentication.
 *
 * The input is "<flags byte><peer>" FUZZ_SEP "<X-Forwarded-For>" FUZZ_SEP
 * "<X-Real-IP>"; flags bit 0: the peer is our proxy; bit 1/2: the X-Forwarded-For /
 * X-Real-IP header is absent (NULL) rather than given.
 *
 * Beyond "no crash": the result is a NUL-terminated string that fits HUB_ADDR_LEN; from
 * an untrusted peer it is the peer itself; an address taken from a header is an IP
 * address (inet_pton says so); and the limiter limits after HUB_RATE_BURST failures. */
#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>

#include "fuzz.h"
#include "hub_util.h"

static struct hub_rate *rate;

static int is_ip(const char *s)
{
	unsigned char bin[16];

	return inet_pton(AF_INET, s, bin) == 1 || inet_pton(AF_INET6, s, bin) == 1;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fuzz_parts p;
	char out[HUB_ADDR_LEN + 1], peer_copy[HUB_ADDR_LEN];
	const char *peer, *xff, *xreal;
	int trusted;

	if (size == 0)
		return 0;
	if (!rate && !(rate = malloc(sizeof(*rate))))
		abort();
	if (fuzz_parts_split(data + 1, size - 1, 3, &p) != 0)
		return 0;
	trusted = data[0] & 1;
	peer = p.part[0];
	xff = p.n > 1 && !(data[0] & 2) ? p.part[1] : NULL;
	xreal = p.n > 2 && !(data[0] & 4) ? p.part[2] : NULL;

	(void)hub_addr_is_loopback(peer);
	(void)hub_addr_is_loopback(xff);
	out[HUB_ADDR_LEN] = '\x7f'; /* a canary past the promised size */
	hub_addr_pick(peer, trusted, xff, xreal, out);
	if (out[HUB_ADDR_LEN] != '\x7f' || !memchr(out, '\0', HUB_ADDR_LEN))
		abort();
	snprintf(peer_copy, sizeof(peer_copy), "%s", *peer ? peer : "local");
	if (!trusted && strcmp(out, peer_copy) != 0) {
		fprintf(stderr, "fuzz_addr: an untrusted peer %s became %s\n", peer_copy, out);
		abort();
	}
	if (trusted && strcmp(out, peer_copy) != 0 && !is_ip(out)) {
		fprintf(stderr, "fuzz_addr: took %s from a header, not an IP address\n", out);
		abort();
	}

	/* The limiter on that address, from a clean table. */
	hub_rate_init(rate);
	for (int i = 0; i < HUB_RATE_BURST; i++) {
		if (hub_rate_limited(rate, out, 1000))
			abort();
		hub_rate_fail(rate, out, 1000);
	}
	if (!hub_rate_limited(rate, out, 1000))
		abort();
	fuzz_parts_free(&p);
	return 0;
}
