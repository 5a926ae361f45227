/*
 * Broker address lists and client failover, shared by the agent ([broker]
 * host) and the gateway (--broker).  A list is "HOST[:PORT], HOST[:PORT],
 * ..." of equals: a client connects to the first, and on any failure
 * (refused, lost, TLS) moves on to the next, round-robin; only once every
 * address has failed in a row does it back off.  No fail-back: a client
 * stays where it is until that broker fails too.
 *
 * An IPv6 literal with a port goes in brackets ("[::1]:1883"); a bare one
 * ("::1") is an address without a port, as "::1:1883" would be too.
 */
#ifndef VIGIE_BROKER_H
#define VIGIE_BROKER_H

#include <stdbool.h>
#include <stddef.h>

#define VG_BROKERS_MAX 8       /* addresses in one list */
#define VG_BROKER_HOST_MAX 128 /* a host name or address, with its NUL */
#define VG_BROKER_ADDR_MAX (VG_BROKER_HOST_MAX + 8) /* "[host]:65535" */

struct vg_broker {
	char host[VG_BROKER_HOST_MAX]; /* name or address, no brackets */
	int port;                      /* 1..65535, or 0 when not given */
};

/*
 * One "HOST[:PORT]" of len bytes at s, no surrounding blanks.  Returns
 * VG_OK, or VG_ERR_PARSE with the reason in why.
 */
int vg_broker_parse(const char *s, size_t len, struct vg_broker *out,
		    char *why, size_t whylen);

/*
 * A comma-separated list (blanks around entries are ignored) appended to
 * the *n entries already in list, which has room for max.  Returns VG_OK,
 * or VG_ERR_PARSE with the reason in why (naming the entry) and *n as it
 * was.  Ports not given stay 0: see vg_broker_list_finish.
 */
int vg_broker_list_parse(const char *s, struct vg_broker *list, int *n,
			 int max, char *why, size_t whylen);

/*
 * Give port to the entries without one, then refuse an address given
 * twice (host names compared without case): VG_OK, or VG_ERR_PARSE with
 * the reason in why.
 */
int vg_broker_list_finish(struct vg_broker *list, int n, int port,
			  char *why, size_t whylen);

/* "host:port", or "[v6]:port"; the length snprintf returns. */
int vg_broker_format(const struct vg_broker *b, char *buf, size_t size);

/* Where a client is in its list, and how many tries failed in a row. */
struct vg_failover {
	int n;       /* addresses in the list, at least 1 */
	int cur;     /* index of the address to use now */
	int failed;  /* failures since the last success or backoff */
};

void vg_failover_init(struct vg_failover *f, int n);
/* The broker at cur accepted the connection: a new cycle begins. */
void vg_failover_ok(struct vg_failover *f);
/*
 * The attempt at cur failed, or its connection ended: cur moves to the
 * next address.  True when every address has failed since the last
 * success or backoff: the caller backs off before trying cur.
 */
bool vg_failover_failed(struct vg_failover *f);

#endif
