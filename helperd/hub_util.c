/* hub_util.c: client addresses, the failed-auth rate limiter and the device map of
 * the hub (see hub_util.h). */
#include "hub_util.h"

#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ids.h"

/* ---- addresses ------------------------------------------------------------------- */

int hub_addr_is_ip(const char *s)
{
	unsigned char b[16];

	return inet_pton(AF_INET, s, b) == 1 || inet_pton(AF_INET6, s, b) == 1;
}

int hub_addr_is_loopback(const char *addr)
{
	if (!addr)
		return 0;
	if (strncmp(addr, "::ffff:", 7) == 0)
		addr += 7;
	return strcmp(addr, "::1") == 0 || (strncmp(addr, "127.", 4) == 0 && hub_addr_is_ip(addr));
}

/* Copies s[0..len) without surrounding blanks into out when it is an IP address. */
static int take_ip(const char *s, size_t len, char out[HUB_ADDR_LEN])
{
	char tmp[HUB_ADDR_LEN];

	while (len && (*s == ' ' || *s == '\t')) {
		s++;
		len--;
	}
	while (len && (s[len - 1] == ' ' || s[len - 1] == '\t'))
		len--;
	if (len == 0 || len >= sizeof(tmp))
		return -1;
	memcpy(tmp, s, len);
	tmp[len] = '\0';
	if (!hub_addr_is_ip(tmp))
		return -1;
	memcpy(out, tmp, len + 1);
	return 0;
}

void hub_addr_pick(const char *peer, int trusted, const char *xff, const char *xrealip,
                   char out[HUB_ADDR_LEN])
{
	if (trusted && xff && *xff) {
		const char *last = strrchr(xff, ',');
		last = last ? last + 1 : xff;
		if (take_ip(last, strlen(last), out) == 0)
			return;
	} else if (trusted && xrealip && *xrealip) {
		if (take_ip(xrealip, strlen(xrealip), out) == 0)
			return;
	}
	snprintf(out, HUB_ADDR_LEN, "%s", peer && *peer ? peer : "local");
}

/* ---- rate limiter ------------------------------------------------------------------ */

static uint32_t hash_str(const char *s)
{
	uint32_t h = 2166136261u; /* FNV-1a */

	while (*s)
		h = (h ^ (unsigned char)*s++) * 16777619u;
	return h;
}

void hub_rate_init(struct hub_rate *r)
{
	memset(r, 0, sizeof(*r));
}

static void refill(struct hub_rate_entry *e, int64_t now_ms)
{
	if (now_ms > e->at_ms) {
		e->tokens += (double)(now_ms - e->at_ms) / HUB_RATE_REFILL_MS;
		if (e->tokens > HUB_RATE_BURST)
			e->tokens = HUB_RATE_BURST;
		e->at_ms = now_ms;
	}
}

/* The entry for addr, or NULL (create = 0) when it has none. */
static struct hub_rate_entry *rate_find(struct hub_rate *r, const char *addr, int64_t now_ms,
                                        int create)
{
	uint32_t base = hash_str(addr) % HUB_RATE_SLOTS;
	struct hub_rate_entry *victim = NULL;

	for (int i = 0; i < HUB_RATE_WINDOW; i++) {
		struct hub_rate_entry *e = &r->slot[(base + (uint32_t)i) % HUB_RATE_SLOTS];
		if (e->addr[0] && strcmp(e->addr, addr) == 0) {
			refill(e, now_ms);
			return e;
		}
		if (!create)
			continue;
		/* A free slot, or one whose bucket has filled up again (it remembers nothing
		 * worth keeping), or else the stalest. */
		if (e->addr[0])
			refill(e, now_ms);
		if (!e->addr[0] || e->tokens >= HUB_RATE_BURST) {
			if (!victim || victim->addr[0])
				victim = e;
		} else if (!victim || (victim->addr[0] && e->at_ms < victim->at_ms)) {
			victim = e;
		}
	}
	if (!create || !victim)
		return NULL;
	snprintf(victim->addr, sizeof(victim->addr), "%s", addr);
	victim->tokens = HUB_RATE_BURST;
	victim->at_ms = now_ms;
	return victim;
}

int hub_rate_limited(struct hub_rate *r, const char *addr, int64_t now_ms)
{
	struct hub_rate_entry *e = rate_find(r, addr, now_ms, 0);

	return e && e->tokens < 1.0;
}

void hub_rate_fail(struct hub_rate *r, const char *addr, int64_t now_ms)
{
	struct hub_rate_entry *e = rate_find(r, addr, now_ms, 1);

	if (e) {
		e->tokens -= 1.0;
		if (e->tokens < 0)
			e->tokens = 0;
	}
}

/* ---- device map --------------------------------------------------------------------- */

struct hub_map_node {
	struct hub_map_node *next;
	void *value;
	char key[UUID_STR_LEN];
};

void hub_map_init(struct hub_map *m)
{
	memset(m, 0, sizeof(*m));
}

void hub_map_clear(struct hub_map *m)
{
	for (size_t i = 0; i < m->nbuckets; i++) {
		struct hub_map_node *n = m->bucket[i], *next;
		for (; n; n = next) {
			next = n->next;
			free(n);
		}
	}
	free(m->bucket);
	memset(m, 0, sizeof(*m));
}

void *hub_map_get(const struct hub_map *m, const char *key)
{
	if (!m->nbuckets)
		return NULL;
	for (struct hub_map_node *n = m->bucket[hash_str(key) & (m->nbuckets - 1)]; n; n = n->next)
		if (strcmp(n->key, key) == 0)
			return n->value;
	return NULL;
}

static int grow(struct hub_map *m)
{
	size_t nb = m->nbuckets ? m->nbuckets * 2 : 64;
	struct hub_map_node **b = calloc(nb, sizeof(*b));

	if (!b)
		return -1;
	for (size_t i = 0; i < m->nbuckets; i++) {
		struct hub_map_node *n = m->bucket[i], *next;
		for (; n; n = next) {
			size_t j = hash_str(n->key) & (nb - 1);
			next = n->next;
			n->next = b[j];
			b[j] = n;
		}
	}
	free(m->bucket);
	m->bucket = b;
	m->nbuckets = nb;
	return 0;
}

int hub_map_put(struct hub_map *m, const char *key, void *value)
{
	struct hub_map_node *n;
	size_t i;

	if (strlen(key) >= UUID_STR_LEN)
		return -1;
	if (m->nbuckets) {
		for (n = m->bucket[hash_str(key) & (m->nbuckets - 1)]; n; n = n->next)
			if (strcmp(n->key, key) == 0) {
				n->value = value;
				return 0;
			}
	}
	if (m->count + 1 > m->nbuckets && grow(m) != 0)
		return -1;
	n = malloc(sizeof(*n));
	if (!n)
		return -1;
	snprintf(n->key, sizeof(n->key), "%s", key);
	n->value = value;
	i = hash_str(key) & (m->nbuckets - 1);
	n->next = m->bucket[i];
	m->bucket[i] = n;
	m->count++;
	return 0;
}

int hub_map_del(struct hub_map *m, const char *key, const void *value)
{
	struct hub_map_node **pp;

	if (!m->nbuckets)
		return 0;
	for (pp = &m->bucket[hash_str(key) & (m->nbuckets - 1)]; *pp; pp = &(*pp)->next) {
		struct hub_map_node *n = *pp;
		if (strcmp(n->key, key) == 0) {
			if (value && n->value != value)
				return 0;
			*pp = n->next;
			free(n);
			m->count--;
			return 1;
		}
	}
	return 0;
}
